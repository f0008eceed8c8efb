"""What the policy decides and what a firmware erase leaves behind, as plain data."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from agent.runner import CommandRecord

Level = Literal["clear", "purge"]

# Firmware methods, strongest first within each interface (design.md, "Erasure").
NVME_SANITIZE_CRYPTO = "nvme-sanitize-crypto"
NVME_SANITIZE_BLOCK = "nvme-sanitize-block"
NVME_FORMAT_CRYPTO = "nvme-format-crypto"  # Format NVM, SES=2
NVME_FORMAT_USER_DATA = "nvme-format-user-data"  # Format NVM, SES=1
ATA_SANITIZE_CRYPTO = "ata-sanitize-crypto"
ATA_SANITIZE_BLOCK = "ata-sanitize-block"
ATA_SECURITY_ERASE_ENHANCED = "ata-security-erase-enhanced"
ATA_SECURITY_ERASE = "ata-security-erase"
SCSI_SANITIZE_CRYPTO = "scsi-sanitize-crypto"
SCSI_SANITIZE_BLOCK = "scsi-sanitize-block"
MMC_SANITIZE = "mmc-sanitize"  # secure erase of the user area, then SANITIZE
OVERWRITE = "overwrite"  # the host writes every sector (agent/wipe/engine.py)


@dataclass(frozen=True)
class FirmwareTarget:
    """What an executor needs to know about the disk it erases."""

    device: str  # the block device, e.g. /dev/nvme0n1, /dev/sda, /dev/mmcblk0
    controller: str | None  # NVMe controller character device (/dev/nvme0), else None
    namespace_id: int | None  # NVMe namespace of `device`
    size_bytes: int
    logical_sector_size: int
    estimated_seconds: float | None = None  # the drive's own estimate, when it gives one


@dataclass(frozen=True)
class Transition:
    """One state the drive reported, e.g. sanitize status "in progress" at 42 %."""

    seconds: float  # since the command was issued
    state: str  # "idle", "in_progress", "succeeded", "failed", "frozen", "locked", ...
    progress: float | None = None  # 0.0 .. 1.0 when the drive says
    detail: str = ""  # the drive's own words, e.g. "SSTAT 0x101"


@dataclass
class FirmwareOutcome:
    """Everything one firmware erase attempt did, success or not."""

    method: str
    level: Level
    ok: bool  # the drive reported success, and the evidence rules in the module were met
    reason: str  # plain English, why it is ok or not (shown translated through gettext)
    transitions: list[Transition] = field(default_factory=list)
    commands: list[CommandRecord] = field(default_factory=list)
    estimated_seconds: float | None = None
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["commands"] = [command.to_json() for command in self.commands]
        return data
