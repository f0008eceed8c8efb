"""SMBIOS tables as `dmidecode` prints them, parsed into plain records.

`dmidecode` (no arguments) prints every structure as:

    Handle 0x0011, DMI type 3, 22 bytes
    Chassis Information
    <TAB>Type: Notebook
    <TAB>Characteristics:
    <TAB><TAB>PCI is supported

A record keeps its `Key: value` lines in `fields` and its indented lists in `lists`. Lines that
fit neither (some published dumps replace identifying lines with a bare hash) are skipped: the
parser must read whatever a real machine or a recorded one hands it, never raise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_HANDLE = re.compile(r"^Handle (0x[0-9A-Fa-f]+), DMI type (\d+), \d+ bytes")

# What dmidecode itself prints when the firmware left a string out or a value is not known:
# none of these describes the machine, so they read as "no value".
NO_VALUE = frozenset({
    "", "Not Specified", "Unknown", "Not Provided", "Not Available", "Not Present",
    "Not Settable", "None", "Unspecified", "<OUT OF SPEC>", "<BAD INDEX>",
})


@dataclass(frozen=True)
class DmiRecord:
    """One SMBIOS structure: its handle, type number, title line, values and lists."""

    handle: str
    type: int
    name: str
    fields: dict[str, str] = field(default_factory=dict)
    lists: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def text(self, key: str) -> str | None:
        """The value with surrounding blanks removed, or None when dmidecode says there is none."""
        value = self.fields.get(key, "").strip()
        return None if value in NO_VALUE else value


def parse_dmidecode(output: str) -> tuple[DmiRecord, ...]:
    records: list[DmiRecord] = []
    handle: re.Match[str] | None = None
    name: str | None = None
    fields: dict[str, str] = {}
    lists: dict[str, list[str]] = {}
    list_key: str | None = None

    def finish() -> None:
        if handle is not None and name is not None:
            records.append(DmiRecord(handle[1], int(handle[2]), name, dict(fields),
                                     {key: tuple(items) for key, items in lists.items()}))

    for line in output.splitlines():
        started = _HANDLE.match(line)
        if started:
            finish()
            handle, name, fields, lists, list_key = started, None, {}, {}, None
            continue
        if handle is None or not line.strip():
            continue
        if name is None:
            name = line.strip()
        elif line.startswith("\t\t"):
            if list_key is not None:
                lists[list_key].append(line.strip())
        else:
            list_key = _read_line(line, fields, lists)
    finish()
    return tuple(records)


def of_type(records: tuple[DmiRecord, ...], dmi_type: int) -> list[DmiRecord]:
    return [record for record in records if record.type == dmi_type]


def _read_line(line: str, fields: dict[str, str], lists: dict[str, list[str]]) -> str | None:
    """Store one `Key: value` line; return the key when the line opens an indented list."""
    key, colon, value = line.strip().partition(":")
    if not colon:
        return None
    # A list opens with "Key:" and nothing after it; "Key:  " (blanks) is a blank value.
    if not value and line.endswith(":"):
        lists[key.strip()] = []
        return key.strip()
    fields[key.strip()] = value.strip()
    return None


def smbios_version(output: str) -> str | None:
    """The table version from dmidecode's preamble ("SMBIOS 3.1.1 present.")."""
    found = re.search(r"^SMBIOS (\d+(?:\.\d+)+) present", output, re.MULTILINE)
    return found[1] if found else None
