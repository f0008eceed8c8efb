"""Method names as people read them, for the screen; the report keeps the machine names."""

from __future__ import annotations

from agent.i18n import N_, _
from agent.wipe.firmware import model

_FIRMWARE = {
    model.NVME_SANITIZE_CRYPTO: N_("NVMe sanitize, cryptographic erase"),
    model.NVME_SANITIZE_BLOCK: N_("NVMe sanitize, block erase"),
    model.NVME_FORMAT_CRYPTO: N_("NVMe format, cryptographic erase"),
    model.NVME_FORMAT_USER_DATA: N_("NVMe format, user data erase"),
    model.ATA_SANITIZE_CRYPTO: N_("ATA sanitize, crypto scramble"),
    model.ATA_SANITIZE_BLOCK: N_("ATA sanitize, block erase"),
    model.ATA_SECURITY_ERASE_ENHANCED: N_("ATA enhanced security erase"),
    model.ATA_SECURITY_ERASE: N_("ATA security erase"),
    model.SCSI_SANITIZE_CRYPTO: N_("SCSI sanitize, cryptographic erase"),
    model.SCSI_SANITIZE_BLOCK: N_("SCSI sanitize, block erase"),
    model.MMC_SANITIZE: N_("eMMC secure erase and sanitize"),
}
_OVERWRITE = {
    "random": N_("random pass"),
    "zero": N_("zero pass"),
    "one": N_("pass of ones"),
    "dodshort": N_("DoD 5220.22-M short, 3 passes"),
    "dod": N_("DoD 5220.22-M, 7 passes"),
    "is5enh": N_("HMG IS5 enhanced, 3 passes"),
}
_LEVELS = {"clear": N_("Clear"), "purge": N_("Purge")}


def method_label(method: str, overwrite_method: str = "random") -> str:
    """`method` as in a plan ("overwrite" + the overwrite method) or a result ("random")."""
    if method == model.OVERWRITE:
        method = overwrite_method
    if method in _OVERWRITE:
        return _("overwrite ({passes})").format(passes=_(_OVERWRITE[method]))
    return _(_FIRMWARE.get(method, method))


def level_label(level: str) -> str:
    return _(_LEVELS.get(level, level))
