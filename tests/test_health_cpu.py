"""The processor and its cooling: sysfs readers on real machines' sensor trees, stress-ng's YAML
report, the verdict rules driven by a scripted load and clock, and one short live run.

tests/fixtures/health/thermal/SOURCE.md says where every tree and YAML file comes from. The
temperatures a machine reaches under load, and a throttle counter rising, have no published
example as a sequence: those tests copy a real tree and write the scripted values into its real
files (`Script`), each marked where it happens.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from agent.health import cpu_load
from agent.health.background import at_idle_priority
from agent.health.cpu_load import (
    ABORT_AT_CELSIUS,
    parse_stress_ng_yaml,
    run_cpu_load,
    stress_command,
)
from agent.health.model import FAIL, NOT_PRESENT, PASS, SKIPPED, WARN, CheckResult, Finding
from agent.health.thermal import (
    FALLBACK,
    OTHER,
    PROCESSOR,
    ThrottleCounts,
    judged,
    read_hwmon,
    read_temperatures,
    read_thermal_zones,
    read_throttle,
    throttle_rise,
)
from agent.i18n import set_language
from agent.runner import CommandNotFound, CommandRecord
from tests.helpers import FakeTime

THERMAL = Path(__file__).parent / "fixtures" / "health" / "thermal"
THINKPAD = "intel-thinkpad-13-gen2"
AMD_AIO = "amd-asus-vivo-aio-v241da"
TWO_SOCKETS = "two-socket-coretemp-telegraf"
ACPITZ_ZONE = "acpitz-zone-thermald-231"
PROCFS = "procfs-fixture"
CI_VM = "ci-firecracker-vm"
CI_YAML = "ci-vm-0.15.06-matrix.yaml"
WCA_YAML = "wca-0.10.08-stream.yaml"


def sysfs(name: str) -> Path:
    return THERMAL / name / "sys"


def yaml_fixture(name: str) -> str:
    return (THERMAL / "stress-ng" / name).read_text()


def by_sensor(readings: Sequence[Any]) -> dict[str, Any]:
    return {reading.sensor: reading for reading in readings}


# --- Readers on real trees ----------------------------------------------------------------------


def test_an_intel_laptop_is_judged_on_its_coretemp_sensors() -> None:
    readings = read_temperatures(sysfs(THINKPAD))
    sensors = by_sensor(readings)
    package = sensors["hwmon3/temp1"]
    assert (package.chip, package.label, package.celsius, package.role) == (
        "coretemp", "Package id 0", 47.0, PROCESSOR)
    assert (package.max_celsius, package.crit_celsius, package.limit) == (100.0, 100.0,
                                                                          (100.0, "crit"))
    assert [(reading.name, reading.celsius) for reading in judged(readings)] == [
        ("coretemp Package id 0", 47.0), ("coretemp Core 0", 44.0), ("coretemp Core 1", 47.0)]
    # The ACPI zone waits as a fallback; the chipset, the Wi-Fi card and the embedded
    # controller are other parts. thinkpad_acpi's unused sensors read 0 °C: not temperatures.
    assert (sensors["hwmon2/temp1"].role, sensors["hwmon2/temp1"].limit) == (FALLBACK,
                                                                            (100.0, "crit"))
    assert {sensors[name].role for name in ("hwmon0/temp1", "hwmon1/temp1")} == {OTHER}
    assert sorted(reading.celsius for reading in readings if reading.chip == "thinkpad") == [
        26.0, 34.0, 35.0, 39.0, 47.0, 47.0]
    assert read_throttle(sysfs(THINKPAD)) is None  # the tree holds no cpu directories


def test_an_amd_all_in_one_is_judged_on_tctl_and_not_on_its_drive() -> None:
    readings = read_hwmon(sysfs(AMD_AIO))
    assert [(reading.name, reading.celsius, reading.limit) for reading in judged(readings)] == [
        ("k10temp Tctl", 55.5, None)]
    drive = by_sensor(readings)["hwmon5/temp1"]
    assert (drive.name, drive.role, drive.limit) == ("nvme Composite", OTHER, (89.8, "crit"))
    assert read_thermal_zones(sysfs(AMD_AIO)) == []


def test_both_sockets_of_a_server_board_are_read_and_the_acpi_zone_left_aside() -> None:
    readings = read_temperatures(sysfs(TWO_SOCKETS))
    assert [(reading.sensor, reading.name, reading.celsius) for reading in judged(readings)] == [
        ("hwmon2/temp1", "coretemp Physical id 0", 77.0),
        ("hwmon2/temp2", "coretemp Core 0", 75.0),
        ("hwmon2/temp3", "coretemp Core 1", 77.0),
        ("hwmon3/temp1", "coretemp Physical id 1", 70.0),
        ("hwmon3/temp2", "coretemp Core 0", 66.0),
        ("hwmon3/temp3", "coretemp Core 1", 70.0)]
    assert all(reading.limit == (92.0, "crit") for reading in judged(readings))
    acpi = by_sensor(readings)["hwmon0/temp1"]
    assert (acpi.role, acpi.celsius, acpi.crit_celsius) == (FALLBACK, 8.3, 31.3)
    # power_meter and atk0110 give no temperature.
    assert {reading.chip for reading in readings} == {"acpitz", "coretemp"}


def test_the_acpi_thermal_zone_stands_in_when_nothing_else_measures() -> None:
    (zone,) = read_temperatures(sysfs(ACPITZ_ZONE))
    assert (zone.sensor, zone.kind, zone.chip, zone.celsius) == (
        "thermal_zone0", "thermal_zone", "acpitz", 25.0)
    assert (zone.role, zone.limit) == (FALLBACK, (107.0, "crit"))  # its critical trip point
    assert judged([zone]) == [zone]


def test_a_board_zone_and_an_impossible_reading_are_not_the_processor() -> None:
    readings = read_temperatures(sysfs(PROCFS))
    # bcm2835_thermal is a Raspberry Pi's; the acpitz zone reads -44 °C: not a temperature.
    assert [(reading.chip, reading.celsius, reading.role) for reading in readings] == [
        ("bcm2835_thermal", 49.925, OTHER)]
    assert judged(readings) == []
    assert read_throttle(sysfs(PROCFS)) == ThrottleCounts(core=10084 + 523,
                                                          package=34818 + 34818, cpus=2)


def test_this_ci_machine_exposes_no_sensor_and_no_counter() -> None:
    assert read_temperatures(sysfs(CI_VM)) == []
    assert read_throttle(sysfs(CI_VM)) is None
    assert read_temperatures(THERMAL / "no-such-tree") == []


def test_a_tdie_sensor_replaces_the_offset_tctl(tmp_path: Path) -> None:
    # Scripted: no published tree of a Ryzen with Tdie was found. The label is the kernel's
    # (drivers/hwmon/k10temp.c), the value is the test's own.
    root = copy_tree(AMD_AIO, tmp_path)
    (root / "class/hwmon/hwmon1/temp2_label").write_text("Tdie\n")
    (root / "class/hwmon/hwmon1/temp2_input").write_text("35500\n")
    assert [reading.name for reading in judged(read_hwmon(root))] == ["k10temp Tdie"]


def test_the_throttle_rise_between_two_readings(tmp_path: Path) -> None:
    root = copy_tree(PROCFS, tmp_path)
    before = read_throttle(root)
    # Scripted: one more core event on cpu1 and one package event (seen by both cpus).
    write(root, {CORE1: 524, PACKAGE0: 34819, PACKAGE1: 34819})
    after = read_throttle(root)
    assert throttle_rise(before, after) == (1, 2)
    assert throttle_rise(after, after) == (0, 0)
    assert throttle_rise(None, after) is None


# --- stress-ng's report -------------------------------------------------------------------------


def test_the_yaml_of_a_matrix_run_on_this_ci_machine() -> None:
    report = parse_stress_ng_yaml(yaml_fixture(CI_YAML))
    assert report.version == "0.15.06"
    matrix = report.stressor("matrix")
    assert matrix is not None
    assert (matrix.bogo_ops, matrix.bogo_ops_per_second_real_time,
            matrix.bogo_ops_per_second_usr_sys_time, matrix.wall_clock_seconds) == (
        8884, 4441.617184, 3778.126502, 2.000172)
    assert len(report.metrics) == 1  # the matrix methods' own rates are not stressors


def test_the_yaml_of_an_older_stress_ng_with_another_stressor() -> None:
    report = parse_stress_ng_yaml(yaml_fixture(WCA_YAML))
    assert report.version == "0.10.08"
    assert report.stressor("matrix") is None
    stream = report.stressor("stream")
    assert stream is not None
    assert (stream.bogo_ops, stream.bogo_ops_per_second_real_time) == (2623, 262.179501)


@pytest.mark.parametrize("text", ["", "---\n...\n",
                                  (THERMAL / "stress-ng" / "ci-vm-0.15.06-matrix.stderr")
                                  .read_text()])
def test_what_is_not_a_yaml_report_gives_no_metrics(text: str) -> None:
    assert parse_stress_ng_yaml(text).metrics == ()


def test_the_command_is_bounded() -> None:
    assert stress_command(60, "/tmp/x.yaml") == [
        "stress-ng", "--matrix", "0", "--timeout", "60s", "--metrics-brief", "--yaml",
        "/tmp/x.yaml"]
    with pytest.raises(ValueError):
        stress_command(0, "/tmp/x.yaml")


# --- The verdict rules, on a scripted load ------------------------------------------------------

PACKAGE = "class/hwmon/hwmon3/temp1_input"  # the ThinkPad's coretemp Package id 0
CORE_0, CORE_1 = "class/hwmon/hwmon3/temp2_input", "class/hwmon/hwmon3/temp3_input"
SOCKET_0 = "class/hwmon/hwmon2/temp1_input"  # the two-socket board's coretemp Physical id 0
CORE0 = "devices/system/cpu/cpu0/thermal_throttle/core_throttle_count"
CORE1 = "devices/system/cpu/cpu1/thermal_throttle/core_throttle_count"
PACKAGE0 = "devices/system/cpu/cpu0/thermal_throttle/package_throttle_count"
PACKAGE1 = "devices/system/cpu/cpu1/thermal_throttle/package_throttle_count"


def copy_tree(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name / "sys"
    shutil.copytree(sysfs(name), target)
    return target


def write(root: Path, values: dict[str, int]) -> None:
    for relative, value in values.items():
        (root / relative).write_text(f"{value}\n")


class ScriptedProcess:
    """stress-ng as the tests play it: it runs until the fake clock reaches its timeout, then
    writes its YAML report (a real one) where its command line says, and ends."""

    def __init__(self, load: ScriptedLoad, argv: Sequence[str]) -> None:
        self.load = load
        self.argv = tuple(argv)
        self.started = load.time.now
        self.seconds = int(argv[argv.index("--timeout") + 1].rstrip("s"))
        self.yaml_path = Path(argv[argv.index("--yaml") + 1])
        self.stopped_at: float | None = None
        self.ended = False

    def poll(self) -> int | None:
        if not self.ended and self.load.time.now - self.started >= self.seconds:
            self.end()
        return self.load.returncode if self.ended else None

    def stop(self) -> None:
        self.stopped_at = self.load.time.now
        self.end()

    def end(self) -> None:
        if not self.ended and self.load.yaml is not None:
            self.yaml_path.write_text(self.load.yaml)
        self.ended = True

    def finish(self) -> CommandRecord:
        assert self.ended, "finish() before the load ended"
        return CommandRecord(self.argv, self.load.returncode, "", self.load.stderr,
                             (self.stopped_at or self.load.time.now) - self.started)


class ScriptedLoad:
    def __init__(self, time: FakeTime, *, yaml: str | None = yaml_fixture(CI_YAML),
                 returncode: int = 0, missing: bool = False) -> None:
        self.time = time
        self.yaml = yaml
        self.returncode = returncode
        self.missing = missing
        self.stderr = (THERMAL / "stress-ng" / "ci-vm-0.15.06-matrix.stderr").read_text()
        self.processes: list[ScriptedProcess] = []

    def __call__(self, argv: Sequence[str]) -> ScriptedProcess:
        if self.missing:
            raise CommandNotFound(argv[0])
        process = ScriptedProcess(self, argv)
        self.processes.append(process)
        return process

    @property
    def started_at(self) -> float | None:
        return self.processes[0].started if self.processes else None


class Script:
    """Writes values into a copied tree as the fake clock passes the given seconds after the load
    started: scripted states, not recorded ones."""

    def __init__(self, root: Path, time: FakeTime, load: ScriptedLoad,
                 steps: list[tuple[float, dict[str, int]]]) -> None:
        self.root, self.load, self.steps = root, load, steps
        time.ticks.append(self.tick)

    def tick(self, now: float) -> None:
        started = self.load.started_at
        if started is None:
            return
        for at, values in self.steps:
            if now - started >= at:
                write(self.root, values)


def load_run(tree: str, tmp_path: Path, steps: list[tuple[float, dict[str, int]]], *,
             cancel_at: float | None = None, **load_options: Any,
             ) -> tuple[CheckResult, ScriptedLoad]:
    time = FakeTime()
    root = copy_tree(tree, tmp_path)
    load = ScriptedLoad(time, **load_options)
    Script(root, time, load, steps)
    cancel = threading.Event()
    if cancel_at is not None:
        time.ticks.append(lambda now: cancel.set() if load.started_at is not None
                          and now - load.started_at >= cancel_at else None)
    result = run_cpu_load(load, seconds=60, cool_seconds=10, sample_seconds=1.0,
                          sysfs_root=root, clock=time.clock, sleep=time.sleep, cancel=cancel)
    return result, load


def thinkpad_under_load(package: int) -> list[tuple[float, dict[str, int]]]:
    """Scripted: the package at `package` m°C from the first second of load, the cores 3 °C
    below, and 52 °C once the load has ended."""
    return [(1, {PACKAGE: package, CORE_0: package - 3000, CORE_1: package}),
            (60, {PACKAGE: 52000, CORE_0: 50000, CORE_1: 52000})]


def codes(result: CheckResult) -> list[str]:
    return [finding.code for finding in result.findings]


def test_a_cooling_that_holds_passes(tmp_path: Path) -> None:
    result, load = load_run(THINKPAD, tmp_path, thinkpad_under_load(78000))
    assert (result.check, result.subject, result.verdict, result.findings) == (
        "cpu_cooling", "cpu", PASS, ())
    measured = result.measured
    assert (measured["idle_celsius"], measured["peak_celsius"], measured["cooled_celsius"]) == (
        47.0, 78.0, 52.0)
    assert measured["sensors"][0] == {
        "sensor": "hwmon3/temp1", "kind": "hwmon", "chip": "coretemp", "label": "Package id 0",
        "role": PROCESSOR, "idle_celsius": 47.0, "peak_celsius": 78.0, "cooled_celsius": 52.0,
        "limit_celsius": 100.0, "limit_kind": "crit"}
    assert (measured["samples"], measured["ran_seconds"], measured["stopped"]) == (60, 60.0, None)
    assert measured["stress_ng"]["metrics"]["bogo_ops"] == 8884
    assert measured["stress_ng"]["yaml"] == yaml_fixture(CI_YAML)
    assert measured["throttle"] is None
    # The command, its status and its whole output are the evidence.
    (record,) = result.evidence
    assert record.argv == tuple(load.processes[0].argv)
    assert record.argv[:6] == ("stress-ng", "--matrix", "0", "--timeout", "60s",
                               "--metrics-brief")
    assert "successful run completed" in record.stderr
    assert result.seconds == 60 + 10
    assert load.processes[0].stopped_at is None


def test_85_degrees_under_load_warns(tmp_path: Path) -> None:
    result, _load = load_run(THINKPAD, tmp_path, thinkpad_under_load(86000))
    (finding,) = result.findings
    assert (result.verdict, finding.code, finding.threshold) == (WARN, "cpu_temperature_high",
                                                                 "cpu_warn_at_85")
    assert finding.text == ("coretemp Package id 0 reached 86.0 °C under load (warning from "
                            "85 °C)")


def test_close_to_the_sensors_own_limit_warns(tmp_path: Path) -> None:
    # The two-socket board's coretemp gives a critical temperature of 92 °C.
    result, _load = load_run(TWO_SOCKETS, tmp_path, [(1, {SOCKET_0: 88000})])
    (finding,) = result.findings
    assert (result.verdict, finding.code, finding.threshold) == (
        WARN, "cpu_temperature_near_limit", "cpu_warn_within_5_of_sensor_limit")
    assert finding.text == ("coretemp Physical id 0 reached 88.0 °C under load, within 5 °C of "
                            "its own limit of 92.0 °C")


def test_90_degrees_under_load_fails(tmp_path: Path) -> None:
    result, load = load_run(THINKPAD, tmp_path, thinkpad_under_load(91000))
    (finding,) = result.findings
    assert (result.verdict, finding.code, finding.threshold) == (FAIL, "cpu_temperature_too_high",
                                                                 "cpu_fail_at_90")
    assert dict(finding.values)["celsius"] == 91.0
    assert load.processes[0].stopped_at is None  # below the abort level the load runs its time


def test_99_degrees_stops_the_load_at_once_and_fails(tmp_path: Path) -> None:
    result, load = load_run(TWO_SOCKETS, tmp_path,
                            [(1, {SOCKET_0: 90000}), (5, {SOCKET_0: 95000}),
                             (6, {SOCKET_0: ABORT_AT_CELSIUS * 1000})])
    (finding,) = result.findings
    assert (result.verdict, finding.code, finding.threshold) == (FAIL, "cpu_temperature_critical",
                                                                 "cpu_abort_at_99")
    assert load.processes[0].stopped_at == load.processes[0].started + 6
    assert (result.measured["stopped"], result.measured["samples"]) == ("temperature_limit", 6)
    assert result.measured["ran_seconds"] == 6.0


def test_thermal_throttling_under_load_fails_even_without_a_sensor(tmp_path: Path) -> None:
    # procfs's tree has throttle counters but no processor sensor. Scripted: the counters rise
    # 30 s into the load.
    result, _load = load_run(PROCFS, tmp_path,
                             [(30, {CORE0: 10085, PACKAGE0: 34819, PACKAGE1: 34819})])
    assert result.verdict == FAIL
    assert codes(result) == ["cpu_no_temperature_sensor", "cpu_thermal_throttling"]
    throttling = result.findings[1]
    assert throttling.threshold == "cpu_throttle_fail_on_any_rise"
    assert dict(throttling.values) == {"core": 1, "package": 2}
    assert result.measured["throttle"] == {
        "before": {"core": 10607, "package": 69636, "cpus": 2},
        "after": {"core": 10608, "package": 69638, "cpus": 2}, "core_rise": 1, "package_rise": 2}


def test_counters_that_stay_still_say_nothing(tmp_path: Path) -> None:
    result, _load = load_run(PROCFS, tmp_path, [])
    assert (result.verdict, codes(result)) == (NOT_PRESENT, ["cpu_no_temperature_sensor"])
    assert result.measured["throttle"]["core_rise"] == 0


def test_a_machine_without_sensors_runs_the_load_but_cannot_be_judged(tmp_path: Path) -> None:
    result, _load = load_run(CI_VM, tmp_path, [])
    (finding,) = result.findings
    assert (result.verdict, finding.code) == (NOT_PRESENT, "cpu_no_temperature_sensor")
    assert result.measured["sensors"] == []
    assert result.measured["peak_celsius"] is None
    assert result.measured["stress_ng"]["metrics"]["bogo_ops"] == 8884
    assert len(result.evidence) == 1


def test_the_acpi_zone_is_judged_when_it_is_the_only_sensor(tmp_path: Path) -> None:
    result, _load = load_run(ACPITZ_ZONE, tmp_path,
                             [(1, {"class/thermal/thermal_zone0/temp": 86000})])
    (finding,) = result.findings
    assert (result.verdict, finding.code) == (WARN, "cpu_temperature_high")
    assert dict(finding.values)["sensor"] == "acpitz"
    assert result.measured["sensors"][0]["role"] == FALLBACK


def test_a_cancel_stops_the_load_and_skips(tmp_path: Path) -> None:
    result, load = load_run(THINKPAD, tmp_path, thinkpad_under_load(70000), cancel_at=10)
    (finding,) = result.findings
    assert (result.verdict, finding.code) == (SKIPPED, "cpu_load_cancelled")
    assert load.processes[0].stopped_at == load.processes[0].started + 10
    assert result.measured["stopped"] == "cancelled"
    assert len(result.evidence) == 1


def test_stress_ng_missing_is_a_skipped_check_not_a_crash(tmp_path: Path) -> None:
    result, load = load_run(THINKPAD, tmp_path, [], missing=True)
    (finding,) = result.findings
    assert (result.verdict, finding.code) == (SKIPPED, "cpu_load_tool_missing")
    assert finding.text == "stress-ng is not installed: the processor was not put under load"
    assert result.measured["idle_celsius"] == 47.0
    assert (load.processes, result.evidence) == ([], ())


def test_stress_ng_that_did_no_work_skips(tmp_path: Path) -> None:
    result, _load = load_run(THINKPAD, tmp_path, thinkpad_under_load(60000), yaml=None,
                             returncode=1)
    (finding,) = result.findings
    assert (result.verdict, finding.code, dict(finding.values)) == (
        SKIPPED, "cpu_load_not_run", {"status": 1})
    assert result.measured["stress_ng"] == {"exit_status": 1, "version": None, "metrics": None,
                                            "yaml": None}


def test_a_stressor_that_failed_under_load_warns(tmp_path: Path) -> None:
    result, _load = load_run(THINKPAD, tmp_path, thinkpad_under_load(60000), returncode=2)
    (finding,) = result.findings
    assert (result.verdict, finding.code, finding.threshold) == (
        WARN, "cpu_load_stressor_failed", "stress_ng_exit_status_2_5_6")


def test_findings_are_shown_in_french() -> None:
    finding = Finding.of("cpu_temperature_too_high", FAIL,
                         "{sensor} reached {celsius:.1f} °C under load (fail from {limit} °C)",
                         sensor="coretemp Package id 0", celsius=91.0, limit=90)
    set_language("fr")
    assert finding.describe() == ("coretemp Package id 0 a atteint 91,0 °C sous charge "
                                  "(échec à partir de 90 °C)")


# --- Live: the real check on this machine, for three seconds ------------------------------------


def test_the_real_check_on_this_machine() -> None:
    result = run_cpu_load(seconds=3, cool_seconds=1, sample_seconds=1)
    stress_ng = result.measured["stress_ng"]
    (record,) = result.evidence
    assert record.argv[0] == "stress-ng" and record.returncode == 0, record.stderr
    assert stress_ng["metrics"]["bogo_ops"] > 0
    assert stress_ng["metrics"]["bogo_ops_per_second_real_time"] > 0
    assert 2.5 <= result.measured["ran_seconds"] < 3 + cpu_load.OVERRUN_SECONDS
    assert result.measured["samples"] >= 2
    sensors = result.measured["sensors"]
    peak = result.measured["peak_celsius"]
    throttle = result.measured["throttle"]
    rose = bool(throttle and (throttle["core_rise"] or throttle["package_rise"]))
    if not sensors:
        assert peak is None
        assert "cpu_no_temperature_sensor" in codes(result)
        assert result.verdict == (FAIL if rose else NOT_PRESENT)
    else:
        assert peak == max(sensor["peak_celsius"] for sensor in sensors)
        if rose or peak >= 90:
            assert result.verdict == FAIL
        elif peak >= 85:
            assert result.verdict == WARN
        else:
            assert result.verdict in (PASS, WARN)  # warn only near a sensor's own limit
            assert result.verdict == PASS or codes(result) == ["cpu_temperature_near_limit"]


def test_the_load_at_idle_priority_runs_under_sched_idle_and_a_missing_program_is_said() -> None:
    process = at_idle_priority(cpu_load.start_load)(["sh", "-c", "chrt -p $$"])
    record = process.finish()
    assert record.argv[:3] == ("chrt", "--idle", "0")
    assert "SCHED_IDLE" in record.stdout, record.stdout
    with pytest.raises(CommandNotFound):
        at_idle_priority(cpu_load.start_load)(["no-such-stress-tool", "--cpu", "1"])
