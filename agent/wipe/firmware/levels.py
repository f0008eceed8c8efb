"""The NIST SP 800-88 level each firmware method reaches when it succeeds with evidence.

The same levels as the policy (agent/wipe/policy.py) plans: sanitize, Format NVM with secure
erase and the enhanced ATA security erase are Purge. The normal ATA SECURITY ERASE UNIT is Purge
on a hard disk but only Clear on flash, where it may leave spare blocks untouched; an executor
does not know the medium, so its outcome says Clear and the caller raises it to the planned
level for a hard disk.
"""

from __future__ import annotations

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
    SCSI_SANITIZE_BLOCK,
    SCSI_SANITIZE_CRYPTO,
    Level,
)

LEVEL_OF: dict[str, Level] = {
    NVME_SANITIZE_CRYPTO: "purge",
    NVME_SANITIZE_BLOCK: "purge",
    NVME_FORMAT_CRYPTO: "purge",
    NVME_FORMAT_USER_DATA: "purge",
    ATA_SANITIZE_CRYPTO: "purge",
    ATA_SANITIZE_BLOCK: "purge",
    ATA_SECURITY_ERASE_ENHANCED: "purge",
    ATA_SECURITY_ERASE: "clear",
    SCSI_SANITIZE_CRYPTO: "purge",
    SCSI_SANITIZE_BLOCK: "purge",
    MMC_SANITIZE: "purge",
}
