"""The grade (A to D) and the outcome (reuse, parts, recycle) of a machine, by rules a volunteer
can check by hand: each rule can only lower the grade, and every rule that did says why.

The rules (docs/report.md lists them with the same codes):
- memory: under 2 GiB D, under 4 GiB C, under 8 GiB B;
- processor: x86-64 level 1 (no SSE4.2/POPCNT: many current distributions refuse it) C,
  level 2 B, level 3 or 4 no limit; level unknown C;
- disks (those that stay in the machine, i.e. not excluded): none C; SMART verdict failed C;
  reallocated, pending or uncorrectable sectors B; SSD wear 90 % or more C, 70 % or more B;
  only spinning disks B (a light OS is still slow on one);
- battery: under 50 % of its design capacity C, under 80 % B;
- disk read benchmark: under 50 MB/s on a disk that stays B.
The outcome: a disk whose erasure did not succeed must leave the machine and be destroyed, so the
machine goes to parts; otherwise grade D goes to recycling, and A to C to reuse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agent.i18n import N_, LocalNumber, _
from agent.inventory.model import KEPT_BY_CHOICE, Machine

if TYPE_CHECKING:
    from agent.wipe.jobs import WipeResult

GRADES = ("A", "B", "C", "D")
GIB = 1 << 30
SLOW_DISK_BYTES_PER_SECOND = 50_000_000
ERASED = ("erased", "erased_with_exceptions")


@dataclass(frozen=True)
class Reason:
    code: str  # stable, for machines and translations: "memory_under_4_gib"
    text: str  # English, with the measured value, for people reading the raw report
    message: str = ""  # the message id `text` was made from, translated on screens
    values: tuple[tuple[str, object], ...] = ()

    @classmethod
    def of(cls, code: str, message: str, **values: object) -> Reason:
        return cls(code, message.format(**values), message, tuple(values.items()))

    def describe(self) -> str:
        """The reason in the screen's language, its numbers written as the language does."""
        if not self.message:
            return self.text
        return _(self.message).format(**{
            name: LocalNumber(value) if isinstance(value, float) else value
            for name, value in self.values})

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "text": self.text}


@dataclass(frozen=True)
class Grade:
    value: str
    reasons: tuple[Reason, ...]

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "reasons": [reason.to_json() for reason in self.reasons]}


@dataclass(frozen=True)
class Outcome:
    value: str  # "reuse", "parts", "recycle"
    reason: Reason

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "reason": self.reason.to_json()}


def grade_machine(machine: Machine, benchmarks: dict[str, Any] | None = None) -> Grade:
    limits: list[tuple[str, Reason]] = [
        *_memory(machine), *_processor(machine), *_disks(machine), *_batteries(machine),
        *_disk_speed(machine, benchmarks),
    ]
    worst = max((GRADES.index(grade) for grade, _reason in limits), default=0)
    # Worst first, so the first reason is the one that decided the grade.
    ordered = sorted(limits, key=lambda item: -GRADES.index(item[0]))
    return Grade(GRADES[worst], tuple(reason for _grade, reason in ordered))


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


def _disks(machine: Machine) -> list[tuple[str, Reason]]:
    # The disks that stay in the machine: the erased ones and those a person chose to keep.
    left_out = {exclusion.path for exclusion in machine.exclusions
                if exclusion.code != KEPT_BY_CHOICE}
    kept = [disk for disk in machine.disks if disk.path not in left_out]
    if not kept:
        return [("C", Reason.of("no_disk", N_("no internal disk to install a system on")))]
    limits: list[tuple[str, Reason]] = []
    for disk in kept:
        name = disk.path
        if disk.smart_health == "failed":
            limits.append(("C", Reason.of("smart_failed", N_("{disk}: SMART verdict failed"),
                                          disk=name)))
        bad = sum(count or 0 for count in (disk.reallocated_sectors, disk.pending_sectors,
                                           disk.uncorrectable_sectors))
        if bad:
            limits.append(("B", Reason.of(
                "bad_sectors", N_("{disk}: {count} reallocated/pending/uncorrectable sectors"),
                disk=name, count=bad)))
        wear = disk.wear_percent_used
        if wear is not None and wear >= 70:
            limits.append(("C" if wear >= 90 else "B", Reason.of(
                "ssd_worn", N_("{disk}: {percent} % of rated endurance used"), disk=name,
                percent=wear)))
    if all(disk.rotational for disk in kept):
        limits.append(("B", Reason.of("hard_disk_only", N_("only spinning hard disks"))))
    return limits


def _batteries(machine: Machine) -> list[tuple[str, Reason]]:
    limits: list[tuple[str, Reason]] = []
    for battery in machine.peripherals.batteries:
        health = battery.health_percent
        if health is not None and health < 80:
            limits.append(("C" if health < 50 else "B", Reason.of(
                "battery_worn", N_("battery {name}: {percent:.0f} % of design capacity"),
                name=battery.name, percent=float(health))))
    return limits


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
