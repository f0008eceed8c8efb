"""The OEM Windows licence that ships in the firmware (ACPI MSDM table).

Machines sold with Windows 8 or later carry their product key in the MSDM table: the machine
can be reinstalled with Windows without a sticker. Knowing that is worth reporting; the key
itself is someone's licence and leaves the machine only when the workshop's configuration says
so (`keep_key`). By default the report keeps a SHA-256 fingerprint, enough to tell two machines
with the same key apart from two with different keys, and nothing to activate Windows with.

MSDM layout (Microsoft, "Microsoft Software Licensing Tables (SLIC and MSDM)"): the 36-byte
ACPI header, then version, reserved, data type, data reserved and data length (4 bytes each),
then the data: the 29-character key "XXXXX-XXXXX-XXXXX-XXXXX-XXXXX".
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from agent.inventory.source import MachineSource

MSDM_TABLE = "/sys/firmware/acpi/tables/MSDM"
_KEY = re.compile(r"[0-9A-Z]{5}(?:-[0-9A-Z]{5}){4}")
KEY_LENGTH = 29


@dataclass(frozen=True)
class WindowsLicence:
    present: bool  # the firmware has an MSDM table
    key_sha256: str | None  # fingerprint of the product key, when the table holds a valid one
    product_key: str | None  # the key itself, only when the workshop asked to keep it

    def __repr__(self) -> str:
        # Keep the key out of logs and tracebacks even when it was kept for the report.
        key = "<kept>" if self.product_key else None
        return (f"WindowsLicence(present={self.present!r}, key_sha256={self.key_sha256!r}, "
                f"product_key={key!r})")


def read_windows_licence(source: MachineSource, *, keep_key: bool = False) -> WindowsLicence:
    table = source.read_bytes(MSDM_TABLE)
    if table is None:
        return WindowsLicence(present=False, key_sha256=None, product_key=None)
    key = product_key_from_msdm(table)
    return WindowsLicence(
        present=True,
        key_sha256=None if key is None else hashlib.sha256(key.encode("ascii")).hexdigest(),
        product_key=key if keep_key else None,
    )


def product_key_from_msdm(table: bytes) -> str | None:
    """The product key from the last 29 bytes of the table, or None if they are not one."""
    candidate = table[-KEY_LENGTH:].decode("ascii", errors="replace")
    return candidate if _KEY.fullmatch(candidate) else None
