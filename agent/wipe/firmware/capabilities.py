"""What a drive says it can do to erase itself, as read from the tools' output.

Each dataclass mirrors one identify structure (NVMe Identify Controller, ATA IDENTIFY DEVICE,
SCSI REPORT SUPPORTED OPERATION CODES, eMMC EXT_CSD) and keeps only the fields the erasure policy
needs. `DiskCapabilities` gathers them for one disk together with the commands that produced them,
which are the evidence the report carries.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from agent.runner import CommandRecord


@dataclass(frozen=True)
class NvmeController:
    """Identify Controller fields that govern Sanitize and Format NVM."""

    model: str | None
    serial: str | None
    firmware: str | None
    oacs: int  # Optional Admin Command Support, raw
    sanicap: int  # Sanitize Capabilities, raw
    fna: int  # Format NVM Attributes, raw
    # NN is the highest namespace id the controller accepts, not how many namespaces exist:
    # a drive with one namespace commonly reports 32 or 128. `nvme list-ns` says how many exist.
    max_namespaces: int | None

    @property
    def format_supported(self) -> bool:
        return bool(self.oacs & (1 << 1))

    @property
    def sanitize_crypto(self) -> bool:
        return bool(self.sanicap & (1 << 0))

    @property
    def sanitize_block(self) -> bool:
        return bool(self.sanicap & (1 << 1))

    @property
    def sanitize_overwrite(self) -> bool:
        return bool(self.sanicap & (1 << 2))

    @property
    def no_deallocate_inhibited(self) -> bool:
        """SANICAP bit 29 (NDI): the drive ignores a request not to deallocate after sanitize."""
        return bool(self.sanicap & (1 << 29))

    @property
    def format_applies_to_all_namespaces(self) -> bool:
        return bool(self.fna & (1 << 0))

    @property
    def crypto_erase_applies_to_all_namespaces(self) -> bool:
        return bool(self.fna & (1 << 1))

    @property
    def format_crypto_erase(self) -> bool:
        """FNA bit 2: Format NVM accepts Secure Erase Settings 2 (cryptographic erase)."""
        return bool(self.fna & (1 << 2))


@dataclass(frozen=True)
class AtaSecurity:
    """The ATA Security feature set as IDENTIFY word 128 (and 89/90) reports it."""

    supported: bool
    enabled: bool  # a user password is set
    locked: bool
    frozen: bool  # SECURITY FREEZE LOCK was sent, usually by the computer's firmware at boot
    count_expired: bool  # too many wrong passwords: erase refused until a power cycle
    enhanced_erase_supported: bool
    erase_minutes: int | None  # the drive's own estimate for SECURITY ERASE UNIT
    enhanced_erase_minutes: int | None


NO_SECURITY = AtaSecurity(
    supported=False, enabled=False, locked=False, frozen=False, count_expired=False,
    enhanced_erase_supported=False, erase_minutes=None, enhanced_erase_minutes=None,
)


@dataclass(frozen=True)
class AtaSanitize:
    """The ATA Sanitize feature set (IDENTIFY word 59) and which of its commands exist."""

    supported: bool
    crypto_scramble: bool
    block_erase: bool
    overwrite: bool
    antifreeze_lock: bool


@dataclass(frozen=True)
class AtaIdentity:
    """`hdparm -I` when the drive really answered IDENTIFY DEVICE."""

    model: str | None
    serial: str | None
    firmware: str | None
    solid_state: bool | None  # None when the drive does not report its rotation rate
    rotation_rpm: int | None
    user_sectors: int | None  # LBA48 (or LBA28) user addressable sectors, after any HPA
    logical_sector_size: int | None
    physical_sector_size: int | None
    hpa_feature: bool  # Host Protected Area feature set listed
    dco_feature: bool  # Device Configuration Overlay feature set listed
    security: AtaSecurity
    sanitize: AtaSanitize


@dataclass(frozen=True)
class HiddenArea:
    """Sectors the drive hides from the computer (HPA, and DCO when it could be read)."""

    current_max_sectors: int
    native_max_sectors: int
    hpa_enabled: bool
    dco_real_max_sectors: int | None = None

    @property
    def real_max_sectors(self) -> int:
        return max(self.native_max_sectors, self.dco_real_max_sectors or 0)

    @property
    def hidden_sectors(self) -> int:
        return max(0, self.real_max_sectors - self.current_max_sectors)


@dataclass(frozen=True)
class ScsiSanitize:
    """SANITIZE (opcode 0x48) service actions the drive lists as supported."""

    overwrite: bool  # service action 0x01
    block_erase: bool  # 0x02
    crypto_erase: bool  # 0x03
    exit_failure_mode: bool  # 0x1f


@dataclass(frozen=True)
class EmmcFeatures:
    """EXT_CSD fields for secure erase and sanitize on eMMC."""

    sec_feature_support: int  # EXT_CSD[231], raw
    sector_count: int | None  # EXT_CSD[215:212] SEC_COUNT
    boot_partition_bytes: int  # each of the two boot partitions; 0 when there are none

    @property
    def secure_erase(self) -> bool:
        return bool(self.sec_feature_support & (1 << 0))  # SECURE_ER_EN

    @property
    def secure_bad_blocks(self) -> bool:
        return bool(self.sec_feature_support & (1 << 2))  # SEC_BD_BLK_EN

    @property
    def secure_trim(self) -> bool:
        return bool(self.sec_feature_support & (1 << 4))  # SEC_GB_CL_EN

    @property
    def sanitize(self) -> bool:
        return bool(self.sec_feature_support & (1 << 6))  # SEC_SANITIZE

    @property
    def has_boot_partitions(self) -> bool:
        return self.boot_partition_bytes > 0


@dataclass(frozen=True)
class ProbeGap:
    """Something the probe tried to learn and could not; the policy treats it as unknown."""

    what: str  # e.g. "nvme id-ctrl", "hdparm -I", "nvme controller"
    why: str  # the tool's own words, or "not installed"


@dataclass
class DiskCapabilities:
    device: str
    bus: str
    nvme: NvmeController | None = None
    nvme_controller: str | None = None  # /dev/nvmeX, from sysfs
    nvme_namespace_id: int | None = None
    nvme_active_namespaces: tuple[int, ...] | None = None  # None: could not be counted
    ata: AtaIdentity | None = None
    ata_passthrough: bool | None = None  # None: not tried; False: no real IDENTIFY came back
    hidden_area: HiddenArea | None = None
    scsi_sanitize: ScsiSanitize | None = None
    emmc: EmmcFeatures | None = None
    gaps: list[ProbeGap] = field(default_factory=list)
    commands: list[CommandRecord] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["commands"] = [command.to_json() for command in self.commands]
        document: dict[str, Any] = json.loads(json.dumps(data))
        return document
