"""What a health check returns: a verdict, the findings behind it, and what was measured.

A `Finding` is one rule that spoke, like `grade.Reason`: a stable code for machines, English
text with the measured values for people reading the raw report, and the message id with its
values so a screen shows it translated. Its `threshold` names the rule's limit
("ata_reallocated_warn_at_1") so a report says which limit was crossed, not only that one was.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from agent.i18n import LocalNumber, LocalWords, _, number
from agent.runner import CommandRecord

PASS, WARN, FAIL, SKIPPED, NOT_PRESENT = "pass", "warn", "fail", "skipped", "not_present"
VERDICTS = (PASS, WARN, FAIL, SKIPPED, NOT_PRESENT)
# From worst to best among the verdicts that judged something.
_JUDGED = (FAIL, WARN, PASS)


def worst(verdicts: Iterable[str]) -> str:
    """The verdict that decides: fail, then warn, then pass.

    A skipped check or a part that is not there says nothing against the machine, so it only
    decides when nothing was judged at all: not_present when no part was there, skipped when
    something was left unchecked (or nothing was given).
    """
    seen = set(verdicts)
    unknown = seen - set(VERDICTS)
    if unknown:
        raise ValueError(f"not a verdict: {sorted(unknown)}")
    for verdict in _JUDGED:
        if verdict in seen:
            return verdict
    return NOT_PRESENT if seen == {NOT_PRESENT} else SKIPPED


@dataclass(frozen=True)
class Finding:
    code: str  # stable, for machines and translations: "ata_reallocated_sectors"
    verdict: str
    text: str  # English, with the measured values
    msgid: str = ""  # the message `text` was made from, translated on screens
    values: tuple[tuple[str, object], ...] = ()
    threshold: str | None = None  # the rule's limit by name: "ata_reallocated_fail_above_10"

    @classmethod
    def of(cls, code: str, verdict: str, msgid: str, *, threshold: str | None = None,
           **values: object) -> Finding:
        """The values fill the message's fields; a value is never read as a format string, so a
        drive's model or smartctl's words with braces in them are shown as they are."""
        if verdict not in VERDICTS:
            raise ValueError(f"not a verdict: {verdict}")
        return cls(code, verdict, msgid.format(**values), msgid, tuple(values.items()),
                   threshold)

    def describe(self) -> str:
        """The finding in the screen's language, its numbers written as the language does
        ("17 532" in French). Integers are written out before they fill the message, so
        messages give them no format specification; decimals keep theirs ("{years:.1f}")."""
        if not self.msgid:
            return self.text
        return _(self.msgid).format(**{name: localized(value) for name, value in self.values})

    def to_json(self) -> dict[str, Any]:
        # The message with its values lets a screen or the platform say it in another language.
        return {"code": self.code, "verdict": self.verdict, "text": self.text,
                "message": self.msgid, "threshold": self.threshold,
                "values": dict(self.values)}


def localized(value: object) -> object:
    """A message's value as the screen's language writes it: its numbers ("17 532" in French),
    its lists of words."""
    if isinstance(value, LocalWords):
        return value.translated()
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return number(value)
    if isinstance(value, float):
        return LocalNumber(value)
    return value


@dataclass(frozen=True)
class CheckResult:
    check: str  # what was checked: "disk_smart", "disk_self_test"
    subject: str  # which part: a device path
    verdict: str
    findings: tuple[Finding, ...]
    measured: dict[str, Any]
    seconds: float | None  # how long the check took; None when it only read what was given
    operator: str | None = None  # who answered a guided check; None when automatic
    # The commands the check ran, with their full output: the evidence a signed report keeps.
    evidence: tuple[CommandRecord, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check, "subject": self.subject, "verdict": self.verdict,
                "findings": [finding.to_json() for finding in self.findings],
                "measured": self.measured, "seconds": self.seconds, "operator": self.operator,
                "evidence": [record.to_json() for record in self.evidence]}


def verdict_of(findings: Iterable[Finding]) -> str:
    """The verdict a set of findings gives: pass when no rule spoke."""
    verdicts = [finding.verdict for finding in findings]
    return worst(verdicts) if verdicts else PASS
