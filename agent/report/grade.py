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
from typing import Any

from agent.inventory.model import Machine
from agent.wipe.jobs import WipeResult

GRADES = ("A", "B", "C", "D")
GIB = 1 << 30
SLOW_DISK_BYTES_PER_SECOND = 50_000_000
ERASED = ("erased", "erased_with_exceptions")


@dataclass(frozen=True)
class Reason:
    code: str  # stable, for machines and translations: "memory_under_4_gib"
    text: str  # English, with the measured value, for people reading the raw report

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


def decide_outcome(grade: Grade, erasures: Sequence[WipeResult]) -> Outcome:
    not_erased = [result.device for result in erasures if result.result not in ERASED]
    if not_erased:
        return Outcome("parts", Reason(
            "disk_not_erased",
            f"not erased: {', '.join(not_erased)}; take the disk out and destroy it"))
    if grade.value == "D":
        return Outcome("recycle", Reason("grade_d", "grade D: " + grade.reasons[0].text))
    return Outcome("reuse", Reason("erased_and_usable",
                                   f"every disk erased, grade {grade.value}"))


def _memory(machine: Machine) -> list[tuple[str, Reason]]:
    total = machine.memory.total_bytes
    if total is None:
        return [("C", Reason("memory_unknown", "memory size unknown"))]
    size = f"{total / GIB:.1f} GiB of memory"
    for limit, grade in ((2, "D"), (4, "C"), (8, "B")):
        if total < limit * GIB * 0.95:  # firmware reserves a little: 8 GiB shows as 7.8
            return [(grade, Reason(f"memory_under_{limit}_gib", f"{size}, under {limit} GiB"))]
    return []


def _processor(machine: Machine) -> list[tuple[str, Reason]]:
    level = machine.cpu.microarchitecture_level
    if level is None:
        return [("C", Reason("cpu_level_unknown", "processor x86-64 level unknown"))]
    if level == "x86-64":
        return [("C", Reason("cpu_x86_64_v1",
                             "processor is x86-64 level 1 (no SSE4.2/POPCNT)"))]
    if level == "x86-64-v2":
        return [("B", Reason("cpu_x86_64_v2", "processor is x86-64 level 2"))]
    return []


def _disks(machine: Machine) -> list[tuple[str, Reason]]:
    kept = machine.targets()
    if not kept:
        return [("C", Reason("no_disk", "no internal disk to install a system on"))]
    limits: list[tuple[str, Reason]] = []
    for disk in kept:
        name = disk.path
        if disk.smart_health == "failed":
            limits.append(("C", Reason("smart_failed", f"{name}: SMART verdict failed")))
        bad = sum(count or 0 for count in (disk.reallocated_sectors, disk.pending_sectors,
                                           disk.uncorrectable_sectors))
        if bad:
            limits.append(("B", Reason("bad_sectors",
                                       f"{name}: {bad} reallocated/pending/uncorrectable sectors")))
        wear = disk.wear_percent_used
        if wear is not None and wear >= 70:
            limits.append(("C" if wear >= 90 else "B",
                           Reason("ssd_worn", f"{name}: {wear} % of rated endurance used")))
    if all(disk.rotational for disk in kept):
        limits.append(("B", Reason("hard_disk_only", "only spinning hard disks")))
    return limits


def _batteries(machine: Machine) -> list[tuple[str, Reason]]:
    limits: list[tuple[str, Reason]] = []
    for battery in machine.peripherals.batteries:
        health = battery.health_percent
        if health is not None and health < 80:
            limits.append(("C" if health < 50 else "B", Reason(
                "battery_worn", f"battery {battery.name}: {health:.0f} % of design capacity")))
    return limits


def _disk_speed(machine: Machine, benchmarks: dict[str, Any] | None) -> list[tuple[str, Reason]]:
    kept = {disk.path for disk in machine.targets()}
    limits: list[tuple[str, Reason]] = []
    for measured in (benchmarks or {}).get("disks", []):
        speed = measured.get("read_bytes_per_second", 0)
        if measured.get("result") == "measured" and measured.get("path") in kept and (
                speed < SLOW_DISK_BYTES_PER_SECOND):
            limits.append(("B", Reason("slow_disk",
                                       f"{measured['path']}: reads {speed / 1e6:.0f} MB/s")))
    return limits
