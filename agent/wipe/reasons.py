"""Why the erasure policy chose, or did not choose, each method: sentences shown to volunteers.

They are message ids, marked with `N_()` here and translated with `_()` where they are shown, so a
plan stored in a report stays in English and each screen shows it in its own language.
"""

from __future__ import annotations

from agent.i18n import N_

# --- NVMe -----------------------------------------------------------------------------------
NVME_SANITIZE_CRYPTO_ONLY_NAMESPACE = N_(
    "The drive supports sanitize with cryptographic erase; it erases the whole drive, "
    "which holds no other namespace."
)
NVME_SANITIZE_CRYPTO_ALL_TARGETED = N_(
    "The drive supports sanitize with cryptographic erase; it erases every namespace of the "
    "drive, and all of them are being erased."
)
NVME_SANITIZE_BLOCK_ONLY_NAMESPACE = N_(
    "The drive supports sanitize with block erase; it erases the whole drive, which holds no "
    "other namespace."
)
NVME_SANITIZE_BLOCK_ALL_TARGETED = N_(
    "The drive supports sanitize with block erase; it erases every namespace of the drive, "
    "and all of them are being erased."
)
NVME_FORMAT_CRYPTO_THIS_NAMESPACE = N_(
    "The drive can format this namespace and erase its encryption key."
)
NVME_FORMAT_CRYPTO_ONLY_NAMESPACE = N_(
    "The drive can format and erase its encryption key; the format covers the whole drive, "
    "which holds no other namespace."
)
NVME_FORMAT_CRYPTO_ALL_TARGETED = N_(
    "The drive can format and erase its encryption key; the format covers every namespace of "
    "the drive, and all of them are being erased."
)
NVME_FORMAT_USER_DATA_THIS_NAMESPACE = N_(
    "The drive can format this namespace and erase all its user data."
)
NVME_FORMAT_USER_DATA_ONLY_NAMESPACE = N_(
    "The drive can format and erase all user data; the format covers the whole drive, which "
    "holds no other namespace."
)
NVME_FORMAT_USER_DATA_ALL_TARGETED = N_(
    "The drive can format and erase all user data; the format covers every namespace of the "
    "drive, and all of them are being erased."
)
NVME_FORMAT_NOT_SUPPORTED = N_("The drive does not support the format command.")
NVME_FORMAT_CRYPTO_NOT_SUPPORTED = N_(
    "The drive cannot erase its encryption key while formatting."
)
NVME_IDENTIFY_UNKNOWN = N_(
    "The drive's controller did not say which erase commands it supports."
)
NVME_CONTROLLER_UNKNOWN = N_(
    "The drive's controller could not be found, and sanitize has to be sent to it."
)
NVME_NAMESPACE_UNKNOWN = N_(
    "The namespace number of this disk could not be read, and formatting needs it."
)
NVME_OTHER_NAMESPACES = N_(
    "This command would also erase the drive's other namespaces, and they are not all being "
    "erased."
)
NVME_NAMESPACES_UNKNOWN = N_(
    "This command would erase every namespace of the drive, and it is not known whether the "
    "drive holds others."
)

# --- sanitize, shared by NVMe and SCSI ------------------------------------------------------
SANITIZE_CRYPTO_NOT_SUPPORTED = N_("The drive does not offer sanitize with cryptographic erase.")
SANITIZE_BLOCK_NOT_SUPPORTED = N_("The drive does not offer sanitize with block erase.")

# --- ATA ------------------------------------------------------------------------------------
ATA_SANITIZE_CRYPTO = N_("The drive supports sanitize with cryptographic scramble.")
ATA_SANITIZE_CRYPTO_NOT_SUPPORTED = N_(
    "The drive does not offer sanitize with cryptographic scramble."
)
ATA_SANITIZE_BLOCK = N_("The drive supports sanitize with block erase.")
ATA_SECURITY_ERASE_ENHANCED = N_("The drive supports the enhanced security erase.")
ATA_SECURITY_ERASE_ENHANCED_NOT_SUPPORTED = N_(
    "The drive does not offer the enhanced security erase."
)
ATA_SECURITY_ERASE_HARD_DISK = N_(
    "The drive supports the security erase, which on a hard disk reaches every sector."
)
ATA_SECURITY_ERASE_SOLID_STATE = N_(
    "The drive supports the security erase; on a solid-state drive it may miss spare blocks, "
    "so it counts as Clear."
)
ATA_SECURITY_NOT_SUPPORTED = N_("The drive does not support the security feature set.")
ATA_FROZEN = N_(
    "The drive is frozen by the computer's firmware; a suspend/resume cycle needs the "
    "operator's consent."
)
ATA_LOCKED = N_("The drive is locked with a password that is not known here.")
ATA_COUNT_EXPIRED = N_(
    "The drive refuses security commands after too many wrong passwords, until it is switched "
    "off and on again."
)
ATA_PASSWORD_SET = N_("A security password is already set on the drive.")
ATA_IDENTIFY_UNKNOWN = N_(
    "The drive did not answer the identify command, so its erase commands are not known."
)
USB_NO_PASSTHROUGH = N_(
    "The USB adapter does not pass the drive's own commands through, so its firmware erase "
    "cannot be used."
)

# --- SCSI and eMMC --------------------------------------------------------------------------
SCSI_SANITIZE_CRYPTO = N_("The drive supports sanitize with cryptographic erase.")
SCSI_SANITIZE_BLOCK = N_("The drive supports sanitize with block erase.")
SCSI_COMMANDS_UNKNOWN = N_("The drive's list of supported commands could not be read.")
MMC_SANITIZE = N_(
    "The eMMC supports sanitize, which purges the blocks that an erase has released."
)
MMC_SANITIZE_NOT_SUPPORTED = N_("The eMMC does not support sanitize.")
MMC_REGISTERS_UNKNOWN = N_("The eMMC's registers could not be read.")

# --- overwrite ------------------------------------------------------------------------------
FORCED_OVERWRITE = N_(
    "The workshop asked for an overwrite instead of the drive's own erase."
)
OVERWRITE_FALLBACK = N_(
    "If the drive's own erase fails, this computer overwrites every sector."
)
OVERWRITE_ONLY = N_(
    "This computer overwrites every sector; no firmware erase is available for this disk."
)
OVERWRITE_FIRMWARE_UNKNOWN = N_(
    "It is not known which firmware erase this disk offers, so this computer overwrites every "
    "sector."
)
OVERWRITE_VIRTUAL_DISK = N_(
    "This is a virtual disk; overwriting every sector is the only erase it offers."
)

# --- notes on the whole plan ----------------------------------------------------------------
NOTE_UNFREEZE_FIRST = N_(
    "The drive is frozen; as the operator agreed, the computer sleeps for a few seconds to "
    "unfreeze it first."
)
NOTE_HIDDEN_AREA = N_(
    "Part of the disk is hidden (HPA or DCO); it is made visible again before the erase."
)
NOTE_SOLID_STATE_OVERWRITE = N_(
    "On a solid-state drive an overwrite cannot reach the spare flash blocks, so it counts as "
    "Clear, not Purge."
)
NOTE_EMMC_BOOT_PARTITIONS = N_(
    "The eMMC also has boot partitions, which hold start-up code; they are not part of this "
    "erase."
)
