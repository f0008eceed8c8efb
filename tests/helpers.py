"""Small builders shared by tests."""

from __future__ import annotations

from agent.inventory.model import CpuInfo, Disk, Exclusion, Machine, MemoryInfo, SystemInfo


def sample_machine(disks: tuple[Disk, ...] = (), exclusions: tuple[Exclusion, ...] = ()) -> Machine:
    return Machine(
        system=SystemInfo("Dell Inc.", "OptiPlex 7010", "5XK2L3J"),
        cpu=CpuInfo("Intel(R) Core(TM) i5-3470 CPU @ 3.20GHz", 4, 4),
        memory=MemoryInfo(8 << 30),
        disks=disks,
        exclusions=exclusions,
    )


def sample_disk(path: str = "/dev/sda", serial: str = "WD-123", bus: str = "sata") -> Disk:
    return Disk(
        name=path.rsplit("/", 1)[-1], path=path, bus=bus, model="WDC WD5000AAKX",
        serial=serial, size_bytes=500 << 30, logical_sector_size=512, rotational=True,
        removable=False, smart_health="passed",
    )
