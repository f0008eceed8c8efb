"""The health pass of a run: which checks run when, on which parts, and what a run does with
their results (the install target, the grade, the report). The checks themselves are tested in
tests/test_health_*.py; here they are stand-ins that say what they were asked, so the order,
the parallelism and the cancellation can be watched."""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent import flow
from agent.health import battery, cpu_load, disk, memory, platform
from agent.health.checkup import (
    DONE,
    RUNNING,
    CheckRunners,
    HealthPass,
    HealthSettings,
)
from agent.health.model import FAIL, NOT_PRESENT, PASS, SKIPPED, WARN, CheckResult, Finding
from agent.install.image import OsImage
from agent.inventory.model import EvidenceFile, Machine
from agent.inventory.source import ProfileSource
from agent.report.grade import grade_machine
from agent.report.model import build_report, check_report
from agent.run.engine import Run
from agent.runner import CommandRecord
from agent.unattended import health_line
from tests.replay import fixture
from tests.scripted_run import GB, fixture_probe, workshop_machine

pytestmark = pytest.mark.usefixtures("english")
PROFILES = Path(__file__).parent / "fixtures" / "profiles"
FAILING_DRIVE = "health/smart/usb-hdd-wd3200bevt-failing.json"
GOOD_NVME = "health/smart/nvme-corsair-mp510.json"


def machine_with_smart(**documents: str) -> Machine:
    """The workshop laptop with the smartctl output the inventory kept for some disks."""
    evidence = tuple(EvidenceFile.of(f"smartctl-{name}.json", fixture(path).encode())
                     for name, path in documents.items())
    return dataclasses.replace(workshop_machine(), evidence=evidence)


def result(check: str, subject: str, verdict: str, code: str = "stand_in",
           evidence: tuple[CommandRecord, ...] = ()) -> CheckResult:
    finding = Finding.of(code, verdict, "{subject}: said {said}", subject=subject, said=verdict)
    return CheckResult(check, subject, verdict, (finding,), {"rules": "stand-in/1"}, 1.0,
                       evidence=evidence)


class StandIns:
    """Checks that note each call and, for the self-tests, hold until the test releases them."""

    def __init__(self, self_tests: dict[str, str] | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.release = threading.Event()
        self.started = threading.Semaphore(0)
        self.self_test_verdicts = self_tests or {}
        self.raise_in: str | None = None
        self.lock = threading.Lock()

    def note(self, name: str, **arguments: Any) -> None:
        with self.lock:
            self.calls.append((name, arguments))
        if self.raise_in == name:
            raise OSError("the sensor tree vanished")

    def self_test(self, path: str, source: object, *, kind: str,
                  progress: Callable[[int | None], None], cancel: threading.Event) -> CheckResult:
        self.note("self_test", path=path, kind=kind)
        progress(40)
        self.started.release()
        while not self.release.wait(0.01):
            if cancel.is_set():
                return result(disk.SELF_TEST_CHECK, path, SKIPPED, "self_test_cancelled")
        record = CommandRecord(("smartctl", "-l", "selftest", path), 0, "log", "", 0.1)
        return result(disk.SELF_TEST_CHECK, path, self.self_test_verdicts.get(path, PASS),
                      "self_test_" + self.self_test_verdicts.get(path, PASS), (record,))

    def cpu(self, *, seconds: int, sysfs_root: str, cancel: threading.Event) -> CheckResult:
        self.note("cpu", seconds=seconds)
        return result(cpu_load.CHECK, cpu_load.SUBJECT, WARN, "cpu_hot")

    def memory(self, *, seconds: int, cancel: threading.Event) -> CheckResult:
        self.note("memory", seconds=seconds)
        return result(memory.CHECK, memory.SUBJECT, PASS)

    def battery(self, batteries: Any, *, load: Any, seconds: int, sysfs_root: str,
                cancel: threading.Event) -> CheckResult:
        self.note("battery", names=[item.name for item in batteries], seconds=seconds)
        return result(battery.CHECK, battery.SUBJECT, PASS)

    def platform(self, sysfs_root: str, *, tpm: Any, boot: Any, amt: Any) -> CheckResult:
        self.note("platform", sysfs_root=sysfs_root)
        return result(platform.CHECK, platform.SUBJECT, FAIL, "firmware_admin_password")

    def runners(self) -> CheckRunners:
        return CheckRunners(self_test=self.self_test, cpu=self.cpu, memory=self.memory,
                            battery=self.battery, platform=self.platform)


def live_pass(stand_ins: StandIns, settings: HealthSettings | None = None,
              **options: Any) -> HealthPass:
    # Any source makes the pass live; the stand-ins never use it.
    return HealthPass(settings or HealthSettings(cpu_seconds=5, memory_seconds=7,
                                                 battery_seconds=9),
                      source=object(), runners=stand_ins.runners(),  # type: ignore[arg-type]
                      sysfs_root="/nonexistent-sysfs", **options)


# --- At once ----------------------------------------------------------------------------------


def test_smart_is_judged_from_what_the_inventory_kept_and_the_locks_are_read() -> None:
    machine = machine_with_smart(sda=FAILING_DRIVE, nvme0n1=GOOD_NVME)
    stand_ins = StandIns()
    health = live_pass(stand_ins)
    health.judge(machine, machine.targets())
    by_subject = {(item.check, item.subject): item for item in health.results()}
    assert by_subject[(disk.SMART_CHECK, "/dev/sda")].verdict == FAIL
    assert by_subject[(disk.SMART_CHECK, "/dev/nvme0n1")].verdict == PASS
    assert by_subject[(platform.CHECK, platform.SUBJECT)].verdict == FAIL
    # The stick is not among the disks checked, so it is not judged.
    assert "/dev/sdb" not in {item.subject for item in health.results()}
    # AMT is only asked on this computer's own sysfs.
    assert stand_ins.calls == [("platform", {"sysfs_root": "/nonexistent-sysfs"})]
    assert list(health.failing_disks()) == ["/dev/sda"]


def test_a_disk_without_smart_output_is_skipped_and_a_second_look_replaces_the_first() -> None:
    health = HealthPass(HealthSettings(), source=None)
    machine = machine_with_smart(nvme0n1=GOOD_NVME)
    health.judge(machine, machine.targets())
    sda = health.result_for(disk.SMART_CHECK, "/dev/sda")
    assert sda is not None and sda.verdict == SKIPPED
    assert sda.findings[0].code == "smart_not_read"
    # A recorded machine: no platform check, the sysfs is not its own.
    assert health.result_for(platform.CHECK, platform.SUBJECT) is None
    health.judge(machine_with_smart(nvme0n1=GOOD_NVME, sda=FAILING_DRIVE), machine.targets())
    assert [item.verdict for item in health.results() if item.subject == "/dev/sda"] == [FAIL]


# --- Before the erasure ------------------------------------------------------------------------


def test_self_tests_run_on_all_disks_at_once_with_their_progress() -> None:
    machine = workshop_machine()
    stand_ins = StandIns({"/dev/sda": FAIL})
    health = live_pass(stand_ins, HealthSettings(self_test="long"))
    health.start_self_tests(machine.targets())
    # Both drives test themselves at the same time: each has started before either may end.
    assert stand_ins.started.acquire(timeout=5) and stand_ins.started.acquire(timeout=5)
    assert health.self_tests_running()
    running = {item.subject: item for item in health.snapshot()}
    assert {item.state for item in running.values()} == {RUNNING}
    assert running["/dev/sda"].percent == 40 and running["/dev/sda"].fraction(health.clock()) == 0.4
    assert sorted(arguments["kind"] for _name, arguments in stand_ins.calls) == ["long", "long"]
    stand_ins.release.set()
    health.wait_self_tests()
    assert {item.state for item in health.snapshot()} == {DONE}
    assert list(health.failing_disks()) == ["/dev/sda"]
    verdict = health.disk_verdict("/dev/sda")
    assert verdict is not None and verdict[0] == FAIL
    good = health.disk_verdict("/dev/nvme0n1")
    assert good is not None and good[0] == PASS
    assert health.disk_verdict("/dev/sdz") is None


def test_a_disk_plugged_in_later_is_tested_and_the_others_are_not_tested_twice() -> None:
    stand_ins = StandIns()
    stand_ins.release.set()
    health = live_pass(stand_ins)
    nvme, sata, _stick = workshop_machine().disks
    health.start_self_tests([nvme])
    health.wait_self_tests()
    health.start_self_tests([nvme, sata])
    health.wait_self_tests()
    assert [arguments["path"] for _name, arguments in stand_ins.calls] == [nvme.path, sata.path]
    assert {item.subject for item in health.results()} == {nvme.path, sata.path}


def test_self_tests_are_left_out_when_turned_off_or_on_a_recorded_machine() -> None:
    machine = workshop_machine()
    off = StandIns()
    live_pass(off, HealthSettings(self_test="off")).start_self_tests(machine.targets())
    recorded = HealthPass(HealthSettings(), source=None, runners=StandIns().runners())
    recorded.start_self_tests(machine.targets())
    assert off.calls == [] and not recorded.self_tests_running() and recorded.snapshot() == []


def test_stopping_aborts_the_self_tests() -> None:
    stand_ins = StandIns()
    health = live_pass(stand_ins)
    health.start_self_tests(workshop_machine().targets())
    assert stand_ins.started.acquire(timeout=5)
    health.stop()
    assert not health.self_tests_running()
    assert {item.findings[0].code for item in health.results()} == {"self_test_cancelled"}


# --- Beside the erasure ------------------------------------------------------------------------


def test_machine_checks_run_one_after_the_other_for_the_configured_time() -> None:
    stand_ins = StandIns()
    heard: list[str] = []
    health = live_pass(stand_ins, on_result=lambda item: heard.append(item.check))
    health.start_machine_checks(workshop_machine())
    health.wait_machine_checks()
    assert stand_ins.calls == [("cpu", {"seconds": 5}), ("memory", {"seconds": 7}),
                               ("battery", {"names": ["BAT0"], "seconds": 9})]
    assert heard == [cpu_load.CHECK, memory.CHECK, battery.CHECK]
    planned = {item.check: item.planned_seconds for item in health.snapshot()}
    assert planned == {cpu_load.CHECK: 5 + cpu_load.DEFAULT_COOL_SECONDS, memory.CHECK: 7,
                       battery.CHECK: 9}


def test_a_check_set_to_zero_seconds_is_left_out_and_a_check_that_crashes_is_skipped() -> None:
    stand_ins = StandIns()
    stand_ins.raise_in = "cpu"
    health = live_pass(stand_ins, HealthSettings(cpu_seconds=60, memory_seconds=0))
    machine = dataclasses.replace(workshop_machine(), peripherals=dataclasses.replace(
        workshop_machine().peripherals, batteries=()))
    health.start_machine_checks(machine)
    health.wait_machine_checks()
    assert [name for name, _arguments in stand_ins.calls] == ["cpu", "battery"]
    crashed = health.result_for(cpu_load.CHECK, cpu_load.SUBJECT)
    assert crashed is not None and crashed.verdict == SKIPPED
    assert "the sensor tree vanished" in crashed.findings[0].text
    assert health.result_for(memory.CHECK, memory.SUBJECT) is None


def test_checks_not_yet_started_when_the_run_is_stopped_are_recorded_as_skipped() -> None:
    stand_ins = StandIns()
    health = live_pass(stand_ins)
    health.cancel.set()
    health.start_machine_checks(workshop_machine())
    health.wait_machine_checks()
    assert stand_ins.calls == []
    assert {item.findings[0].code for item in health.results()} == {"check_cancelled"}


def test_a_listener_that_fails_does_not_stop_the_checks() -> None:
    def broken(_result: CheckResult) -> None:
        raise RuntimeError("serial port gone")

    stand_ins = StandIns()
    health = live_pass(stand_ins, on_result=broken)
    health.start_machine_checks(workshop_machine())
    health.wait_machine_checks()
    assert len(health.results()) == 3


# --- The report's section -------------------------------------------------------------------


def test_each_checks_commands_are_kept_as_a_file_the_report_names_by_hash() -> None:
    stand_ins = StandIns()
    stand_ins.release.set()
    health = live_pass(stand_ins)
    health.start_self_tests(workshop_machine().targets())
    health.wait_self_tests()
    files = {item.name: item for item in health.evidence()}
    assert sorted(files) == ["health-disk_self_test-nvme0n1.json",
                             "health-disk_self_test-sda.json"]
    kept = files["health-disk_self_test-sda.json"]
    assert json.loads(kept.content)[0]["argv"] == ["smartctl", "-l", "selftest", "/dev/sda"]
    section = health.to_json()
    assert section is not None
    [entry] = [item for item in section["checks"] if item["subject"] == "/dev/sda"]
    assert entry["evidence"] == [{"name": kept.name,
                                  "sha256": hashlib.sha256(kept.content).hexdigest(),
                                  "size_bytes": len(kept.content)}]
    assert HealthPass(HealthSettings(), source=None).to_json() is None


def test_the_health_section_is_valid_in_a_report_and_lowers_the_grade() -> None:
    machine = machine_with_smart(sda=FAILING_DRIVE, nvme0n1=GOOD_NVME)
    stand_ins = StandIns({"/dev/nvme0n1": FAIL})
    stand_ins.release.set()
    health = live_pass(stand_ins)
    health.judge(machine, machine.targets())
    health.start_self_tests(machine.targets())
    health.wait_self_tests()
    health.start_machine_checks(machine)
    health.wait_machine_checks()
    section = health.to_json()
    assert section is not None and section["verdict"] == FAIL
    report = build_report(machine, [], station_name="s", station_key_id="0" * 64,
                          started_at=datetime.datetime.now(datetime.UTC), health=section)
    check_report(report)
    codes = [reason["code"] for reason in report["grade"]["reasons"]]
    # The self-test's failure and the platform lock lower it to C; the processor's warning to
    # B. The SMART judgement is graded by the disk rules (no second reason for it).
    assert report["grade"]["value"] == "C"
    assert {"self_test_fail", "firmware_admin_password", "cpu_hot"} <= set(codes)
    assert "smart_verdict_failed" not in codes
    # An older report without the section is still valid.
    del report["health"]
    check_report(report)


def test_a_finding_with_braces_from_outside_stays_as_it_is_in_the_grade() -> None:
    hostile = Finding.of("stand_in", FAIL, "{disk}: model {model}", disk="/dev/sda",
                         model="{0.__class__} {x:>99999}")
    section = {"verdict": FAIL, "checks": [CheckResult(
        disk.SELF_TEST_CHECK, "/dev/sda", FAIL, (hostile,), {}, 1.0).to_json()]}
    [reason] = [item for item in grade_machine(workshop_machine(), None, section).reasons
                if item.code == "stand_in"]
    assert reason.describe() == "/dev/sda: model {0.__class__} {x:>99999}"


# --- In a run ----------------------------------------------------------------------------------


def run_with(data_dir: Path, stand_ins: StandIns, config: str = "") -> Run:
    (data_dir / "reeeboot.toml").write_text('language = "en"\n' + config)
    machine = machine_with_smart(nvme0n1=GOOD_NVME)
    run = Run(flow.open_station(data_dir), take_inventory=lambda _station: machine,
              probe=fixture_probe, live_progress=False, health=live_pass(stand_ins))
    run.inspect()
    return run


def test_a_disk_failing_its_self_test_is_not_where_the_os_goes(data_dir: Path) -> None:
    image = OsImage(name="reeeboot-os-minimal", version="1", source="stick",
                    recorded_size=8 * GB)
    stand_ins = StandIns({"/dev/nvme0n1": FAIL})
    run = run_with(data_dir, stand_ins)
    assert run.proposal_for(image).target is not None
    assert run.proposal_for(image).target.path == "/dev/nvme0n1"  # type: ignore[union-attr]
    run.start_self_tests()
    stand_ins.release.set()
    run.health.wait_self_tests()
    proposal = run.proposal_for(image)
    assert proposal.target is not None and proposal.target.path == "/dev/sda"
    # It is still erased: its data must go.
    assert "/dev/nvme0n1" in [plan.path for plan in run.to_erase()]
    grade, _outcome = run.grade()
    assert "self_test_fail" in [reason.code for reason in grade.reasons]


def test_only_a_run_that_reads_this_computer_runs_checks_on_it(data_dir: Path) -> None:
    (data_dir / "reeeboot.toml").write_text(
        'language = "en"\n[health]\nself_test = "long"\ncpu_seconds = 0\n')
    station = flow.open_station(data_dir)
    made_up = Run(station, take_inventory=lambda _station: workshop_machine(),
                  live_progress=False)
    assert not made_up.health.live
    this_computer = Run(station, live_progress=False)
    assert this_computer.health.live
    assert this_computer.health.settings == HealthSettings(self_test="long", cpu_seconds=0)


def test_the_status_line_tells_the_verdict_and_the_findings() -> None:
    line = health_line(result(memory.CHECK, memory.SUBJECT, NOT_PRESENT, "memory_absent"))
    assert line == {"check": "memory", "subject": "ram", "verdict": "not_present",
                    "seconds": 1.0, "findings": [{"code": "memory_absent",
                                                  "verdict": "not_present",
                                                  "text": "ram: said not_present"}]}
    json.dumps(line)


@pytest.mark.parametrize(("check", "verdict", "lowers_to"), [
    (platform.CHECK, WARN, None), (platform.CHECK, FAIL, "C"), (memory.CHECK, WARN, "B"),
    (battery.CHECK, FAIL, "C"), (disk.SMART_CHECK, FAIL, None), (cpu_load.CHECK, SKIPPED, None)])
def test_which_health_verdicts_lower_the_grade(check: str, verdict: str,
                                               lowers_to: str | None) -> None:
    section = {"verdict": verdict, "checks": [result(check, "part", verdict, "said").to_json()]}
    grade = grade_machine(workshop_machine(), None, section)
    said = [reason for reason in grade.reasons if reason.code == "said"]
    assert len(said) == (0 if lowers_to is None else 1)
    if lowers_to is not None:
        assert grade.value >= lowers_to and said[0].describe() == f"part: said {verdict}"


def test_a_whole_run_waits_for_the_self_tests_runs_the_checks_and_reports_them(
        data_dir: Path) -> None:
    """A recorded laptop (nothing of it is erased), with stand-in checks made live: the erasure
    waits for the self-tests, the machine's checks run beside it, the benchmarks wait for them,
    and the signed report carries the section, its evidence files and the steps' times."""
    (data_dir / "reeeboot.toml").write_text('language = "en"\n')
    station = flow.open_station(data_dir)
    station.profile = ProfileSource.load(PROFILES / "dell-latitude-e7470.json")
    stand_ins = StandIns()
    run = Run(station, live_progress=False, health=live_pass(stand_ins))
    run.inspect()
    run.start_self_tests()
    assert stand_ins.started.acquire(timeout=5)
    releaser = threading.Timer(0.3, stand_ins.release.set)
    releaser.start()
    run.erase()
    assert not run.health.self_tests_running()
    run.check_health()
    assert not run.health.machine_checks_running()
    # The platform at once, the self-tests before the erasure, then the machine's checks.
    names = [name for name, _arguments in stand_ins.calls]
    assert names[0] == "platform" and names[-3:] == ["cpu", "memory", "battery"]
    assert set(names[1:-3]) == {"self_test"}
    report_id = run.file_report()
    envelope = json.loads((station.state_dir / "rehearsals" / f"{report_id}.json").read_text())
    report = json.loads(base64.b64decode(envelope["payload"]))
    checks = {(item["check"], item["subject"]) for item in report["health"]["checks"]}
    assert {(cpu_load.CHECK, "cpu"), (memory.CHECK, "ram"), (battery.CHECK, "battery"),
            (platform.CHECK, "firmware")} <= checks
    self_tests = [item for item in report["health"]["checks"]
                  if item["check"] == disk.SELF_TEST_CHECK]
    assert self_tests and all(item["evidence"] for item in self_tests)
    for item in self_tests:
        kept = station.state_dir / "evidence" / report_id / item["evidence"][0]["name"]
        assert hashlib.sha256(kept.read_bytes()).hexdigest() == item["evidence"][0]["sha256"]
    assert {"self_test", "erase", "bench"} <= set(report["timings"])
    assert report["grade"]["rules"] == "grade/2"
