"""A stable identifier for a machine, the same every time the stick boots on it.

The identifier is a SHA-256 over a few DMI strings chosen so that it does not change between
sessions and differs between two machines of the same model:

- vendor and product from the system record; white-box desktops leave those as "To Be Filled
  By O.E.M.", and then the board's vendor and product stand in;
- every real serial: the system's, then the board's;
- with no real serial, the system UUID; with no real UUID either, a wired MAC address (the
  lowest of those the caller passes: on-board interfaces, not USB adapters).

Placeholder strings that firmware writers leave behind ("To Be Filled By O.E.M.", "Default
string", "0123456789", all-zero UUIDs ...) are recognised and never used: two machines sharing a
placeholder would otherwise share an identity. `docs/identity.md` describes the rule, and the
eReuse DeviceHub hardware id (`ereuse_hid`) computed alongside for that platform.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from agent.inventory.dmi_system import Baseboard, Chassis, SystemProduct

ID_PREFIX = "rb1-"

# Compared case-insensitively, after trimming.
PLACEHOLDERS = frozenset(value.casefold() for value in (
    "To Be Filled By O.E.M.", "To be filled by O.E.M.", "Default string", "0123456789",
    "System Serial Number", "System Product Name", "System manufacturer", "System Version",
    "Chassis Serial Number", "Base Board Serial Number", "Not Specified", "Not Applicable",
    "Not Available", "Not Present", "Not Settable", "None", "N/A", "Unknown", "OEM", "O.E.M.",
    "Serial Number", "Not Defined", "Type1ProductConfigId",
    # The UUID AMI firmware ships when the maker does not program one.
    "03000200-0400-0500-0006-000700080009",
))


@dataclass(frozen=True)
class Identity:
    id: str  # "rb1-" and the SHA-256 (hex) of the canonical text over `basis`
    basis: tuple[str, ...]  # which fields went in, in order
    placeholder_fields: tuple[str, ...]  # fields that held a placeholder and were left out
    ereuse_hid: str  # eReuse DeviceHub (devicehub-teal) hardware id: type-manufacturer-model-sn

    @property
    def distinguishes_units(self) -> bool:
        """False when only vendor and product were usable: every unit of the model shares it."""
        return any(name in ("system_serial", "board_serial", "system_uuid", "mac")
                   for name in self.basis)


def is_placeholder(value: str | None) -> bool:
    """True for values that do not identify anything: empty, known placeholders, "0000", "--"."""
    if value is None:
        return True
    text = value.strip()
    folded = text.casefold()
    if not text or folded in PLACEHOLDERS:
        return True
    if "filled by o.e.m" in folded or "default string" in folded:
        return True
    # One character repeated: "0", "00000000", "FFFFFFFF-FFFF-...", "--", "........".
    return len(set(folded.replace("-", "") or "-")) == 1


def machine_identity(
    system: SystemProduct, board: Baseboard, chassis: Chassis, wired_macs: Sequence[str] = ()
) -> Identity:
    candidates = {
        "system_vendor": system.vendor, "system_product": system.product,
        "system_serial": system.serial, "board_vendor": board.vendor,
        "board_product": board.product, "board_serial": board.serial, "system_uuid": system.uuid,
    }
    placeholders = tuple(name for name, value in candidates.items()
                         if value is not None and is_placeholder(value))
    usable = {name: value for name, value in candidates.items()
              if value is not None and not is_placeholder(value)}

    # Each of vendor and product from the system record, or from the board when the system's
    # is a placeholder (white-box desktops: "To Be Filled By O.E.M.").
    basis: list[tuple[str, str]] = []
    for part in ("vendor", "product"):
        for name in (f"system_{part}", f"board_{part}"):
            if name in usable:
                basis.append((name, usable[name]))
                break
    serials = [(name, usable[name]) for name in ("system_serial", "board_serial") if name in usable]
    basis += serials
    if not serials and "system_uuid" in usable:
        basis.append(("system_uuid", usable["system_uuid"]))
    elif not serials:
        mac = first_mac(wired_macs)
        if mac is not None:
            basis.append(("mac", mac))

    canonical = "\n".join(f"{name}={_canonical(value)}" for name, value in basis)
    digest = hashlib.sha256(f"reeeboot-identity/1\n{canonical}".encode()).hexdigest()
    return Identity(
        id=ID_PREFIX + digest,
        basis=tuple(name for name, _value in basis),
        placeholder_fields=placeholders,
        ereuse_hid=ereuse_hid(system, chassis),
    )


def first_mac(macs: Sequence[str]) -> str | None:
    """The lowest real MAC address, as "aa:bb:cc:dd:ee:ff"; all-zero and all-one ones skipped.

    The lowest rather than the first listed, so that the order interfaces were enumerated in
    does not change the identity.
    """
    real = []
    for mac in macs:
        digits = re.sub(r"[^0-9a-f]", "", mac.lower())
        if len(digits) == 12 and not is_placeholder(digits):
            real.append(":".join(digits[i:i + 2] for i in range(0, 12, 2)))
    return min(real, default=None)


# devicehub-teal, ereuse_devicehub/parser/parser.py, ParseSnapshot.translation_to_devicehub:
# the lowercased chassis type, compared whole, decides the device type.
_EREUSE_TYPES = {
    "Desktop": ("desktop", "low-profile", "tower", "docking", "all-in-one", "pizzabox",
                "mini-tower", "space-saving", "lunchbox", "mini", "stick"),
    "Laptop": ("portable", "laptop", "convertible", "tablet", "detachable", "notebook",
               "handheld", "sub-notebook"),
    "Server": ("server",),
    "Computer": ("_virtual",),
}


def ereuse_hid(system: SystemProduct, chassis: Chassis) -> str:
    """DeviceHub's hardware id: `type-manufacturer-model-serialnumber`, lowercase, " " -> "_".

    As devicehub-teal builds it from a dmidecode snapshot (`Device.set_hid`, fed by
    `ParseSnapshot.set_basic_datas`): manufacturer, model and serial number are the system
    record's, taken as they are, placeholders included. A string the firmware left out reads
    "Not Specified", as dmidecode prints it; a chassis type outside DeviceHub's table reads
    "n/a", as its parser does.
    """
    chassis_type = (chassis.type or "n/a").lower()
    device_type = next((name for name, types in _EREUSE_TYPES.items() if chassis_type in types),
                       "n/a")
    parts = (device_type, system.vendor, system.product, system.serial)
    return "-".join((part or "Not Specified").replace(" ", "_") for part in parts).lower()


def _canonical(value: str) -> str:
    # Case and spacing vary between firmware revisions and between dmidecode and sysfs.
    return " ".join(value.split()).casefold()
