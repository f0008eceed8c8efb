"""One machine's run, step by step: inventory, plan, erase, health, install, report, send.

The screen, unattended mode and the command line are views over a `Run`: they call its steps in
order, show its state, and pass down what a person or the configuration chose. The steps
themselves are agent.flow's; the run owns the sequence, the choices, the progress of the jobs,
the step timings and the live progress sent to the hub, so that every front end behaves alike.

Steps are called one at a time (from a worker thread in the screen); progress events arrive from
the jobs' threads and only touch `ErasureProgress` and the listeners.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from agent import flow
from agent.events import EventSink, fan_out, ignore_events
from agent.health.checkup import HealthPass
from agent.health.model import CheckResult
from agent.i18n import _
from agent.inventory.exclusions import OTHER_STICK
from agent.inventory.model import KEPT_BY_CHOICE, Disk, Exclusion, Machine
from agent.report.asset import asset_id_for
from agent.report.grade import Grade, Outcome, decide_outcome, grade_machine
from agent.report.model import kept_by_choice
from agent.report.outbox import FlushOutcome
from agent.run.progress import ErasureProgress, InstallTracker
from agent.run.record import RunRecord, load_record, save_record
from agent.run.state import (
    DiskPlan,
    InstallProposal,
    MethodChoice,
    RunChoices,
    overwrite_methods,
)
from agent.wipe.firmware.model import OVERWRITE
from agent.wipe.firmware.probe import DiskProbe
from agent.wipe.jobs import AUTO, WipeOptions, WipeResult
from agent.wipe.journal import WipeJournal
from agent.wipe.policy import plan_erasure

if TYPE_CHECKING:  # the install and the hub's modules load when their steps run
    from agent.install.image import OsImage
    from agent.install.job import InstallResult
    from agent.report.progress import ArmingState, HubOrders, ProgressReporter
    from agent.report.sender import OutboxSender

# A test-only fault: the named step raises as it starts, to prove that a crash lands on the error
# screen (the QEMU suite sets it with systemd.setenv= on the kernel command line).
CRASH_VARIABLE = "REEEBOOT_TEST_CRASH"

Inventory = Callable[[flow.Station], Machine]


class InjectedCrash(RuntimeError):
    """Raised by a step named in REEEBOOT_TEST_CRASH."""


class RunError(ValueError):
    """A choice the run refuses (a disk the system keeps, an unknown method); translated."""


class Run:
    def __init__(
        self,
        station: flow.Station,
        *,
        sink: EventSink = ignore_events,
        take_inventory: Inventory = flow.inventory,
        probe: DiskProbe | None = None,
        options: WipeOptions | None = None,
        choices: RunChoices | None = None,
        live_progress: bool = True,
        health: HealthPass | None = None,
        on_health: Callable[[CheckResult], None] | None = None,
    ) -> None:
        """`options`: the erasure options (the command line's); by default the configuration's,
        whose frozen-drive answer may be "not given" (the screen then asks).
        `live_progress`: tell the hub where the run stands, when one is configured.
        `health`: the health pass (by default this computer's checks, as `[health]` of the
        configuration sets them, when `take_inventory` reads this computer; otherwise only the
        SMART data the inventory gave is judged); `on_health` hears each check's result as it is
        known, from the checks' threads."""
        self.station = station
        self._sink = sink
        self._take_inventory = take_inventory
        self._probe = probe
        config = station.config
        self.options = options or flow.erase_options(config)
        self.choices = choices or RunChoices(
            asset_id=station.asset_id, operator=config.operator or None,
            allow_unfreeze=config.erase_allow_unfreeze if options is None
            else options.allow_unfreeze)
        self.clock = flow.StepClock(on_step=self._step_started)
        self.machine: Machine | None = None
        self.disks: dict[str, DiskPlan] = {}  # every disk of the machine, in inventory order
        self.interrupted = flow.interrupted_erasures(station)
        self.progress = ErasureProgress()
        self.erasures: list[WipeResult] = []
        self.benchmarks: dict[str, Any] | None = None
        # The checks run commands and loads on this computer: only when the run looks at this
        # computer (not at a recorded machine, nor at a machine a test made up).
        reads_this_computer = take_inventory is flow.inventory
        self.health = health or HealthPass(
            flow.health_settings(config),
            flow.machine_source(station) if reads_this_computer else None)
        if on_health is not None:
            self.health.on_result = on_health
        self.install_progress = InstallTracker(station.config.install_verify)
        self.installed: InstallResult | None = None
        self.install_error: str | None = None  # why nothing was installed, when it failed early
        self.report_id: str | None = None
        # Why the station cannot erase yet (its key was lost and is not enrolled again).
        self.identity_problem: str | None = None
        self.reporter: ProgressReporter | None = None
        if live_progress and config.hub_url and station.profile is None:
            from agent.report.progress import ProgressReporter

            self.reporter = ProgressReporter(config.hub_url, config.station_name,
                                             lambda: station.key)

    # --- the hub's orders -----------------------------------------------------------------

    def listen_to_hub(self, on_orders: Callable[[HubOrders], None]) -> None:
        """Who hears the hub's orders (an unattended erasure it armed, switching off at the
        end), from the live progress's thread, after each message the hub accepted; nothing
        without a hub."""
        if self.reporter is not None:
            self.reporter.on_orders = on_orders

    def tell_hub_arming(self, arming: int, state: ArmingState) -> None:
        """What this machine did with the hub's arming: the hub offers it until it hears."""
        if self.reporter is not None:
            self.reporter.arming_state(arming, state)

    # --- step 1 to 3: what the machine is, and the plan -----------------------------------

    def inspect(self, devices: Sequence[str] | None = None) -> Machine:
        """Inventory, then each disk's erasure plan. With `devices`, only those disks are to be
        erased; the others are kept as by a person's choice."""
        self.identity_problem = flow.restore_identity(self.station)
        with self.clock.step("inventory"):
            machine = self._take_inventory(self.station)
        self.machine = machine
        excluded = {exclusion.path: exclusion for exclusion in machine.exclusions}
        before = self.disks
        self.disks = {disk.path: DiskPlan(disk, excluded.get(disk.path),
                                          interrupted=_journal_for(disk, self.interrupted))
                      for disk in machine.disks}
        # Looked at again (a disk was plugged in): what was chosen for the same disks stays.
        for path, plan in self.disks.items():
            earlier = before.get(path)
            if earlier is not None and earlier.disk.serial == plan.disk.serial:
                plan.keep, plan.method = earlier.keep, earlier.method
                plan.released = earlier.released and plan.exclusion is not None \
                    and plan.exclusion.code == OTHER_STICK
        probe = self._probe or _default_probe(self.station)
        selectable = [plan for plan in self.disks.values() if plan.selectable]
        # A command or two per disk, each waiting on its drive: side by side.
        with ThreadPoolExecutor(max_workers=max(1, len(selectable)),
                                thread_name_prefix="probe") as pool:
            for plan, capabilities in zip(selectable, pool.map(probe, [p.disk for p in selectable]),
                                          strict=True):
                plan.capabilities = capabilities
        if devices is not None:
            wanted = set(devices)
            for plan in selectable:
                plan.keep = plan.path not in wanted
        self._plan_all()
        self.health.judge(machine, self.checked_disks())
        if self.reporter is not None:
            self.reporter.machine_known(machine, self.asset_id())
        return machine

    def checked_disks(self) -> list[Disk]:
        """The disks whose health is checked: all but those the system keeps (the stick, a disk
        in use), so also those kept by choice: they stay in the machine."""
        return [plan.disk for plan in self.disks.values() if plan.selectable]

    def start_self_tests(self) -> None:
        """Each drive's own self-test, all at once in the background, while the volunteer reads
        the screens; the erasure waits for their end (a drive refuses its erase while it tests
        itself)."""
        self.health.start_self_tests(self.checked_disks())

    def wait_self_tests(self, cancel: threading.Event | None = None) -> None:
        """Until the drives' self-tests end; `cancel` set meanwhile aborts them."""
        while self.health.self_tests_running():
            if cancel is not None and cancel.is_set():
                self.health.cancel.set()  # the drives' tests are aborted, then the erase stops
            self.health.wait_self_tests(timeout=0.5)

    def identify(self, *, asset_id: str | None, operator: str | None) -> None:
        """The workshop's number for this machine and who works on it, as typed or scanned."""
        self.choices = dataclasses.replace(self.choices, asset_id=asset_id, operator=operator)
        if self.reporter is not None and self.machine is not None:
            self.reporter.machine_known(self.machine, self.asset_id())

    def asset_id(self) -> str:
        if self.machine is None:
            return self.choices.asset_id or ""
        return asset_id_for(self.machine, self.choices.asset_id)

    def keep(self, path: str, keep: bool = True) -> None:
        """Keep a disk as it is (or erase it again). Disks the system keeps cannot be chosen."""
        plan = self._disk(path)
        if not plan.selectable and not keep:
            assert plan.exclusion is not None
            raise RunError(_("{path} cannot be erased: {reason}").format(
                path=path, reason=plan.exclusion.reason))
        plan.keep = keep

    def erase_other_stick(self, path: str) -> None:
        """Erase another reeeboot stick after all. Only a person asks for it, on the screen and
        after a confirmation: neither the configuration nor unattended mode can."""
        plan = self._disk(path)
        if not plan.releasable:
            raise RunError(_("{path} is not another reeeboot stick: the system keeps it")
                           .format(path=path))
        probe = self._probe or _default_probe(self.station)
        plan.capabilities = probe(plan.disk)
        plan.released, plan.keep = True, False
        self._plan_one(plan)

    def method_choices(self, path: str) -> list[MethodChoice]:
        """The methods the volunteer may pick for this disk: the policy's own chain (unless the
        workshop forces an overwrite), then each overwrite method."""
        plan = self._disk(path)
        choices = []
        if self.options.method == AUTO and plan.capabilities is not None:
            automatic = plan_erasure(plan.disk, plan.capabilities, self._options_for(
                dataclasses.replace(plan, method=AUTO)).policy())
            first = automatic.chain[0]
            choices.append(MethodChoice(AUTO, first.level, first.method))
        choices += [MethodChoice(method, "clear", OVERWRITE) for method in overwrite_methods()]
        return choices

    def set_method(self, path: str, method: str) -> None:
        plan = self._disk(path)
        if method not in {choice.method for choice in self.method_choices(path)}:
            raise RunError(_("{method} is not a method this disk can use").format(method=method))
        plan.method = method
        self._plan_one(plan)

    def allow_unfreeze(self, allowed: bool) -> None:
        """The answer to "may the computer sleep a few seconds to unfreeze a drive?"."""
        self.choices = dataclasses.replace(self.choices, allow_unfreeze=allowed)
        self._plan_all()

    def frozen_disks(self) -> list[DiskPlan]:
        """Disks to erase whose stronger erase needs a short sleep nobody agreed to yet."""
        if self.choices.allow_unfreeze is not None:
            return []
        return [plan for plan in self.to_erase() if plan.frozen_question]

    def to_erase(self) -> list[DiskPlan]:
        return [plan for plan in self.disks.values() if plan.erase]

    def kept(self) -> list[DiskPlan]:
        return [plan for plan in self.disks.values() if not plan.erase]

    # --- step 4: erase, then the health checks --------------------------------------------

    def erase(self, cancel: threading.Event | None = None) -> list[WipeResult]:
        """Every disk to erase, side by side; the others are left as they are. Refused while
        the station has no working identity: what it erased could not be reported."""
        if self.identity_problem is not None:
            raise RunError(self.identity_problem)
        if self.health.self_tests_running():
            with self.clock.step("self_test"):
                self.wait_self_tests(cancel)
        # Beside the erasure: they load the processor and the memory, not the disks.
        self.health.start_machine_checks(self.reported_machine())
        targets = self.to_erase()
        options = {plan.path: self._options_for(plan) for plan in targets}
        self.progress.start([plan.disk for plan in targets],
                            {path: option.verify for path, option in options.items()})
        if self.reporter is not None:
            self.reporter.machine_known(self.reported_machine(), self.asset_id())
        sinks = [self.progress.event, self._sink]
        if self.reporter is not None:
            sinks.append(self.reporter.event)
        with self.clock.step("erase"):
            self.erasures = flow.erase(self.station, [plan.disk for plan in targets],
                                       fan_out(*sinks), options=options, cancel=cancel)
        if cancel is not None and cancel.is_set():
            self.health.cancel.set()
        if self.reporter is not None:
            for result in self.erasures:
                self.reporter.disk_method(result.device, result.method)
        return self.erasures

    def check_health(self) -> dict[str, Any] | None:
        """The end of the health checks that ran beside the erasure, then the benchmarks of
        processor, memory and each disk left in the machine (read only): they would measure the
        checks' load."""
        if self.health.machine_checks_running():
            # The time the checks add to a run whose erasure ended first.
            with self.clock.step("health"):
                self.health.wait_machine_checks()
        with self.clock.step("bench"):
            self.benchmarks = flow.benchmark(self.station, self.reported_machine(),
                                             self._job_sink())
        return self.benchmarks

    # --- step 5: install ------------------------------------------------------------------

    def install_proposal(self, image_name: str | None = None,
                         target: str | None = None) -> InstallProposal:
        """The OS to install (`image_name`, else the configuration's) and the disk it goes to
        (`target`, else the configuration's, else the best one), with why."""
        from agent.install.errors import ImageError

        config = self.station.config
        name = image_name if image_name is not None else config.install_image
        proposal = InstallProposal(name)
        if not name:
            return proposal
        try:
            image = flow.find_image(self.station, name)
        except ImageError as error:
            proposal.problem = str(error)
            return proposal
        return self.proposal_for(image, target, name)

    def proposal_for(self, image: OsImage, target: str | None = None,
                     name: str | None = None) -> InstallProposal:
        """Where `image` would go: `target`, else the configured disk, else the best one."""
        config = self.station.config
        proposal = InstallProposal(name or image.name, image)
        machine = self.reported_machine()
        wanted = target if target is not None else (
            None if config.install_target == "auto" else config.install_target)
        if wanted is not None:
            proposal.target = next((disk for disk in machine.targets() if disk.path == wanted),
                                   None)
            proposal.candidates = (proposal.target,) if proposal.target is not None else ()
            proposal.reason = _wanted_target_reason(machine, wanted, proposal.target,
                                                    configured=target is None)
            return proposal
        choice = flow.install_target(machine, self.erasures, image,
                                     failing=self.health.failing_disks())
        proposal.target, proposal.reason = choice.disk, choice.reason
        proposal.ambiguous, proposal.candidates = choice.ambiguous, choice.ranked
        return proposal

    def images(self) -> tuple[list[OsImage], list[str]]:
        """Every OS image the run could install (the stick's, then the hub's), and what went
        wrong looking for them (unreadable files, a hub that does not answer)."""
        from agent.install.errors import DownloadFailed
        from agent.install.image import list_hub_images

        found, problems = [], []
        for listed in flow.os_images(self.station):
            if listed.image is not None:
                found.append(listed.image)
            else:
                problems.append(_("{file}: cannot be used: {problem}").format(
                    file=listed.file, problem=listed.problem))
        if self.station.config.hub_url:
            try:
                found += list_hub_images(self.station.config.hub_url)
            except DownloadFailed as error:
                problems.append(_("The platform's systems could not be listed: {why}.").format(
                    why=error.detail))
        return found, problems

    def install(self, image: OsImage, target: Disk, reason: str,
                cancel: threading.Event | None = None) -> InstallResult | None:
        """The image onto `target`. None when the image could not be had (nothing written);
        `install_error` then says why."""
        from agent.install.errors import ImageError

        # Whether the Wi-Fi's firmware is in the system about to be installed, not only here.
        self.health.judge_network_for(image.name, image.firmware)
        with self.clock.step("install"):
            try:
                self.installed = flow.install(
                    self.station, self.reported_machine(), image, target,
                    fan_out(self.install_progress.event, self._job_sink()),
                    asset_id=self.asset_id(), target_reason=reason, cancel=cancel)
            except ImageError as error:
                self.installed, self.install_error = None, str(error)
        return self.installed

    def skip_install(self, why: str) -> None:
        self.installed, self.install_error = None, why

    # --- step 6: the report ---------------------------------------------------------------

    def file_report(self) -> str:
        """Assemble, sign and keep the report; its id."""
        with self.clock.step("report"):
            self.report_id, _path = flow.file_report(
                self.station, self.reported_machine(), self.erasures, self.clock.started_at,
                benchmarks=self.benchmarks, health=self.health.to_json(),
                health_evidence=self.health.evidence(),
                install=self.installed.to_json() if self.installed is not None else None,
                timings=self.clock.timings, asset_id=self.choices.asset_id,
                operator=self.choices.operator)
        identity = self._machine().identity
        if identity is not None and self.station.profile is None:
            save_record(self.station.state_dir, RunRecord(identity.id, self.report_id))
        return self.report_id

    def filed_before_a_cut(self) -> str | None:
        """The report id of this machine's previous run, when that run filed its report and was
        cut before its end (it is finished by sending that report, not run again)."""
        identity = self._machine().identity
        record = load_record(self.station.state_dir)
        if identity is None or record is None or record.finished \
                or record.machine_id != identity.id:
            return None
        return record.report_id if self.station.outbox.filed(record.report_id) else None

    def deliver(self, sender: OutboxSender | None, wait_seconds: float) -> FlushOutcome:
        """Send what the outbox holds: through the running background sender when there is one
        (it keeps trying after this), else once."""
        if sender is None:
            return flow.deliver_reports(self.station, deadline_seconds=wait_seconds)
        deadline = time.monotonic() + wait_seconds
        sender.wake()
        while True:
            # An attempt already under way may have listed the outbox before this report was
            # in it: wait for attempts until the outbox itself is empty, or the time is up.
            state = sender.wait_until_empty(max(0.0, deadline - time.monotonic()),
                                            after=sender.attempts)
            waiting = [item.stem for item in self.station.outbox.waiting()]
            if not waiting or time.monotonic() >= deadline or state.revoked:
                break
        error = (state.last_error or _("the platform has not answered yet")) if waiting else None
        return FlushOutcome(waiting=waiting, last_error=error, revoked=state.revoked)

    def finish(self, *, keep_in_touch: bool = False) -> None:
        """The run is over: the hub's live view says so, and its thread ends, unless
        `keep_in_touch` (the screen's last steps: the machine stays on the hub's board and
        hears its orders until `finish()` is called again). Called again, nothing more."""
        record = load_record(self.station.state_dir)
        if record is not None and not record.finished and record.report_id == self.report_id:
            save_record(self.station.state_dir, dataclasses.replace(record, finished=True))
        self.health.stop()
        if self.reporter is not None:
            self.reporter.step("done")
            if not keep_in_touch:
                self.reporter.stop()

    def hand_over(self) -> None:
        """This run ends before it changed anything, for another run of the same machine (the
        unattended run the hub armed it for): its checks stop, and its live progress ends
        without telling the hub the machine is done."""
        self.health.stop()
        if self.reporter is not None:
            self.reporter.stop()

    def grade(self) -> tuple[Grade, Outcome]:
        """The grade and outcome the report gives (the same rules, on the same facts)."""
        machine = self.reported_machine()
        grade = grade_machine(machine, self.benchmarks, self.health.to_json())
        return grade, decide_outcome(grade, self.erasures, kept_by_choice(machine))

    def passport_url(self) -> str | None:
        """The machine's page on the platform, once a report names it: the public passport
        the hub gave when it stored the report (anyone may open it), else, before the hub
        has answered or from a hub without a public address, the workshop's own page of the
        machine (it asks its people to sign in)."""
        hub = self.station.config.hub_url
        identity = self.machine.identity if self.machine is not None else None
        if not hub or identity is None or self.station.profile is not None:
            return None
        public = self.station.outbox.passport(self.report_id) if self.report_id else None
        return public or f"{hub.rstrip('/')}/machines/{identity.id}"

    # --- what the report says ---------------------------------------------------------------

    def reported_machine(self) -> Machine:
        """The machine as the report tells it: disks kept by choice join the exclusions, and
        another reeeboot stick the volunteer asked to erase leaves them."""
        machine = self._machine()
        reason = _("kept as it is, by the operator's choice")
        kept = tuple(Exclusion(plan.path, KEPT_BY_CHOICE, reason)
                     for plan in self.disks.values() if plan.selectable and plan.keep)
        released = {plan.path for plan in self.disks.values() if plan.released}
        system = tuple(item for item in machine.exclusions if item.path not in released)
        return dataclasses.replace(machine, exclusions=(*system, *kept))

    # --- inside -------------------------------------------------------------------------------

    def _step_started(self, name: str) -> None:
        if os.environ.get(CRASH_VARIABLE) == name:
            raise InjectedCrash(f"{CRASH_VARIABLE}={name}")
        if self.reporter is not None:
            self.reporter.step(name)

    def _job_sink(self) -> EventSink:
        if self.reporter is None:
            return self._sink
        return fan_out(self._sink, self.reporter.event)

    def _machine(self) -> Machine:
        if self.machine is None:
            raise RuntimeError("the run has not looked at the machine yet (Run.inspect)")
        return self.machine

    def _disk(self, path: str) -> DiskPlan:
        try:
            return self.disks[path]
        except KeyError:
            raise RunError(_("{path}: not a disk of this machine").format(path=path)) from None

    def _options_for(self, plan: DiskPlan) -> WipeOptions:
        allow = self.choices.allow_unfreeze
        return dataclasses.replace(
            self.options, method=plan.method if plan.method != AUTO else self.options.method,
            allow_unfreeze=bool(allow) if allow is not None else self.options.allow_unfreeze,
            resume=self.options.resume and not self.choices.fresh)

    def _plan_all(self) -> None:
        for plan in self.disks.values():
            self._plan_one(plan)

    def _plan_one(self, plan: DiskPlan) -> None:
        if plan.capabilities is None:
            return
        options = self._options_for(plan)
        plan.plan = plan_erasure(plan.disk, plan.capabilities, options.policy())
        ata = plan.capabilities.ata
        plan.plan_if_unfrozen = plan_erasure(
            plan.disk, plan.capabilities, dataclasses.replace(options, allow_unfreeze=True)
            .policy()) if ata is not None and ata.security.frozen else None


def _wanted_target_reason(machine: Machine, wanted: str, found: Disk | None,
                          configured: bool) -> str:
    if found is not None:
        return _("chosen in reeeboot.toml") if configured else _("chosen by the operator")
    excluded = {exclusion.path: exclusion.reason for exclusion in machine.exclusions}
    if wanted in excluded:
        return _("{path} must not be written: {reason}").format(path=wanted,
                                                                 reason=excluded[wanted])
    return _("{path}: not a whole disk known to udev").format(path=wanted)


def _journal_for(disk: Disk, journals: Sequence[WipeJournal]) -> WipeJournal | None:
    """The unfinished journal of this very disk (same serial and size), if any."""
    return next((journal for journal in journals
                 if journal.matches(disk.serial, disk.size_bytes, disk.path)), None)


def _default_probe(station: flow.Station) -> DiskProbe:
    """This computer's drives; a recorded machine's drives answer from its profile."""
    from agent.wipe.firmware.probe import probe_for

    return probe_for(station.profile)
