"""Which erasure methods to try on a disk, in which order, and why (SP 800-88 Rev.2, IEEE 2883).

The chain goes from the strongest firmware erase the drive offers down to the host overwrite,
which is always last: the executor tries each step in turn and the first whose evidence holds
wins. Every method of the disk's interface that is left out is listed with the reason, so the
report can say why a stronger method was not used.

Levels: sanitize (cryptographic or block erase), NVMe Format with Secure Erase Settings, the ATA
enhanced security erase and eMMC sanitize are Purge; the normal ATA security erase is Purge on a
hard disk and Clear on a solid-state drive, whose spare blocks it may miss; the host overwrite is
Clear on every kind of disk, verified or not.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from agent.inventory.model import Disk
from agent.wipe import reasons
from agent.wipe.firmware.capabilities import DiskCapabilities, HiddenArea
from agent.wipe.firmware.model import (
    ATA_SANITIZE_BLOCK,
    ATA_SANITIZE_CRYPTO,
    ATA_SECURITY_ERASE,
    ATA_SECURITY_ERASE_ENHANCED,
    MMC_SANITIZE,
    NVME_FORMAT_CRYPTO,
    NVME_FORMAT_USER_DATA,
    NVME_SANITIZE_BLOCK,
    NVME_SANITIZE_CRYPTO,
    OVERWRITE,
    SCSI_SANITIZE_BLOCK,
    SCSI_SANITIZE_CRYPTO,
    Level,
)

VerifyMode = Literal["full", "sample", "off"]
VERIFY_MODES: tuple[VerifyMode, ...] = ("full", "sample", "off")
VIRTUAL_BUSES = ("virtio", "loop")

NVME_METHODS = (NVME_SANITIZE_CRYPTO, NVME_SANITIZE_BLOCK, NVME_FORMAT_CRYPTO,
                NVME_FORMAT_USER_DATA)
ATA_METHODS = (ATA_SANITIZE_CRYPTO, ATA_SANITIZE_BLOCK, ATA_SECURITY_ERASE_ENHANCED,
               ATA_SECURITY_ERASE)
SCSI_METHODS = (SCSI_SANITIZE_CRYPTO, SCSI_SANITIZE_BLOCK)

# A method ruled out for one of these reasons may well be offered by the drive: the probe could
# not learn it (an identify that did not answer or is missing from a machine profile, a tool not
# installed, a controller or namespace not found). That is "unknown", never "not available".
UNKNOWN_CAPABILITY_REASONS = frozenset({
    reasons.NVME_IDENTIFY_UNKNOWN, reasons.NVME_CONTROLLER_UNKNOWN,
    reasons.NVME_NAMESPACE_UNKNOWN, reasons.NVME_NAMESPACES_UNKNOWN,
    reasons.ATA_IDENTIFY_UNKNOWN, reasons.SCSI_COMMANDS_UNKNOWN, reasons.MMC_REGISTERS_UNKNOWN,
})


@dataclass(frozen=True)
class ErasureOptions:
    """What the workshop's configuration and the operator ask for."""

    force_overwrite: bool = False  # skip every firmware erase
    overwrite_method: str = "random"  # "random", "zero", "one", "dodshort", ... (passes.py)
    extra_passes: int = 0  # more rounds of the method
    blank: bool = False  # a final pass of zeros
    verify: VerifyMode = "full"  # read-back after the overwrite
    allow_unfreeze: bool = False  # the operator agrees to a suspend/resume cycle
    # Sanitize, and Format when the drive applies it to all namespaces, erase every namespace
    # of the drive: allowed only when this disk is the only one or all of them are targets.
    other_namespaces_targeted: bool = False

    def __post_init__(self) -> None:
        if self.extra_passes < 0:
            raise ValueError(f"extra_passes must not be negative, not {self.extra_passes}")
        if self.verify not in VERIFY_MODES:
            raise ValueError(f"verify must be one of {VERIFY_MODES}, not {self.verify!r}")


@dataclass(frozen=True)
class PlannedStep:
    method: str
    level: Level
    reason: str  # message id from agent.wipe.reasons


@dataclass(frozen=True)
class RuledOut:
    method: str
    reason: str


@dataclass(frozen=True)
class OverwriteSpec:
    method: str
    extra_passes: int
    blank: bool
    verify: VerifyMode


@dataclass(frozen=True)
class ErasurePlan:
    device: str
    chain: tuple[PlannedStep, ...]  # in the order to try; OVERWRITE is always last
    ruled_out: tuple[RuledOut, ...]
    needs_unfreeze: bool  # a suspend/resume cycle before the ATA steps, then identify again
    hidden_area: HiddenArea | None  # to restore before erasing
    overwrite: OverwriteSpec
    notes: tuple[str, ...] = field(default=())  # message ids about the plan as a whole

    @property
    def firmware_steps(self) -> tuple[PlannedStep, ...]:
        return tuple(step for step in self.chain if step.method != OVERWRITE)

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(step.method for step in self.chain)

    @property
    def firmware_known(self) -> bool:
        """Whether it is known which firmware erase the disk gets: one was found (planned, or
        set aside because the workshop forces the overwrite), or the drive's answers showed
        that none is available. False when the overwrite stands only because something could
        not be learned; the overwrite's reason then says so (OVERWRITE_FIRMWARE_UNKNOWN)."""
        found = self.firmware_steps or any(entry.reason == reasons.FORCED_OVERWRITE
                                           for entry in self.ruled_out)
        return bool(found) or not _capabilities_unknown(self.ruled_out)

    def to_json(self) -> dict[str, Any]:
        # Through the JSON encoder so tuples become lists, as they will be in the signed report.
        document: dict[str, Any] = json.loads(json.dumps(asdict(self)))
        return document


Step = PlannedStep | RuledOut


def plan_erasure(
    disk: Disk, capabilities: DiskCapabilities, options: ErasureOptions | None = None
) -> ErasurePlan:
    options = options or ErasureOptions()
    steps = [
        *_nvme_steps(disk, capabilities, options),
        *_ata_steps(disk, capabilities, options),
        *_scsi_steps(disk, capabilities),
        *_mmc_steps(disk, capabilities),
    ]
    if options.force_overwrite:
        steps = [RuledOut(step.method, reasons.FORCED_OVERWRITE)
                 if isinstance(step, PlannedStep) else step for step in steps]
    firmware = [step for step in steps if isinstance(step, PlannedStep)]
    ruled_out = tuple(step for step in steps if isinstance(step, RuledOut))

    notes: list[str] = []
    frozen = capabilities.ata is not None and capabilities.ata.security.frozen
    needs_unfreeze = frozen and any(step.method in ATA_METHODS for step in firmware)
    if needs_unfreeze:
        notes.append(reasons.NOTE_UNFREEZE_FIRST)
    hidden_area = capabilities.hidden_area
    if hidden_area is not None and hidden_area.hidden_sectors == 0:
        hidden_area = None
    if hidden_area is not None:
        notes.append(reasons.NOTE_HIDDEN_AREA)
    if not firmware and _solid_state(disk, capabilities):
        notes.append(reasons.NOTE_SOLID_STATE_OVERWRITE)
    if capabilities.emmc is not None and capabilities.emmc.has_boot_partitions:
        notes.append(reasons.NOTE_EMMC_BOOT_PARTITIONS)

    overwrite = PlannedStep(OVERWRITE, "clear", _overwrite_reason(
        disk, options, firmware_planned=bool(firmware),
        capabilities_unknown=_capabilities_unknown(ruled_out)))
    return ErasurePlan(
        device=disk.path,
        chain=(*firmware, overwrite),
        ruled_out=ruled_out,
        needs_unfreeze=needs_unfreeze,
        hidden_area=hidden_area,
        overwrite=OverwriteSpec(options.overwrite_method, options.extra_passes, options.blank,
                                options.verify),
        notes=tuple(notes),
    )


def _overwrite_reason(disk: Disk, options: ErasureOptions, *, firmware_planned: bool,
                      capabilities_unknown: bool) -> str:
    if options.force_overwrite:
        return reasons.FORCED_OVERWRITE
    if firmware_planned:
        return reasons.OVERWRITE_FALLBACK
    if disk.bus in VIRTUAL_BUSES:
        return reasons.OVERWRITE_VIRTUAL_DISK
    if capabilities_unknown:
        return reasons.OVERWRITE_FIRMWARE_UNKNOWN
    return reasons.OVERWRITE_ONLY


def _capabilities_unknown(ruled_out: tuple[RuledOut, ...]) -> bool:
    return any(entry.reason in UNKNOWN_CAPABILITY_REASONS for entry in ruled_out)


def _solid_state(disk: Disk, capabilities: DiskCapabilities) -> bool:
    if disk.bus in VIRTUAL_BUSES:
        return False
    if capabilities.ata is not None and capabilities.ata.solid_state is not None:
        return capabilities.ata.solid_state
    return disk.bus in ("nvme", "mmc") or not disk.rotational


# --- NVMe -----------------------------------------------------------------------------------


def _nvme_steps(disk: Disk, capabilities: DiskCapabilities, options: ErasureOptions) -> list[Step]:
    if disk.bus != "nvme":
        return []
    nvme = capabilities.nvme
    if nvme is None:
        return [RuledOut(method, reasons.NVME_IDENTIFY_UNKNOWN) for method in NVME_METHODS]

    namespaces = capabilities.nvme_active_namespaces
    only_namespace = namespaces is not None and len(namespaces) == 1
    whole_drive_allowed = only_namespace or options.other_namespaces_targeted
    whole_drive_refused = (reasons.NVME_NAMESPACES_UNKNOWN if namespaces is None
                           else reasons.NVME_OTHER_NAMESPACES)

    def sanitize(method: str, supported: bool, not_supported: str, only: str, every: str) -> Step:
        if not supported:
            return RuledOut(method, not_supported)
        if capabilities.nvme_controller is None:
            return RuledOut(method, reasons.NVME_CONTROLLER_UNKNOWN)
        if not whole_drive_allowed:
            return RuledOut(method, whole_drive_refused)
        return PlannedStep(method, "purge", only if only_namespace else every)

    def format_nvm(method: str, supported: str | None, all_namespaces: bool,
                   planned: tuple[str, str, str]) -> Step:
        this_namespace, only, every = planned
        if not nvme.format_supported:
            return RuledOut(method, reasons.NVME_FORMAT_NOT_SUPPORTED)
        if supported is not None:
            return RuledOut(method, supported)
        if capabilities.nvme_namespace_id is None:
            return RuledOut(method, reasons.NVME_NAMESPACE_UNKNOWN)
        if not all_namespaces:
            return PlannedStep(method, "purge", this_namespace)
        if not whole_drive_allowed:
            return RuledOut(method, whole_drive_refused)
        return PlannedStep(method, "purge", only if only_namespace else every)

    return [
        sanitize(NVME_SANITIZE_CRYPTO, nvme.sanitize_crypto, reasons.SANITIZE_CRYPTO_NOT_SUPPORTED,
                 reasons.NVME_SANITIZE_CRYPTO_ONLY_NAMESPACE,
                 reasons.NVME_SANITIZE_CRYPTO_ALL_TARGETED),
        sanitize(NVME_SANITIZE_BLOCK, nvme.sanitize_block, reasons.SANITIZE_BLOCK_NOT_SUPPORTED,
                 reasons.NVME_SANITIZE_BLOCK_ONLY_NAMESPACE,
                 reasons.NVME_SANITIZE_BLOCK_ALL_TARGETED),
        format_nvm(
            NVME_FORMAT_CRYPTO,
            None if nvme.format_crypto_erase else reasons.NVME_FORMAT_CRYPTO_NOT_SUPPORTED,
            # FNA bit 1: the cryptographic erase reaches all namespaces even if the format
            # itself would not.
            nvme.format_applies_to_all_namespaces or nvme.crypto_erase_applies_to_all_namespaces,
            (reasons.NVME_FORMAT_CRYPTO_THIS_NAMESPACE, reasons.NVME_FORMAT_CRYPTO_ONLY_NAMESPACE,
             reasons.NVME_FORMAT_CRYPTO_ALL_TARGETED),
        ),
        format_nvm(
            NVME_FORMAT_USER_DATA, None, nvme.format_applies_to_all_namespaces,
            (reasons.NVME_FORMAT_USER_DATA_THIS_NAMESPACE,
             reasons.NVME_FORMAT_USER_DATA_ONLY_NAMESPACE,
             reasons.NVME_FORMAT_USER_DATA_ALL_TARGETED),
        ),
    ]


# --- ATA ------------------------------------------------------------------------------------


def _ata_steps(disk: Disk, capabilities: DiskCapabilities, options: ErasureOptions) -> list[Step]:
    if disk.bus not in ("sata", "usb", "scsi"):
        return []
    ata = capabilities.ata
    if ata is None:
        if disk.bus == "scsi":
            return []  # a SAS drive: it never was an ATA drive
        if disk.bus == "usb" and capabilities.ata_passthrough is False:
            return [RuledOut(method, reasons.USB_NO_PASSTHROUGH) for method in ATA_METHODS]
        return [RuledOut(method, reasons.ATA_IDENTIFY_UNKNOWN) for method in ATA_METHODS]

    security = ata.security
    # What stops every ATA command that erases, whichever it is.
    blocked = (reasons.ATA_LOCKED if security.locked
               else reasons.ATA_FROZEN if security.frozen and not options.allow_unfreeze
               else None)
    # What else stops the security erase, which needs a password of its own.
    security_blocked = (blocked
                        or (reasons.ATA_COUNT_EXPIRED if security.count_expired else None)
                        or (reasons.ATA_PASSWORD_SET if security.enabled else None))
    hard_disk = not _solid_state(disk, capabilities)

    def sanitize(method: str, supported: bool, not_supported: str, planned: str) -> Step:
        if not (ata.sanitize.supported and supported):
            return RuledOut(method, not_supported)
        if blocked:
            return RuledOut(method, blocked)
        return PlannedStep(method, "purge", planned)

    def security_erase(method: str, not_supported: str | None, level: Level,
                       planned: str) -> Step:
        if not security.supported:
            return RuledOut(method, reasons.ATA_SECURITY_NOT_SUPPORTED)
        if not_supported:
            return RuledOut(method, not_supported)
        if security_blocked:
            return RuledOut(method, security_blocked)
        return PlannedStep(method, level, planned)

    return [
        sanitize(ATA_SANITIZE_CRYPTO, ata.sanitize.crypto_scramble,
                 reasons.ATA_SANITIZE_CRYPTO_NOT_SUPPORTED, reasons.ATA_SANITIZE_CRYPTO),
        sanitize(ATA_SANITIZE_BLOCK, ata.sanitize.block_erase,
                 reasons.SANITIZE_BLOCK_NOT_SUPPORTED, reasons.ATA_SANITIZE_BLOCK),
        security_erase(
            ATA_SECURITY_ERASE_ENHANCED,
            None if security.enhanced_erase_supported
            else reasons.ATA_SECURITY_ERASE_ENHANCED_NOT_SUPPORTED,
            "purge", reasons.ATA_SECURITY_ERASE_ENHANCED,
        ),
        security_erase(
            ATA_SECURITY_ERASE, None,
            "purge" if hard_disk else "clear",
            reasons.ATA_SECURITY_ERASE_HARD_DISK if hard_disk
            else reasons.ATA_SECURITY_ERASE_SOLID_STATE,
        ),
    ]


# --- SCSI and eMMC --------------------------------------------------------------------------


def _scsi_steps(disk: Disk, capabilities: DiskCapabilities) -> list[Step]:
    if disk.bus != "scsi":
        return []
    sanitize = capabilities.scsi_sanitize
    if sanitize is None:
        return [RuledOut(method, reasons.SCSI_COMMANDS_UNKNOWN) for method in SCSI_METHODS]
    return [
        PlannedStep(SCSI_SANITIZE_CRYPTO, "purge", reasons.SCSI_SANITIZE_CRYPTO)
        if sanitize.crypto_erase
        else RuledOut(SCSI_SANITIZE_CRYPTO, reasons.SANITIZE_CRYPTO_NOT_SUPPORTED),
        PlannedStep(SCSI_SANITIZE_BLOCK, "purge", reasons.SCSI_SANITIZE_BLOCK)
        if sanitize.block_erase
        else RuledOut(SCSI_SANITIZE_BLOCK, reasons.SANITIZE_BLOCK_NOT_SUPPORTED),
    ]


def _mmc_steps(disk: Disk, capabilities: DiskCapabilities) -> list[Step]:
    if disk.bus != "mmc":
        return []
    emmc = capabilities.emmc
    if emmc is None:
        return [RuledOut(MMC_SANITIZE, reasons.MMC_REGISTERS_UNKNOWN)]
    # SANITIZE purges what an erase or trim has unmapped; the executor erases the user area
    # first, so the sanitize bit is the one that matters.
    if not emmc.sanitize:
        return [RuledOut(MMC_SANITIZE, reasons.MMC_SANITIZE_NOT_SUPPORTED)]
    return [PlannedStep(MMC_SANITIZE, "purge", reasons.MMC_SANITIZE)]
