"""Reading `nvme sanitize-log -o json` and nvme-cli's error lines, whatever the nvme-cli version.

nvme-cli has printed the sanitize log in several shapes: one object per device name ("nvme0",
sometimes the path or the namespace name), SSTAT decoded into an object whose status text once
sat under its own text as the key, a few renamed fields, and in 1.10 the human text printed
before the JSON. Every field is optional here; a log we cannot read gives `None`, never an
exception.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

NO_ESTIMATE = 0xFFFFFFFF

# Sanitize Action values, as in SANACT and in the logged SCDW10 bits 2:0.
SANACT_BLOCK_ERASE = 2
SANACT_CRYPTO_ERASE = 4

SSTAT_STATUS_MASK = 0x7
SSTAT_GLOBAL_DATA_ERASED = 0x100


@dataclass(frozen=True)
class SanitizeLog:
    status: int | None  # SSTAT bits 2:0: 0 never, 1 succeeded, 2 in progress, 3 failed, 4 ...
    global_data_erased: bool | None  # SSTAT bit 8
    passes: int | None  # SSTAT bits 7:3
    progress: int | None  # SPROG, a fraction of 65536
    last_action: int | None  # SCDW10 bits 2:0: the action of the latest sanitize
    block_erase_seconds: int | None
    crypto_erase_seconds: int | None

    @property
    def sstat(self) -> int | None:
        """SSTAT as the drive holds it, e.g. 0x101, rebuilt from the decoded fields."""
        if self.status is None:
            return None
        value = self.status | ((self.passes or 0) << 3)
        return value | (SSTAT_GLOBAL_DATA_ERASED if self.global_data_erased else 0)

    def describe(self) -> str:
        parts = []
        if self.sstat is not None:
            parts.append(f"SSTAT 0x{self.sstat:x}")
        if self.progress is not None:
            parts.append(f"SPROG {self.progress}")
        if self.last_action is not None:
            parts.append(f"SCDW10 action {self.last_action}")
        return ", ".join(parts)


def parse_sanitize_log(text: str, device: str) -> SanitizeLog | None:
    entry = _device_entry(_first_json_object(text), device)
    if entry is not None:
        return _from_json(entry)
    return _from_text(text)


def _first_json_object(text: str) -> Any:
    start = text.find("{")
    if start < 0:
        return None
    try:
        value, _end = json.JSONDecoder().raw_decode(text[start:])
    except ValueError:
        return None
    return value


def _device_entry(document: Any, device: str) -> dict[str, Any] | None:
    if not isinstance(document, dict):
        return None
    if _looks_like_log(document):
        return document
    name = device.rsplit("/", 1)[-1]
    for key in (name, device):
        if isinstance(document.get(key), dict):
            return dict(document[key])
    logs = [value for value in document.values() if isinstance(value, dict)]
    logs = [value for value in logs if _looks_like_log(value)]
    return dict(logs[0]) if len(logs) == 1 else None


def _looks_like_log(value: dict[str, Any]) -> bool:
    return any(key in value for key in ("sprog", "sstat", "sanitize_progress", "sanitize_status"))


def _from_json(entry: dict[str, Any]) -> SanitizeLog:
    status: int | None = None
    erased: bool | None = None
    passes: int | None = None
    sstat = _first(entry, "sstat", "sanitize_status")
    if isinstance(sstat, dict):
        status = _status_code(sstat)
        erased_value = _integer(_first(sstat, "global_erased", "global_data_erased"))
        erased = None if erased_value is None else bool(erased_value)
        passes = _integer(_first(sstat, "no_cmplted_passes", "overwrite_passes_completed"))
    elif _integer(sstat) is not None:
        raw = _integer(sstat) or 0
        status, erased, passes = raw & SSTAT_STATUS_MASK, bool(raw & 0x100), (raw >> 3) & 0x1F
    cdw10 = _integer(_first(entry, "cdw10_info", "scdw10"))
    return SanitizeLog(
        status=status,
        global_data_erased=erased,
        passes=passes,
        progress=_integer(_first(entry, "sprog", "sanitize_progress")),
        last_action=None if cdw10 is None else cdw10 & 0x7,
        block_erase_seconds=_estimate(_first(entry, "time_block_erase", "etbe")),
        crypto_erase_seconds=_estimate(_first(entry, "time_crypto_erase", "etce")),
    )


def _status_code(sstat: dict[str, Any]) -> int | None:
    """The "(2) Sanitize in Progress." text, under "status" or, in some versions, as its own key."""
    texts = [sstat.get("status"), *sstat.keys(), *sstat.values()]
    for text in texts:
        if isinstance(text, str):
            match = re.match(r"\s*\((\d+)\)", text)
            if match:
                return int(match.group(1))
    return _integer(sstat.get("status"))


_TEXT_FIELDS = {
    "progress": r"\(SPROG\)\s*:\s*(\w+)",
    "sstat": r"\(SSTAT\)\s*:\s*(\w+)",
    "cdw10": r"\(SCDW10\)\s*:\s*(\w+)",
    "block": r"Estimated Time For Block Erase\s*:\s*(\d+)",
    "crypto": r"Estimated Time For Crypto Erase\s*:\s*(\d+)",
}


def _from_text(text: str) -> SanitizeLog | None:
    """The human layout, for nvme-cli versions that print it even when asked for JSON."""
    found = {name: re.search(pattern, text) for name, pattern in _TEXT_FIELDS.items()}
    values = {name: _integer(match.group(1)) if match else None for name, match in found.items()}
    sstat = values["sstat"]
    if sstat is None:
        return None
    cdw10 = values["cdw10"]
    return SanitizeLog(
        status=sstat & SSTAT_STATUS_MASK,
        global_data_erased=bool(sstat & SSTAT_GLOBAL_DATA_ERASED),
        passes=(sstat >> 3) & 0x1F,
        progress=values["progress"],
        last_action=None if cdw10 is None else cdw10 & 0x7,
        block_erase_seconds=_estimate(values["block"]),
        crypto_erase_seconds=_estimate(values["crypto"]),
    )


def _first(mapping: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if key in mapping:
            return mapping[key]
    return None


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip(), 0)
        except ValueError:
            return None
    return None


def _estimate(value: Any) -> int | None:
    """Seconds, or None when the drive gives no estimate (FFFFFFFFh, or 0 where unused)."""
    seconds = _integer(value)
    if seconds is None or seconds in (0, NO_ESTIMATE):
        return None
    return seconds


# nvme-cli prints the NVMe status name in two spellings: "INVALID_OPCODE: ..." (1.x) and
# "Invalid Command Opcode: ..." (2.x).
_INVALID_OPCODE = re.compile(r"invalid[ _]opcode|invalid command opcode", re.I)
_INVALID_FIELD = re.compile(r"invalid[ _]field", re.I)
_SANITIZE_RUNNING = re.compile(r"sanitize[ _]in[ _]progress", re.I)


def refused_as_unsupported_opcode(text: str) -> bool:
    return bool(_INVALID_OPCODE.search(text))


def refused_as_invalid_field(text: str) -> bool:
    return bool(_INVALID_FIELD.search(text))


def refused_as_already_running(text: str) -> bool:
    return bool(_SANITIZE_RUNNING.search(text))
