"""The unattended health pass of one run: what is judged at once, what runs before the erasure,
and what runs beside it.

- At once, from what the inventory read: each disk's SMART data (`disk_smart`, from the smartctl
  output the inventory kept), the platform's locks (firmware passwords, AMT, Absolute, TPM,
  Secure Boot) and the network (the wired link, the Wi-Fi card and its firmware). The network is
  judged again once the OS to install is chosen, against the firmware that OS carries.
- Before the erasure, on all disks at once: each drive's own self-test (`disk_self_test`). The
  erasure waits for them: a drive refuses its erase while it tests itself. A drive that fails is
  still erased (its data must go), but it no longer receives the OS and the grade says so.
- Beside the erasure, one after the other in a thread of their own: the processor under load,
  the memory test, the battery. They would disturb each other's measurements, but not the disks'.

The checks themselves are in the modules next to this one; this one only decides which runs
when, on which part, for how long (`HealthSettings`, from `[health]` in reeeboot.toml), and keeps
what each one found for the screens and the report. A recorded machine (`--profile`) gets only
the SMART judgement: its drives and its processor are not this computer's.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from agent.config import SELF_TEST_KINDS
from agent.health import battery, cpu_load, disk, memory, network, platform
from agent.health.background import LoadProcess, at_idle_priority
from agent.health.model import FAIL, SKIPPED, CheckResult, Finding, worst
from agent.i18n import N_
from agent.inventory.model import Disk, EvidenceFile, Machine
from agent.inventory.source import MachineSource

log = logging.getLogger(__name__)

# The order the machine's checks run in beside the erasure, and the order screens list them.
MACHINE_CHECKS = (cpu_load.CHECK, memory.CHECK, battery.CHECK)

# The states a check goes through, for the screens.
WAITING, RUNNING, DONE = "waiting", "running", "done"


@dataclass(frozen=True)
class HealthSettings:
    """How much of the pass runs, from `[health]` in reeeboot.toml. 0 seconds leaves a check
    out (the battery's wear is still read: it costs nothing)."""

    self_test: str = "short"  # the drives' own self-test: "short", "long" or "off"
    cpu_seconds: int = cpu_load.DEFAULT_LOAD_SECONDS
    memory_seconds: int = memory.DEFAULT_SECONDS
    battery_seconds: int = battery.DEFAULT_SECONDS

    def __post_init__(self) -> None:
        if self.self_test not in SELF_TEST_KINDS:
            raise ValueError(f"not a self-test kind: {self.self_test}")


_CPU_LOAD_AT_IDLE_PRIORITY = partial(cpu_load.run_cpu_load,
                                     at_idle_priority(cpu_load.start_load))
_MEMORY_TEST_AT_IDLE_PRIORITY = partial(memory.run_memory_test,
                                        at_idle_priority(memory.start_test))


def _light_load_at_idle_priority(seconds: int) -> LoadProcess:
    return at_idle_priority(cpu_load.start_load)(battery.light_load_command(seconds))


@dataclass(frozen=True)
class CheckRunners:
    """The checks as this computer runs them; tests give their own. The loads run at idle
    priority (`at_idle_priority`): beside an erasure, they must not slow it down."""

    self_test: Callable[..., CheckResult] = disk.run_self_test
    cpu: Callable[..., CheckResult] = _CPU_LOAD_AT_IDLE_PRIORITY
    memory: Callable[..., CheckResult] = _MEMORY_TEST_AT_IDLE_PRIORITY
    battery: Callable[..., CheckResult] = battery.run_battery_check
    battery_load: Callable[[int], LoadProcess] = _light_load_at_idle_priority
    platform: Callable[..., CheckResult] = platform.check_platform_locks
    network: Callable[..., CheckResult] = network.check_network


@dataclass(frozen=True)
class CheckProgress:
    """Where one check stands, as a screen shows it."""

    check: str
    subject: str
    state: str = WAITING  # waiting, running, done
    planned_seconds: float | None = None  # how long it is meant to take, when known
    started: float | None = None  # monotonic time
    percent: int | None = None  # what the check itself says it has done (a drive's self-test)
    result: CheckResult | None = None

    def fraction(self, now: float) -> float | None:
        """From 0 to 1: the check's own percentage, else the time spent of the time planned.
        `now` on the pass's own clock (`HealthPass.clock`), the one `started` was read on."""
        if self.state == DONE:
            return 1.0
        if self.percent is not None:
            return min(1.0, self.percent / 100)
        if self.started is None or not self.planned_seconds:
            return None
        elapsed = now - self.started
        return min(1.0, max(0.0, elapsed / self.planned_seconds))


@dataclass
class HealthPass:
    settings: HealthSettings
    # The machine's commands and files; None for a recorded machine (only its SMART is judged).
    source: MachineSource | None
    runners: CheckRunners = field(default_factory=CheckRunners)
    sysfs_root: str = "/sys"
    # Told each result as it is known (the unattended status line); from the checks' threads.
    on_result: Callable[[CheckResult], None] | None = None
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._progress: dict[tuple[str, str], CheckProgress] = {}
        self._results: list[CheckResult] = []
        self._evidence: dict[tuple[str, str], EvidenceFile] = {}
        self._self_tests: list[threading.Thread] = []
        self._machine_checks: threading.Thread | None = None
        self.cancel = threading.Event()

    @property
    def live(self) -> bool:
        return self.source is not None

    # --- at once ---------------------------------------------------------------------------

    def judge(self, machine: Machine, disks: Sequence[Disk]) -> None:
        """The SMART data of `disks` as the inventory read it, the platform's locks and the
        network. Judged again when the machine is looked at again: the newest judgement replaces
        the older."""
        smart = {item.name: item.content for item in machine.evidence}
        for checked in disks:
            name = f"smartctl-{checked.path.rsplit('/', 1)[-1]}.json"
            document = _json(smart.get(name))
            if document is None:
                result = _unread_smart(checked.path)
            else:
                result = disk.judge_smart(document, checked.path)
            self._record(result)
        if self.live:
            amt = platform.read_amt if self.sysfs_root == "/sys" else None
            self._record(self.runners.platform(self.sysfs_root, tpm=machine.tpm,
                                               boot=machine.boot, amt=amt))
            self._judge_network(None, None)

    def judge_network_for(self, image_name: str, firmware: frozenset[str] | None) -> None:
        """The network judged again for the OS image chosen: its Wi-Fi firmware is looked for in
        `firmware`, the image's list (None: its manifest does not say). Replaces the judgement
        made at inspection."""
        if self.live:
            self._judge_network(image_name, firmware)

    def _judge_network(self, image_name: str | None, firmware: frozenset[str] | None) -> None:
        # The kernel log is this computer's only when the sysfs is.
        kernel_log = network.read_kernel_log if self.sysfs_root == "/sys" else None
        try:
            result = self.runners.network(self.sysfs_root, target_firmware=firmware,
                                          target_name=image_name, kernel_log=kernel_log)
        except Exception as error:  # a check's bug must not stop the run
            log.exception("the network check failed")
            result = _crashed(network.CHECK, network.SUBJECT, error)
        self._record(result)

    # --- before the erasure -------------------------------------------------------------------

    def start_self_tests(self, disks: Sequence[Disk]) -> None:
        """Each drive's own test, all at once in the background; nothing for a recorded machine
        or when the workshop turned it off. Called again (a disk was plugged in), it starts the
        disks not tested yet. `wait_self_tests` waits for their end."""
        if not self.live or self.settings.self_test == "off":
            return
        with self._lock:
            new = [checked for checked in disks
                   if (disk.SELF_TEST_CHECK, checked.path) not in self._progress]
            for checked in new:
                self._progress[(disk.SELF_TEST_CHECK, checked.path)] = CheckProgress(
                    disk.SELF_TEST_CHECK, checked.path)
        for checked in new:
            thread = threading.Thread(target=self._test_drive, args=(checked,),
                                      name=f"self-test {checked.path}", daemon=True)
            self._self_tests.append(thread)
            thread.start()

    def self_tests_running(self) -> bool:
        return any(thread.is_alive() for thread in self._self_tests)

    def wait_self_tests(self, timeout: float | None = None) -> None:
        """Until every drive's test ended, or `timeout` seconds (then some may still run)."""
        deadline = None if timeout is None else self.clock() + timeout
        for thread in list(self._self_tests):
            thread.join(None if deadline is None else max(0.0, deadline - self.clock()))

    # --- beside the erasure -------------------------------------------------------------------

    def start_machine_checks(self, machine: Machine) -> None:
        """The processor, the memory and the battery, one after the other in the background."""
        if not self.live or self._machine_checks is not None:
            return
        planned = self._planned(machine)
        with self._lock:
            for check, subject, seconds in planned:
                self._progress[(check, subject)] = CheckProgress(check, subject,
                                                                 planned_seconds=seconds)
        self._machine_checks = threading.Thread(target=self._check_machine,
                                                args=(machine, planned), name="machine-checks",
                                                daemon=True)
        self._machine_checks.start()

    def machine_checks_running(self) -> bool:
        return self._machine_checks is not None and self._machine_checks.is_alive()

    def wait_machine_checks(self) -> None:
        if self._machine_checks is not None:
            self._machine_checks.join()

    def stop(self) -> None:
        """Stop what still runs (a drive's test is aborted, a load is killed) and wait for it."""
        self.cancel.set()
        self.wait_self_tests()
        self.wait_machine_checks()

    # --- what a person answered --------------------------------------------------------------

    def record_answer(self, result: CheckResult) -> None:
        """A guided check's result (agent/health/guided.py), as the volunteer answered it on the
        screen; answered again, the newest answer replaces the older."""
        self._record(result)

    # --- what is known -----------------------------------------------------------------------

    def results(self) -> list[CheckResult]:
        with self._lock:
            return list(self._results)

    def snapshot(self) -> list[CheckProgress]:
        """Every check this pass runs or ran, in the order they are shown."""
        with self._lock:
            return list(self._progress.values())

    def result_for(self, check: str, subject: str) -> CheckResult | None:
        with self._lock:
            return next((result for result in self._results
                         if result.check == check and result.subject == subject), None)

    def disk_verdict(self, path: str) -> tuple[str, tuple[Finding, ...]] | None:
        """The worst of a disk's SMART judgement and self-test, with the findings that decided
        it; None before either is known."""
        results = [result for result in self.results() if result.subject == path
                   and result.check in (disk.SMART_CHECK, disk.SELF_TEST_CHECK)]
        if not results:
            return None
        verdict = worst(result.verdict for result in results)
        return verdict, tuple(finding for result in results for finding in result.findings
                              if finding.verdict == verdict)

    def failing_disks(self) -> dict[str, str]:
        """Disks a check found failing, with the first reason in the screen's language: they
        must not receive the OS."""
        failing: dict[str, str] = {}
        for result in self.results():
            if result.subject in failing or result.check not in (disk.SMART_CHECK,
                                                                 disk.SELF_TEST_CHECK):
                continue
            if result.verdict == FAIL:
                reasons = [finding.describe() for finding in result.findings
                           if finding.verdict == FAIL]
                failing[result.subject] = reasons[0] if reasons else result.check
        return failing

    def evidence(self) -> list[EvidenceFile]:
        """One file per check that ran commands: each command with its full output."""
        with self._lock:
            return list(self._evidence.values())

    def to_json(self) -> dict[str, Any] | None:
        """The report's `health` section; None when nothing was checked."""
        results = self.results()
        if not results:
            return None
        with self._lock:
            files = dict(self._evidence)
        checks = []
        for result in results:
            entry = result.to_json()
            kept = files.get((result.check, result.subject))
            entry["evidence"] = [] if kept is None else [
                {"name": kept.name, "sha256": kept.sha256, "size_bytes": kept.size_bytes}]
            checks.append(entry)
        return {"verdict": worst(result.verdict for result in results), "checks": checks}

    # --- inside -----------------------------------------------------------------------------

    def _planned(self, machine: Machine) -> list[tuple[str, str, float | None]]:
        settings = self.settings
        planned: list[tuple[str, str, float | None]] = []
        if settings.cpu_seconds > 0:
            planned.append((cpu_load.CHECK, cpu_load.SUBJECT,
                            settings.cpu_seconds + cpu_load.DEFAULT_COOL_SECONDS))
        if settings.memory_seconds > 0:
            planned.append((memory.CHECK, memory.SUBJECT, settings.memory_seconds))
        batteries = machine.peripherals.batteries
        planned.append((battery.CHECK, battery.SUBJECT,
                        settings.battery_seconds if batteries else 0))
        return planned

    def _test_drive(self, checked: Disk) -> None:
        key = (disk.SELF_TEST_CHECK, checked.path)

        def progress(percent: int | None) -> None:
            self._update(key, percent=percent)

        self._update(key, state=RUNNING, started=self.clock())
        try:
            result = self.runners.self_test(checked.path, self.source,
                                            kind=self.settings.self_test, progress=progress,
                                            cancel=self.cancel)
        except Exception as error:  # a check's bug must not stop the erasure
            log.exception("the self-test of %s failed", checked.path)
            result = _crashed(disk.SELF_TEST_CHECK, checked.path, error)
        self._record(result)

    def _check_machine(self, machine: Machine,
                       planned: list[tuple[str, str, float | None]]) -> None:
        for check, subject, _seconds in planned:
            key = (check, subject)
            if self.cancel.is_set():
                self._record(_cancelled(check, subject))
                continue
            self._update(key, state=RUNNING, started=self.clock())
            try:
                result = self._run_machine_check(check, machine)
            except Exception as error:
                log.exception("the check %s failed", check)
                result = _crashed(check, subject, error)
            self._record(result)

    def _run_machine_check(self, check: str, machine: Machine) -> CheckResult:
        settings, runners = self.settings, self.runners
        if check == cpu_load.CHECK:
            return runners.cpu(seconds=settings.cpu_seconds, sysfs_root=self.sysfs_root,
                               cancel=self.cancel)
        if check == memory.CHECK:
            return runners.memory(seconds=settings.memory_seconds, cancel=self.cancel)
        return runners.battery(machine.peripherals.batteries, load=runners.battery_load,
                               seconds=settings.battery_seconds, sysfs_root=self.sysfs_root,
                               cancel=self.cancel)

    def _update(self, key: tuple[str, str], **changes: Any) -> None:
        with self._lock:
            current = self._progress.get(key) or CheckProgress(*key)
            self._progress[key] = replace(current, **changes)

    def _record(self, result: CheckResult) -> None:
        key = (result.check, result.subject)
        with self._lock:
            self._results = [kept for kept in self._results
                             if (kept.check, kept.subject) != key] + [result]
            current = self._progress.get(key) or CheckProgress(*key)
            self._progress[key] = replace(current, state=DONE, result=result)
            if result.evidence:
                content = json.dumps([record.to_json() for record in result.evidence],
                                     indent=1).encode()
                self._evidence[key] = EvidenceFile.of(_evidence_name(*key), content)
        if self.on_result is not None:
            try:
                self.on_result(result)
            except Exception:  # a listener's fault never stops the checks
                log.exception("health result not passed on")


def _evidence_name(check: str, subject: str) -> str:
    """`health-disk_self_test-sda.json`: safe on the FAT data partition."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", subject.rsplit("/", 1)[-1])
    return f"health-{check}-{name}.json"


def _json(content: bytes | None) -> dict[str, Any] | None:
    if not content:
        return None
    try:
        document = json.loads(content)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def _unread_smart(path: str) -> CheckResult:
    finding = Finding.of("smart_not_read", SKIPPED,
                         N_("{disk}: smartctl gave no JSON output to judge"), disk=path)
    return CheckResult(disk.SMART_CHECK, path, SKIPPED, (finding,),
                       {"rules": disk.RULES_VERSION}, None)


def _cancelled(check: str, subject: str) -> CheckResult:
    finding = Finding.of("check_cancelled", SKIPPED, N_("Stopped before it started"))
    return CheckResult(check, subject, SKIPPED, (finding,), {}, None)


def _crashed(check: str, subject: str, error: BaseException) -> CheckResult:
    finding = Finding.of("check_crashed", SKIPPED, N_("The check itself failed: {error}"),
                         error=f"{type(error).__name__}: {error}")
    return CheckResult(check, subject, SKIPPED, (finding,), {}, None)
