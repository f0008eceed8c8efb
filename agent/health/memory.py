"""The memory (RAM): a userspace test over nearly all the memory the live system leaves free,
bounded in time, with the share of the RAM it covered stated in the result.

`run_memory_test` reads how much memory the machine has and how much is free (/proc/meminfo),
tests what is free less a safety margin with `stressapptest -s SECONDS -M MIB -m THREADS -W
--max_errors 100` (memtester when stressapptest is missing), stops it at the time bound, and reads
its log: the memory errors it found with their addresses, how much it tested, its version and its
throughput. The thresholds below judge it; docs/grading.md says where each one comes from.

A userspace test cannot reach the memory the kernel and the live system hold, and it tests for
minutes, not hours: the deeper test is memtest86+ from the stick's boot menu (not built yet).
"""

from __future__ import annotations

import math
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.health.background import BackgroundCommand, LoadProcess, LoadStarter
from agent.health.model import FAIL, SKIPPED, WARN, CheckResult, Finding, verdict_of
from agent.i18n import N_
from agent.runner import CommandNotFound, CommandRecord

# Goes with every result, so a report says which set of rules judged the memory.
RULES_VERSION = "memory/1"
CHECK = "memory"
SUBJECT = "ram"

STRESSAPPTEST = "stressapptest"
MEMTESTER = "memtester"
# The engine tried first, then the fallback. stressapptest by default: its copy threads sweep the
# whole region many times a minute and check every word as it is copied (README "Detailed
# Design"; 15 GB/s on the 2-processor x86-64 machine the fixtures were recorded on), and it ends
# itself at its time bound with a summary, so a run of two minutes covers the whole region again
# and again. memtester runs fixed patterns over its region one after the other: on the same
# machine one loop over 16 MiB took 3.4 s (about 5 MiB/s), so over gigabytes a time-bounded run
# completes only its first patterns. memtester's README ("About the Tests") aims them at bits
# stuck high or low, flaky bits and bits that depend on their neighbours; stressapptest's README
# says it is good at signal integrity, memory controller and bus faults and "moderately good at
# catching bad memory cells". No published comparison of how many faults each finds per minute
# was found: the order is this project's choice, for coverage within the time.
ENGINES = (STRESSAPPTEST, MEMTESTER)

# --- Thresholds ----------------------------------------------------------------------------------
#
# A memory fault corrupts whatever passes through the bad cells: files being saved, the system
# itself. A memory tester reports only what it read back wrong, so any error is a real fault.

# Any memory error (a miscompare: a word read back different from what was written) fails.
ERRORS_FAIL_AT = 1
# Below half of the RAM tested, the result says little about the rest: warn ("covered only N %").
# A choice, no source gives a level: a machine whose free memory, less the margin below, is under
# half of its RAM has little RAM or something holding much of it, and the volunteer should know
# the test was partial.
COVERAGE_WARN_BELOW_PERCENT = 50

# --- How much, how long --------------------------------------------------------------------------

# The live system keeps everything it writes in RAM (systemd.volatile=overlay, mkosi.conf) and
# pages its programs in from the stick; the agent, its screen and the report it builds need room
# while the test runs: leave 256 MiB or 10 % of MemTotal, whichever is larger. MemAvailable is the
# kernel's estimate of what can be taken without swapping (Documentation/filesystems/proc.rst)
# and counts page cache the live system may need again; the image sets up no swap, so memory
# taken past it ends with the kernel's out-of-memory killer choosing a process to kill. MAAS's
# commissioning memtester (canonical/maas,
# src/metadataserver/builtin_scripts/testing_scripts/memtester.sh), which also runs from a system
# in RAM, reserves max(0.77 % of MemTotal, min_free_kbytes + 10 MiB) of MemFree "so the test
# doesn't fail due to the OOM killer"; this project leaves more because the agent, a Python
# process with a screen, runs beside the test and grows while it runs.
MARGIN_MIB = 256
MARGIN_SHARE = 0.10
# Never test less than this, whatever the estimate says: smaller is not a memory test.
MIN_TEST_MIB = 64

# How long. stressapptest's own default is 20 s (src/sat.cc, runtime_seconds_ = 20); MAAS's
# long memory test runs 12 hours. 120 s is this project's choice: stressapptest copied 15 GB/s on
# the machine the fixtures were recorded on, so even at a tenth of that a machine with 8 GiB has
# its whole tested region copied and checked about twenty times over; intermittent faults need
# longer, which is what memtest86+ from the boot menu is for. Adjustable per run.
DEFAULT_SECONDS = 120
# stressapptest fills every page before its copy threads start and checks every page after they
# stop, so it ends later than its -s: on that machine -s 2 over 2 GiB ended after 5.9 s (it also
# waits in steps of 5 s, src/sat.cc kSleepFrequency). One still running this long past its time
# (60 s, plus 5 s per GiB tested) is stopped.
OVERRUN_SECONDS = 60
OVERRUN_SECONDS_PER_GIB = 5
# How often the running test is looked at (cancel, its end, the time bound).
POLL_SECONDS = 1.0
# After SIGINT (stressapptest stops its threads, checks and prints its summary: src/sat.cc,
# Sat::Run "gracefully exit in the middle of a run"; memtester simply ends), how long before the
# whole process group is killed.
STOP_GRACE_SECONDS = 10
# stressapptest --max_errors: "exit early after finding 'n' errors". A memory with 100 errors has
# failed; this ends a run whose verdict is settled and keeps the log short.
MAX_ERRORS = 100
# stressapptest moves 1 MiB pages and each copy thread holds a full and an empty one at once; with
# too many threads for the memory it stops with "copy_thread failed to pop pages" (stressapptest
# issue #117, the maintainer's answer). At most one copy thread per 4 MiB tested.
MIB_PER_COPY_THREAD = 4
# How many error addresses a finding names, and how many `measured` keeps.
ADDRESSES_IN_FINDING = 3
ADDRESSES_KEPT = 20

# memtester's tests in one loop, as memtester 4.6.0 runs them (memtester.c, `tests[]` after the
# Stuck Address test; Debian builds the 8-bit and 16-bit tests, TEST_NARROW_WRITES).
MEMTESTER_TESTS = (
    "Stuck Address", "Random Value", "Compare XOR", "Compare SUB", "Compare MUL", "Compare DIV",
    "Compare OR", "Compare AND", "Sequential Increment", "Solid Bits", "Block Sequential",
    "Checkerboard", "Bit Spread", "Bit Flip", "Walking Ones", "Walking Zeroes", "8-bit Writes",
    "16-bit Writes")
# memtester(8), EXIT CODE: x01 allocating or locking memory, or invocation; x02 the stuck address
# test; x04 one of the other tests.
MEMTESTER_EXIT_NONSTARTER = 0x01
MEMTESTER_EXIT_ERRORS = 0x02 | 0x04
# A memory tester ending on one of these crashed, and bad memory under it is one possible cause.
CRASH_SIGNALS = (signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGABRT)

# Names of the limits, as findings carry them.
T_ERRORS = f"memory_errors_fail_at_{ERRORS_FAIL_AT}"
T_COVERAGE = f"memory_coverage_warn_below_{COVERAGE_WARN_BELOW_PERCENT}_percent"

# Why the test ended before its own end.
STOPPED_CANCELLED = "cancelled"
STOPPED_OVERRUN = "overrun"  # stressapptest did not end after its time
STOPPED_TIME_LIMIT = "time_limit"  # memtester stopped at the time bound, as planned

Clock = Callable[[], float]
Sleep = Callable[[float], None]


# --- How much memory -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MemInfo:
    total_kib: int  # MemTotal: the RAM the kernel manages (installed less firmware and kernel)
    available_kib: int  # MemAvailable (MemFree on kernels before 3.14, which lack it)


def parse_meminfo(text: str) -> MemInfo | None:
    """MemTotal and MemAvailable of a /proc/meminfo text, in KiB ("kB" there means KiB)."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        fields = rest.split()
        if fields and fields[0].isdigit():
            values[key.strip()] = int(fields[0])
    total = values.get("MemTotal")
    available = values.get("MemAvailable", values.get("MemFree"))
    if not total or available is None:
        return None
    return MemInfo(total, available)


def read_meminfo(path: str | Path = "/proc/meminfo") -> MemInfo | None:
    try:
        return parse_meminfo(Path(path).read_text(encoding="ascii", errors="replace"))
    except OSError:
        return None


@dataclass(frozen=True)
class MemoryPlan:
    total_mib: int
    available_mib: int
    margin_mib: int
    test_mib: int


def plan_size(info: MemInfo, *, mib: int | None = None) -> MemoryPlan:
    """What to test: MemAvailable less the margin (256 MiB or 10 % of MemTotal, the larger),
    never below 64 MiB; `mib` replaces it (a short test, the tests' small region)."""
    total_mib = info.total_kib // 1024
    available_mib = info.available_kib // 1024
    margin = max(MARGIN_MIB, math.ceil(total_mib * MARGIN_SHARE))
    planned = max(MIN_TEST_MIB, available_mib - margin) if mib is None else mib
    if planned < 1:
        raise ValueError("the memory to test must be at least 1 MiB")
    return MemoryPlan(total_mib, available_mib, margin, planned)


def copy_threads(mib: int, processors: int | None = None) -> int:
    """One copy thread per processor (stressapptest's own default), at most one per 4 MiB."""
    wanted = processors if processors is not None else (os.cpu_count() or 1)
    return max(1, min(wanted, mib // MIB_PER_COPY_THREAD))


def stressapptest_command(mib: int, seconds: int, threads: int) -> list[str]:
    """stressapptest(1): -s seconds to run, -M MiB to test, -m memory copy threads, -W the more
    CPU-stressful copy (its README's typical command), --max_errors to end early."""
    if seconds < 1:
        raise ValueError("the test must last at least one second")
    return [STRESSAPPTEST, "-s", str(seconds), "-M", str(mib), "-m", str(threads), "-W",
            "--max_errors", str(MAX_ERRORS)]


def memtester_command(mib: int) -> list[str]:
    """memtester(8): MEMORY with its M suffix, and one loop (ITERATIONS); the time bound stops
    it sooner when its loop is longer."""
    return [MEMTESTER, f"{mib}M", "1"]


# --- The test, started and stopped ---------------------------------------------------------------


def start_test(argv: Sequence[str]) -> LoadProcess:
    """Starts `argv` on this machine; `CommandNotFound` when the program is not installed. Its
    standard error goes into its output, so that memtester's FAILURE lines (standard error) stay
    under the test they belong to (it flushes its output after each line); what is kept is the
    output as a terminal shows it: memtester redraws its progress with backspaces, megabytes of
    them over gigabytes."""
    return BackgroundCommand(argv, merge_output=True, render=render_terminal,
                             grace_seconds=STOP_GRACE_SECONDS)


def render_terminal(text: str) -> str:
    """`text` as a terminal leaves it: a backspace moves back one column, what follows writes
    over it; a carriage return goes back to the line's start. Trailing blanks are dropped."""
    if "\b" not in text and "\r" not in text:
        return text
    lines = []
    for line in text.split("\n"):
        if "\b" not in line and "\r" not in line:
            lines.append(line)
            continue
        cells: list[str] = []
        column = 0
        for char in line:
            if char == "\b":
                column = max(0, column - 1)
            elif char == "\r":
                column = 0
            else:
                if column < len(cells):
                    cells[column] = char
                else:
                    cells.append(char)
                column += 1
        lines.append("".join(cells).rstrip())
    return "\n".join(lines)


# --- What the testers print ----------------------------------------------------------------------


@dataclass(frozen=True)
class MemoryFault:
    """One word read back wrong, where the tester says it was."""

    address: str  # as the tester printed it: "0x711f0863"
    kind: str  # "physical", "virtual" (stressapptest, physical unknown) or "offset" (memtester)
    read: str | None = None
    expected: str | None = None
    test: str | None = None  # memtester's test that found it

    def to_json(self) -> dict[str, Any]:
        return {"address": self.address, "kind": self.kind, "read": self.read,
                "expected": self.expected, "test": self.test}


# Lines may start with a date and time: "2019/09/24-17:39:39(UTC) Report Error: ...".
_SAT_VERSION = re.compile(r"Stats: SAT revision (\S+?),")
_SAT_STARTING = re.compile(r"Stats: Starting SAT, (\d+)M, (\d+) seconds")
_SAT_FOUND = re.compile(r"Stats: Found (\d+) hardware incidents")
_SAT_COMPLETED = re.compile(r"Stats: Completed: ([\d.]+)M in ([\d.]+)s ([\d.]+)MB/s, with (\d+) "
                            r"hardware incidents, (\d+) errors")
_SAT_STATUS = re.compile(r"Status: (PASS|FAIL)\b(?: - (.*))?")
_SAT_PROCESS_ERROR = re.compile(r"Process Error: (.*)")
# "Hardware Error: miscompare on CPU 1(0x2) at 0xffff83bf0860(0x711f0863:DIMM Unknown): read:0x...,
# reread:0x... expected:0x...", also "Page Error:" (many words of one page) and the tag and file
# variants; newer versions add ", expected:" and the pattern's name after it (src/worker.cc).
_SAT_MISCOMPARE = re.compile(
    r"\b(\w+) Error: .*?miscompare on .*? at (0x[0-9a-fA-F]+)\((0x[0-9a-fA-F]+):[^)]*\): "
    r"read:(0x[0-9a-fA-F]+), reread:0x[0-9a-fA-F]+,? expected:(0x[0-9a-fA-F]+)")


@dataclass(frozen=True)
class StressapptestReport:
    version: str | None = None
    status: str | None = None  # "PASS" or "FAIL": its last line
    status_text: str | None = None  # "test discovered HW problems"
    tested_mib: int | None = None  # "Stats: Starting SAT, 64M": the test started on this much
    incidents: int | None = None  # "Stats: Found N hardware incidents"
    procedural_errors: int | None = None  # "Stats: Completed: ... N hardware incidents, M errors"
    copied_mib: float | None = None
    copy_seconds: float | None = None
    mib_per_second: float | None = None
    miscompare_lines: int = 0
    faults: tuple[MemoryFault, ...] = ()  # the first ones, in order
    process_errors: tuple[str, ...] = ()  # its "Process Error:" lines, the first ones

    @property
    def errors(self) -> int:
        """Memory errors: its count of hardware incidents, or the miscompares it printed when
        they are more (a log cut short has no count; stressapptest issue #56 shows miscompares
        under a PASS status)."""
        return max(self.incidents or 0, self.miscompare_lines)

    @property
    def started(self) -> bool:
        """It began testing: it said on how much memory, or gave its totals at the end."""
        return self.tested_mib is not None or self.copied_mib is not None

    @property
    def procedural(self) -> bool:
        return self.status == "FAIL" and "procedural" in (self.status_text or "")

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "status": self.status, "status_text": self.status_text,
                "tested_mib": self.tested_mib, "hardware_incidents": self.incidents,
                "procedural_errors": self.procedural_errors, "copied_mib": self.copied_mib,
                "copy_seconds": self.copy_seconds, "mib_per_second": self.mib_per_second,
                "miscompare_lines": self.miscompare_lines,
                "process_errors": list(self.process_errors)}


def parse_stressapptest(text: str) -> StressapptestReport:
    """What stressapptest's log says: its version, how much it tested, its counts, its speed, its
    status, and the first miscompares with their addresses (physical when it could find it,
    else the virtual one: it prints a physical address of 0x0 when it could not)."""
    values: dict[str, Any] = {}
    faults: list[MemoryFault] = []
    miscompares = 0
    process_errors: list[str] = []
    for line in text.splitlines():
        if (match := _SAT_MISCOMPARE.search(line)) is not None:
            miscompares += 1
            if len(faults) < ADDRESSES_KEPT:
                virtual, physical = match.group(2), match.group(3)
                known = int(physical, 16) != 0
                faults.append(MemoryFault(physical if known else virtual,
                                          "physical" if known else "virtual",
                                          match.group(4), match.group(5)))
        elif (match := _SAT_VERSION.search(line)) is not None:
            values["version"] = match.group(1)
        elif (match := _SAT_STARTING.search(line)) is not None:
            values["tested_mib"] = int(match.group(1))
        elif (match := _SAT_FOUND.search(line)) is not None:
            values["incidents"] = int(match.group(1))
        elif (match := _SAT_COMPLETED.search(line)) is not None:
            values.update(copied_mib=float(match.group(1)), copy_seconds=float(match.group(2)),
                          mib_per_second=float(match.group(3)),
                          procedural_errors=int(match.group(5)))
            values.setdefault("incidents", int(match.group(4)))
        elif (match := _SAT_STATUS.search(line)) is not None:
            values.update(status=match.group(1), status_text=(match.group(2) or "").strip())
        elif (match := _SAT_PROCESS_ERROR.search(line)) is not None and len(process_errors) < 10:
            process_errors.append(match.group(1).strip())
    return StressapptestReport(**values, miscompare_lines=miscompares, faults=tuple(faults),
                               process_errors=tuple(process_errors))


_MT_VERSION = re.compile(r"^memtester version (\S+)")
_MT_WANT = re.compile(r"^want \d+MB \((\d+) bytes\)")
_MT_GOT = re.compile(r"^got  \d+MB \((\d+) bytes\)(.*)$")
_MT_LOOP = re.compile(r"^Loop (\d+)(?:/(\d+))?:")
_MT_TEST = re.compile(r"^  (\S.*?)\s*: ?(.*)$")
_MT_FAILURE = re.compile(
    r"FAILURE: (?:(0x[0-9a-fA-F]+) != (0x[0-9a-fA-F]+) at (offset|physical address) "
    r"(0x[0-9a-fA-F]+)|possible bad address line at (offset|physical address) (0x[0-9a-fA-F]+))")


@dataclass
class MemtesterTest:
    name: str
    loop: int
    ok: bool = False
    failures: int = 0

    @property
    def completed(self) -> bool:
        """Ended with "ok", or with failures (memtester moves to the next test after them)."""
        return self.ok or self.failures > 0

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "loop": self.loop, "ok": self.ok, "failures": self.failures}


@dataclass(frozen=True)
class MemtesterReport:
    version: str | None = None
    wanted_bytes: int | None = None
    tested_bytes: int | None = None  # what it allocated at last (it reduces until it can lock)
    locked: bool | None = None
    loops: int | None = None  # asked for; None for endless
    tests: tuple[MemtesterTest, ...] = ()
    failure_lines: int = 0
    faults: tuple[MemoryFault, ...] = ()
    done: bool = False  # "Done.": it ended by itself

    @property
    def errors(self) -> int:
        return self.failure_lines

    @property
    def completed(self) -> list[str]:
        return [test.name for test in self.tests if test.completed]

    @property
    def tested_mib(self) -> int | None:
        return None if self.tested_bytes is None else self.tested_bytes >> 20

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "wanted_bytes": self.wanted_bytes,
                "tested_bytes": self.tested_bytes, "locked": self.locked, "loops": self.loops,
                "tests_per_loop": len(MEMTESTER_TESTS), "tests_completed": len(self.completed),
                "tests": [test.to_json() for test in self.tests],
                "failure_lines": self.failure_lines, "done": self.done}


def parse_memtester(text: str) -> MemtesterReport:
    """What memtester's output says (its standard error merged in, where it was printed): its
    version, the size it got and whether it locked it, each test's outcome, and the first
    FAILURE lines with their offsets into the tested memory."""
    values: dict[str, Any] = {}
    tests: list[MemtesterTest] = []
    faults: list[MemoryFault] = []
    failures = 0
    loop = 0
    for line in render_terminal(text).splitlines():
        if (match := _MT_VERSION.match(line)) is not None:
            values["version"] = match.group(1)
            continue
        if (match := _MT_WANT.match(line)) is not None:
            values["wanted_bytes"] = int(match.group(1))
            continue
        if (match := _MT_GOT.match(line)) is not None:
            # "got  1MB (1048576 bytes), trying mlock ...locked." ends the search; "too many
            # pages, reducing..." goes round again, smaller; "failed for unknown reason." and
            # a line without mlock (run again unlocked) keep it unlocked.
            values["tested_bytes"] = int(match.group(1))
            rest = match.group(2)
            values["locked"] = rest.endswith("locked.") and "unlocked" not in rest
            continue
        if line.startswith("Continuing with unlocked memory"):
            values["locked"] = False
            continue
        if (match := _MT_LOOP.match(line)) is not None:
            loop = int(match.group(1))
            values["loops"] = int(match.group(2)) if match.group(2) else None
            continue
        if line.strip() == "Done.":
            values["done"] = True
            continue
        test = tests[-1] if tests else None
        if loop and (match := _MT_TEST.match(line)) is not None and \
                match.group(1) in MEMTESTER_TESTS:
            test = MemtesterTest(match.group(1), loop)
            tests.append(test)
            if match.group(2).endswith("ok") and "FAILURE" not in match.group(2):
                test.ok = True
        for failure in _MT_FAILURE.finditer(line):
            failures += 1
            if test is not None:
                test.failures += 1
            if len(faults) < ADDRESSES_KEPT:
                at = failure.group(4) or failure.group(6)
                where = failure.group(3) or failure.group(5)
                faults.append(MemoryFault(at, "offset" if where == "offset" else "physical",
                                          failure.group(1), failure.group(2),
                                          None if test is None else test.name))
    return MemtesterReport(**values, tests=tuple(tests), failure_lines=failures,
                           faults=tuple(faults))


# --- The check -----------------------------------------------------------------------------------


def run_memory_test(start: LoadStarter = start_test, *, seconds: int = DEFAULT_SECONDS,
                    mib: int | None = None, engines: Sequence[str] = ENGINES,
                    processors: int | None = None,
                    meminfo_path: str | Path = "/proc/meminfo",
                    poll_seconds: float = POLL_SECONDS, clock: Clock = time.monotonic,
                    sleep: Sleep = time.sleep,
                    cancel: threading.Event | None = None) -> CheckResult:
    """Tests the free memory for `seconds` and judges it by the thresholds above.

    fail: the tester found a memory error (its count and the first addresses are in the
    finding); warn: it crashed or was killed (the out-of-memory killer sends SIGKILL), reported
    errors of its own, gave no result, did not end in time, memtester could not lock its memory,
    or the test covered less than half of the RAM; skipped: no tester is installed, it could not
    start, memtester completed no test in the time, /proc/meminfo could not be read, or `cancel`
    was set (the test is stopped). `measured` says how much was tested of how much, with which
    engine and version, for how long and how fast; `evidence` holds the tester's command and
    output.
    """
    for engine in engines:
        if engine not in ENGINES:
            raise ValueError(f"not a memory tester: {engine}")
    run = _MemoryRun(seconds, clock)
    return run.perform(start, mib, engines, processors, Path(meminfo_path), poll_seconds, sleep,
                       cancel)


@dataclass
class _Outcome:
    engine: str
    record: CommandRecord
    stopped: str | None
    report: StressapptestReport | MemtesterReport


class _MemoryRun:
    def __init__(self, seconds: int, clock: Clock) -> None:
        if seconds < 1:
            raise ValueError("the test must last at least one second")
        self.seconds = seconds
        self.clock = clock
        self.started = clock()
        self.evidence: list[CommandRecord] = []
        self.measured: dict[str, Any] = {
            "rules": RULES_VERSION, "seconds": seconds, "engine": None, "version": None,
            "command": None, "missing": [], "mem_total_mib": None, "mem_available_mib": None,
            "margin_mib": None, "planned_mib": None, "tested_mib": None, "coverage_percent": None,
            "threads": None, "ran_seconds": None, "stopped": None, "exit_status": None,
            "errors": None, "error_addresses": [], "mib_per_second": None}

    def perform(self, start: LoadStarter, mib: int | None, engines: Sequence[str],
                processors: int | None, meminfo_path: Path, poll_seconds: float, sleep: Sleep,
                cancel: threading.Event | None) -> CheckResult:
        info = read_meminfo(meminfo_path)
        if info is None:
            return self.result([Finding.of(
                "memory_size_unknown", SKIPPED,
                N_("The amount of memory could not be read ({path}): the memory was not "
                   "tested"), path=str(meminfo_path))])
        plan = plan_size(info, mib=mib)
        self.measured.update(mem_total_mib=plan.total_mib, mem_available_mib=plan.available_mib,
                             margin_mib=plan.margin_mib, planned_mib=plan.test_mib)
        if cancel is not None and cancel.is_set():
            return self.result([self.cancelled()])
        threads = copy_threads(plan.test_mib, processors)
        for engine in engines:
            argv = (stressapptest_command(plan.test_mib, self.seconds, threads)
                    if engine == STRESSAPPTEST else memtester_command(plan.test_mib))
            try:
                process = start(argv)
            except CommandNotFound:
                self.measured["missing"].append(engine)
                continue
            self.measured.update(engine=engine, command=argv)
            if engine == STRESSAPPTEST:
                self.measured["threads"] = threads
            outcome = self.watch(engine, process, plan, poll_seconds, sleep, cancel)
            return self.judge(outcome, info)
        return self.result([Finding.of(
            "memory_test_tool_missing", SKIPPED,
            N_("Neither stressapptest nor memtester is installed: the memory was not tested"))])

    def watch(self, engine: str, process: LoadProcess, plan: MemoryPlan, poll_seconds: float,
              sleep: Sleep, cancel: threading.Event | None) -> _Outcome:
        """Waits for the tester's end; stops it on cancel or at its time bound."""
        if engine == STRESSAPPTEST:
            limit = (self.seconds + OVERRUN_SECONDS
                     + OVERRUN_SECONDS_PER_GIB * math.ceil(plan.test_mib / 1024))
            at_limit = STOPPED_OVERRUN
        else:
            limit, at_limit = self.seconds, STOPPED_TIME_LIMIT
        self.measured["limit_seconds"] = limit
        test_started = self.clock()
        stopped: str | None = None
        try:
            while True:
                if cancel is not None and cancel.is_set():
                    process.stop()
                    stopped = STOPPED_CANCELLED
                    break
                if process.poll() is not None:
                    break
                elapsed = self.clock() - test_started
                if elapsed >= limit:
                    process.stop()
                    stopped = at_limit
                    break
                sleep(min(poll_seconds, limit - elapsed))
        finally:
            if process.poll() is None:  # an error while watching: never leave the test running
                process.stop()
        record = process.finish()
        self.evidence.append(record)
        self.measured.update(ran_seconds=self.clock() - test_started, stopped=stopped,
                             exit_status=record.returncode)
        report: StressapptestReport | MemtesterReport = (
            parse_stressapptest(record.stdout) if engine == STRESSAPPTEST
            else parse_memtester(record.stdout))
        return _Outcome(engine, record, stopped, report)

    def judge(self, outcome: _Outcome, info: MemInfo) -> CheckResult:
        report = outcome.report
        tested_bytes = (report.tested_bytes if isinstance(report, MemtesterReport)
                        else None if report.tested_mib is None else report.tested_mib << 20)
        coverage = (None if tested_bytes is None
                    else round(tested_bytes / (info.total_kib * 1024) * 100, 1))
        self.measured.update(
            version=report.version, tested_mib=report.tested_mib, coverage_percent=coverage,
            errors=report.errors, error_addresses=[fault.to_json() for fault in report.faults],
            mib_per_second=(report.mib_per_second if isinstance(report, StressapptestReport)
                            else None))
        self.measured[outcome.engine] = report.to_json()
        if outcome.stopped == STOPPED_CANCELLED:
            return self.result([self.cancelled()])
        findings = self.error_findings(outcome)
        findings += self.run_findings(outcome, errors_found=bool(findings))
        ran = not any(finding.verdict == SKIPPED for finding in findings)
        if ran and coverage is not None and coverage < COVERAGE_WARN_BELOW_PERCENT:
            findings.append(Finding.of(
                "memory_low_coverage", WARN,
                N_("The test covered only {percent:.1f} % of the RAM ({tested} of {total} MiB; "
                   "warning below {limit} %)"), threshold=T_COVERAGE, percent=coverage,
                tested=report.tested_mib, total=info.total_kib // 1024,
                limit=COVERAGE_WARN_BELOW_PERCENT))
        return self.result(findings)

    def error_findings(self, outcome: _Outcome) -> list[Finding]:
        report = outcome.report
        if report.errors >= ERRORS_FAIL_AT:
            # The same address twice (a word read wrong again, a page's words) is named once.
            located = list(dict.fromkeys(fault.address for fault in report.faults))
            located = located[:ADDRESSES_IN_FINDING]
            if not located:
                return [Finding.of("memory_errors", FAIL,
                                   N_("Memory errors found by {engine}: {count}"),
                                   threshold=T_ERRORS, engine=outcome.engine,
                                   count=report.errors)]
            msgid = (N_("Memory errors found by {engine}: {count} (first at offsets {addresses} "
                        "of the memory tested)") if isinstance(report, MemtesterReport)
                     else N_("Memory errors found by {engine}: {count} (first at {addresses})"))
            return [Finding.of("memory_errors", FAIL, msgid, threshold=T_ERRORS,
                               engine=outcome.engine, count=report.errors,
                               addresses=", ".join(located))]
        status = outcome.record.returncode
        if isinstance(report, MemtesterReport) and status > 0 and status & MEMTESTER_EXIT_ERRORS:
            return [Finding.of(
                "memory_errors", FAIL,
                N_("memtester reports memory errors (exit status {status}), but its output does "
                   "not say where"), threshold=T_ERRORS, status=status)]
        return []

    def run_findings(self, outcome: _Outcome, *, errors_found: bool) -> list[Finding]:
        """How the tester's run went, when that says something the errors do not."""
        engine, record, report = outcome.engine, outcome.record, outcome.report
        status = record.returncode
        if outcome.stopped == STOPPED_OVERRUN:
            return [Finding.of("memory_test_overrun", WARN,
                               N_("{engine} did not end within {limit} s and was stopped"),
                               engine=engine, limit=self.measured["limit_seconds"])]
        if status < 0 and outcome.stopped is None:
            name = _signal_name(-status)
            if -status in CRASH_SIGNALS:
                return [Finding.of(
                    "memory_test_crashed", WARN,
                    N_("{engine} crashed ({signal}) during the test: faulty memory is one "
                       "possible cause"), engine=engine, signal=name)]
            return [Finding.of(
                "memory_test_killed", WARN,
                N_("{engine} was killed by {signal} before the end of its test, so the memory was "
                   "not fully tested (a SIGKILL most often comes from the kernel, out of memory)"),
                engine=engine, signal=name)]
        if errors_found:
            return []
        if isinstance(report, StressapptestReport):
            return self.stressapptest_findings(report, status)
        return self.memtester_findings(report, status, outcome.stopped)

    def stressapptest_findings(self, report: StressapptestReport, status: int) -> list[Finding]:
        if not report.started:
            return [Finding.of("memory_test_not_run", SKIPPED,
                               N_("{engine} could not start the test (exit status {status})"),
                               engine=STRESSAPPTEST, status=status)]
        if report.procedural:
            return [Finding.of(
                "memory_test_procedural_errors", WARN,
                N_("stressapptest reported errors of its own during the test (exit status "
                   "{status}), not memory errors: the result is uncertain"), status=status)]
        if report.status != "PASS":
            return [Finding.of("memory_test_no_result", WARN,
                               N_("{engine} gave no result (exit status {status})"),
                               engine=STRESSAPPTEST, status=status)]
        return []

    def memtester_findings(self, report: MemtesterReport, status: int,
                           stopped: str | None) -> list[Finding]:
        if report.tested_bytes is None or (status > 0 and status & MEMTESTER_EXIT_NONSTARTER):
            return [Finding.of("memory_test_not_run", SKIPPED,
                               N_("{engine} could not start the test (exit status {status})"),
                               engine=MEMTESTER, status=status)]
        findings: list[Finding] = []
        if not report.completed:
            findings.append(Finding.of(
                "memory_test_incomplete", SKIPPED,
                N_("memtester completed no test within {seconds} s: the memory was not tested"),
                seconds=self.seconds))
        elif stopped is None and not report.done:
            findings.append(Finding.of("memory_test_no_result", WARN,
                                       N_("{engine} gave no result (exit status {status})"),
                                       engine=MEMTESTER, status=status))
        if report.locked is False:
            findings.append(Finding.of(
                "memory_test_unlocked", WARN,
                N_("memtester could not lock the memory it tested: its test is slower and less "
                   "reliable")))
        return findings

    def cancelled(self) -> Finding:
        return Finding.of("memory_test_cancelled", SKIPPED, N_("The memory test was cancelled"))

    def result(self, findings: list[Finding]) -> CheckResult:
        return CheckResult(CHECK, SUBJECT, verdict_of(findings), tuple(findings), self.measured,
                           self.clock() - self.started, evidence=tuple(self.evidence))


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
