"""`reeeboot health`: the unattended health checks on their own, without an erasure.

A workshop checks a machine before it decides what to do with it: the same `HealthPass` a run
owns, in the same order (the SMART data and the firmware's locks at once, the drives' own
self-tests, then the processor, the memory and the battery), on the disks a run would check.
Nothing is written to any disk: a drive's self-test is the drive's own, and reads.

Each result is printed as it is known, in the screen's language or as one JSON object; the last
line says the worst verdict and the grade these results would give. Ctrl+C stops the checks (a
drive's self-test is aborted, a load is killed) and prints what was found so far.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from agent import flow
from agent.health.checkup import CheckRunners, HealthPass, HealthSettings
from agent.health.model import FAIL, PASS, CheckResult, worst
from agent.i18n import _
from agent.inventory.model import Disk, Machine
from agent.inventory.source import MachineSource
from agent.report.grade import Grade, grade_machine
from agent.tui.health_words import check_name, deciding, findings_text, verdict_word

# The exit statuses: no check failed, one did, the volunteer pressed Ctrl+C (128 + SIGINT, as a
# shell reports a command that SIGINT ended).
ALL_HEALTHY, SOMETHING_FAILED, INTERRUPTED = 0, 1, 130
# How often the command looks whether the checks still run; Ctrl+C is taken at once.
POLL_SECONDS = 0.1
THIS_COMPUTERS_CHECKS = CheckRunners()


def check_alone(
    station: flow.Station,
    settings: HealthSettings,
    *,
    as_json: bool = False,
    out: TextIO | None = None,
    take_inventory: Callable[[flow.Station], Machine] = flow.inventory,
    machine_source: Callable[[flow.Station], MachineSource | None] = flow.machine_source,
    runners: CheckRunners = THIS_COMPUTERS_CHECKS,
    sysfs_root: str = "/sys",
) -> int:
    """Check this machine's health (only its disks' SMART data for a recorded machine) and print
    each result as it comes, then the summary; the exit status of `reeeboot health`.
    `out`: where the lines go (standard output by default)."""
    printer = _Printer(out or sys.stdout, as_json)
    source = machine_source(station)
    health = HealthPass(settings, source, runners=runners,
                        sysfs_root=sysfs_root, on_result=printer.result)
    if source is None:
        printer.note(_("A recorded machine: only its disks' SMART data is judged."))
    else:
        printer.note(_("Health checks of this computer. Nothing is written to its disks. "
                       "Ctrl+C stops them."))
    machine: Machine | None = None
    interrupted = False
    try:
        machine = take_inventory(station)
        disks = checked_disks(machine)
        health.judge(machine, disks)
        health.start_self_tests(disks)
        _wait_while(health.self_tests_running)
        health.wait_self_tests()  # they have ended: this only collects them
        health.start_machine_checks(machine)
        _wait_while(health.machine_checks_running)
        health.wait_machine_checks()
    except KeyboardInterrupt:
        interrupted = True
        printer.note(_("Stopping the checks that are still running..."))
    finally:
        # Also after a crash: a load left running would heat the machine for nothing.
        _stop(health)
    results = health.results()
    grade = None if machine is None else grade_machine(machine, None, health.to_json())
    printer.summary(results, grade, interrupted)
    if interrupted:
        return INTERRUPTED
    return SOMETHING_FAILED if any(result.verdict == FAIL for result in results) else ALL_HEALTHY


def settings_from(configured: HealthSettings, *, self_test: str | None = None,
                  cpu_seconds: int | None = None, memory_seconds: int | None = None,
                  battery_seconds: int | None = None) -> HealthSettings:
    """The configuration's settings (`[health]` of reeeboot.toml), with what the command line
    gave instead; None: not given."""
    return HealthSettings(
        self_test=configured.self_test if self_test is None else self_test,
        cpu_seconds=configured.cpu_seconds if cpu_seconds is None else cpu_seconds,
        memory_seconds=configured.memory_seconds if memory_seconds is None else memory_seconds,
        battery_seconds=configured.battery_seconds if battery_seconds is None
        else battery_seconds)


def checked_disks(machine: Machine) -> list[Disk]:
    """The disks a run would check: all but those the system keeps (the stick, a disk in use)."""
    excluded = {exclusion.path for exclusion in machine.exclusions}
    return [checked for checked in machine.disks if checked.path not in excluded]


def result_json(result: CheckResult) -> dict[str, Any]:
    """A result as the report holds it, its commands without their output (the report's
    evidence files keep that; a terminal has no room for a memory tester's log)."""
    document = result.to_json()
    document["evidence"] = [{"argv": list(record.argv), "returncode": record.returncode,
                             "seconds": record.seconds} for record in result.evidence]
    return document


def result_text(result: CheckResult) -> str:
    """One check's line: which check on which part, how it ended, and why when it did not
    pass."""
    name = check_name(result.check)
    if result.subject.startswith("/dev/"):  # the disks' checks run once per disk
        name = _("{check} of {disk}").format(check=name, disk=result.subject)
    verdict = verdict_word(result.verdict)
    findings = findings_text(deciding(result), result.subject) if result.verdict != PASS else ""
    if findings:
        verdict = _("{verdict}: {findings}").format(verdict=verdict, findings=findings)
    return _("{check}: {verdict}").format(check=name, verdict=verdict)


def _wait_while(running: Callable[[], bool]) -> None:
    """Sleeps while checks run, rather than joining their threads: in Python 3.11 a Ctrl+C that
    interrupts `Thread.join` marks a thread that still runs as ended (the bpo-45274 fix
    releases the lock the running thread holds), so the stop that follows would not wait for
    it, and a load would outlive the command."""
    while running():
        time.sleep(POLL_SECONDS)


def _stop(health: HealthPass) -> None:
    """Every check still running stopped, and waited for."""
    health.cancel.set()
    while True:
        try:
            _wait_while(lambda: health.self_tests_running() or health.machine_checks_running())
            health.stop()  # everything has ended: it only collects the threads
            return
        except KeyboardInterrupt:
            # Pressed again: the loads run in sessions of their own, which Ctrl+C does not
            # reach, so leaving before they are stopped would leave them running.
            continue


class _Printer:
    """The command's output: lines for people, or one JSON object per line for scripts. Told
    the results from the checks' threads, so one line is written at a time."""

    def __init__(self, out: TextIO, as_json: bool) -> None:
        self.out = out
        self.as_json = as_json
        self._lock = threading.Lock()

    def note(self, text: str) -> None:
        if not self.as_json:
            self._write(text)

    def result(self, result: CheckResult) -> None:
        self._write(json.dumps({"event": "check", **result_json(result)}, sort_keys=True)
                    if self.as_json else result_text(result))

    def summary(self, results: list[CheckResult], grade: Grade | None,
                interrupted: bool) -> None:
        verdict = worst(result.verdict for result in results)
        if self.as_json:
            self._write(json.dumps({"event": "done", "verdict": verdict,
                                    "grade": None if grade is None else grade.to_json(),
                                    "interrupted": interrupted}, sort_keys=True))
            return
        if interrupted:
            self._write(_("Stopped before the end: what was found so far."))
        if grade is None:
            return  # stopped before the machine was even looked at
        self._write(_("Worst result: {verdict}. Grade these checks would give: {grade} "
                      "(functional code {functional}).").format(
            verdict=verdict_word(verdict), grade=grade.value, functional=grade.functional))
        if grade.reasons:
            self._write("  " + _("Because: {reason}").format(
                reason=grade.reasons[0].describe()))

    def _write(self, line: str) -> None:
        with self._lock:
            print(line, file=self.out, flush=True)
