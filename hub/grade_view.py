"""What the passports show of a report's grade (`grade`, docs/report.md, section 4): the label,
then the grade's parts in words (functional code, performance class, battery band, cosmetic
code), the version of the rules on the signed-in passport, and the reasons.

The words of each code are the agent's own (agent/report/labels.py, FUNCTIONAL_WORDS,
PERFORMANCE_WORDS, BATTERY_WORDS, COSMETIC_WORDS), translated by the hub's catalog; a code they
do not know (a later agent's, or a report stored without today's schema check) is shown as it
came. Reports made before `grade/2` have only `value` and `reasons`: the pages show the letter
and the reasons, as they did.

A reason's `text` is data from a station: it is shown as it came (the template escapes it),
never passed to `_()` nor used as a format string. A reason that repeats a health check's finding
(`Reason.of_finding` keeps the finding's code and text) is shown as the health checks section
shows that finding (hub/health_view.py, `finding_text`): translated only when the hub's catalog
knows its message exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent.i18n import N_
from agent.report.labels import (
    BATTERY_WORDS,
    COSMETIC_WORDS,
    FUNCTIONAL_WORDS,
    PERFORMANCE_WORDS,
)
from hub import views
from hub.health_view import Gettext, finding_text

# The parts a reason names (agent/report/grade.py: FUNCTIONAL, PERFORMANCE...; the hub does not
# load the grading itself, tests/hub/test_grade_pages.py keeps them in step), in the order the
# signed-in passport groups them; a part a later agent adds follows, by its code.
PART_LABELS = {
    "functional": N_("functions"),
    "performance": N_("performance"),
    "battery": N_("battery"),
    "locks": N_("locks"),
    "wear": N_("wear"),
    "cosmetic": N_("appearance"),
}
GRADES = ("A", "B", "C", "D")
# The grade's parts as the pages list them: the report's key, its name, the words of each code.
PART_LINES: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("functional", N_("Functional state"), FUNCTIONAL_WORDS),
    ("performance", N_("Performance class"), PERFORMANCE_WORDS),
    ("battery", N_("Battery"), BATTERY_WORDS),
    ("cosmetic", N_("Appearance"), COSMETIC_WORDS),
)
NO_BATTERY = "none"  # the battery band of a machine without one: its words say it all


@dataclass(frozen=True)
class PartLine:
    """One part of the grade: its name, its code as the report gives it (None when the words
    say it all) and the code's words (None for a code the agent's tables do not know)."""

    name: str
    code: str | None
    words: str | None


@dataclass(frozen=True)
class ReasonShown:
    text: str
    heading: str  # "performance, allows B", translated; empty for a reason before grade/2


@dataclass(frozen=True)
class GradeShown:
    value: str | None  # the label, A to D, as the report gives it
    rules: str | None  # "grade/2"; None for older reports
    parts: list[PartLine] = field(default_factory=list)
    reasons: list[ReasonShown] = field(default_factory=list)  # grouped by part
    texts: list[str] = field(default_factory=list)  # the reasons' texts, in the report's order


def grade_section(report: dict[str, Any], gettext: Gettext, language: str) -> GradeShown | None:
    """The report's grade for a passport; None when it has none."""
    grade = report.get("grade")
    if isinstance(grade, str) and grade:
        return GradeShown(grade, None)  # the earliest reports: the letter alone
    if not isinstance(grade, dict) or not grade.get("value"):
        return None
    findings = _findings(report)
    reasons = [(reason, _reason_text(reason, findings, gettext, language))
               for reason in _items(grade.get("reasons"))]
    reasons = [(reason, text) for reason, text in reasons if text]
    order = {part: index for index, part in enumerate(PART_LABELS)}
    grouped = sorted(reasons, key=lambda item: _group(item[0], order, reasons))
    rules = grade.get("rules")
    return GradeShown(
        value=str(grade["value"]),
        rules=rules if isinstance(rules, str) and rules else None,
        parts=[line for key, name, words in PART_LINES
               if (line := _part_line(grade.get(key), name, words, gettext)) is not None],
        reasons=[ReasonShown(text, _heading(reason, gettext)) for reason, text in grouped],
        texts=[text for _reason, text in reasons],
    )


def _part_line(code: Any, name: str, words: dict[str, str], gettext: Gettext) -> PartLine | None:
    if not isinstance(code, str) or not code:
        return None  # older reports, and a cosmetic code nobody gave
    known = words.get(code)
    if known is None:
        return PartLine(gettext(name), code, None)
    return PartLine(gettext(name), None if code == NO_BATTERY else code, gettext(known))


def _group(reason: dict[str, Any], order: dict[str, int],
           reasons: list[tuple[dict[str, Any], str]]) -> tuple[int, int]:
    """The known parts in their order, then other parts by first appearance, then reasons that
    name no part (before grade/2); sorted() keeps the report's order within each."""
    part = reason.get("part")
    if not isinstance(part, str) or not part:
        return (2, 0)
    if part in order:
        return (0, order[part])
    return (1, next(index for index, (other, _text) in enumerate(reasons)
                    if other.get("part") == part))


def _heading(reason: dict[str, Any], gettext: Gettext) -> str:
    part, label = reason.get("part"), reason.get("label")
    if not isinstance(part, str) or not part:
        return ""
    name = views.label(PART_LABELS, part, gettext)
    if label not in GRADES:
        return name
    # The hub's catalog text is the format; the part's name and the letter only fill it.
    return gettext(N_("{part}, allows {label}")).format(part=name, label=label)


def _reason_text(reason: dict[str, Any], findings: dict[tuple[str, str], dict[str, Any]],
                 gettext: Gettext, language: str) -> str:
    text = reason.get("text")
    if not isinstance(text, str):
        return "" if text in (None, "", False) else str(text)
    finding = findings.get((str(reason.get("code")), text))
    return text if finding is None else finding_text(finding, gettext, language)


def _findings(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """The health checks' findings by code and English text, as a reason repeats them."""
    health = report.get("health")
    checks = _items(health.get("checks")) if isinstance(health, dict) else []
    return {(str(finding.get("code")), finding["text"]): finding
            for check in checks for finding in _items(check.get("findings"))
            if isinstance(finding.get("text"), str)}


def _items(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
