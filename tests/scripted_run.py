"""A machine and a run whose long steps are scripted, for screen tests that must be exact.

The machine is made of real parts' answers (an NVMe drive's id-ctrl, a frozen SATA SSD's
hdparm -I, a USB stick the system booted from); the policy plans on them for real. The erasure,
health checks and install do not touch a disk: they emit fixed progress events, then wait until
the test lets them finish, so a screen can be looked at in the middle of its work.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import requests

from agent import flow
from agent.events import ProgressEvent
from agent.install.image import OsImage
from agent.install.job import InstallResult
from agent.inventory.battery import Battery
from agent.inventory.cpu import Processor
from agent.inventory.dmi_memory import InstalledMemory
from agent.inventory.dmi_system import SystemProduct
from agent.inventory.identity import Identity
from agent.inventory.model import Disk, Exclusion, Machine
from agent.inventory.peripherals import Peripherals
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


class ScriptedRun(Run):
    """A Run on `workshop_machine()` whose erasure, checks and install are fixed scripts."""

    def __init__(self, station: flow.Station, machine: Machine | None = None) -> None:
        super().__init__(station, take_inventory=lambda _station: machine or workshop_machine(),
                         probe=fixture_probe, live_progress=False)
        self.release = threading.Event()  # set by the test: the scripted step may end
        self.reached = threading.Event()  # set by the script: its progress is on display

    def _hold(self) -> None:
        self.reached.set()
        self.release.wait(30)
        self.reached.clear()
        self.release.clear()

    def erase(self, cancel: threading.Event | None = None) -> list[WipeResult]:
        targets = self.to_erase()
        self.progress.start([plan.disk for plan in targets],
                            {plan.path: "full" for plan in targets})
        for index, plan in enumerate(targets):
            size = plan.disk.size_bytes
            if index == 0:
                self.progress.event(ProgressEvent(plan.path, "write", size // 4, size,
                                                  512e6, detail="1/1 random", pass_number=1,
                                                  pass_count=1))
            else:  # the frozen drive: the sleep did not thaw it, then it was pulled out
                self.progress.event(ProgressEvent(plan.path, "unfreeze", 0, size,
                                                  detail=unfreeze.STILL_FROZEN))
                self.progress.event(ProgressEvent(plan.path, "failed", 0, size,
                                                  error="DiskVanished: gone"))
        self._hold()
        self.erasures = [WipeResult(plan.path, plan.disk.serial, plan.disk.model, plan.disk.bus,
                                    plan.disk.size_bytes, result="erased", verified=True,
                                    bytes_written=plan.disk.size_bytes, seconds=1.0)
                         if index == 0 else
                         WipeResult(plan.path, plan.disk.serial, plan.disk.model, plan.disk.bus,
                                    plan.disk.size_bytes, error="DiskVanished: gone")
                         for index, plan in enumerate(targets)]
        return self.erasures

    def check_health(self) -> dict[str, Any] | None:
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
