"""`reeeboot health`: the health pass on its own. The machine is the scripted workshop laptop
(real smartctl outputs for its disks) and the checks are stand-ins that say what they were asked,
so no load runs and no drive tests itself: what is watched is which checks run, the lines and
JSON objects printed as each ends, the exit status, and the stop on Ctrl+C."""

from __future__ import annotations

import io
import json
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent import flow
from agent.cli import main
from agent.config import load_config
from agent.health import battery, cpu_load, disk, memory, network, platform
from agent.health.alone import check_alone, settings_from
from agent.health.checkup import CheckRunners, HealthSettings
from agent.health.model import FAIL, PASS, SKIPPED, CheckResult, Finding
from agent.i18n import set_language
from agent.inventory.model import Machine
from agent.runner import CommandRecord
from tests.scripted_run import with_smart, workshop_machine

PROFILES = Path(__file__).parent / "fixtures" / "profiles"
SHORT = HealthSettings(self_test="short", cpu_seconds=5, memory_seconds=7, battery_seconds=9)
# What the stand-in memory tester found when it fails.
BAD_BYTE = "memory_bad_byte"
PRESSED_AFTER_SECONDS = 0.3


def result(check: str, subject: str, verdict: str = PASS,
           evidence: tuple[CommandRecord, ...] = ()) -> CheckResult:
    findings: tuple[Finding, ...] = ()
    if verdict == FAIL:
        findings = (Finding.of(BAD_BYTE, FAIL, "a byte read back wrong at {address}",
                               address="0x1f00"),)
    elif verdict == SKIPPED:
        findings = (Finding.of("stand_in_cancelled", SKIPPED, "cancelled"),)
    return CheckResult(check, subject, verdict, findings, {"rules": "stand-in/1"}, 1.0,
                       evidence=evidence)


class StandIns:
    """Checks that note each call. `memory_verdict`: how the memory test ends. `interrupt_in`:
    the check during which the volunteer presses Ctrl+C (a SIGINT to the main thread, as the
    terminal sends it); that check then waits to be stopped, and notes that it was."""

    def __init__(self, *, memory_verdict: str = PASS, interrupt_in: str | None = None) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.memory_verdict = memory_verdict
        self.interrupt_in = interrupt_in
        self.stopped: list[str] = []
        self._lock = threading.Lock()
        self._both_drives = threading.Barrier(2)

    def _run(self, name: str, argument: Any, cancel: threading.Event | None,
             finished: Callable[[], CheckResult], cancelled: Callable[[], CheckResult]
             ) -> CheckResult:
        with self._lock:
            self.calls.append((name, argument))
        if self.interrupt_in == name:
            assert cancel is not None
            # The drives test themselves side by side: Ctrl+C once both have started.
            if name != "self_test" or self._both_drives.wait(timeout=10) == 0:
                # In the middle of the check, while the command waits for it.
                time.sleep(PRESSED_AFTER_SECONDS)
                signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
            if cancel.wait(timeout=10):
                self.stopped.append(name)
                return cancelled()
        return finished()

    def self_test(self, path: str, source: object, *, kind: str,
                  progress: Callable[[int | None], None], cancel: threading.Event) -> CheckResult:
        return self._run("self_test", (path, kind), cancel,
                         lambda: result(disk.SELF_TEST_CHECK, path),
                         lambda: result(disk.SELF_TEST_CHECK, path, SKIPPED))

    def cpu(self, *, seconds: int, sysfs_root: str, cancel: threading.Event) -> CheckResult:
        load = CommandRecord(("stress-ng", "--cpu", "0", "--timeout", f"{seconds}s"), 0,
                             "stress-ng: info: successful run completed\n" * 50, "", 5.2)
        return self._run("cpu", seconds, cancel,
                         lambda: result(cpu_load.CHECK, cpu_load.SUBJECT, evidence=(load,)),
                         lambda: result(cpu_load.CHECK, cpu_load.SUBJECT, SKIPPED))

    def memory(self, *, seconds: int, cancel: threading.Event) -> CheckResult:
        return self._run("memory", seconds, cancel,
                         lambda: result(memory.CHECK, memory.SUBJECT, self.memory_verdict),
                         lambda: result(memory.CHECK, memory.SUBJECT, SKIPPED))

    def battery(self, batteries: Any, *, load: Any, seconds: int, sysfs_root: str,
                cancel: threading.Event) -> CheckResult:
        return self._run("battery", seconds, cancel,
                         lambda: result(battery.CHECK, battery.SUBJECT),
                         lambda: result(battery.CHECK, battery.SUBJECT, SKIPPED))

    def platform(self, sysfs_root: str, *, tpm: Any, boot: Any, amt: Any) -> CheckResult:
        return self._run("platform", sysfs_root, None,
                         lambda: result(platform.CHECK, platform.SUBJECT),
                         lambda: result(platform.CHECK, platform.SUBJECT, SKIPPED))

    def network(self, sysfs_root: str, *, target_firmware: Any, target_name: Any,
                kernel_log: Any) -> CheckResult:
        return self._run("network", sysfs_root, None,
                         lambda: result(network.CHECK, network.SUBJECT),
                         lambda: result(network.CHECK, network.SUBJECT, SKIPPED))

    def runners(self) -> CheckRunners:
        return CheckRunners(self_test=self.self_test, cpu=self.cpu, memory=self.memory,
                            battery=self.battery, platform=self.platform, network=self.network)

    def names(self) -> list[str]:
        return [name for name, _argument in self.calls]


def open_station(data_dir: Path, language: str) -> flow.Station:
    (data_dir / "reeeboot.toml").write_text(f'language = "{language}"\n')
    return flow.open_station(data_dir)


def laptop() -> Machine:
    """The workshop laptop: a healthy NVMe SSD, a SATA SSD whose SMART data warns (more than two
    years powered on), and the reeeboot stick, which the system keeps."""
    return with_smart(workshop_machine())


def check(station: flow.Station, stand_ins: StandIns, settings: HealthSettings = SHORT, *,
          as_json: bool = False, machine: Machine | None = None,
          live: bool = True) -> tuple[int, list[str]]:
    """The command on the laptop with the stand-in checks: its exit status and its lines."""
    out = io.StringIO()
    status = check_alone(station, settings, as_json=as_json, out=out,
                         take_inventory=lambda _station: machine or laptop(),
                         # Any source makes the pass live; the stand-ins never use it.
                         machine_source=lambda _station: object() if live else None,  # type: ignore[arg-type,return-value]
                         runners=stand_ins.runners(), sysfs_root="/nonexistent-sysfs")
    return status, out.getvalue().splitlines()


@pytest.fixture
def ctrl_c() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt in the main thread, as in a terminal."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


@pytest.fixture(autouse=True)
def back_to_french() -> Iterator[None]:
    """The station sets the language it is configured with; the other tests expect French."""
    yield
    set_language("fr")


# --- People's lines ------------------------------------------------------------------------------


def test_each_check_is_printed_as_it_ends_then_the_worst_verdict_and_the_grade(
        data_dir: Path) -> None:
    station = open_station(data_dir, "en")
    stand_ins = StandIns(memory_verdict=FAIL)
    status, lines = check(station, stand_ins)
    assert status == 1  # the memory test failed
    assert lines[0] == ("Health checks of this computer. Nothing is written to its disks. "
                        "Ctrl+C stops them.")
    # The order of the pass: SMART data and the firmware at once, the drives' own tests (side
    # by side, so in either order), then the processor, the memory and the battery.
    assert lines[1:5] == [
        "SMART data of /dev/nvme0n1: OK",
        "SMART data of /dev/sda: warning: powered on for 19,497 hours (about 2.2 years)",
        "firmware locks: OK",
        "network: OK",
    ]
    assert sorted(lines[5:7]) == ["disk self-test of /dev/nvme0n1: OK",
                                  "disk self-test of /dev/sda: OK"]
    assert lines[7:10] == [
        "processor under load: OK",
        "memory test: FAILED: a byte read back wrong at 0x1f00",
        "battery: OK",
    ]
    assert lines[10] == ("Worst result: FAILED. Grade these checks would give: C "
                         "(functional code F1).")
    assert lines[11] == "  Because: a byte read back wrong at 0x1f00"
    assert len(lines) == 12
    # The stick is not checked; the drives are tested with the kind asked for.
    assert sorted(argument for name, argument in stand_ins.calls if name == "self_test") == [
        ("/dev/nvme0n1", "short"), ("/dev/sda", "short")]
    assert not any("/dev/sdb" in line for line in lines)
    assert [name for name in stand_ins.names() if name in ("cpu", "memory", "battery")] == [
        "cpu", "memory", "battery"]
    assert ("memory", 7) in stand_ins.calls and ("battery", 9) in stand_ins.calls


def test_the_lines_are_in_the_stations_language(data_dir: Path) -> None:
    station = open_station(data_dir, "fr")
    status, lines = check(station, StandIns(memory_verdict=FAIL))
    assert status == 1
    assert lines[0] == ("Contrôles de santé de cet ordinateur. Rien n'est écrit sur ses "
                        "disques. Ctrl+C les arrête.")
    assert "données SMART de /dev/nvme0n1 : OK" in lines
    assert "test de la mémoire : ÉCHEC : a byte read back wrong at 0x1f00" in lines
    assert "autotest du disque de /dev/sda : OK" in lines
    assert lines[-2] == ("Pire résultat : ÉCHEC. Note que donneraient ces contrôles : C "
                         "(code fonctionnel F1).")
    assert lines[-1] == "  Parce que : a byte read back wrong at 0x1f00"


def test_a_warning_is_not_a_failure(data_dir: Path) -> None:
    station = open_station(data_dir, "en")
    status, lines = check(station, StandIns())
    assert status == 0
    assert lines[-2].startswith("Worst result: warning. Grade these checks would give: B")


# --- Scripts' JSON --------------------------------------------------------------------------------


def test_json_gives_one_object_per_check_and_the_grade_at_the_end(data_dir: Path) -> None:
    station = open_station(data_dir, "en")
    status, lines = check(station, StandIns(), as_json=True)
    assert status == 0
    objects = [json.loads(line) for line in lines]  # nothing but JSON: no note for people
    checks, done = objects[:-1], objects[-1]
    assert {item["event"] for item in checks} == {"check"}
    assert [(item["check"], item["subject"]) for item in checks if item["check"] in (
        cpu_load.CHECK, memory.CHECK, battery.CHECK)] == [
        (cpu_load.CHECK, cpu_load.SUBJECT), (memory.CHECK, memory.SUBJECT),
        (battery.CHECK, battery.SUBJECT)]
    assert len(checks) == 9  # 2 SMART, firmware, network, 2 self-tests, 3 machine checks
    smart = next(item for item in checks if item["subject"] == "/dev/sda"
                 and item["check"] == disk.SMART_CHECK)
    assert smart["verdict"] == "warn" and smart["findings"][0]["text"]
    # The commands are named, their output is left to the report's evidence files.
    load = next(item for item in checks if item["check"] == cpu_load.CHECK)
    assert load["evidence"] == [{"argv": ["stress-ng", "--cpu", "0", "--timeout", "5s"],
                                 "returncode": 0, "seconds": 5.2}]
    assert done["event"] == "done" and done["verdict"] == "warn"
    assert done["interrupted"] is False
    assert done["grade"]["value"] == "B" and done["grade"]["functional"] == "F4"
    assert done["grade"]["rules"] == "grade/2"


# --- What runs -----------------------------------------------------------------------------------


def test_self_test_off_starts_no_self_test(data_dir: Path) -> None:
    station = open_station(data_dir, "en")
    stand_ins = StandIns()
    off = HealthSettings(self_test="off", cpu_seconds=5, memory_seconds=7, battery_seconds=9)
    status, lines = check(station, stand_ins, off, as_json=True)
    assert status == 0
    assert "self_test" not in stand_ins.names()
    assert disk.SELF_TEST_CHECK not in {json.loads(line).get("check") for line in lines}
    assert stand_ins.names()[-3:] == ["cpu", "memory", "battery"]


def test_a_recorded_machine_gets_only_its_smart_judgement(data_dir: Path) -> None:
    station = open_station(data_dir, "en")
    stand_ins = StandIns()
    status, lines = check(station, stand_ins, live=False)
    assert status == 0 and stand_ins.calls == []
    assert lines[0] == "A recorded machine: only its disks' SMART data is judged."
    assert [line.split(":")[0] for line in lines[1:3]] == ["SMART data of /dev/nvme0n1",
                                                          "SMART data of /dev/sda"]
    assert lines[3].startswith("Worst result: warning.")


# --- Ctrl+C --------------------------------------------------------------------------------------


@pytest.mark.usefixtures("ctrl_c")
def test_ctrl_c_during_the_memory_test_stops_it_and_prints_what_was_found(
        data_dir: Path) -> None:
    station = open_station(data_dir, "en")
    stand_ins = StandIns(interrupt_in="memory")
    status, lines = check(station, stand_ins)
    assert status == 130
    assert stand_ins.stopped == ["memory"]  # told to stop, not left running
    assert "battery" not in stand_ins.names()
    at = lines.index("Stopping the checks that are still running...")
    assert "processor under load: OK" in lines[:at]
    assert lines[at + 1:at + 3] == ["memory test: not checked: cancelled",
                                    "battery: not checked: Stopped before it started"]
    assert lines[at + 3] == "Stopped before the end: what was found so far."
    assert lines[at + 4].startswith("Worst result: warning. Grade these checks would give: ")


@pytest.mark.usefixtures("ctrl_c")
def test_ctrl_c_during_the_self_tests_aborts_them_and_starts_nothing_else(
        data_dir: Path) -> None:
    station = open_station(data_dir, "en")
    stand_ins = StandIns(interrupt_in="self_test")
    status, lines = check(station, stand_ins, as_json=True)
    assert status == 130
    assert sorted(stand_ins.stopped) == ["self_test", "self_test"]
    assert not {"cpu", "memory", "battery"} & set(stand_ins.names())
    objects = [json.loads(line) for line in lines]
    assert [item["verdict"] for item in objects if item.get("check") == disk.SELF_TEST_CHECK] == [
        SKIPPED, SKIPPED]
    assert objects[-1]["event"] == "done" and objects[-1]["interrupted"] is True
    assert objects[-1]["grade"]["value"] == "C"  # the processor and the memory are untested


def test_ctrl_c_while_the_machine_is_judged_ends_with_what_is_known(data_dir: Path) -> None:
    station = open_station(data_dir, "en")
    stand_ins = StandIns()

    def pressed(sysfs_root: str, **_arguments: Any) -> CheckResult:
        raise KeyboardInterrupt

    runners = CheckRunners(self_test=stand_ins.self_test, platform=pressed)
    out = io.StringIO()
    status = check_alone(station, SHORT, out=out, take_inventory=lambda _station: laptop(),
                         machine_source=lambda _station: object(),  # type: ignore[arg-type,return-value]
                         runners=runners, sysfs_root="/nonexistent-sysfs")
    lines = out.getvalue().splitlines()
    assert status == 130 and stand_ins.calls == []
    assert lines[1].startswith("SMART data of /dev/nvme0n1: OK")
    assert lines[3] == "Stopping the checks that are still running..."
    assert lines[4] == "Stopped before the end: what was found so far."


# --- The command line -----------------------------------------------------------------------------


def test_the_command_reads_a_recorded_machine_and_prints_json(
        data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (data_dir / "reeeboot.toml").write_text('language = "en"\n')
    status = main(["--data", str(data_dir), "--profile",
                   str(PROFILES / "dell-latitude-e7470.json"), "health", "--json"])
    objects = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert status == 0
    assert [(item["check"], item["subject"]) for item in objects[:-1]] == [
        (disk.SMART_CHECK, "/dev/sda")]
    assert objects[-1]["event"] == "done" and objects[-1]["grade"]["functional"] == "F0"


@pytest.mark.parametrize("arguments", [["--self-test", "quick"], ["--cpu-seconds", "-1"],
                                       ["--memory-seconds", "ten"]])
def test_a_wrong_option_is_a_usage_error(data_dir: Path, arguments: list[str],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--data", str(data_dir), "health", *arguments])
    assert stopped.value.code == 2
    assert "usage: reeeboot health" in capsys.readouterr().err


def test_the_options_replace_the_configurations_settings(tmp_path: Path) -> None:
    path = tmp_path / "reeeboot.toml"
    path.write_text("[health]\nself_test = \"long\"\ncpu_seconds = 30\nmemory_seconds = 600\n")
    config, problems = load_config(path)
    assert problems == []
    configured = flow.health_settings(config)
    assert settings_from(configured) == configured
    assert settings_from(configured, self_test="off", memory_seconds=0) == HealthSettings(
        self_test="off", cpu_seconds=30, memory_seconds=0, battery_seconds=180)
