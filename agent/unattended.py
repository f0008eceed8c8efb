"""Unattended mode: erase every disk that is not excluded, install the configured OS, report,
power off.

From a stick it runs only when both switches are on (design.md): `unattended = true` in
reeeboot.toml *and* `reeeboot.unattended=1` on the kernel command line. A machine booted from
the network has neither: it runs unattended only when the workshop armed it on the hub and the
countdown on its first screen ran out with nobody stopping it (agent/tui/screens/armed.py).
Progress goes to the serial console as one JSON object per line behind the `REEEBOOT ` prefix,
for test harnesses and workshop scripts; the machine's own screen says the same events in words
(agent/unattended_screen.py).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from agent import flow
from agent.config import StationConfig
from agent.events import ProgressEvent
from agent.health.model import CheckResult
from agent.i18n import _
from agent.inventory.model import Disk, Machine
from agent.power import Power, SystemPower
from agent.report import dsse
from agent.report.outbox import FlushOutcome
from agent.run.engine import Run

if TYPE_CHECKING:
    from agent.report.sender import OutboxSender
    from agent.unattended_screen import UnattendedScreen

STATUS_PREFIX = "REEEBOOT "
KERNEL_SWITCH = "reeeboot.unattended=1"
UPLOAD_DEADLINE_SECONDS = 120.0
# A machine booted from the network keeps its outbox in RAM: past the deadline, it tries again
# this often rather than switch off and lose the report.
REPORT_RETRY_SECONDS = 30.0
PROGRESS_EVERY_SECONDS = 5.0

log = logging.getLogger(__name__)


# Written when an unattended run starts; /run is emptied at every boot. Found at start, it means
# the agent is being started again in the same boot (it crashed): the screen comes up instead.
STARTED_MARK = Path("/run/reeeboot/unattended-started")


def is_unattended(config: StationConfig, cmdline: str) -> bool:
    return config.unattended and KERNEL_SWITCH in cmdline.split()


def first_unattended_start(mark: Path = STARTED_MARK) -> bool:
    """True once per boot: an unattended run that crashed is not started again by itself."""
    try:
        mark.parent.mkdir(parents=True, exist_ok=True)
        mark.touch(exist_ok=False)
    except FileExistsError:
        return False
    except OSError:
        return True  # /run not writable (a developer's machine): nothing to remember it in
    return True


def unattended_started_in_this_boot(mark: Path = STARTED_MARK) -> bool:
    """Whether an unattended run already started in this boot (first_unattended_start's mark):
    a network-booted machine armed by the hub then stays attended."""
    return mark.exists()


def why_unattended_stopped(mark: Path = STARTED_MARK) -> str:
    """What the unattended run of this boot wrote down as it failed; "" when it died without a
    word (killed, out of memory)."""
    try:
        return mark.read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def _note_failure(why: str, mark: Path = STARTED_MARK) -> None:
    with contextlib.suppress(OSError):  # the status line has said it already
        mark.write_text(why + "\n", encoding="utf-8")


class RunStopped(Exception):
    """The run cannot go on without a person; the message is in the volunteer's language."""


class StatusLine:
    """Writes machine-readable status lines, one JSON object each, flushed at once.

    `screen`: says the same events in words on the machine's own screen (an unattended run's);
    the status lines stay as they are."""

    def __init__(self, stream: TextIO, screen: UnattendedScreen | None = None) -> None:
        self.stream = stream
        self.screen = screen
        self._lock = threading.Lock()
        self._last_progress: dict[str, float] = {}

    def emit(self, event: str, **fields: Any) -> None:
        line = STATUS_PREFIX + json.dumps({"event": event, **fields}, sort_keys=True)
        with self._lock:
            self.stream.write(line + "\r\n")
            self.stream.flush()
        self._on_screen(lambda screen: screen.tell(event, fields))

    def show_disks(self, disks: Sequence[Disk]) -> None:
        """The disks as the run found them, for the screen only: a status line names a disk
        without its model, which the volunteer compares with the label."""
        self._on_screen(lambda screen: screen.know_disks(disks))

    def _on_screen(self, say: Callable[[UnattendedScreen], None]) -> None:
        screen = self.screen
        if screen is None:
            return
        try:
            say(screen)
        except Exception:  # words on a screen are never worth stopping an erasure for
            log.exception("the screen stopped telling the unattended run")
            self.screen = None

    def progress(self, event: ProgressEvent) -> None:
        now = time.monotonic()
        final = event.phase in ("done", "failed")
        if not final and now - self._last_progress.get(event.job, 0.0) < PROGRESS_EVERY_SECONDS:
            return
        self._last_progress[event.job] = now
        self.emit("progress", **event.to_json())


# Where the status lines go on a machine without a serial port (most laptops): a file, not the
# screen, which says the same in words (agent/unattended_screen.py).
STATUS_FILE = "/run/reeeboot/status.jsonl"


def open_status_stream(status_file: Path | None = None) -> TextIO:
    """The serial port; without one, `status_file` (REEEBOOT_STATUS_FILE, STATUS_FILE); standard
    output only when neither can be opened (a developer's terminal, not root)."""
    port = open_status_port()
    if port is not None:
        return port
    if status_file is None:
        status_file = Path(os.environ.get("REEEBOOT_STATUS_FILE", STATUS_FILE))
    try:
        status_file.parent.mkdir(parents=True, exist_ok=True)
        return open(status_file, "a", encoding="utf-8")  # lives for the whole run
    except OSError:
        return sys.stdout


def open_status_port() -> TextIO | None:
    """The serial port the status lines go to, None when it cannot be opened (no such port, or
    not root). The walk-through then writes none: its screen is the terminal."""
    path = os.environ.get("REEEBOOT_STATUS_TTY", "/dev/ttyS0")
    try:
        return open(path, "w", encoding="utf-8")  # lives for the whole run
    except OSError:
        return None


def run_unattended(
    station: flow.Station,
    status: StatusLine,
    *,
    power_off: bool = True,
    take_inventory: Callable[[flow.Station], Machine] = flow.inventory,
    failure_mark: Path = STARTED_MARK,
    arming: int | None = None,
    power: Power | None = None,
) -> int:
    """The run engine's steps in order, with the configuration's answers to every question;
    each step told on the status line.

    A run that cannot go on (the station has no working identity, or a step fails) ends with
    a `failed` status line naming why, written down for the screen that takes over when
    systemd starts the agent again (reeeboot.service): the machine never waits in silence.

    `arming`: the hub's arming this run obeys (a network-booted machine), told in its live
    progress. `power`: how the machine is switched off at the end (systemd by default)."""
    switch_off = (power or SystemPower()) if power_off else None
    try:
        return _run_unattended(station, status, switch_off=switch_off,
                               take_inventory=take_inventory, arming=arming)
    except RunStopped as stop:
        why = str(stop)
    except Exception as error:
        log.exception("the unattended run failed")
        why = f"{type(error).__name__}: {error}"
    return stop_unattended(status, why, failure_mark)


def stop_unattended(status: StatusLine, why: str, mark: Path = STARTED_MARK) -> int:
    """The run cannot go on: say why on the status line, and write it down for the screen that
    takes over when systemd starts the agent again. The exit status."""
    status.emit("failed", error=why)
    _note_failure(why, mark)
    return 3


def _run_unattended(
    station: flow.Station,
    status: StatusLine,
    *,
    switch_off: Power | None,
    take_inventory: Callable[[flow.Station], Machine],
    arming: int | None,
) -> int:
    run = Run(station, sink=status.progress, take_inventory=take_inventory,
              on_health=lambda result: status.emit("health", **health_line(result)))
    armed = {"arming": arming} if arming is not None else {}
    status.emit("start", data_dir=str(station.data_dir), state_dir=str(station.state_dir),
                **armed)
    if arming is not None:
        run.tell_hub_arming(arming, "started")
    machine = run.inspect()
    if run.identity_problem is not None:
        raise RunStopped(run.identity_problem)
    status.show_disks(machine.disks)
    status.emit(
        "inventory",
        disks=[{"path": d.path, "bus": d.bus, "serial": d.serial, "size_bytes": d.size_bytes}
               for d in machine.disks],
        excluded=[{"path": e.path, "code": e.code, "reason": e.reason}
                  for e in machine.exclusions],
    )
    filed = run.filed_before_a_cut()
    if filed is not None:
        return _finish_cut_run(run, status, filed, switch_off=switch_off)
    if run.interrupted:
        status.emit("interrupted", disks=[
            {"device": journal.device, "serial": journal.serial, "pass": journal.pass_index,
             "offset": journal.written_up_to} for journal in run.interrupted])
    status.emit("plan", targets=[plan.path for plan in run.to_erase()])
    run.start_self_tests()
    results = run.erase()
    for result in results:
        record = result.to_json()
        status.emit("disk_result", **{key: record[key] for key in (
            "device", "serial", "method", "level", "result", "bytes_written", "seconds",
            "bad_ranges", "error")})
    benchmarks = run.check_health()
    status.emit("benchmarks", measured=benchmarks is not None)
    install_failed = False
    if station.config.install_image:
        install_failed = _install(run, status)
    report_id = run.file_report()
    status.emit("report", report_id=report_id)
    failed = [result.device for result in results if result.result == "failed"]
    if install_failed:
        failed.append(run.installed.target.path if run.installed is not None else "install")
    return _deliver_and_end(run, status, failed, switch_off=switch_off)


def health_line(result: CheckResult) -> dict[str, Any]:
    """A health check's result as its status line tells it: the verdict and the findings' codes
    and English texts (the report keeps the rest)."""
    return {"check": result.check, "subject": result.subject, "verdict": result.verdict,
            "seconds": result.seconds,
            "findings": [{"code": finding.code, "verdict": finding.verdict, "text": finding.text}
                         for finding in result.findings]}


def _finish_cut_run(run: Run, status: StatusLine, report_id: str, *,
                    switch_off: Power | None) -> int:
    """This machine's previous run filed its report and was cut before its end: send that
    report and end, rather than erase the disks again for a second report of the same work."""
    status.emit("resumed_report", report_id=report_id)
    run.report_id = report_id
    failed = []
    path = run.station.outbox.filed(report_id)
    if path is not None:  # filed_before_a_cut found it; a person may have moved it since
        _type, payload, _signatures = dsse.parse(json.loads(path.read_text()))
        failed = [entry["device"] for entry in json.loads(payload)["erasure"]
                  if entry["result"] == "failed"]
    return _deliver_and_end(run, status, failed, switch_off=switch_off)


def _deliver_and_end(run: Run, status: StatusLine, failed: list[str], *,
                     switch_off: Power | None) -> int:
    station = run.station
    # The background sender: it also tries at once when a network appears (a cable plugged in
    # late), not only on its backoff.
    waiting_before = [item.stem for item in station.outbox.waiting()]
    sender = flow.start_sender(station) if station.config.hub_url else None
    try:
        delivery = run.deliver(sender, UPLOAD_DEADLINE_SECONDS)
        status.emit("upload",
                    sent=[name for name in waiting_before if name not in delivery.waiting],
                    waiting=delivery.waiting, error=delivery.last_error)
        if switch_off is not None and station.network_boot is not None:
            # No stick: switched off, the report in RAM would be lost.
            delivery = _until_sent(run, sender, status, delivery)
    finally:
        if sender is not None:
            sender.stop()
    run.finish()
    status.emit("done", ok=not failed, failed=failed, report_waiting=bool(delivery.waiting))
    os.sync()
    if switch_off is not None:
        switch_off.power_off()
    return 1 if failed else 0


def _until_sent(run: Run, sender: OutboxSender | None, status: StatusLine,
                delivery: FlushOutcome) -> FlushOutcome:
    """Tries again every REPORT_RETRY_SECONDS, saying so each time, until the outbox is empty.
    A station the hub revoked waits too: only a person can help it, and the line says why."""
    while delivery.waiting:
        status.emit("report_waiting", waiting=delivery.waiting, error=delivery.last_error,
                    retry_seconds=REPORT_RETRY_SECONDS)
        began = time.monotonic()
        delivery = run.deliver(sender, REPORT_RETRY_SECONDS)
        if delivery.waiting:  # back before its time (the hub revoked the station): no busy loop
            time.sleep(max(0.0, REPORT_RETRY_SECONDS - (time.monotonic() - began)))
    return delivery


def _install(run: Run, status: StatusLine) -> bool:
    """Step 5, `[install] image` naming an image: on the configured disk, or the best one
    (the first of equally good disks: nobody is there to ask, and the report says so).
    True when the install failed."""
    proposal = run.install_proposal()
    if proposal.image is None or proposal.target is None:
        error = proposal.problem or proposal.reason
        run.skip_install(error)
        status.emit("install_result", result="failed", error=error)
        return True
    reason = proposal.reason
    if proposal.ambiguous:
        reason = _("{reason}: took {path}, the first").format(reason=reason,
                                                              path=proposal.target.path)
    status.emit("install", image=proposal.image.label, target=proposal.target.path, reason=reason)
    installed = run.install(proposal.image, proposal.target, reason)
    if installed is None:
        status.emit("install_result", result="failed", error=run.install_error)
        return True
    record = installed.to_json()
    status.emit("install_result", **{key: record[key] for key in (
        "result", "error", "bytes_written", "seconds", "verification", "boot_mode", "hostname",
        "bootloader", "grow", "post_install_check")})
    return installed.result != "installed"


def kernel_cmdline(path: Path = Path("/proc/cmdline")) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
