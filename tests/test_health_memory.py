"""The memory test: stressapptest's and memtester's outputs parsed, the size planned from
/proc/meminfo, the verdict rules driven by a scripted tester and clock, and short live runs of
both testers on this machine.

tests/fixtures/health/memory/SOURCE.md says where every output comes from. A scripted tester
plays a recorded output (`Played`); the few states no recorded output shows (a tester that
crashes, one that never ends, memtester unable to lock its memory...) are built from real
outputs, each marked "Built:" where it happens.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.health.memory import (
    ENGINES,
    MEMTESTER,
    MEMTESTER_TESTS,
    STRESSAPPTEST,
    MemInfo,
    copy_threads,
    memtester_command,
    parse_meminfo,
    parse_memtester,
    parse_stressapptest,
    plan_size,
    read_meminfo,
    render_terminal,
    run_memory_test,
    stressapptest_command,
)
from agent.health.model import FAIL, PASS, SKIPPED, WARN, CheckResult
from agent.runner import CommandNotFound, CommandRecord
from tests.helpers import FakeTime

MEMORY = Path(__file__).parent / "fixtures" / "health" / "memory"
MEMINFO = MEMORY / "this-machine-meminfo.txt"  # MemTotal 24731408 kB, MemAvailable 24108144 kB
TOTAL_MIB = 24731408 // 1024  # 24151
PLANNED_MIB = 24108144 // 1024 - 2416  # MemAvailable less 10 % of MemTotal: 21127

SAT_PASS = "this-machine-1.0.6-pass.log"  # -M 64 -s 3
SAT_13000M = "this-machine-1.0.6-13000M-pass.log"
SAT_FORCED = "this-machine-1.0.6-force-errors.log"
SAT_CRAZY = "this-machine-1.0.6-force-errors-like-crazy.log"
SAT_ALLOCATION = "this-machine-1.0.6-allocation-failed.log"
SAT_SIGINT = "this-machine-1.0.6-sigint.log"
SAT_SIGKILL = "this-machine-1.0.6-sigkill.log"
SAT_ISSUE_71 = "issue-71-ddr-miscompares.log"
SAT_ISSUE_53 = "issue-53-page-errors.log"
SAT_ISSUE_51 = "issue-51-physical-address-unknown.log"
SAT_ISSUE_117 = "issue-117-procedural-errors.log"
MT_PASS = "this-machine-4.6.0-16M-pass.txt"
MT_REDUCED = "this-machine-4.6.0-mlock-limit-reduced.txt"
MT_STOPPED = "this-machine-4.6.0-512M-stopped.txt"
MT_OCP = "ocp-4.6.0-with-faults.txt"


def sat(name: str) -> str:
    return (MEMORY / "stressapptest" / name).read_text()


def mt(name: str) -> str:
    return (MEMORY / "memtester" / name).read_text()


# --- stressapptest's log -------------------------------------------------------------------------


def test_a_passing_run_on_this_machine() -> None:
    report = parse_stressapptest(sat(SAT_PASS))
    assert (report.version, report.status, report.status_text) == (
        "1.0.6_autoconf", "PASS", "please verify no corrected errors")
    assert (report.tested_mib, report.incidents, report.procedural_errors) == (64, 0, 0)
    assert (report.copied_mib, report.copy_seconds, report.mib_per_second) == (
        72480.0, 5.0, 14494.9)
    assert (report.errors, report.faults, report.started, report.procedural) == (
        0, (), True, False)


def test_errors_injected_by_stressapptest_itself() -> None:
    report = parse_stressapptest(sat(SAT_FORCED))
    assert (report.status, report.status_text) == ("FAIL", "test discovered HW problems")
    assert (report.incidents, report.miscompare_lines, report.errors) == (2, 2, 2)
    assert [(fault.address, fault.kind, fault.read, fault.expected)
            for fault in report.faults] == [
        ("0xe7bcbc", "physical", "0x00000000000000ba", "0x0000000000000000"),
        ("0x1005705", "physical", "0x000000000000ba00", "0x0000000000000000")]


def test_a_flood_of_errors_is_counted_from_the_total_not_the_lines() -> None:
    report = parse_stressapptest(sat(SAT_CRAZY))
    # --max_errors 10: it ended early; it printed 30 page errors of its 98,304 incidents.
    assert (report.incidents, report.miscompare_lines, report.errors) == (98304, 30, 98304)
    assert len(report.faults) == 20  # the first ones only
    assert {fault.address for fault in report.faults} == {"0x108d5a0"}


def test_miscompares_of_a_board_in_the_field_without_the_summary() -> None:
    # stressapptest issue #71: the reporter pasted the errors, not the end of the log.
    report = parse_stressapptest(sat(SAT_ISSUE_71))
    assert (report.status, report.incidents, report.errors) == (None, None, 3)
    assert [fault.address for fault in report.faults] == ["0x711f0863", "0x711f086b",
                                                          "0x711f0873"]
    assert {fault.expected for fault in report.faults} == {"0x2000000020000000"}
    # The CRC mismatch that found nothing on a second look is not a memory error.
    assert report.started is False


def test_page_errors_count_as_miscompares() -> None:
    report = parse_stressapptest(sat(SAT_ISSUE_53))
    assert (report.status, report.errors) == ("FAIL", 2)
    assert [fault.address for fault in report.faults] == ["0x442715d000", "0x442715d008"]


def test_an_unknown_physical_address_gives_the_virtual_one() -> None:
    # stressapptest issue #51: the physical address printed as 0x0.
    report = parse_stressapptest(sat(SAT_ISSUE_51))
    assert [(fault.address, fault.kind) for fault in report.faults] == [
        ("0xb0629a60", "virtual"), ("0xb5548220", "virtual")]


def test_procedural_errors_are_the_tools_own() -> None:
    # stressapptest issue #117: too many threads for 100 MB; the reporter cut the log ("...").
    report = parse_stressapptest(sat(SAT_ISSUE_117))
    assert (report.procedural, report.errors, report.started) == (True, 0, True)
    assert report.tested_mib is None
    assert report.process_errors[0] == "copy_thread failed to pop pages, bailing"
    assert report.mib_per_second == 129.01


def test_an_allocation_that_failed_never_started() -> None:
    report = parse_stressapptest(sat(SAT_ALLOCATION))
    assert (report.started, report.procedural) == (False, True)
    assert "failed to allocate memory" in report.process_errors


def test_a_killed_run_has_no_result() -> None:
    report = parse_stressapptest(sat(SAT_SIGKILL))
    assert (report.tested_mib, report.status, report.errors) == (64, None, 0)


# --- memtester's output --------------------------------------------------------------------------


def test_memtester_passing_here_with_its_progress_drawn_away() -> None:
    text = mt(MT_PASS)
    assert "\b" in text
    shown = render_terminal(text)
    assert "\b" not in shown
    assert "  Stuck Address       : ok" in shown.splitlines()
    assert "  16-bit Writes       : ok" in shown.splitlines()
    report = parse_memtester(text)
    assert (report.version, report.wanted_bytes, report.tested_bytes, report.tested_mib) == (
        "4.6.0", 16 << 20, 16 << 20, 16)
    assert (report.locked, report.loops, report.done, report.errors) == (True, 1, True, 0)
    assert [test.name for test in report.tests] == list(MEMTESTER_TESTS)
    assert all(test.ok for test in report.tests)


def test_memtester_reduces_what_it_tests_until_it_can_lock_it() -> None:
    report = parse_memtester(mt(MT_REDUCED))
    assert (report.wanted_bytes, report.tested_bytes, report.locked) == (2 << 20, 1 << 20, True)
    assert len(report.completed) == len(MEMTESTER_TESTS)


def test_memtester_stopped_in_its_second_test() -> None:
    report = parse_memtester(mt(MT_STOPPED))
    assert report.completed == ["Stuck Address"]
    assert [(test.name, test.ok) for test in report.tests] == [("Stuck Address", True),
                                                                ("Random Value", False)]
    assert (report.done, report.tested_mib) == (False, 512)


def test_memtester_failures_with_their_offsets_and_tests() -> None:
    report = parse_memtester(mt(MT_OCP))
    assert (report.loops, report.done, report.tested_mib) == (3, True, 100)
    # Loop 1: Stuck Address 1, Random Value 9, Bit Flip 9; loop 2: Stuck Address 1, Bit Spread
    # 9, Walking Zeroes 9; loop 3: Stuck Address 1, Bit Flip 9.
    assert report.errors == 48
    failed = [(test.loop, test.name, test.failures) for test in report.tests if test.failures]
    assert failed == [(1, "Stuck Address", 1), (1, "Random Value", 9), (1, "Bit Flip", 9),
                      (2, "Stuck Address", 1), (2, "Bit Spread", 9), (2, "Walking Zeroes", 9),
                      (3, "Stuck Address", 1), (3, "Bit Flip", 9)]
    assert len(report.completed) == 3 * len(MEMTESTER_TESTS)
    first, second = report.faults[:2]
    assert (first.address, first.kind, first.test, first.read) == (
        "0x00000000000000a0", "offset", "Stuck Address", None)
    assert (second.address, second.test, second.read, second.expected) == (
        "0x00000000000000a0", "Random Value", "0xfc3bd78f7e7f585c", "0xfc3bd78f7e7f585c")


# --- How much, with what -------------------------------------------------------------------------


def test_the_plan_leaves_the_live_system_its_margin() -> None:
    info = read_meminfo(MEMINFO)
    assert info == MemInfo(24731408, 24108144)
    plan = plan_size(info)
    # 10 % of 24,151 MiB is more than 256 MiB.
    assert (plan.total_mib, plan.available_mib, plan.margin_mib, plan.test_mib) == (
        TOTAL_MIB, 23543, 2416, PLANNED_MIB)
    # A machine of 2 GB keeps 256 MiB; one with almost nothing free is tested on 64 MiB.
    assert plan_size(MemInfo(2_000_000, 1_500_000)).test_mib == 1464 - 256
    assert plan_size(MemInfo(262_144, 100_000)).test_mib == 64
    assert plan_size(info, mib=64).test_mib == 64


def test_meminfo_without_memavailable_and_without_sense() -> None:
    assert parse_meminfo("MemTotal: 1024000 kB\nMemFree: 512000 kB\n") == MemInfo(1024000,
                                                                                 512000)
    assert parse_meminfo("nothing here\n") is None
    assert read_meminfo(MEMORY / "no-such-file") is None


def test_the_commands() -> None:
    assert stressapptest_command(21127, 120, 2) == [
        "stressapptest", "-s", "120", "-M", "21127", "-m", "2", "-W", "--max_errors", "100"]
    assert memtester_command(21127) == ["memtester", "21127M", "1"]
    with pytest.raises(ValueError):
        stressapptest_command(64, 0, 2)
    # One copy thread per processor, at most one per 4 MiB (stressapptest issue #117).
    assert (copy_threads(64, 2), copy_threads(64, 40), copy_threads(2, 8)) == (2, 16, 1)


# --- The verdict rules, on a scripted tester -----------------------------------------------------


@dataclass
class Played:
    """What a scripted tester prints and how it ends: by itself after `seconds` (never when
    None), or when stopped, then printing `stopped_output` if given."""

    output: str
    returncode: int = 0
    seconds: float | None = 10.0
    stopped_output: str | None = None
    stopped_returncode: int = 0


class ScriptedProcess:
    def __init__(self, time: FakeTime, argv: Sequence[str], played: Played) -> None:
        self.time, self.argv, self.played = time, tuple(argv), played
        self.started = time.now
        self.ended_at: float | None = None
        self.stopped_at: float | None = None

    def poll(self) -> int | None:
        seconds = self.played.seconds
        if self.ended_at is None and seconds is not None and \
                self.time.now - self.started >= seconds:
            self.ended_at = self.started + seconds
        if self.ended_at is None:
            return None
        return self.played.returncode if self.stopped_at is None else \
            self.played.stopped_returncode

    def stop(self) -> None:
        if self.poll() is None:
            self.stopped_at = self.ended_at = self.time.now

    def finish(self) -> CommandRecord:
        assert self.ended_at is not None, "finish() before the tester ended"
        stopped = self.stopped_at is not None
        output = (self.played.stopped_output or self.played.output) if stopped else \
            self.played.output
        returncode = self.played.stopped_returncode if stopped else self.played.returncode
        return CommandRecord(self.argv, returncode, output, "", self.ended_at - self.started)


class ScriptedTester:
    def __init__(self, time: FakeTime, played: dict[str, Played]) -> None:
        self.time, self.played = time, played
        self.processes: list[ScriptedProcess] = []

    def __call__(self, argv: Sequence[str]) -> ScriptedProcess:
        if argv[0] not in self.played:
            raise CommandNotFound(argv[0])
        process = ScriptedProcess(self.time, argv, self.played[argv[0]])
        self.processes.append(process)
        return process


def memory_run(played: dict[str, Played], *, cancel_at: float | None = None,
               cancelled: bool = False, meminfo: Path = MEMINFO,
               engines: Sequence[str] = ENGINES) -> tuple[CheckResult, ScriptedTester]:
    time = FakeTime()
    tester = ScriptedTester(time, played)
    cancel = threading.Event()
    if cancelled:
        cancel.set()
    if cancel_at is not None:
        time.ticks.append(lambda now: cancel.set() if tester.processes
                          and now - tester.processes[0].started >= cancel_at else None)
    result = run_memory_test(tester, seconds=120, engines=engines, processors=2,
                             meminfo_path=meminfo, clock=time.clock, sleep=time.sleep,
                             cancel=cancel)
    return result, tester


def codes(result: CheckResult) -> list[str]:
    return [finding.code for finding in result.findings]


def test_a_memory_without_errors_over_more_than_half_the_ram_passes() -> None:
    result, tester = memory_run({STRESSAPPTEST: Played(sat(SAT_13000M), seconds=10)})
    assert (result.check, result.subject, result.verdict, result.findings) == (
        "memory", "ram", PASS, ())
    measured = result.measured
    assert (measured["engine"], measured["version"], measured["missing"]) == (
        "stressapptest", "1.0.6_autoconf", [])
    assert measured["command"] == ["stressapptest", "-s", "120", "-M", str(PLANNED_MIB), "-m",
                                   "2", "-W", "--max_errors", "100"]
    assert (measured["mem_total_mib"], measured["planned_mib"], measured["margin_mib"]) == (
        TOTAL_MIB, PLANNED_MIB, 2416)
    # What the tester says it tested counts, not what was asked: 13,000 MiB of 24,151.
    assert (measured["tested_mib"], measured["coverage_percent"]) == (13000, 53.8)
    assert (measured["ran_seconds"], measured["stopped"], measured["exit_status"]) == (
        10.0, None, 0)
    assert (measured["errors"], measured["mib_per_second"]) == (0, 14976.5)
    assert measured["stressapptest"]["status"] == "PASS"
    (record,) = result.evidence
    assert record.argv == tuple(tester.processes[0].argv)
    assert "Status: PASS" in record.stdout
    assert result.seconds == 10.0
    assert tester.processes[0].stopped_at is None


def test_memory_errors_fail_with_their_count_and_first_addresses() -> None:
    result, _tester = memory_run({STRESSAPPTEST: Played(sat(SAT_FORCED), returncode=1)})
    assert result.verdict == FAIL
    assert codes(result) == ["memory_errors", "memory_low_coverage"]
    errors = result.findings[0]
    assert (errors.verdict, errors.threshold) == (FAIL, "memory_errors_fail_at_1")
    assert dict(errors.values) == {"engine": "stressapptest", "count": 2,
                                   "addresses": "0xe7bcbc, 0x1005705"}
    assert errors.text == "Memory errors found by stressapptest: 2 (first at 0xe7bcbc, 0x1005705)"
    assert [item["address"] for item in result.measured["error_addresses"]] == [
        "0xe7bcbc", "0x1005705"]


def test_the_same_address_is_named_once() -> None:
    result, _tester = memory_run({STRESSAPPTEST: Played(sat(SAT_CRAZY), returncode=1)})
    errors = result.findings[0]
    assert errors.text == "Memory errors found by stressapptest: 98304 (first at 0x108d5a0)"


def test_miscompares_under_a_pass_status_still_fail() -> None:
    # Built: stressapptest issue #56 reports "Hardware Error: miscompare" lines under "Status:
    # PASS" without the lines themselves; here the two lines of the forced-error log are put
    # into the passing log of the same machine.
    forced = [line for line in sat(SAT_FORCED).splitlines() if "Hardware Error" in line]
    lines = sat(SAT_13000M).splitlines()
    at = next(index for index, line in enumerate(lines) if line.startswith("Log: Region mask"))
    text = "\n".join([*lines[:at + 1], *forced, *lines[at + 1:]]) + "\n"
    result, _tester = memory_run({STRESSAPPTEST: Played(text)})
    assert (result.verdict, codes(result)) == (FAIL, ["memory_errors"])
    assert dict(result.findings[0].values)["count"] == 2


def test_memtester_stands_in_and_its_failures_fail() -> None:
    result, tester = memory_run({MEMTESTER: Played(mt(MT_OCP), returncode=0x02 | 0x04)})
    assert [process.argv for process in tester.processes] == [
        ("memtester", f"{PLANNED_MIB}M", "1")]
    assert result.measured["missing"] == ["stressapptest"]
    assert (result.verdict, codes(result)) == (FAIL, ["memory_errors", "memory_low_coverage"])
    assert result.findings[0].text == (
        "Memory errors found by memtester: 48 (first at offsets 0x00000000000000a0, "
        "0x00000000000000a8, 0x00000000000000b0 of the memory tested)")
    assert (result.measured["tested_mib"], result.measured["version"]) == (100, "4.6.0")
    assert result.measured["memtester"]["tests_completed"] == 54
    # What the evidence keeps is the output as a terminal shows it.
    (record,) = result.evidence
    assert record.stdout == mt(MT_OCP)  # the scripted tester gives it as it was recorded


def test_a_killed_tester_warns_with_the_signal() -> None:
    result, _tester = memory_run({STRESSAPPTEST: Played(sat(SAT_SIGKILL), returncode=-9,
                                                        seconds=3)})
    assert (result.verdict, codes(result)) == (WARN, ["memory_test_killed",
                                                      "memory_low_coverage"])
    killed = result.findings[0]
    assert dict(killed.values) == {"engine": "stressapptest", "signal": "SIGKILL"}
    assert killed.text.startswith("stressapptest was killed by SIGKILL before the end of its")


def test_a_crashed_tester_warns() -> None:
    # Built: no output of a stressapptest that crashed was found; the killed run's output is
    # played with a segmentation fault's status.
    result, _tester = memory_run({STRESSAPPTEST: Played(sat(SAT_SIGKILL), returncode=-11)})
    assert codes(result)[0] == "memory_test_crashed"
    assert dict(result.findings[0].values)["signal"] == "SIGSEGV"


def test_no_tester_installed_skips() -> None:
    result, tester = memory_run({})
    (finding,) = result.findings
    assert (result.verdict, finding.code) == (SKIPPED, "memory_test_tool_missing")
    assert result.measured["missing"] == ["stressapptest", "memtester"]
    assert (tester.processes, result.evidence) == ([], ())
    assert result.measured["planned_mib"] == PLANNED_MIB


def test_a_small_share_of_the_ram_warns() -> None:
    result, _tester = memory_run({STRESSAPPTEST: Played(sat(SAT_PASS), seconds=5)})
    (finding,) = result.findings
    assert (result.verdict, finding.code, finding.threshold) == (
        WARN, "memory_low_coverage", "memory_coverage_warn_below_50_percent")
    assert finding.text == ("The test covered only 0.3 % of the RAM (64 of 24151 MiB; warning "
                            "below 50 %)")
    assert result.measured["coverage_percent"] == 0.3


def test_a_cancel_stops_the_test_and_skips() -> None:
    result, tester = memory_run({STRESSAPPTEST: Played(sat(SAT_13000M), seconds=130,
                                                       stopped_output=sat(SAT_SIGINT))},
                                cancel_at=30)
    (finding,) = result.findings
    assert (result.verdict, finding.code) == (SKIPPED, "memory_test_cancelled")
    assert tester.processes[0].stopped_at == tester.processes[0].started + 30
    assert result.measured["stopped"] == "cancelled"
    (record,) = result.evidence
    assert "User exiting early" in record.stdout


def test_a_cancel_before_the_start_starts_nothing() -> None:
    result, tester = memory_run({STRESSAPPTEST: Played(sat(SAT_PASS))}, cancelled=True)
    assert (result.verdict, codes(result), tester.processes) == (
        SKIPPED, ["memory_test_cancelled"], [])


def test_a_tester_that_does_not_end_is_stopped_and_warns() -> None:
    # Built: the run never ends by itself; stopped, it prints the log of a real SIGINT stop.
    result, tester = memory_run({STRESSAPPTEST: Played(sat(SAT_PASS), seconds=None,
                                                       stopped_output=sat(SAT_SIGINT))})
    # 120 s, plus 60 s, plus 5 s for each of the 21 GiB planned.
    limit = 120 + 60 + 5 * 21
    assert tester.processes[0].stopped_at == tester.processes[0].started + limit
    assert codes(result) == ["memory_test_overrun", "memory_low_coverage"]
    assert dict(result.findings[0].values) == {"engine": "stressapptest", "limit": limit}
    assert result.measured["stopped"] == "overrun"


def test_a_tester_that_could_not_start_skips() -> None:
    result, _tester = memory_run({STRESSAPPTEST: Played(sat(SAT_ALLOCATION), returncode=1,
                                                        seconds=0.1)})
    (finding,) = result.findings
    assert (result.verdict, finding.code, dict(finding.values)) == (
        SKIPPED, "memory_test_not_run", {"engine": "stressapptest", "status": 1})
    assert result.measured["stressapptest"]["process_errors"][1] == "failed to allocate memory"


def test_procedural_errors_warn() -> None:
    result, _tester = memory_run({STRESSAPPTEST: Played(sat(SAT_ISSUE_117), returncode=1)})
    (finding,) = result.findings
    assert (result.verdict, finding.code) == (WARN, "memory_test_procedural_errors")
    assert result.measured["coverage_percent"] is None  # the log says not how much


def test_memtester_stopped_at_the_time_bound_is_judged_on_its_completed_tests() -> None:
    result, tester = memory_run({MEMTESTER: Played(mt(MT_STOPPED), seconds=None,
                                                   stopped_returncode=-2)})
    assert tester.processes[0].stopped_at == tester.processes[0].started + 120
    assert (result.verdict, codes(result)) == (WARN, ["memory_low_coverage"])
    assert result.measured["stopped"] == "time_limit"
    assert result.measured["memtester"]["tests_completed"] == 1


def test_memtester_that_completed_no_test_skips() -> None:
    # Built: the stopped run's own output cut after "Loop 1/1:", as it stood before its first
    # test ended.
    text = mt(MT_STOPPED)
    text = text[:text.index("Loop 1/1:\n") + len("Loop 1/1:\n")]
    result, _tester = memory_run({MEMTESTER: Played(text, seconds=None,
                                                   stopped_returncode=-2)})
    (finding,) = result.findings
    assert (result.verdict, finding.code) == (SKIPPED, "memory_test_incomplete")
    assert finding.text == "memtester completed no test within 120 s: the memory was not tested"


def test_memtester_passing_here_warns_only_for_its_share() -> None:
    result, _tester = memory_run({MEMTESTER: Played(mt(MT_PASS), seconds=3.4)})
    assert (result.verdict, codes(result)) == (WARN, ["memory_low_coverage"])
    assert result.measured["tested_mib"] == 16
    assert result.measured["mib_per_second"] is None  # memtester gives no rate


def test_memtester_on_unlocked_memory_warns() -> None:
    # Built: memtester.c's words when mlock fails for another reason, in the passing output.
    text = mt(MT_PASS).replace(
        "trying mlock ...locked.\n",
        "trying mlock ...failed for unknown reason.\nContinuing with unlocked memory; testing "
        "will be slower and less reliable.\n")
    result, _tester = memory_run({MEMTESTER: Played(text, seconds=3.4)})
    assert codes(result) == ["memory_test_unlocked", "memory_low_coverage"]


def test_memtester_errors_only_in_its_exit_status_fail() -> None:
    # Built: the passing output with the exit status of "an error during one of the other
    # tests" (memtester(8), EXIT CODE).
    result, _tester = memory_run({MEMTESTER: Played(mt(MT_PASS), returncode=0x04)})
    assert result.verdict == FAIL
    assert result.findings[0].text == ("memtester reports memory errors (exit status 4), but "
                                       "its output does not say where")


def test_memory_that_cannot_be_measured_skips(tmp_path: Path) -> None:
    result, tester = memory_run({STRESSAPPTEST: Played(sat(SAT_PASS))},
                                meminfo=tmp_path / "meminfo")
    (finding,) = result.findings
    assert (result.verdict, finding.code, tester.processes) == (
        SKIPPED, "memory_size_unknown", [])


def test_an_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError):
        run_memory_test(engines=("memtest86",))


# --- Live: the real testers on this machine, on a small region -----------------------------------


def this_machine() -> MemInfo:
    info = read_meminfo()
    assert info is not None
    return info


def test_the_real_stressapptest_on_this_machine() -> None:
    result = run_memory_test(seconds=3, mib=64)
    (record,) = result.evidence
    assert record.argv[:5] == ("stressapptest", "-s", "3", "-M", "64"), result.measured
    assert record.returncode == 0, record.stdout
    measured = result.measured
    assert (measured["engine"], measured["stressapptest"]["status"]) == ("stressapptest", "PASS")
    assert measured["version"].startswith("1.0.")
    assert (measured["tested_mib"], measured["errors"]) == (64, 0)
    total_kib = this_machine().total_kib
    assert measured["mem_total_mib"] == total_kib // 1024
    assert measured["coverage_percent"] == round((64 << 20) / (total_kib * 1024) * 100, 1)
    assert measured["mib_per_second"] > 0
    assert 3 <= measured["ran_seconds"] < measured["limit_seconds"]
    if measured["coverage_percent"] < 50:
        assert (result.verdict, codes(result)) == (WARN, ["memory_low_coverage"])
    else:
        assert (result.verdict, codes(result)) == (PASS, [])


def test_the_real_memtester_on_this_machine() -> None:
    result = run_memory_test(seconds=60, mib=8, engines=(MEMTESTER,))
    (record,) = result.evidence
    assert record.argv == ("memtester", "8M", "1")
    assert record.returncode == 0, record.stdout
    assert "\b" not in record.stdout  # kept as a terminal shows it
    report = result.measured["memtester"]
    assert (report["tested_bytes"], report["done"], report["failure_lines"]) == (8 << 20, True, 0)
    assert report["tests_completed"] == len(MEMTESTER_TESTS)
    if os.geteuid() == 0:
        assert report["locked"] is True
    assert (result.measured["stopped"], result.measured["errors"]) == (None, 0)
    assert result.verdict in (PASS, WARN)
    assert set(codes(result)) <= {"memory_low_coverage"}
