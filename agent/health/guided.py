"""The guided checks: what a person tests on the screen, with the machine in front of them.

The automatic checks cannot tell whether a key types, a speaker sounds or a case is cracked. In
the walk-through (agent/tui/screens/guided_*.py) the volunteer tests each of these in turn, and
each answer becomes a `CheckResult` like an automatic check's, with who answered it
(`operator`): pass, fail, skipped (the volunteer chose not to test it) or not_present (the
machine has no such part). The results join the run's health pass and the signed report; the
grade's F5 and its cosmetic code read them (docs/grading.md, sections 7.1 and 7.5).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from agent.health.model import FAIL, NOT_PRESENT, PASS, SKIPPED, CheckResult, Finding, verdict_of
from agent.i18n import N_
from agent.runner import CommandRecord

KEYBOARD = "keyboard"
DISPLAY = "display"
SOUND = "sound"
CAMERA = "camera"
USB_PORTS = "usb_ports"
TOUCHPAD = "touchpad"
APPEARANCE = "appearance"
# The order the walk-through asks them in: the keyboard first, since every other answer is
# typed on it.
GUIDED_CHECKS = (KEYBOARD, DISPLAY, SOUND, CAMERA, USB_PORTS, TOUCHPAD, APPEARANCE)

# The part each check's result is about (`CheckResult.subject`).
SUBJECTS = {KEYBOARD: "keyboard", DISPLAY: "screen", SOUND: "sound", CAMERA: "camera",
            USB_PORTS: "usb", TOUCHPAD: "touchpad", APPEARANCE: "case"}

# The cosmetic codes the appearance check chooses from, best first (docs/grading.md, 7.5);
# their words are in agent/report/labels.py (COSMETIC_WORDS), shared with the hub.
COSMETIC_CODES = ("C1", "C2", "C3", "C4", "C5")


def answered(check: str, findings: Iterable[Finding], *, operator: str | None,
             seconds: float | None, measured: dict[str, Any] | None = None,
             verdict: str | None = None, evidence: Sequence[CommandRecord] = ()) -> CheckResult:
    """A guided check's result as the volunteer answered it; its verdict is the findings' worst
    (pass when none) unless given. `evidence`: the commands the check ran (the tone played,
    the cards listed), kept with the signed report as an automatic check's are."""
    kept = tuple(findings)
    return CheckResult(check, SUBJECTS[check], verdict or verdict_of(kept), kept,
                       dict(measured or {}), _rounded(seconds), operator, tuple(evidence))


def skipped(check: str, *, operator: str | None, seconds: float | None,
            evidence: Sequence[CommandRecord] = ()) -> CheckResult:
    """The volunteer chose not to test it: recorded as such, never as a pass."""
    finding = Finding.of("skipped_by_operator", SKIPPED, N_("Not tested: skipped on the screen"))
    return answered(check, (finding,), operator=operator, seconds=seconds, verdict=SKIPPED,
                    evidence=evidence)


def absent(check: str, finding: Finding, *, operator: str | None,
           evidence: Sequence[CommandRecord] = ()) -> CheckResult:
    """The machine has no such part (no camera, no touchpad): nothing to test."""
    return answered(check, (finding,), operator=operator, seconds=None, verdict=NOT_PRESENT,
                    evidence=evidence)


def passed(check: str, *, operator: str | None, seconds: float | None,
           measured: dict[str, Any] | None = None,
           evidence: Sequence[CommandRecord] = ()) -> CheckResult:
    return answered(check, (), operator=operator, seconds=seconds, measured=measured,
                    verdict=PASS, evidence=evidence)


def failed(check: str, finding: Finding, *, operator: str | None, seconds: float | None,
           measured: dict[str, Any] | None = None,
           evidence: Sequence[CommandRecord] = ()) -> CheckResult:
    if finding.verdict != FAIL:
        raise ValueError(f"a failing answer needs a failing finding, not {finding.verdict}")
    return answered(check, (finding,), operator=operator, seconds=seconds, measured=measured,
                    evidence=evidence)


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)
