"""Small builders shared by tests."""

from __future__ import annotations

from agent.inventory.cpu import Processor
from agent.inventory.dmi_memory import InstalledMemory
from agent.inventory.dmi_system import SystemProduct
from agent.inventory.model import Disk, Exclusion, Machine


def sample_machine(disks: tuple[Disk, ...] = (), exclusions: tuple[Exclusion, ...] = ()) -> Machine:
    return Machine(
        system=SystemProduct("Dell Inc.", "OptiPlex 7010", None, "5XK2L3J", None, None, None),
        cpu=Processor("Intel(R) Core(TM) i5-3470 CPU @ 3.20GHz", "GenuineIntel", 4, 4, 1600,
                      3600, "cpufreq", "x86-64-v2"),
        memory=InstalledMemory(8 << 30, (), None, None, "meminfo"),
        disks=disks,
        exclusions=exclusions,
    )


def sample_disk(path: str = "/dev/sda", serial: str = "WD-123", bus: str = "sata") -> Disk:
    return Disk(
        name=path.rsplit("/", 1)[-1], path=path, bus=bus, model="WDC WD5000AAKX",
        serial=serial, size_bytes=500 << 30, logical_sector_size=512, rotational=True,
        removable=False, smart_health="passed",
    )
