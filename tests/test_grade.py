"""Grade and outcome rules (agent/report/grade.py, docs/report.md section 4)."""

from __future__ import annotations

import dataclasses
from typing import Any

from agent.inventory.battery import Battery
from agent.inventory.dmi_memory import InstalledMemory
from agent.inventory.model import Disk, Exclusion, Machine
from agent.inventory.peripherals import Peripherals
from agent.report.grade import decide_outcome, grade_machine
from agent.wipe.jobs import WipeResult
from tests.helpers import sample_disk, sample_machine

GIB = 1 << 30
SSD = dataclasses.replace(sample_disk("/dev/nvme0n1", "N1", "nvme"), rotational=False)


def machine(memory_gib: float = 16, level: str | None = "x86-64-v3",
            disks: tuple[Disk, ...] = (SSD,), **changes: Any) -> Machine:
    base = sample_machine(disks=disks)
    return dataclasses.replace(
        base, memory=InstalledMemory(int(memory_gib * GIB), (), None, None, "meminfo"),
        cpu=dataclasses.replace(base.cpu, microarchitecture_level=level), **changes)


def codes(value: Machine, benchmarks: dict[str, Any] | None = None) -> tuple[str, list[str]]:
    grade = grade_machine(value, benchmarks)
    return grade.value, [reason.code for reason in grade.reasons]


def battery(health: float) -> Peripherals:
    return Peripherals((), (), (Battery("BAT0", "LGC", None, None, "Li-ion", "Full", 50.0,
                                        50.0 * health / 100, health, 300),), (), (), ())


def test_a_recent_machine_is_a_without_reasons() -> None:
    assert codes(machine()) == ("A", [])


def test_memory_thresholds() -> None:
    assert codes(machine(memory_gib=7.8)) == ("A", [])  # 8 GiB less what the firmware keeps
    assert codes(machine(memory_gib=6)) == ("B", ["memory_under_8_gib"])
    assert codes(machine(memory_gib=3)) == ("C", ["memory_under_4_gib"])
    assert codes(machine(memory_gib=1)) == ("D", ["memory_under_2_gib"])


def test_processor_levels() -> None:
    assert codes(machine(level="x86-64-v4")) == ("A", [])
    assert codes(machine(level="x86-64-v2")) == ("B", ["cpu_x86_64_v2"])
    assert codes(machine(level="x86-64")) == ("C", ["cpu_x86_64_v1"])
    assert codes(machine(level=None)) == ("C", ["cpu_level_unknown"])


def test_disk_health() -> None:
    failing = dataclasses.replace(SSD, smart_health="failed", reallocated_sectors=8)
    assert codes(machine(disks=(failing,))) == ("C", ["smart_failed", "bad_sectors"])
    worn = dataclasses.replace(SSD, wear_percent_used=75)
    assert codes(machine(disks=(worn,))) == ("B", ["ssd_worn"])
    assert codes(machine(disks=(sample_disk(),))) == ("B", ["hard_disk_only"])
    assert codes(machine(disks=())) == ("C", ["no_disk"])
    # A failing disk that is excluded (the boot stick) says nothing about the machine.
    stick = dataclasses.replace(sample_disk("/dev/sdb", "USB", "usb"), smart_health="failed",
                                rotational=False)
    assert codes(machine(disks=(SSD, stick), exclusions=(
        Exclusion("/dev/sdb", "boot_device", "the stick"),))) == ("A", [])


def test_battery_and_slow_disk() -> None:
    assert codes(machine(peripherals=battery(70))) == ("B", ["battery_worn"])
    assert codes(machine(peripherals=battery(40))) == ("C", ["battery_worn"])
    slow = {"disks": [{"path": SSD.path, "result": "measured", "read_bytes_per_second": 3e7}]}
    assert codes(machine(), slow) == ("B", ["slow_disk"])


def test_the_worst_rule_decides_and_comes_first() -> None:
    value, reasons = codes(machine(memory_gib=1, level="x86-64-v2", disks=(sample_disk(),)))
    assert value == "D" and reasons[0] == "memory_under_2_gib" and len(reasons) == 3


def result(state: str) -> WipeResult:
    return WipeResult("/dev/sda", "S", "M", "sata", 1, result=state)


def test_outcomes() -> None:
    good, weak = grade_machine(machine()), grade_machine(machine(memory_gib=1))
    assert decide_outcome(good, [result("erased")]).value == "reuse"
    assert decide_outcome(good, [result("erased_with_exceptions")]).value == "reuse"
    assert decide_outcome(weak, [result("erased")]).value == "recycle"
    refused = decide_outcome(good, [result("erased"), result("failed")])
    assert refused.value == "parts" and refused.reason.code == "disk_not_erased"
    assert "/dev/sda" in refused.reason.text
    assert decide_outcome(good, [result("skipped")]).value == "parts"
