"""The grade of a machine and its outcome (reuse, parts, recycle), by a versioned table of rules a
volunteer can check by hand. docs/grading.md, section 7, is the table with where each limit
comes from; this module and that section change together, with RULES_VERSION.

The grade has parts, each judged on its own facts, and a label:
- functional code, F0 to F5 (in the spirit of R2v3's F codes): which functions were tested and
  whether they work, from the health checks;
- performance class, P1 to P4: what the machine can still run, from its memory, processor and
  disks and the disks' measured speed;
- battery band, A to D (or none): the worst battery's capacity left;
- cosmetic code: from the guided appearance check, none until a person gives it.
The label (A to D, `value`) is the worst limit any rule sets. Every rule that set one is a reason,
with the part it judged and the letter it allows, the one that decided first: each letter can be
traced to the rule and the result behind it.

The outcome: a disk whose erasure did not succeed must leave the machine and be destroyed, so the
machine goes to parts; otherwise label D goes to recycling, and A to C to reuse.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agent.health.model import localized
from agent.i18n import N_, LocalWords, _
from agent.inventory.model import KEPT_BY_CHOICE, Disk, Machine

if TYPE_CHECKING:
    from agent.wipe.jobs import WipeResult

RULES_VERSION = "grade/2"
GRADES = ("A", "B", "C", "D")
GIB = 1 << 30
SLOW_DISK_BYTES_PER_SECOND = 50_000_000
ERASED = ("erased", "erased_with_exceptions")

# The parts of the grade, as reasons name them.
FUNCTIONAL, PERFORMANCE, BATTERY, LOCKS, WEAR, COSMETIC = (
    "functional", "performance", "battery", "locks", "wear", "cosmetic")

# The health checks, as agent/health/ names them (tests/test_grade.py keeps them in step); they
# are not imported, so that grading a report does not load the checks.
SMART, SELF_TEST, CPU, MEMORY, BATTERY_CHECK, PLATFORM = (
    "disk_smart", "disk_self_test", "cpu_cooling", "memory", "battery", "platform_locks")
DISK_CHECKS = (SMART, SELF_TEST)
# The guided checks a person answers (agent/health/guided.py), and the appearance's codes.
GUIDED = ("keyboard", "display", "sound", "camera", "usb_ports", "touchpad", "appearance")
APPEARANCE = "appearance"
# The label each cosmetic code allows (docs/grading.md, 7.5): wear a new owner sees at once
# lowers it; a damaged part needs work.
COSMETIC_LABELS = {"C1": "A", "C2": "A", "C3": "B", "C4": "C", "C5": "C"}
# A verdict that says the part was looked at (not_present: there was nothing to judge, such as a
# processor without a sensor, whose load still ran, or a drive without a self-test).
LOOKED_AT = ("pass", "warn", "not_present")

# Functional codes, best last, and the label each allows.
F0, F1, F2, F3, F4, F5 = "F0", "F1", "F2", "F3", "F4", "F5"
FUNCTIONAL_LABELS = {F0: "C", F1: "C", F2: "C", F3: "B", F4: "A", F5: "A"}
# Performance classes from the label their worst rule allows.
PERFORMANCE_CLASSES = {"A": "P1", "B": "P2", "C": "P3", "D": "P4"}
# Battery bands: the capacity left (full / design) at or above each limit, in percent; below the
# last, D. 80 and 30 are the battery check's own warn and fail limits (docs/grading.md, 4.1).
BATTERY_BANDS = (("A", 80.0), ("B", 50.0), ("C", 30.0))
BATTERY_LABELS = {"A": "A", "B": "B", "C": "C", "D": "C"}


@dataclass(frozen=True)
class Reason:
    code: str  # stable, for machines and translations: "memory_under_4_gib"
    text: str  # English, with the measured value, for people reading the raw report
    message: str = ""  # the message id `text` was made from, translated on screens
    values: tuple[tuple[str, object], ...] = ()
    part: str = ""  # which part of the grade the rule judged (FUNCTIONAL, PERFORMANCE...)
    label: str = ""  # the best label the rule allows

    @classmethod
    def of(cls, code: str, message: str, **values: object) -> Reason:
        return cls(code, message.format(**values), message, tuple(values.items()))

    @classmethod
    def of_finding(cls, finding: dict[str, Any]) -> Reason:
        """A health check's finding, as the report holds it, as the reason it gives."""
        return cls(str(finding["code"]), str(finding["text"]), str(finding.get("message") or ""),
                   tuple(dict(finding.get("values") or {}).items()))

    def limits(self, part: str, label: str) -> Reason:
        return dataclasses.replace(self, part=part, label=label)

    def describe(self) -> str:
        """The reason in the screen's language, its numbers written as the language does."""
        if not self.message:
            return self.text
        return _(self.message).format(**{name: localized(value) for name, value in self.values})

    def to_json(self) -> dict[str, str]:
        document = {"code": self.code, "text": self.text}
        if self.part:
            document.update(part=self.part, label=self.label)
        return document


@dataclass(frozen=True)
class Grade:
    value: str  # the label, A to D
    reasons: tuple[Reason, ...]  # every rule that set a limit, the deciding one first
    functional: str = F0
    performance: str = "P1"
    battery: str = "none"  # "none", or the worst battery's band
    cosmetic: str | None = None  # from the guided appearance check

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "reasons": [reason.to_json() for reason in self.reasons],
                "rules": RULES_VERSION, "functional": self.functional,
                "performance": self.performance, "battery": self.battery,
                "cosmetic": self.cosmetic}


@dataclass(frozen=True)
class Outcome:
    value: str  # "reuse", "parts", "recycle"
    reason: Reason

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "reason": self.reason.to_json()}


def grade_machine(machine: Machine, benchmarks: dict[str, Any] | None = None,
                  health: dict[str, Any] | None = None) -> Grade:
    """`health`: the report's health section (`HealthPass.to_json`); without it no function
    counts as tested (F0)."""
    checks = _Checks(health)
    functional, functional_reasons = _functional(machine, checks)
    performance_reasons = _performance(machine, benchmarks)
    band, battery_reasons = _battery(machine, checks)
    cosmetic, cosmetic_reasons = _cosmetic(checks)
    reasons = [*functional_reasons, *performance_reasons, *battery_reasons,
               *cosmetic_reasons, *_locks(checks), *_warnings(checks)]
    value = _worst(reason.label for reason in reasons)
    # Worst first, so the first reason is the one that decided the label.
    ordered = sorted(reasons, key=lambda reason: -GRADES.index(reason.label))
    performance = PERFORMANCE_CLASSES[_worst(reason.label for reason in performance_reasons)]
    return Grade(value, tuple(ordered), functional, performance, band, cosmetic)


def decide_outcome(grade: Grade, erasures: Sequence[WipeResult],
                   kept: Sequence[str] = ()) -> Outcome:
    """`kept`: disks the volunteer chose to keep as they are (not erased, still in the
    machine)."""
    not_erased = [result.device for result in erasures if result.result not in ERASED]
    if not_erased:
        return Outcome("parts", Reason.of(
            "disk_not_erased", N_("not erased: {disks}; take the disk out and destroy it"),
            disks=", ".join(not_erased)))
    if grade.value == "D":
        first = grade.reasons[0]
        return Outcome("recycle", Reason("grade_d", "grade D: " + first.text,
                                         N_("grade D: {reason}"), (("reason", first.text),)))
    if kept:
        return Outcome("reuse", Reason.of(
            "disk_kept_by_choice", N_("grade {grade}; kept as it was by choice, not erased: "
                                      "{disks}"), grade=grade.value, disks=", ".join(kept)))
    return Outcome("reuse", Reason.of("erased_and_usable",
                                      N_("every disk erased, grade {grade}"), grade=grade.value))


def _worst(labels: Iterable[str]) -> str:
    return GRADES[max((GRADES.index(label) for label in labels), default=0)]


class _Checks:
    """The health section's results by check and part."""

    def __init__(self, health: dict[str, Any] | None) -> None:
        self.results: list[dict[str, Any]] = list((health or {}).get("checks", []))
        self.by_key = {(result["check"], result["subject"]): result for result in self.results}

    def of(self, check: str, subject: str | None = None) -> dict[str, Any] | None:
        if subject is not None:
            return self.by_key.get((check, subject))
        return next((result for result in self.results if result["check"] == check), None)

    def looked_at(self, check: str, subject: str | None = None) -> bool:
        result = self.of(check, subject)
        return result is not None and result["verdict"] in LOOKED_AT


def _deciding(result: dict[str, Any]) -> Reason:
    """The finding that decided a check's verdict, as a reason."""
    finding = next((item for item in result["findings"] if item["verdict"] == result["verdict"]),
                   None)
    if finding is None:
        return Reason(f"{result['check']}_{result['verdict']}",
                      f"{result['subject']}: {result['check']} {result['verdict']}")
    return Reason.of_finding(finding)


# --- Functional ------------------------------------------------------------------------------


def _staying(machine: Machine) -> list[Disk]:
    """The disks that stay in the machine: the erased ones and those a person chose to keep."""
    left_out = {exclusion.path for exclusion in machine.exclusions
                if exclusion.code != KEPT_BY_CHOICE}
    return [disk for disk in machine.disks if disk.path not in left_out]


def _failing_disk(disk: Disk, checks: _Checks) -> Reason | None:
    for check in DISK_CHECKS:
        result = checks.of(check, disk.path)
        if result is not None and result["verdict"] == "fail":
            return _deciding(result)
    if disk.smart_health == "failed" and checks.of(SMART, disk.path) is None:
        # No health section (an older caller): the inventory's own reading of the verdict.
        return Reason.of("smart_failed", N_("{disk}: SMART verdict failed"), disk=disk.path)
    return None


def _functional(machine: Machine, checks: _Checks) -> tuple[str, list[Reason]]:
    staying = _staying(machine)
    failing = {disk.path: reason for disk in staying
               if (reason := _failing_disk(disk, checks)) is not None}
    key_failures: list[Reason] = []
    if not staying:
        key_failures.append(Reason.of("no_disk", N_("no internal disk to install a system on")))
    elif len(failing) == len(staying):
        key_failures += failing.values()  # no disk left to keep a system and files on
    key_failures += [_deciding(result) for check in (CPU, MEMORY)
                     if (result := checks.of(check)) is not None and result["verdict"] == "fail"]
    other_failures = [] if key_failures and len(failing) == len(staying) else list(
        failing.values())
    other_failures += [_deciding(result) for result in checks.results
                       if result["verdict"] == "fail"
                       and result["check"] not in (*DISK_CHECKS, CPU, MEMORY, PLATFORM)]
    if key_failures:
        return F1, [reason.limits(FUNCTIONAL, "C") for reason in key_failures + other_failures]
    if other_failures:
        return F2, [reason.limits(FUNCTIONAL, "C") for reason in other_failures]
    untested = [name for name, looked in (
        (N_("the processor"), checks.looked_at(CPU)), (N_("the memory"), checks.looked_at(MEMORY)),
        *((disk.path, checks.looked_at(SMART, disk.path)) for disk in staying)) if not looked]
    if untested:
        return F0, [Reason.of("functions_not_tested", N_("not tested: {parts}"),
                              parts=LocalWords(untested)).limits(FUNCTIONAL, "C")]
    not_done = [disk.path for disk in staying if not checks.looked_at(SELF_TEST, disk.path)]
    if machine.peripherals.batteries and not checks.looked_at(BATTERY_CHECK):
        not_done.append(N_("the battery"))
    if not_done:
        return F3, [Reason.of("checks_not_done", N_("key functions work; not fully tested: "
                                                    "{parts}"),
                              parts=LocalWords(not_done)).limits(FUNCTIONAL, "B")]
    # F5: a person also tested what only a person can, and nothing they tested failed (a
    # failure is F2 above). A guided check skipped leaves F4, with no limit on the label.
    if all(checks.looked_at(check) for check in GUIDED):
        return F5, []
    return F4, []


# --- Performance -----------------------------------------------------------------------------


def _performance(machine: Machine, benchmarks: dict[str, Any] | None) -> list[Reason]:
    return [reason.limits(PERFORMANCE, label) for label, reason in (
        *_memory(machine), *_processor(machine), *_disk_kinds(machine),
        *_disk_speed(machine, benchmarks))]


def _memory(machine: Machine) -> list[tuple[str, Reason]]:
    total = machine.memory.total_bytes
    if total is None:
        return [("C", Reason.of("memory_unknown", N_("memory size unknown")))]
    for limit, grade in ((2, "D"), (4, "C"), (8, "B")):
        if total < limit * GIB * 0.95:  # firmware reserves a little: 8 GiB shows as 7.8
            return [(grade, Reason.of(f"memory_under_{limit}_gib",
                                      N_("{size:.1f} GiB of memory, under {limit} GiB"),
                                      size=total / GIB, limit=limit))]
    return []


def _processor(machine: Machine) -> list[tuple[str, Reason]]:
    level = machine.cpu.microarchitecture_level
    if level is None:
        return [("C", Reason.of("cpu_level_unknown", N_("processor x86-64 level unknown")))]
    if level == "x86-64":
        return [("C", Reason.of("cpu_x86_64_v1",
                                N_("processor is x86-64 level 1 (no SSE4.2/POPCNT)")))]
    if level == "x86-64-v2":
        return [("B", Reason.of("cpu_x86_64_v2", N_("processor is x86-64 level 2")))]
    return []


def _disk_kinds(machine: Machine) -> list[tuple[str, Reason]]:
    staying = _staying(machine)
    if staying and all(disk.rotational for disk in staying):
        return [("B", Reason.of("hard_disk_only", N_("only spinning hard disks")))]
    return []


def _disk_speed(machine: Machine, benchmarks: dict[str, Any] | None) -> list[tuple[str, Reason]]:
    kept = {disk.path for disk in machine.targets()}
    limits: list[tuple[str, Reason]] = []
    for measured in (benchmarks or {}).get("disks", []):
        speed = measured.get("read_bytes_per_second", 0)
        if measured.get("result") == "measured" and measured.get("path") in kept and (
                speed < SLOW_DISK_BYTES_PER_SECOND):
            limits.append(("B", Reason.of("slow_disk", N_("{disk}: reads {speed:.0f} MB/s"),
                                          disk=measured["path"], speed=speed / 1e6)))
    return limits


# --- Battery, locks, wear ----------------------------------------------------------------------


def _band(percent: float) -> str:
    return next((band for band, floor in BATTERY_BANDS if percent >= floor), "D")


def _battery(machine: Machine, checks: _Checks) -> tuple[str, list[Reason]]:
    """The worst battery's band; "none" without a battery, or when no gauge tells its wear. A
    worn-out battery (band D) is the battery check's failure, which the functional part names;
    its band says it only when the check did not run."""
    bands: list[tuple[str, Reason]] = []
    for battery in machine.peripherals.batteries:
        if battery.health_percent is None:
            continue
        band = _band(float(battery.health_percent))
        bands.append((band, Reason.of(
            "battery_worn", N_("battery {name}: {percent:.0f} % of design capacity"),
            name=battery.name, percent=float(battery.health_percent))))
    if not bands:
        return "none", []
    worst = max(band for band, _reason in bands)
    checked = checks.of(BATTERY_CHECK) is not None
    return worst, [reason.limits(BATTERY, BATTERY_LABELS[band]) for band, reason in bands
                   if band != "A" and not (band == "D" and checked)]


def _cosmetic(checks: _Checks) -> tuple[str | None, list[Reason]]:
    """The appearance a person chose (C1 to C5); None when nobody did."""
    result = checks.of(APPEARANCE)
    code = None if result is None else result.get("measured", {}).get("cosmetic")
    if code not in COSMETIC_LABELS:
        return None, []
    label = COSMETIC_LABELS[code]
    if label == "A":
        return code, []
    return code, [Reason.of("cosmetic_wear", N_("appearance {cosmetic}"), cosmetic=code)
                  .limits(COSMETIC, label)]


def _locks(checks: _Checks) -> list[Reason]:
    """What stops the next owner (a firmware password, AMT left provisioned): the machine needs
    work before it leaves. A lock's warning (Secure Boot off) is only advice."""
    result = checks.of(PLATFORM)
    if result is None:
        return []
    return [Reason.of_finding(finding).limits(LOCKS, "C") for finding in result["findings"]
            if finding["verdict"] == "fail"]


def _warnings(checks: _Checks) -> list[Reason]:
    """A check that warned (an ageing disk, a processor near its limit, a memory tester that
    crashed): the machine works, with a reservation."""
    reasons = [_deciding(result) for result in checks.results
               if result["verdict"] == "warn" and result["check"] != PLATFORM]
    # The battery's wear is its band's reason already.
    return [reason.limits(WEAR, "B") for reason in reasons if reason.code != "battery_worn"]
