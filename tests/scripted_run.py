"""A machine and a run whose long steps are scripted, for screen tests that must be exact.

The machine is made of real parts' answers (an NVMe drive's id-ctrl, a frozen SATA SSD's
hdparm -I, a USB stick the system booted from, smartctl outputs of real drives); the policy plans
on them for real, and the health pass judges their SMART data and the firmware's locks with its
real rules. The erasure, the drives' self-tests, the machine's checks and the install do not touch
a disk nor load the processor: they emit fixed progress, then wait until the test lets them
finish, so a screen can be looked at in the middle of their work.
"""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import requests

from agent import flow
from agent.events import ProgressEvent
from agent.health import battery, cpu_load, disk, memory
from agent.health.checkup import CheckRunners, HealthPass, HealthSettings
from agent.health.model import FAIL, SKIPPED, CheckResult, Finding, verdict_of
from agent.health.platform import check_platform_locks
from agent.install.image import OsImage
from agent.install.job import InstallResult
from agent.inventory.battery import Battery
from agent.inventory.cpu import Processor
from agent.inventory.dmi_memory import InstalledMemory
from agent.inventory.dmi_system import SystemProduct
from agent.inventory.identity import Identity
from agent.inventory.model import Disk, EvidenceFile, Exclusion, Machine
from agent.inventory.peripherals import Peripherals
from agent.inventory.smartinfo import parse_smartctl_json
from agent.network_errors import describe_failure
from agent.report.outbox import FlushOutcome
from agent.run.engine import Run
from agent.wipe.firmware import unfreeze
from agent.wipe.firmware.capabilities import DiskCapabilities
from agent.wipe.firmware.parsers import parse_hdparm_identify, parse_nvme_id_ctrl
from agent.wipe.jobs import WipeResult
from tests.replay import fixture

GB = 1_000_000_000
IDENTITY = Identity("rb1-" + "5c049c8f16956093965f0ebe84ca6b4eff7f29caf3f32c08f66ec7c1dea64acf",
                    ("system_vendor", "system_product", "system_serial"), (), "")


def workshop_machine(*, model: str = "WDC PC SN730 SDBQNTY-512G-1001",
                     vendor: str = "LENOVO", product: str = "ThinkPad T480",
                     serial: str = "PF1ABCDE") -> Machine:
    """A laptop with an NVMe SSD, a second SATA SSD (frozen) and the reeeboot stick."""
    disks = (
        Disk("nvme0n1", "/dev/nvme0n1", "nvme", model, "19468D800123", 512 * GB, 512, False,
             False, "passed", power_on_hours=4321, wear_percent_used=7),
        Disk("sda", "/dev/sda", "sata", "TS128GMTS430S", "C123456789", 128 * GB, 512, False,
             False, "passed", power_on_hours=12001, reallocated_sectors=3),
        Disk("sdb", "/dev/sdb", "usb", "SanDisk Ultra", "4C530001", 32 * GB, 512, False, True,
             None),
    )
    battery = Battery("BAT0", "SMP", "01AV445", "1234", "Li-poly", "Discharging", 24.0, 17.0,
                      70.8, 312)
    return Machine(
        system=SystemProduct(vendor, product, None, serial, None, None, None),
        cpu=Processor("Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz", "GenuineIntel", 4, 8, 400,
                      3400, "cpufreq", "x86-64-v3"),
        memory=InstalledMemory(8 << 30, (), None, None, "meminfo"),
        disks=disks,
        exclusions=(Exclusion("/dev/sdb", "boot_device", "the system was started from it"),),
        peripherals=Peripherals((), (), (battery,), (), (), ()),
        identity=IDENTITY,
    )


def fixture_probe(disk: Disk) -> DiskCapabilities:
    """The drives' real answers: the NVMe one supports format, the SATA one is frozen."""
    if disk.bus == "nvme":
        return DiskCapabilities(disk.path, "nvme", nvme=parse_nvme_id_ctrl(
            fixture("drives/nvme-wdc-sn730/id-ctrl.json")), nvme_controller="/dev/nvme0",
            nvme_namespace_id=1, nvme_active_namespaces=(1,))
    return DiskCapabilities(disk.path, disk.bus, ata=parse_hdparm_identify(
        fixture("drives/sata-ssd-frozen-tesla/hdparm-I.txt")), ata_passthrough=True)


# Real drives' smartctl outputs for the workshop laptop's disks: the NVMe drive is healthy, the
# SATA SSD has been powered on for more than two years (the SMART rules warn).
SMART_OUTPUTS = {"/dev/nvme0n1": "health/smart/nvme-corsair-mp510.json",
                 "/dev/sda": "health/smart/sata-ssd-samsung-840.json"}
# Where each drive's self-test stands when the scripted tests stop to be looked at.
SELF_TEST_PERCENT = {"/dev/nvme0n1": 40, "/dev/sda": 70}
# The drive log whose newest entry is the failed self-test the failing drive reports.
FAILED_SELF_TEST_LOG = "health/smart/usb-hdd-wd3200bevt-failing.json"
# How far the memory test got (of the seconds it is given) when it stops to be looked at.
MEMORY_SHARE_DONE = 0.45


def with_smart(machine: Machine, outputs: dict[str, str] = SMART_OUTPUTS) -> Machine:
    """The disks' SMART numbers as the inventory reads them from real smartctl outputs, which it
    keeps as evidence (the health pass judges them from there)."""
    disks, evidence = [], list(machine.evidence)
    for item in machine.disks:
        output = outputs.get(item.path)
        details = parse_smartctl_json(fixture(output)) if output is not None else None
        if output is None or details is None:
            disks.append(item)
            continue
        disks.append(replace(
            item, smart_health=details.health, power_on_hours=details.power_on_hours,
            temperature_celsius=details.temperature_celsius,
            reallocated_sectors=details.reallocated_sectors,
            pending_sectors=details.pending_sectors,
            uncorrectable_sectors=details.uncorrectable_sectors,
            wear_percent_used=details.wear_percent_used))
        evidence.append(EvidenceFile.of(f"smartctl-{item.name}.json", fixture(output).encode()))
    return replace(machine, disks=tuple(disks), evidence=tuple(evidence))


class Gate:
    """Where a scripted check stops until the test lets it end, so a screen can be looked at
    while it runs. An open gate lets every check through (the tests that do not look)."""

    def __init__(self, held: bool) -> None:
        self._open = threading.Event()
        if not held:
            self._open.set()
        self._arrived = 0
        self._changed = threading.Condition()

    def wait_here(self, cancel: threading.Event) -> bool:
        """False when the check was cancelled before the gate opened."""
        with self._changed:
            self._arrived += 1
            self._changed.notify_all()
        while not self._open.wait(0.01):
            if cancel.is_set():
                return False
        return True

    def reached(self, count: int = 1, timeout: float = 10) -> bool:
        """Whether `count` checks got to the gate (in `timeout` seconds)."""
        with self._changed:
            return self._changed.wait_for(lambda: self._arrived >= count, timeout)

    def open(self) -> None:
        self._open.set()


class ScriptedClock:
    """The health pass's clock: the memory test's bar shows a fixed share of its time."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class ScriptedChecks:
    """The health checks of the scripted run. Each drive's self-test reports its percentage and
    waits at `self_tests`; `failing` then fails it (with a real drive log's status), the others
    pass. The processor passes; the memory test shows its share done and waits at
    `memory_test`; the battery is judged on its wear by the real rules. The firmware's locks are
    read by the real check from a sysfs tree where Lenovo's driver (think-lmi) says whether an
    administrator password is set."""

    def __init__(self, *, held: bool, failing: str | None, admin_password: bool) -> None:
        self.self_tests = Gate(held)
        self.memory_test = Gate(held)
        self.failing = failing
        self.clock = ScriptedClock()
        self._sysfs = tempfile.TemporaryDirectory(prefix="reeeboot-scripted-sys-")
        admin = (Path(self._sysfs.name) / "class" / "firmware-attributes" / "thinklmi"
                 / "authentication" / "Admin")
        admin.mkdir(parents=True)
        for name, value in (("role", "bios-admin"), ("is_enabled", "1" if admin_password else "0"),
                            ("mechanism", "password")):
            (admin / name).write_text(value + "\n")

    def health_pass(self) -> HealthPass:
        # Any source makes the pass live (it runs the checks); the scripted ones never use it.
        return HealthPass(HealthSettings(), source=object(),  # type: ignore[arg-type]
                          runners=CheckRunners(self_test=self.self_test, cpu=self.cpu,
                                               memory=self.memory, battery=self.battery,
                                               platform=check_platform_locks),
                          sysfs_root=self._sysfs.name, clock=self.clock)

    def self_test(self, path: str, source: object, *, kind: str,
                  progress: Callable[[int | None], None],
                  cancel: threading.Event) -> CheckResult:
        progress(SELF_TEST_PERCENT.get(path, 50))
        if not self.self_tests.wait_here(cancel):
            return _result(disk.SELF_TEST_CHECK, path, Finding.of(
                "self_test_cancelled", SKIPPED, "{device}: the self-test was cancelled",
                device=path))
        progress(100)
        if path != self.failing:
            return _result(disk.SELF_TEST_CHECK, path)
        logged = disk.latest_self_test(json.loads(fixture(FAILED_SELF_TEST_LOG)))
        assert logged is not None
        return _result(disk.SELF_TEST_CHECK, path, Finding.of(
            "self_test_failed", FAIL, "{device}: the drive failed its self-test: {status}",
            device=path, status=logged.status))

    def cpu(self, *, seconds: int, sysfs_root: str, cancel: threading.Event) -> CheckResult:
        return _result(cpu_load.CHECK, cpu_load.SUBJECT)

    def memory(self, *, seconds: int, cancel: threading.Event) -> CheckResult:
        self.clock.now += MEMORY_SHARE_DONE * seconds
        if not self.memory_test.wait_here(cancel):
            return _result(memory.CHECK, memory.SUBJECT, Finding.of(
                "memory_test_cancelled", SKIPPED, "The memory test was cancelled"))
        return _result(memory.CHECK, memory.SUBJECT)

    def battery(self, batteries: Sequence[Battery], *, load: object, seconds: int,
                sysfs_root: str, cancel: threading.Event) -> CheckResult:
        return _result(battery.CHECK, battery.SUBJECT, *battery.judge_wear(batteries))


def _result(check: str, subject: str, *findings: Finding) -> CheckResult:
    return CheckResult(check, subject, verdict_of(findings), findings, {"rules": "scripted/1"},
                       1.0)


class ScriptedRun(Run):
    """A Run on `workshop_machine()` whose erasure, checks and install are fixed scripts.

    `hold_checks`: the self-tests and the memory test wait until the test opens their gates
    (`run.checks.self_tests`, `run.checks.memory_test`). `failing_self_test`: the disk whose
    self-test fails. `vanishes`: the disk pulled out during its erasure (after a short sleep that
    did not unfreeze it); None to erase every disk. `admin_password`: the firmware has one set
    (the previous owner's). `live_progress`: tell the configured hub where the run stands, and
    hear its orders, as a real run does."""

    def __init__(self, station: flow.Station, machine: Machine | None = None, *,
                 hold_checks: bool = False, failing_self_test: str | None = "/dev/sda",
                 vanishes: str | None = "/dev/sda", admin_password: bool = True,
                 live_progress: bool = False) -> None:
        self.checks = ScriptedChecks(held=hold_checks, failing=failing_self_test,
                                     admin_password=admin_password)
        self.vanishes = vanishes
        super().__init__(station,
                         take_inventory=lambda _station: machine or with_smart(workshop_machine()),
                         probe=fixture_probe, live_progress=live_progress,
                         health=self.checks.health_pass())
        self.release = threading.Event()  # set by the test: the scripted step may end
        self.reached = threading.Event()  # set by the script: its progress is on display

    def _hold(self) -> None:
        self.reached.set()
        self.release.wait(30)
        self.reached.clear()
        self.release.clear()

    def erase(self, cancel: threading.Event | None = None) -> list[WipeResult]:
        # As the engine does: the drives' self-tests end first, then the machine's checks run
        # beside the erasure.
        if self.health.self_tests_running():
            self.wait_self_tests(cancel)
        self.health.start_machine_checks(self.reported_machine())
        targets = self.to_erase()
        self.progress.start([plan.disk for plan in targets],
                            {plan.path: "full" for plan in targets})
        for plan in targets:
            size = plan.disk.size_bytes
            if plan.path != self.vanishes:
                self.progress.event(ProgressEvent(plan.path, "write", size // 4, size,
                                                  512e6, detail="1/1 random", pass_number=1,
                                                  pass_count=1))
            else:  # the frozen drive: the sleep did not thaw it, then it was pulled out
                self.progress.event(ProgressEvent(plan.path, "unfreeze", 0, size,
                                                  detail=unfreeze.STILL_FROZEN))
                self.progress.event(ProgressEvent(plan.path, "failed", 0, size,
                                                  error="DiskVanished: gone"))
        self._hold()
        for plan in targets:
            if plan.path != self.vanishes:
                size = plan.disk.size_bytes
                self.progress.event(ProgressEvent(plan.path, "done", size, size))
        self.erasures = [WipeResult(plan.path, plan.disk.serial, plan.disk.model, plan.disk.bus,
                                    plan.disk.size_bytes, result="erased", verified=True,
                                    bytes_written=plan.disk.size_bytes, seconds=1.0)
                         if plan.path != self.vanishes else
                         WipeResult(plan.path, plan.disk.serial, plan.disk.model, plan.disk.bus,
                                    plan.disk.size_bytes, error="DiskVanished: gone")
                         for plan in targets]
        if cancel is not None and cancel.is_set():
            self.health.cancel.set()
        return self.erasures

    def check_health(self) -> dict[str, Any] | None:
        self.health.wait_machine_checks()  # as the engine does, before the benchmarks
        self.benchmarks = None  # measured elsewhere: tests/loop/test_bench_loop.py
        return self.benchmarks

    def install(self, image: OsImage, target: Disk, reason: str,
                cancel: threading.Event | None = None) -> InstallResult | None:
        self.install_progress.event(ProgressEvent(target.path, "write", 300 << 20, 800 << 20,
                                                  200e6))
        self._hold()
        self.installed = InstallResult(image, target, "uefi", "ws-2026-0042",
                                       result="installed", bytes_written=800 << 20,
                                       target_reason=reason)
        self.install_progress.event(ProgressEvent(target.path, "done", 800 << 20, 800 << 20))
        return self.installed

    def deliver(self, sender: Any, wait_seconds: float) -> FlushOutcome:
        waiting = [item.stem for item in self.station.outbox.waiting()]
        unreachable = describe_failure(requests.ConnectionError("refused"))
        return FlushOutcome(waiting=waiting, last_error=unreachable if waiting else None)


def with_disk_model(machine: Machine, path: str, model: str) -> Machine:
    return replace(machine, disks=tuple(replace(disk, model=model) if disk.path == path
                                        else disk for disk in machine.disks))
