"""The few hdparm outputs the ATA executors read back: sanitize status, security state, max sectors.

Text as hdparm 9.4x-9.6x prints it. Lines it adds around the answer ("SG_IO: bad/missing sense
data", "Issuing ... command") are skipped; an answer we cannot find gives `None` fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class SanitizeStatus:
    state: str | None  # "SD0" .. "SD4" as hdparm names the sanitize device states
    progress: int | None  # 0 .. 0xFFFF while in process
    completed_without_error: bool
    error_reason: str | None  # "SANITIZE device error reason: ..." when the command failed
    unsupported: bool  # "SANITIZE feature set is not supported"
    words: str  # the answer's own lines, for the evidence


_STATE = re.compile(r"State:\s*(SD\d)\b")
_PROGRESS = re.compile(r"Progress:\s*0x([0-9a-fA-F]+)")
_ERROR_REASON = re.compile(r"SANITIZE device error reason:\s*(.+)")
_ANSWER_LINE = re.compile(
    r"State:|Progress:|Last Sanitize|Antifreeze|error reason|Drive in SD|not supported|failed", re.I
)


def parse_sanitize_status(text: str) -> SanitizeStatus:
    state = _STATE.search(text)
    progress = _PROGRESS.search(text)
    reason = _ERROR_REASON.search(text)
    if reason is None and "Drive in SD3" in text:
        reason = re.search(r"Drive in (SD3.*)", text)
    words = [" ".join(line.split()) for line in text.splitlines() if _ANSWER_LINE.search(line)]
    return SanitizeStatus(
        state=state.group(1) if state else ("SD3" if "Drive in SD3" in text else None),
        progress=int(progress.group(1), 16) if progress else None,
        completed_without_error="Completed Without Error" in text,
        error_reason=reason.group(1).strip() if reason else None,
        unsupported="SANITIZE feature set is not supported" in text,
        words="; ".join(words),
    )


@dataclass(frozen=True)
class SecurityState:
    """The "Security:" block of `hdparm -I`."""

    supported: bool | None
    enabled: bool | None
    locked: bool | None
    frozen: bool | None
    enhanced_erase: bool | None
    erase_minutes: int | None  # the drive's estimate for SECURITY ERASE UNIT
    enhanced_erase_minutes: int | None
    words: str

    @property
    def readable(self) -> bool:
        return self.enabled is not None and self.locked is not None


_ERASE_TIME = re.compile(r">?(\d+)min for (ENHANCED )?SECURITY ERASE UNIT")


def parse_security(identify_text: str) -> SecurityState:
    block = _security_block(identify_text)
    flags: dict[str, bool] = {}
    for line in block:
        words = line.split()
        if not words:
            continue
        negated = words[0] == "not"
        name = " ".join(words[1:] if negated else words)
        flags[name] = not negated
    times = _ERASE_TIME.findall("\n".join(block))
    minutes = {bool(enhanced): int(value) for value, enhanced in times}
    return SecurityState(
        supported=flags.get("supported"),
        enabled=flags.get("enabled"),
        locked=flags.get("locked"),
        frozen=flags.get("frozen"),
        enhanced_erase=flags.get("supported: enhanced erase"),
        erase_minutes=minutes.get(False),
        enhanced_erase_minutes=minutes.get(True),
        words="; ".join(" ".join(line.split()) for line in block if line.strip()),
    )


def _security_block(text: str) -> list[str]:
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.strip().startswith("Security:"):
            block = []
            for following in lines[index + 1:]:
                if following.strip() and not following[:1].isspace():
                    break
                block.append(following)
            return block
    return []


@dataclass(frozen=True)
class MaxSectors:
    visible: int
    native: int

    @property
    def hidden(self) -> int:
        return max(self.native - self.visible, 0)


_MAX_SECTORS = re.compile(r"max sectors\s*=\s*(\d+)/(\d+)")


def parse_max_sectors(text: str) -> MaxSectors | None:
    """`hdparm -N`: " max sectors   = 310484656/312581808, HPA is enabled"."""
    match = _MAX_SECTORS.search(text)
    if match is None:
        return None
    visible, native = int(match.group(1)), int(match.group(2))
    if native <= 1:  # "0/1": a bridge that did not pass the command through
        return None
    return MaxSectors(visible, native)
