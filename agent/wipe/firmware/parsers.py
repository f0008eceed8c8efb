"""Pure functions from the tools' output to the capability dataclasses.

Nothing here runs a command: the input is text as nvme-cli, hdparm, sg3_utils and mmc-utils print
it, so the same code reads a live drive and a recorded fixture. Outputs pasted into forums often
lose their tabs, and nvme-cli changed its JSON between 1.x and 2.x, so the parsers match words,
not columns.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agent.wipe.firmware.capabilities import (
    NO_SECURITY,
    AtaIdentity,
    AtaSanitize,
    AtaSecurity,
    EmmcFeatures,
    HiddenArea,
    NvmeController,
    ScsiSanitize,
)

# --- NVMe -----------------------------------------------------------------------------------


def parse_nvme_id_ctrl(text: str) -> NvmeController | None:
    """`nvme id-ctrl DEV -o json` (nvme-cli 1.x or 2.x), or its plain text form as a fallback.

    None when the output holds no Identify Controller data at all.
    """
    fields = _nvme_json_fields(text)
    if fields is None:
        fields = _nvme_text_fields(text)
    if "oacs" not in fields and "sanicap" not in fields:
        return None
    return NvmeController(
        model=_clean(fields.get("mn")),
        serial=_clean(fields.get("sn")),
        firmware=_clean(fields.get("fr")),
        oacs=_to_int(fields.get("oacs")) or 0,
        sanicap=_to_int(fields.get("sanicap")) or 0,
        fna=_to_int(fields.get("fna")) or 0,
        max_namespaces=_to_int(fields.get("nn")),
    )


def parse_nvme_list_ns(text: str) -> tuple[int, ...] | None:
    """Namespace ids from `nvme list-ns CTRL`: "[   0]:0x1" lines, or nvme-cli's JSON form."""
    try:
        document = json.loads(text)
    except ValueError:
        ids = [int(match, 16) for match in re.findall(r"^\s*\[\s*\d+\]\s*:\s*(0x[0-9a-fA-F]+)",
                                                       text, re.MULTILINE)]
        return tuple(ids) if ids or not text.strip() else None
    found: list[int] = []
    _collect_nsids(document, found)
    return tuple(found)


def _collect_nsids(node: Any, found: list[int]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key.lower() == "nsid" and _to_int(value) is not None:
                found.append(_to_int(value) or 0)
            else:
                _collect_nsids(value, found)
    elif isinstance(node, list):
        for item in node:
            _collect_nsids(item, found)


def _nvme_json_fields(text: str) -> dict[str, Any] | None:
    try:
        document = json.loads(text)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    # id-ctrl is flat in both major versions, but some nvme-cli commands nest their answer
    # under the device name; accept that shape too rather than report nothing.
    if "oacs" not in document and len(document) == 1:
        (inner,) = document.values()
        if isinstance(inner, dict):
            return inner
    return document


_NVME_TEXT_FIELD = re.compile(r"^([a-z][a-z0-9_]*)\s*:\s?(.*?)\s*$")


def _nvme_text_fields(text: str) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for line in text.splitlines():
        # Field lines start in column 0; the bit-by-bit explanations under them are indented
        # or start with "[".
        match = _NVME_TEXT_FIELD.match(line)
        if match and match.group(1) not in fields:
            fields[match.group(1)] = match.group(2)
    return fields


# --- ATA ------------------------------------------------------------------------------------


def parse_hdparm_identify(text: str) -> AtaIdentity | None:
    """`hdparm -I DEV`. None when no real IDENTIFY came back.

    A USB bridge or SAS controller that drops ATA PASS-THROUGH makes hdparm print
    "SG_IO: bad/missing sense data" or "HDIO_DRIVE_CMD(identify) failed" and, sometimes, an
    identify page of zeros with no model and no sectors. That is not a drive answering.
    """
    model = _value_after(text, "Model Number:")
    sectors = _int_after(text, r"LBA48\s+user addressable sectors:") or _int_after(
        text, r"LBA\s+user addressable sectors:"
    )
    if not model and not sectors:
        return None
    features = _ata_features(text)
    logical, physical = _ata_sector_sizes(text)
    rotation = _value_after(text, "Nominal Media Rotation Rate:")
    solid_state = None if rotation is None else rotation.startswith("Solid State")
    rpm = int(rotation) if rotation and rotation.isdigit() else None
    return AtaIdentity(
        model=model,
        serial=_value_after(text, "Serial Number:"),
        firmware=_value_after(text, "Firmware Revision:"),
        solid_state=solid_state,
        rotation_rpm=rpm,
        user_sectors=sectors,
        logical_sector_size=logical,
        physical_sector_size=physical,
        hpa_feature="Host Protected Area feature set" in features,
        dco_feature="Device Configuration Overlay feature set" in features,
        security=_ata_security(text),
        sanitize=AtaSanitize(
            supported="SANITIZE feature set" in features,
            crypto_scramble="CRYPTO_SCRAMBLE_EXT command" in features,
            block_erase="BLOCK_ERASE_EXT command" in features,
            overwrite="OVERWRITE_EXT command" in features,
            antifreeze_lock="SANITIZE_ANTIFREEZE_LOCK_EXT command" in features,
        ),
    )


def _ata_features(text: str) -> set[str]:
    """Names in the Commands/features list; hdparm lists only what the drive supports."""
    section = _section(text, "Commands/features:")
    names = set()
    for line in section.splitlines():
        words = line.split()
        if words and words[0] == "*":
            words = words[1:]
        if not words or words[0] == "not":
            continue
        names.add(" ".join(words))
    return names


def _ata_security(text: str) -> AtaSecurity:
    section = _section(text, "Security:")
    if not section:
        return NO_SECURITY
    # "not\tfrozen", "not    frozen" and "    frozen" all reduce to one spacing.
    lines = {" ".join(line.split()) for line in section.splitlines()}
    return AtaSecurity(
        supported="supported" in lines,
        enabled="enabled" in lines,
        locked="locked" in lines,
        frozen="frozen" in lines,
        count_expired="expired: security count" in lines,
        enhanced_erase_supported="supported: enhanced erase" in lines,
        erase_minutes=_minutes(section, "SECURITY ERASE UNIT"),
        enhanced_erase_minutes=_minutes(section, "ENHANCED SECURITY ERASE UNIT"),
    )


def _minutes(section: str, command: str) -> int | None:
    # "2min for SECURITY ERASE UNIT. 8min for ENHANCED SECURITY ERASE UNIT."; hdparm prints
    # ">508min" when the drive only says "more than 508 minutes".
    match = re.search(rf">?(\d+)min for {command}", section)
    return int(match.group(1)) if match else None


def _ata_sector_sizes(text: str) -> tuple[int | None, int | None]:
    both = _int_after(text, r"Logical/Physical Sector size:")
    if both is not None:
        return both, both
    return (
        _int_after(text, r"Logical\s+Sector size:"),
        _int_after(text, r"Physical\s+Sector size:"),
    )


def parse_hdparm_max_sectors(text: str) -> HiddenArea | None:
    """`hdparm -N DEV`: " max sectors   = 976771055/976773168, HPA is enabled".

    None when unreadable; a bridge without pass-through makes hdparm print "0/1", which is noise.
    """
    match = re.search(r"max sectors\s*=\s*(\d+)\s*/\s*(\d+),\s*HPA is (enabled|disabled)", text)
    if not match:
        return None
    current, native = int(match.group(1)), int(match.group(2))
    if current == 0 or native <= 1:
        return None
    return HiddenArea(current, native, hpa_enabled=match.group(3) == "enabled")


def parse_hdparm_dco_identify(text: str) -> int | None:
    """`hdparm --dco-identify DEV`: the "Real max sectors" the DCO allows, if printed."""
    return _int_after(text, r"Real max sectors:")


# --- SCSI -----------------------------------------------------------------------------------

_SANITIZE_LINE = re.compile(r"^\s*48(?:,|\s+)([0-9a-fA-F]{1,2})\b.*Sanitize", re.MULTILINE)


def parse_sg_opcodes(text: str) -> ScsiSanitize:
    """SANITIZE service actions from `sg_opcodes DEV`, in the default or `--compact` layout.

    Default " 48        3      10    Sanitize, cryptographic erase", compact " 48,3  Sanitize, ...".
    """
    actions = {int(match, 16) for match in _SANITIZE_LINE.findall(text)}
    return ScsiSanitize(
        overwrite=0x01 in actions,
        block_erase=0x02 in actions,
        crypto_erase=0x03 in actions,
        exit_failure_mode=0x1F in actions,
    )


# --- eMMC -----------------------------------------------------------------------------------


def parse_mmc_extcsd(text: str) -> EmmcFeatures | None:
    """`mmc extcsd read DEV` (or the kernel's debugfs ext_csd dump, same field names)."""
    features = _hex_field(text, r"sec_feature_support")
    if features is None:
        return None
    boot_multiplier = _hex_field(text, r"boot_size_multi?") or 0
    return EmmcFeatures(
        sec_feature_support=features,
        sector_count=_hex_field(text, r"sec_count"),
        boot_partition_bytes=boot_multiplier * 128 * 1024,  # BOOT_SIZE_MULT is in 128 KiB units
    )


def _hex_field(text: str, name: str) -> int | None:
    # "[SEC_FEATURE_SUPPORT: 0x55]" from mmc-utils, "sec_feature_support: 0x55" from debugfs
    match = re.search(rf"\b{name}\s*\]?\s*:\s*0x([0-9a-fA-F]+)", text, re.IGNORECASE)
    return int(match.group(1), 16) if match else None


# --- shared ---------------------------------------------------------------------------------


def _section(text: str, heading: str) -> str:
    """The indented lines under a heading that starts in column 0 ("Security:")."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.rstrip() == heading:
            body = []
            for following in lines[index + 1:]:
                if following and not following[0].isspace():
                    break
                body.append(following)
            return "\n".join(body)
    return ""


def _value_after(text: str, label: str) -> str | None:
    match = re.search(rf"{re.escape(label)}[ \t]*(\S[^\n]*?)?[ \t]*$", text, re.MULTILINE)
    if not match or not match.group(1):
        return None
    return match.group(1)


def _int_after(text: str, label: str) -> int | None:
    match = re.search(rf"{label}\s*(\d+)", text)
    return int(match.group(1)) if match else None


def _to_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        token = value.strip().split(" ")[0].replace(",", "")
        try:
            return int(token, 0)
        except ValueError:
            return None
    return None


def _clean(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return value.strip() or None
