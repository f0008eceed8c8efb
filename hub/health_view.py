"""What the passports show of a report's health checks (`health`, docs/report.md): each check
in words, the part it looked at, its verdict, and the findings behind a verdict that is not a
pass.

The section is data from a station. A finding's `text` is shown as it came (the template
escapes it). Its `message` is only ever looked up: when the page's catalog translates exactly
that message, the translation (the hub's own text) is filled with the finding's `values`, each
as plain data; a message the catalog does not know, or values that do not fit it, leave the
English `text`. No text a report carries is ever used as a format string, nor passed to the
templates' `_()` (jinja2 would take its result for markup).

The signed-in passport (`public=False`) shows every check with its time, operator, evidence
files and measurements; the new owner's (`public=True`) the verdict of each check on a part that
stays in the machine, with its failing and warning findings only.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from agent.i18n import N_
from hub import views

Gettext = Callable[[str], str]

# The checks' codes, as agent/health/ names them (disk.SELF_TEST_CHECK, disk.SMART_CHECK,
# cpu_load.CHECK, memory.CHECK, battery.CHECK, platform.CHECK, network.CHECK, and
# guided.GUIDED_CHECKS, those a person answers; tests/hub/test_health_pages.py keeps them in
# step). A check this table does not know is shown by its code.
CHECK_LABELS = {
    "disk_self_test": N_("Disk self-test"),
    "disk_smart": N_("Disk health (SMART)"),
    "cpu_cooling": N_("Processor and cooling"),
    "memory": N_("Memory"),
    "battery": N_("Battery"),
    "platform_locks": N_("Locks that stop a donation"),
    "network": N_("Network: wired link, Wi-Fi"),
    "keyboard": N_("Keyboard, key by key"),
    "display": N_("Screen: colours, dead pixels, backlight"),
    "sound": N_("Speakers and microphone"),
    "camera": N_("Camera"),
    "usb_ports": N_("USB ports"),
    "touchpad": N_("Touchpad"),
    "appearance": N_("Appearance"),
}
DISK_CHECKS = ("disk_self_test", "disk_smart")
VERDICT_LABELS = {
    "pass": N_("passed"),
    "warn": N_("warning"),
    "fail": N_("failed"),
    "skipped": N_("not checked"),
    "not_present": N_("not present"),
}
# The class of the verdict's cell (base.html): green, amber, red; nothing judged in grey.
VERDICT_CLASSES = {"pass": "ok", "warn": "warn", "fail": "bad", "skipped": "muted",
                   "not_present": "muted"}
# A machine part's subject in words; a disk is named by its path (and model), anything else
# unknown as it came.
SUBJECT_LABELS = {
    "firmware": N_("Firmware"), "cpu": N_("Processor"), "ram": N_("Memory"),
    "battery": N_("Battery"), "network": N_("Network"),
    "keyboard": N_("Keyboard"), "screen": N_("Screen"), "sound": N_("Sound"),
    "camera": N_("Camera"), "usb": N_("USB ports"), "touchpad": N_("Touchpad"),
    "case": N_("Case"),
}
# The findings the new owner reads: what is wrong, not what was left unchecked.
PUBLIC_FINDINGS = ("fail", "warn")
# How each language writes numbers in a translated finding (decimal mark, thousands): French
# as the station's screen writes it (agent/i18n.py). English is never translated: the report's
# own text is English.
NUMBER_MARKS = {"fr": (",", " "), "en": (".", ",")}


@dataclass(frozen=True)
class FindingShown:
    verdict: str  # the code, for the page's class
    verdict_label: str
    text: str
    threshold: str | None = None

    @property
    def css(self) -> str:
        return VERDICT_CLASSES.get(self.verdict, "")


@dataclass(frozen=True)
class CheckShown:
    check: str  # in words
    subject: str
    verdict: str
    verdict_label: str
    findings: list[FindingShown]
    seconds: str | None = None
    operator: str | None = None
    evidence: list[tuple[str, str, str]] = field(default_factory=list)  # name, sha256, size
    measured: list[tuple[str, str]] = field(default_factory=list)

    @property
    def css(self) -> str:
        return VERDICT_CLASSES.get(self.verdict, "")


@dataclass(frozen=True)
class HealthShown:
    verdict: str
    verdict_label: str
    checks: list[CheckShown]

    @property
    def css(self) -> str:
        return VERDICT_CLASSES.get(self.verdict, "")


def health_section(report: dict[str, Any], gettext: Gettext, language: str, *,
                   public: bool = False) -> HealthShown | None:
    """The report's health checks for a passport; None when the report has none (older
    reports, or a run that checked nothing)."""
    health = report.get("health")
    if not isinstance(health, dict):
        return None
    machine = _mapping(report.get("machine"))
    disks = {str(disk.get("path")): disk for disk in _items(machine.get("disks"))}
    left_out = _left_out(report) if public else set()
    checks = []
    for check in _items(health.get("checks")):
        code, subject = str(check.get("check") or "?"), str(check.get("subject") or "?")
        if public and code in DISK_CHECKS and subject in left_out:
            continue  # the stick's disk, or one that leaves the machine: not the new owner's
        checks.append(_check(check, code, subject, disks, gettext, language, public))
    verdict = str(health.get("verdict") or "")
    return HealthShown(verdict, _verdict_label(verdict, gettext), checks)


def _check(check: dict[str, Any], code: str, subject: str, disks: dict[str, dict[str, Any]],
           gettext: Gettext, language: str, public: bool) -> CheckShown:
    verdict = str(check.get("verdict") or "")
    shown_verdicts = PUBLIC_FINDINGS if public else ("fail", "warn", "skipped", "not_present")
    findings = [FindingShown(str(finding.get("verdict")),
                             _verdict_label(finding.get("verdict"), gettext),
                             finding_text(finding, gettext, language),
                             None if public else _optional_text(finding.get("threshold")))
                for finding in _items(check.get("findings"))
                if finding.get("verdict") in shown_verdicts]
    shown = CheckShown(views.label(CHECK_LABELS, code, gettext),
                       _subject(code, subject, disks, gettext, public), verdict,
                       _verdict_label(verdict, gettext), findings)
    if public:
        return shown
    return replace(
        shown, seconds=_seconds(check.get("seconds")),
        operator=_optional_text(check.get("operator")),
        evidence=[(str(item.get("name") or "?"), str(item.get("sha256") or "?"),
                   views.size_text(item.get("size_bytes")))
                  for item in _items(check.get("evidence"))],
        measured=views.flat_items(check.get("measured")) if check.get("measured") else [])


def _verdict_label(verdict: Any, gettext: Gettext) -> str:
    return views.label(VERDICT_LABELS, verdict, gettext)


def _subject(code: str, subject: str, disks: dict[str, dict[str, Any]], gettext: Gettext,
             public: bool) -> str:
    if code in DISK_CHECKS or subject.startswith("/dev/"):
        model = disks.get(subject, {}).get("model")
        if not model:
            return subject
        return str(model) if public else f"{subject} ({model})"
    return views.label(SUBJECT_LABELS, subject, gettext)


def finding_text(finding: dict[str, Any], gettext: Gettext, language: str) -> str:
    """The finding in the page's language when the catalog translates its message exactly and
    its values fill the translation; otherwise its English `text`, as it came."""
    text = str(finding.get("text") or "")
    message, values = finding.get("message"), finding.get("values")
    if not isinstance(message, str) or not message or not isinstance(values, dict):
        return text  # gettext("") is the catalog's header, not a translation
    translated = gettext(message)
    if translated == message or not _plain_fields(translated):
        return text  # not in the catalog (or English): the station's own text
    decimal, thousands = NUMBER_MARKS.get(language, NUMBER_MARKS["en"])
    try:
        # `translated` is the hub's catalog text; each value only fills a field.
        return translated.format_map(
            {str(name): _plain(value, decimal, thousands) for name, value in values.items()})
    except (KeyError, IndexError, ValueError, TypeError, AttributeError):
        return text  # values that do not fit the message: a field missing, a word for a number


def _plain_fields(template: str) -> bool:
    """Whether each field of a catalog message is a plain name whose format specification holds
    no field of its own: no value can then choose a width, an attribute or an index."""
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError:
        return False
    return all(name is None or (name.isidentifier() and "{" not in (spec or ""))
               for _literal, name, spec, _conversion in fields)


class _Number(float):
    """A decimal that keeps its format specification ("{years:.1f}") and is written with the
    page's marks ("4,6" in French)."""

    marks: dict[int, str]

    def __new__(cls, value: float, marks: dict[int, str]) -> _Number:
        number = super().__new__(cls, value)
        number.marks = marks
        return number

    def __format__(self, spec: str) -> str:
        return float.__format__(self, spec).translate(self.marks)


def _plain(value: Any, decimal: str, thousands: str) -> Any:
    """A value as plain data: whole numbers written out ("17 532"), decimals as _Number, text as
    text, anything else as its JSON."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}".replace(",", thousands)
    if isinstance(value, float):
        return _Number(value, {ord(","): thousands, ord("."): decimal})
    if isinstance(value, str):
        return str(value)
    return orjson.dumps(value).decode()


def _seconds(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    if value < 0.5:
        return "< 1 s"
    if value < 120:
        return f"{round(value)} s"
    return f"{round(value / 60)} min"


def _left_out(report: dict[str, Any]) -> set[str]:
    """The disks the new owner's page leaves out, as hub/public_view.py does: those the system
    kept apart (the stick, a disk in use) and removable ones."""
    machine = _mapping(report.get("machine"))
    excluded = {str(item.get("path")) for item in _items(report.get("excluded"))
                if item.get("code") != "kept_by_choice"}
    return excluded | {str(disk.get("path")) for disk in _items(machine.get("disks"))
                       if disk.get("removable")}


def _optional_text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
