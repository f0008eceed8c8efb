"""The grade's rule table and the outcome (agent/report/grade.py, docs/grading.md section 7)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from agent.health import battery as battery_check
from agent.health import cpu_load, disk, guided, memory, platform
from agent.i18n import set_language
from agent.inventory.battery import Battery
from agent.inventory.dmi_memory import InstalledMemory
from agent.inventory.model import KEPT_BY_CHOICE, Disk, Exclusion, Machine
from agent.inventory.peripherals import Peripherals
from agent.report import grade as table
from agent.report.grade import Grade, decide_outcome, grade_machine
from agent.wipe.jobs import WipeResult
from tests.helpers import sample_disk, sample_machine

GIB = 1 << 30
SSD = dataclasses.replace(sample_disk("/dev/nvme0n1", "N1", "nvme"), rotational=False)
SECOND_SSD = dataclasses.replace(sample_disk("/dev/sda", "S2", "sata"), rotational=False)


def machine(memory_gib: float = 16, level: str | None = "x86-64-v3",
            disks: tuple[Disk, ...] = (SSD,), **changes: Any) -> Machine:
    base = sample_machine(disks=disks)
    return dataclasses.replace(
        base, memory=InstalledMemory(int(memory_gib * GIB), (), None, None, "meminfo"),
        cpu=dataclasses.replace(base.cpu, microarchitecture_level=level), **changes)


def check(name: str, subject: str, verdict: str = "pass", code: str | None = None,
          **values: Any) -> dict[str, Any]:
    finding = {"code": code or f"{name}_{verdict}", "verdict": verdict,
               "text": f"{subject}: {name} {verdict}", "message": "{part}: said so",
               "threshold": None, "values": {"part": subject, **values}}
    return {"check": name, "subject": subject, "verdict": verdict, "findings": [finding],
            "measured": {}, "seconds": 1.0, "operator": None, "evidence": []}


def healthy(of: Machine, *changed: dict[str, Any], leave_out: tuple[str, ...] = ()) -> dict:
    """Every automatic check of `of` passed, but those `changed` and those named in
    `leave_out` ("check" or "check subject")."""
    checks = [check(name, item.path) for item in of.disks for name in (disk.SMART_CHECK,
                                                                      disk.SELF_TEST_CHECK)]
    checks += [check(cpu_load.CHECK, cpu_load.SUBJECT), check(memory.CHECK, memory.SUBJECT),
               check(platform.CHECK, platform.SUBJECT)]
    if of.peripherals.batteries:
        checks.append(check(battery_check.CHECK, battery_check.SUBJECT))
    replaced = {(item["check"], item["subject"]): item for item in changed}
    checks = [replaced.pop((item["check"], item["subject"]), item) for item in checks]
    checks = [item for item in [*checks, *replaced.values()]
              if item["check"] not in leave_out
              and f"{item['check']} {item['subject']}" not in leave_out]
    return {"verdict": "pass", "checks": checks}


def graded(of: Machine, health: dict | None = None,
           benchmarks: dict[str, Any] | None = None) -> Grade:
    return grade_machine(of, benchmarks, healthy(of) if health is None else health)


def codes(of: Machine, health: dict | None = None,
          benchmarks: dict[str, Any] | None = None) -> tuple[str, list[str]]:
    grade = graded(of, health, benchmarks)
    return grade.value, [reason.code for reason in grade.reasons]


def battery(health: float) -> Peripherals:
    return Peripherals((), (), (Battery("BAT0", "LGC", None, None, "Li-ion", "Full", 50.0,
                                        50.0 * health / 100, health, 300),), (), (), ())


def test_a_recent_machine_whose_checks_all_passed_is_a_f4_p1() -> None:
    grade = graded(machine())
    assert (grade.value, grade.functional, grade.performance, grade.battery, grade.reasons) == (
        "A", "F4", "P1", "none", ())
    assert grade.to_json() == {"value": "A", "reasons": [], "rules": "grade/2",
                               "functional": "F4", "performance": "P1", "battery": "none",
                               "cosmetic": None}


def test_without_health_checks_nothing_counts_as_tested() -> None:
    grade = grade_machine(machine())
    assert (grade.value, grade.functional) == ("C", "F0")
    [reason] = grade.reasons
    assert (reason.code, reason.part, reason.label) == ("functions_not_tested", "functional", "C")
    assert reason.text == "not tested: the processor, the memory, /dev/nvme0n1"


def test_memory_thresholds() -> None:
    assert codes(machine(memory_gib=7.8)) == ("A", [])  # 8 GiB less what the firmware keeps
    assert codes(machine(memory_gib=6)) == ("B", ["memory_under_8_gib"])
    assert codes(machine(memory_gib=3)) == ("C", ["memory_under_4_gib"])
    assert codes(machine(memory_gib=1)) == ("D", ["memory_under_2_gib"])
    assert graded(machine(memory_gib=1)).performance == "P4"
    assert graded(machine(memory_gib=3)).performance == "P3"


def test_processor_levels() -> None:
    assert codes(machine(level="x86-64-v4")) == ("A", [])
    assert codes(machine(level="x86-64-v2")) == ("B", ["cpu_x86_64_v2"])
    assert codes(machine(level="x86-64")) == ("C", ["cpu_x86_64_v1"])
    assert codes(machine(level=None)) == ("C", ["cpu_level_unknown"])


def test_disk_kinds_and_speed() -> None:
    assert codes(machine(disks=(sample_disk(),))) == ("B", ["hard_disk_only"])
    slow = {"disks": [{"path": SSD.path, "result": "measured", "read_bytes_per_second": 3e7}]}
    assert codes(machine(), benchmarks=slow) == ("B", ["slow_disk"])
    assert graded(machine(), benchmarks=slow).performance == "P2"


def test_a_key_function_that_fails_is_f1() -> None:
    of = machine()
    only_disk = graded(of, healthy(of, check(disk.SELF_TEST_CHECK, SSD.path, "fail")))
    assert (only_disk.value, only_disk.functional) == ("C", "F1")
    assert [reason.code for reason in only_disk.reasons] == ["disk_self_test_fail"]
    bad_memory = graded(of, healthy(of, check(memory.CHECK, memory.SUBJECT, "fail",
                                              "memory_errors")))
    assert (bad_memory.functional, bad_memory.reasons[0].code) == ("F1", "memory_errors")
    assert graded(of, healthy(of, check(cpu_load.CHECK, cpu_load.SUBJECT, "fail"))
                  ).functional == "F1"
    nothing = graded(machine(disks=()), {"verdict": "pass", "checks": [
        check(cpu_load.CHECK, cpu_load.SUBJECT), check(memory.CHECK, memory.SUBJECT)]})
    assert (nothing.functional, [reason.code for reason in nothing.reasons]) == ("F1", ["no_disk"])


def test_another_function_that_fails_is_f2() -> None:
    of = machine(disks=(SSD, SECOND_SSD))
    one_disk = graded(of, healthy(of, check(disk.SMART_CHECK, SECOND_SSD.path, "fail",
                                            "ata_pending_sectors")))
    assert (one_disk.value, one_disk.functional) == ("C", "F2")
    assert [(reason.code, reason.label) for reason in one_disk.reasons] == [
        ("ata_pending_sectors", "C")]
    with_battery = machine(peripherals=battery(95))
    dead = graded(with_battery, healthy(with_battery, check(
        battery_check.CHECK, battery_check.SUBJECT, "fail", "battery_runtime_short")))
    assert (dead.functional, dead.reasons[0].code) == ("F2", "battery_runtime_short")


def test_checks_not_done_leave_it_at_f3_and_a_stick_or_a_disk_out_is_not_counted() -> None:
    of = machine(peripherals=battery(95))
    untested = graded(of, healthy(of, leave_out=(disk.SELF_TEST_CHECK, battery_check.CHECK)))
    assert (untested.value, untested.functional) == ("B", "F3")
    assert untested.reasons[0].text == (
        "key functions work; not fully tested: /dev/nvme0n1, the battery")
    stick = dataclasses.replace(sample_disk("/dev/sdb", "USB", "usb"), smart_health="failed")
    with_stick = machine(disks=(SSD, stick),
                         exclusions=(Exclusion("/dev/sdb", "boot_device", "the stick"),))
    assert codes(with_stick, healthy(machine())) == ("A", [])
    # A disk kept by choice stays in the machine: it counts.
    kept = machine(disks=(SSD, SECOND_SSD), exclusions=(
        Exclusion(SECOND_SSD.path, KEPT_BY_CHOICE, "kept"),))
    assert graded(kept, healthy(machine())).functional == "F0"


def test_without_a_health_section_the_inventorys_smart_verdict_still_counts() -> None:
    failing = dataclasses.replace(SSD, smart_health="failed")
    grade = grade_machine(machine(disks=(failing,)))
    assert (grade.functional, grade.reasons[0].code) == ("F1", "smart_failed")


def test_warnings_and_locks() -> None:
    of = machine()
    warned = graded(of, healthy(of, check(disk.SMART_CHECK, SSD.path, "warn",
                                          "power_on_hours_high")))
    assert (warned.value, warned.functional) == ("B", "F4")
    assert [(reason.code, reason.part) for reason in warned.reasons] == [
        ("power_on_hours_high", "wear")]
    locked = graded(of, healthy(of, check(platform.CHECK, platform.SUBJECT, "fail",
                                          "firmware_admin_password")))
    assert (locked.value, locked.functional, locked.reasons[0].part) == ("C", "F4", "locks")
    advice = graded(of, healthy(of, check(platform.CHECK, platform.SUBJECT, "warn",
                                          "secure_boot_off")))
    assert (advice.value, advice.reasons) == ("A", ())


@pytest.mark.parametrize(("percent", "band", "label", "reasons"), [
    (95, "A", "A", []), (70, "B", "B", ["battery_worn"]), (40, "C", "C", ["battery_worn"]),
    (20, "D", "C", ["battery_worn_out"])])
def test_battery_bands(percent: float, band: str, label: str, reasons: list[str]) -> None:
    of = machine(peripherals=battery(percent))
    verdict = "fail" if percent < 30 else "warn" if percent < 80 else "pass"
    code = {"fail": "battery_worn_out", "warn": "battery_worn", "pass": None}[verdict]
    grade = graded(of, healthy(of, check(battery_check.CHECK, battery_check.SUBJECT, verdict,
                                         code)))
    # The battery check's wear finding and the band say the same: it is a reason once.
    assert (grade.battery, grade.value, [reason.code for reason in grade.reasons]) == (
        band, label, reasons)


def test_the_worst_rule_decides_and_comes_first_with_the_letter_it_allows() -> None:
    grade = graded(machine(memory_gib=1, level="x86-64-v2", disks=(sample_disk(),)))
    assert grade.value == "D" and grade.reasons[0].code == "memory_under_2_gib"
    assert [reason.label for reason in grade.reasons] == ["D", "B", "B"]
    assert grade.reasons[0].to_json() == {"code": "memory_under_2_gib",
                                          "text": "1.0 GiB of memory, under 2 GiB",
                                          "part": "performance", "label": "D"}


def test_the_tables_check_names_are_the_checks_own() -> None:
    assert (table.SMART, table.SELF_TEST, table.CPU, table.MEMORY, table.BATTERY_CHECK,
            table.PLATFORM) == (disk.SMART_CHECK, disk.SELF_TEST_CHECK, cpu_load.CHECK,
                                memory.CHECK, battery_check.CHECK, platform.CHECK)
    assert table.GUIDED == guided.GUIDED_CHECKS and table.APPEARANCE == guided.APPEARANCE
    assert tuple(table.COSMETIC_LABELS) == guided.COSMETIC_CODES


def answered(name: str, verdict: str = "pass", cosmetic: str | None = None) -> dict[str, Any]:
    result = check(name, guided.SUBJECTS[name], verdict)
    if verdict == "pass":
        result["findings"] = []
    if cosmetic is not None:
        result["measured"] = {"cosmetic": cosmetic}
    result["operator"] = "Atelier Lyon"
    return result


def every_guided_check(*changed: dict[str, Any]) -> list[dict[str, Any]]:
    replaced = {item["check"]: item for item in changed}
    return [replaced.get(name) or answered(name, cosmetic="C1" if name == guided.APPEARANCE
                                           else None) for name in guided.GUIDED_CHECKS]


def test_guided_checks_all_answered_make_f5_and_a_skip_leaves_f4() -> None:
    of = machine()
    full = graded(of, healthy(of, *every_guided_check()))
    assert (full.value, full.functional, full.cosmetic, full.reasons) == ("A", "F5", "C1", ())
    # No camera is nothing against the machine: not_present counts as looked at.
    no_camera = graded(of, healthy(of, *every_guided_check(answered(guided.CAMERA,
                                                                    "not_present"))))
    assert no_camera.functional == "F5"
    skipped = graded(of, healthy(of, *every_guided_check(answered(guided.SOUND, "skipped"))))
    assert (skipped.value, skipped.functional, skipped.reasons) == ("A", "F4", ())
    # The guided checks do not make up for an automatic one not done.
    untested = graded(of, healthy(of, *every_guided_check(), leave_out=(memory.CHECK,)))
    assert untested.functional == "F0"


def test_a_guided_check_that_fails_is_a_function_that_fails() -> None:
    of = machine()
    grade = graded(of, healthy(of, *every_guided_check(answered(guided.KEYBOARD, "fail"))))
    assert (grade.value, grade.functional) == ("C", "F2")
    [reason] = grade.reasons
    assert (reason.code, reason.part, reason.label) == ("keyboard_fail", "functional", "C")


@pytest.mark.parametrize(("code", "label"), [("C1", "A"), ("C2", "A"), ("C3", "B"),
                                             ("C4", "C"), ("C5", "C")])
def test_the_cosmetic_code_limits_the_label(code: str, label: str) -> None:
    of = machine()
    grade = graded(of, healthy(of, *every_guided_check(answered(guided.APPEARANCE,
                                                                cosmetic=code))))
    assert (grade.value, grade.cosmetic, grade.functional) == (label, code, "F5")
    assert [(reason.code, reason.part, reason.label) for reason in grade.reasons] == (
        [] if label == "A" else [("cosmetic_wear", "cosmetic", label)])


def test_an_appearance_skipped_or_unknown_gives_no_cosmetic_code() -> None:
    of = machine()
    for appearance in (answered(guided.APPEARANCE, "skipped"),
                       answered(guided.APPEARANCE, cosmetic="C9")):
        grade = graded(of, healthy(of, appearance))
        assert (grade.cosmetic, grade.value) == (None, "A")


def result(state: str) -> WipeResult:
    return WipeResult("/dev/sda", "S", "M", "sata", 1, result=state)


def test_outcomes() -> None:
    good, weak = graded(machine()), graded(machine(memory_gib=1))
    assert decide_outcome(good, [result("erased")]).value == "reuse"
    assert decide_outcome(good, [result("erased_with_exceptions")]).value == "reuse"
    assert decide_outcome(weak, [result("erased")]).value == "recycle"
    refused = decide_outcome(good, [result("erased"), result("failed")])
    assert refused.value == "parts" and refused.reason.code == "disk_not_erased"
    assert "/dev/sda" in refused.reason.text
    assert decide_outcome(good, [result("skipped")]).value == "parts"


def test_the_parts_not_tested_are_said_in_the_screens_language() -> None:
    [reason] = grade_machine(machine()).reasons
    set_language("fr")
    try:
        said = reason.describe()
    finally:
        set_language("en")
    assert reason.text == "not tested: the processor, the memory, /dev/nvme0n1"
    assert "le processeur, la mémoire, /dev/nvme0n1" in said, said
