"""What the machine is: plain dataclasses, turned into JSON for the CLI and the report."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from agent.inventory.boot import BootFirmware
from agent.inventory.cpu import Processor
from agent.inventory.dmi_memory import InstalledMemory
from agent.inventory.dmi_system import Baseboard, Chassis, FirmwareInfo, SystemProduct
from agent.inventory.identity import Identity
from agent.inventory.peripherals import Peripherals
from agent.inventory.tpm import Tpm
from agent.inventory.windows_licence import WindowsLicence


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


# The exclusion code of a disk a person chose to keep as it is (the others are the system's own
# reasons: the boot stick, a mounted disk...).
KEPT_BY_CHOICE = "kept_by_choice"


@dataclass(frozen=True)
class Exclusion:
    """A disk that must not be touched, and why (`code` for machines, `reason` for people)."""

    path: str
    code: str
    reason: str


@dataclass(frozen=True)
class EvidenceFile:
    """A raw output kept next to the report; the signed report holds its name and sha256."""

    name: str  # e.g. "dmidecode.txt", "smartctl-sda.json", "edid-card0-eDP-1.bin"
    sha256: str
    size_bytes: int
    content: bytes = field(default=b"", repr=False, compare=False)

    @classmethod
    def of(cls, name: str, content: bytes) -> EvidenceFile:
        return cls(name, hashlib.sha256(content).hexdigest(), len(content), content)


NO_PROCESSOR = Processor(None, None, 0, 0, None, None, None, None)


@dataclass(frozen=True)
class Machine:
    system: SystemProduct
    cpu: Processor
    memory: InstalledMemory
    disks: tuple[Disk, ...]
    exclusions: tuple[Exclusion, ...] = field(default=())
    board: Baseboard | None = None
    chassis: Chassis | None = None
    firmware: FirmwareInfo | None = None
    boot: BootFirmware | None = None
    tpm: Tpm | None = None
    windows_licence: WindowsLicence | None = None
    peripherals: Peripherals = field(default_factory=lambda: Peripherals((), (), (), (), (), ()))
    identity: Identity | None = None
    evidence: tuple[EvidenceFile, ...] = field(default=())
    # The disk this system runs from (the stick whose root file system is mounted), by path.
    stick: str | None = None

    def excluded_paths(self) -> set[str]:
        return {exclusion.path for exclusion in self.exclusions}

    def targets(self) -> tuple[Disk, ...]:
        excluded = self.excluded_paths()
        return tuple(disk for disk in self.disks if disk.path not in excluded)

    def to_json(self) -> dict[str, Any]:
        """The machine as `reeeboot inventory --json` prints it and the report carries it."""
        peripherals = self.peripherals
        firmware = {**_plain(self.firmware), **_plain(self.boot)} if self.firmware or self.boot \
            else None
        document = {
            "system": {**_plain(self.system), "chassis": _plain(self.chassis)},
            "board": _plain(self.board),
            "firmware": firmware,
            "cpu": _plain(self.cpu),
            "memory": _plain(self.memory),
            "disks": [_plain(disk) for disk in self.disks],
            "gpus": [_plain(gpu) for gpu in peripherals.gpus],
            "network": [_plain(interface) for interface in peripherals.network],
            "battery": [_plain(battery) for battery in peripherals.batteries],
            "display": [_plain(display) for display in peripherals.displays],
            "audio": [_plain(card) for card in peripherals.audio],
            "cameras": [_plain(camera) for camera in peripherals.cameras],
            "tpm": _plain(self.tpm),
            "windows_licence": _plain(self.windows_licence),
            "identity": None if self.identity is None else {
                **_plain(self.identity),
                # False: only the model was readable; the platform must not merge machines on it.
                "distinguishes_units": self.identity.distinguishes_units},
            "evidence": [{"name": item.name, "sha256": item.sha256,
                          "size_bytes": item.size_bytes} for item in self.evidence],
            "exclusions": [_plain(exclusion) for exclusion in self.exclusions],
        }
        # Through the JSON encoder so tuples become lists, as they will be in the signed report.
        plain: dict[str, Any] = json.loads(json.dumps(document))
        return plain


def _plain(value: Any) -> Any:
    if value is None:
        return None
    data = asdict(value)
    data.pop("content", None)
    return data
