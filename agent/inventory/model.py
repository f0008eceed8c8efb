"""What the machine is: plain dataclasses, turned into JSON for the CLI and the report."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class SystemInfo:
    vendor: str | None
    product: str | None
    serial: str | None


@dataclass(frozen=True)
class CpuInfo:
    model: str | None
    cores: int
    threads: int


@dataclass(frozen=True)
class MemoryInfo:
    total_bytes: int


@dataclass(frozen=True)
class Partition:
    name: str
    fstype: str | None
    label: str | None
    size_bytes: int
    mountpoint: str | None


@dataclass(frozen=True)
class Disk:
    name: str
    path: str
    bus: str
    model: str | None
    serial: str | None
    size_bytes: int
    logical_sector_size: int
    rotational: bool
    removable: bool
    smart_health: str | None = None  # "passed", "failed" or None when the disk has no SMART
    partitions: tuple[Partition, ...] = ()  # what is on it before erasure
    wwn: str | None = None
    firmware: str | None = None
    physical_sector_size: int | None = None
    power_on_hours: int | None = None
    temperature_celsius: int | None = None
    reallocated_sectors: int | None = None
    pending_sectors: int | None = None
    uncorrectable_sectors: int | None = None
    wear_percent_used: int | None = None  # SSDs: 0 new, 100 at the rated endurance


@dataclass(frozen=True)
class Exclusion:
    """A disk that must not be touched, and why (`code` for machines, `reason` for people)."""

    path: str
    code: str
    reason: str


@dataclass(frozen=True)
class Machine:
    system: SystemInfo
    cpu: CpuInfo
    memory: MemoryInfo
    disks: tuple[Disk, ...]
    exclusions: tuple[Exclusion, ...] = field(default=())

    def excluded_paths(self) -> set[str]:
        return {exclusion.path for exclusion in self.exclusions}

    def targets(self) -> tuple[Disk, ...]:
        excluded = self.excluded_paths()
        return tuple(disk for disk in self.disks if disk.path not in excluded)

    def to_json(self) -> dict[str, Any]:
        # Through the JSON encoder so tuples become lists, as they will be in the signed report.
        document: dict[str, Any] = json.loads(json.dumps(asdict(self)))
        return document
