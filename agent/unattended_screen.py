"""What the machine's own screen says during an unattended run.

The run tells its progress to machines: JSON status lines on the serial port
(agent/unattended.py). A volunteer walking past reads the screen, tty1, where the walk-through
would be: without words there an erasing machine looks like a frozen one, and nothing says that
it must not be switched off, nor when it is done. The narrator hears the same events as the
status line and says each in a few plain lines, in the station's language, after one clear of
the screen: which disks go, how far each one is (at most a line every 10 s or every 10 %, so
that the lines stay readable), what came of each, the report, the end.

Text from outside (disk models, error messages, the station's name) is shown as data: escape
sequences are removed, and control characters and glyphs the console's font lacks (it has code
page 437's) read "?".
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from agent.events import ProgressEvent
from agent.i18n import _, ngettext
from agent.inventory.model import Disk
from agent.report.labels import OVERWRITE_PASSES
from agent.run.progress import DiskProgress, ErasureProgress, InstallTracker
from agent.tui.health_words import check_name, verdict_word
from agent.units import duration, rate
from agent.wipe.labels import level_label, method_label
from agent.words import disk_title, failure_words, install_phase_line, phase_line, speed_and_time

if TYPE_CHECKING:
    from agent import flow

log = logging.getLogger(__name__)

# Home, then erase the display: whatever the boot or the walk-through left there goes.
CLEAR_SCREEN = "\x1b[H\x1b[2J"
RULE = "=" * 72
# A disk's progress line comes when it moved on by this much, or after this long without one:
# the screen shows the machine is alive without scrolling away what came before.
PROGRESS_EVERY_SECONDS = 10.0
PROGRESS_STEP_PERCENT = 10
# How long the end of a run waits for its last lines to reach a console whose output is stopped
# (Scroll Lock): they are the ones a person must read, but the run does not wait for ever.
END_WAIT_SECONDS = 5.0
# Lines kept for a stopped console; past that the oldest go, the newest say where the run is.
WAITING_LINES_LIMIT = 2000

# CSI and OSC sequences, 8-bit CSI, and two-character escapes: all of them, whole.
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x9b[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[ -/]*[0-~]")
_PROGRESS_FIELDS = {field.name for field in dataclasses.fields(ProgressEvent)}


def as_data(value: object) -> str:
    """Text from outside as the console can only show it: escape sequences removed, and any
    other control character, or a glyph the console's font lacks, as "?"."""
    text = _ESCAPE_SEQUENCE.sub("", str(value))
    return "".join(char if char.isprintable() and char.encode("cp437", "ignore") else "?"
                   for char in text)


@dataclasses.dataclass(frozen=True)
class _Shown:
    """A job's last progress line: when, at which 10 % step, doing what."""

    at: float
    step: int
    doing: str


class UnattendedScreen:
    """Says an unattended run's status events on the machine's screen, in the station's language.

    `out`: the screen; `network_boot`: the machine has no stick (its report lives in memory
    until it is sent); `switches_off`: the run ends by switching the machine off; `erase_verify`
    and `install_verify`: the configuration's read-back settings, which the estimates and the
    words need; `in_background`: lines are written from a thread of their own, so that a
    console whose output is stopped (Scroll Lock, Ctrl+S) never holds up the erasure whose
    events it tells."""

    def __init__(self, out: TextIO, *, station_name: str = "", network_boot: bool = False,
                 switches_off: bool = True, erase_verify: str = "full",
                 install_verify: bool = True, clock: Callable[[], float] = time.monotonic,
                 in_background: bool = False) -> None:
        self.station_name = station_name
        self.network_boot = network_boot
        self.switches_off = switches_off
        self.erase_verify = erase_verify
        self.install_verify = install_verify
        self._clock = clock
        self._out = out
        self._writer = BackgroundLines(out) if in_background else None
        self._lock = threading.Lock()
        self._started = False
        self._last_line_blank = False
        self._models: dict[str, Disk] = {}
        self._inventory: dict[str, Any] = {}
        self._erasure = ErasureProgress()
        self._shown: dict[str, _Shown] = {}
        self._results_told = False
        self._measuring_told = False
        self._install: InstallTracker | None = None
        self._install_words: dict[str, str] = {}
        self._install_target = ""
        self._report_waiting = False
        self._failures: list[str] = []  # the lines that said what failed, for the end
        self._failures_told: set[str] = set()  # what they named, as the `done` event names it

    def know_disks(self, disks: Sequence[Disk]) -> None:
        """The disks as the run found them: the status lines name a disk without its model,
        which the volunteer compares with the label."""
        with self._lock:
            self._models = {disk.path: disk for disk in disks}

    def tell(self, event: str, fields: Mapping[str, Any]) -> None:
        """One status event, said on the screen (or nothing, when it is not worth a line)."""
        with self._lock:
            lines = [] if self._started else self._opening()
            self._started = True
            lines += self._lines_for(event, fields)
            shown = []
            for line in lines:
                if line or not self._last_line_blank:  # one blank line between blocks
                    shown.append(line)
                    self._last_line_blank = not line
            if shown:
                self._write("".join(line + "\n" for line in shown))
        if event in ("done", "failed") and self._writer is not None:
            self._writer.wait_written(END_WAIT_SECONDS)

    # --- what each event says ---------------------------------------------------------------

    def _opening(self) -> list[str]:
        lines = [CLEAR_SCREEN + RULE, _("Unattended erasure: do not switch this computer off"),
                 RULE]
        if self.station_name:
            lines.append(_("Station: {name}").format(name=as_data(self.station_name)))
        return lines

    def _lines_for(self, event: str, fields: Mapping[str, Any]) -> list[str]:
        say: Callable[[Mapping[str, Any]], list[str]] | None = getattr(
            self, f"_on_{event}", None)
        return say(fields) if say is not None else []

    def _on_config_problem(self, fields: Mapping[str, Any]) -> list[str]:
        return [_("Settings problem: {problem}").format(problem=as_data(fields.get("message")))]

    def _on_start(self, fields: Mapping[str, Any]) -> list[str]:
        if fields.get("arming") is None:
            return []
        return [_("Armed by the workshop from the hub (arming {arming}): nobody stopped its "
                  "countdown.").format(arming=as_data(fields["arming"]))]

    def _on_inventory(self, fields: Mapping[str, Any]) -> list[str]:
        self._inventory = dict(fields)
        return []

    def _on_interrupted(self, fields: Mapping[str, Any]) -> list[str]:
        disks = ", ".join(as_data(disk.get("device")) for disk in fields.get("disks", []))
        return [_("Erasures a power cut interrupted resume where they stopped: {disks}").format(
            disks=disks)]

    def _on_plan(self, fields: Mapping[str, Any]) -> list[str]:
        targets = [self._disk(path) for path in fields.get("targets", [])]
        self._erasure.start(targets, {disk.path: self.erase_verify for disk in targets})
        lines = [""]
        if targets:
            lines.append(ngettext("It will erase {count} disk:", "It will erase {count} disks:",
                                  len(targets)).format(count=len(targets)))
            lines += [f"  {as_data(disk.path)}  {disk_title(disk)}" for disk in targets]
        else:
            lines.append(_("No disk to erase."))
        for kept in self._inventory.get("excluded", []):
            lines.append("  " + _("Kept: {path} ({reason})").format(
                path=as_data(kept.get("path")), reason=as_data(kept.get("reason"))))
        return [*lines, ""]

    def _on_progress(self, fields: Mapping[str, Any]) -> list[str]:
        event = ProgressEvent(**{key: value for key, value in fields.items()
                                 if key in _PROGRESS_FIELDS})
        if self._install is not None:
            self._install.event(event)
            return self._install_progress()
        if self._measuring_told:  # the erasures are over: the benchmarks read the disks
            return []
        if event.phase == "bench":
            self._measuring_told = True
            return [_("Measuring the disks' speed (read only)...")]
        before = self._disk_progress(event.job)
        if before is None or before.over:  # not an erasure's (a benchmark's end)
            return []
        self._erasure.event(event)
        return self._erasure_progress(event.job)

    def _erasure_progress(self, job: str) -> list[str]:
        disk = self._disk_progress(job)
        if disk is None:
            return []
        percent = int(disk.fraction() * 100)
        doing = phase_line(disk)
        if not disk.over and not self._time_for_a_line(job, percent, doing):
            return []
        line = _("{path}: {percent} %  {doing}").format(path=as_data(job), percent=percent,
                                                        doing=as_data(doing))
        speed = speed_and_time(disk)
        return [f"{line}  {speed}" if speed else line]

    def _install_progress(self) -> list[str]:
        assert self._install is not None
        progress = self._install.snapshot()
        percent = int(progress.fraction() * 100)
        doing = install_phase_line(progress)
        if progress.phase in ("done", "failed") or not self._time_for_a_line(
                "install", percent, doing):
            return []  # the install's result says how it ended
        parts = [_("Install: {percent} %  {doing}").format(percent=percent, doing=doing)]
        if progress.bytes_per_second > 0 and progress.phase in ("download", "write", "verify"):
            parts.append(rate(progress.bytes_per_second))
        left = progress.seconds_left()
        if left is not None:
            parts.append(_("{time} left").format(time=duration(left)))
        return ["  ".join(parts)]

    def _time_for_a_line(self, job: str, percent: int, doing: str) -> bool:
        """Whether a job's progress is worth a line now: its first, another step of 10 %, a new
        phase or pass, or the time since its last line."""
        now = self._clock()
        step = percent // PROGRESS_STEP_PERCENT
        last = self._shown.get(job)
        if last is not None and step == last.step and doing == last.doing \
                and now - last.at < PROGRESS_EVERY_SECONDS:
            return False
        self._shown[job] = _Shown(now, step, doing)
        return True

    def _on_health(self, fields: Mapping[str, Any]) -> list[str]:
        check = check_name(str(fields.get("check")))
        subject = str(fields.get("subject", ""))
        if subject.startswith("/"):  # a disk's check names the disk
            check = _("{check} of {disk}").format(check=check, disk=as_data(subject))
        return [_("Health check, {check}: {verdict}").format(
            check=as_data(check), verdict=verdict_word(str(fields.get("verdict"))))]

    def _on_disk_result(self, fields: Mapping[str, Any]) -> list[str]:
        lines = []
        if not self._results_told:
            self._results_told = True
            lines += ["", _("Erasure results:")]
        lines.append("  " + self._disk_result(fields))
        return lines

    def _disk_result(self, fields: Mapping[str, Any]) -> str:
        path = as_data(fields.get("device"))
        method = str(fields.get("method"))
        words = {"path": path, "method": method_label(method),
                 "level": level_label(str(fields.get("level"))),
                 "time": duration(float(fields.get("seconds") or 0.0))}
        result = fields.get("result")
        if result == "erased":
            # A drive's own erase is always read back by sample; an overwrite as configured.
            read_back = method not in OVERWRITE_PASSES or self.erase_verify != "off"
            if read_back:
                return _("{path}: erased and verified ({method}, {level}), in {time}").format(
                    **words)
            return _("{path}: erased, not read back ({method}, {level}), in {time}").format(
                **words)
        if result == "erased_with_exceptions":
            count = len(fields.get("bad_ranges") or [])
            return ngettext("{path}: erased, except {count} area that refused to be written "
                            "({method}, {level})",
                            "{path}: erased, except {count} areas that refused to be written "
                            "({method}, {level})", count).format(count=count, **words)
        why = as_data(failure_words(fields.get("error")))
        if result == "skipped":
            return _("{path}: not erased: {why}").format(path=path, why=why)
        failure = _("{path}: NOT ERASED: {why}").format(path=path, why=why)
        self._failed(failure, str(fields.get("device")))
        return failure

    def _on_install(self, fields: Mapping[str, Any]) -> list[str]:
        self._install = InstallTracker(self.install_verify)
        self._install_target = str(fields.get("target"))
        self._install_words = {"image": as_data(fields.get("image")),
                               "disk": as_data(self._install_target)}
        return ["", _("Installing {image} on {disk}.").format(**self._install_words)]

    def _on_install_result(self, fields: Mapping[str, Any]) -> list[str]:
        self._install = None
        error = as_data(fields.get("error") or _("unknown error"))
        if not self._install_words:  # nothing could be installed: no image, or no disk for it
            line = _("Nothing was installed: {error}").format(error=error)
            self._failed(line, "install")
            return ["", line]
        if fields.get("result") != "installed":
            line = _("The installation FAILED: {error}").format(error=error)
            self._failed(line, "install", self._install_target)
            return [line]
        lines = [_("{image} is installed on {disk}, named {hostname}.").format(
            hostname=as_data(fields.get("hostname")), **self._install_words)]
        check = fields.get("post_install_check") or {}
        if check.get("result") == "failed":
            problems = "; ".join(as_data(problem) for problem in check.get("problems") or [])
            lines.append(_("Check of the installed system: FAILED ({problems}).").format(
                problems=problems or _("unknown error")))
        return lines

    def _on_report(self, fields: Mapping[str, Any]) -> list[str]:
        return ["", _("Report filed: {report_id}").format(report_id=as_data(
            fields.get("report_id")))]

    def _on_resumed_report(self, fields: Mapping[str, Any]) -> list[str]:
        return ["", _("The previous run's report is filed already ({report_id}): it is sent, "
                      "and nothing is erased again.").format(
            report_id=as_data(fields.get("report_id")))]

    def _on_upload(self, fields: Mapping[str, Any]) -> list[str]:
        if not fields.get("waiting"):
            return [_("Report sent to the workshop's hub.")]
        self._report_waiting = True
        why = as_data(fields.get("error") or _("unknown error"))
        if self.network_boot:
            warning = _("DO NOT SWITCH OFF: the report is only in this computer's memory.")
            # A run that switches off tries again until it is sent, each try a line with why.
            return [warning] if self.switches_off else [
                warning, _("Not sent yet: {why}").format(why=why)]
        return [_("Report not sent ({why}): it stays on the stick, which sends it the next "
                  "time it starts a computer with a network.").format(why=why)]

    def _on_report_waiting(self, fields: Mapping[str, Any]) -> list[str]:
        return [_("Report not sent yet ({why}): trying again in {seconds} s; do not switch "
                  "off.").format(why=as_data(fields.get("error") or _("unknown error")),
                                 seconds=round(float(fields.get("retry_seconds") or 0)))]

    def _on_done(self, fields: Mapping[str, Any]) -> list[str]:
        failed = [str(what) for what in fields.get("failed") or []]
        # A resumed run's failures come from its earlier report: only their names are known.
        failures = self._failures + [_("FAILED: {error}").format(error=as_data(what))
                                     for what in failed if what not in self._failures_told]
        if self.switches_off:
            end = [_("Finished, with failures: switching off.") if failed
                   else _("Finished: switching off.")]
        elif fields.get("report_waiting") and self.network_boot:
            # Left on with its report unsent: switched off, the report would be lost.
            end = [_("Finished."),
                   _("DO NOT SWITCH OFF: the report is only in this computer's memory.")]
        else:
            end = [_("Finished, with failures: this computer can be switched off.") if failed
                   else _("Finished: this computer can be switched off.")]
        lines = []
        if self._report_waiting and not fields.get("report_waiting"):
            lines.append(_("Report sent to the workshop's hub."))  # at one of its new tries
        return [*lines, "", RULE, *failures, *end, RULE]

    def _on_failed(self, fields: Mapping[str, Any]) -> list[str]:
        return ["", RULE,
                _("STOPPED: {why}").format(why=as_data(fields.get("error") or
                                                       _("unknown error"))),
                _("Nothing more is erased without a person: the screen takes over."), RULE]

    # --- helpers ------------------------------------------------------------------------------

    def _failed(self, line: str, *names: str) -> None:
        self._failures.append(line)
        self._failures_told.update(names)

    def _disk(self, path: str) -> Disk:
        """The disk as the run found it (its model shown as data), else as the status line
        told it."""
        known = self._models.get(path)
        if known is not None:
            return dataclasses.replace(known, model=as_data(known.model) if (
                known.model is not None) else None)
        told: Mapping[str, Any] = next((disk for disk in self._inventory.get("disks", [])
                                        if disk.get("path") == path), {})
        return Disk(path.rsplit("/", 1)[-1], path, str(told.get("bus", "")), None,
                    told.get("serial"), int(told.get("size_bytes") or 0), 512, False, False)

    def _disk_progress(self, job: str) -> DiskProgress | None:
        return next((disk for disk in self._erasure.snapshot() if disk.path == job), None)

    def _write(self, text: str) -> None:
        if self._writer is not None:
            self._writer.write(text)
            return
        self._out.write(text)
        self._out.flush()


class BackgroundLines:
    """Text for a console, written from a thread of its own: a console whose output is stopped
    blocks this thread, never the one that has something to say."""

    def __init__(self, out: TextIO, limit: int = WAITING_LINES_LIMIT) -> None:
        self._out = out
        self._waiting: collections.deque[str] = collections.deque(maxlen=limit)
        self._changed = threading.Condition()
        self._writing = False
        threading.Thread(target=self._write_forever, name="unattended-screen",
                         daemon=True).start()

    def write(self, text: str) -> None:
        with self._changed:
            self._waiting.append(text)
            self._changed.notify_all()

    def wait_written(self, seconds: float) -> bool:
        """Waits at most `seconds` for everything given to be written; whether it was."""
        deadline = time.monotonic() + seconds
        with self._changed:
            while self._waiting or self._writing:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    def _write_forever(self) -> None:
        while True:
            with self._changed:
                while not self._waiting:
                    self._changed.wait()
                text = self._waiting.popleft()
                self._writing = True
            try:
                self._out.write(text)
                self._out.flush()
            except (OSError, ValueError):  # the console hung up: the run goes on without it
                log.warning("the unattended run's screen cannot be written to", exc_info=True)
            finally:
                with self._changed:
                    self._writing = False
                    self._changed.notify_all()


def unattended_screen(station: flow.Station, status_stream: TextIO, *, switches_off: bool,
                      screen: TextIO | None = None) -> UnattendedScreen | None:
    """The narrator for an unattended run on this machine's screen (standard output, or
    `screen`), or None: when the status lines already go there (open_status_stream()'s last
    resort, and one screen does not get both), or when standard output is not a terminal (a
    pipe, a file: nobody reads a screen there)."""
    out = screen if screen is not None else sys.stdout
    if same_output(out, status_stream):
        return None
    if screen is None and not _is_terminal(out):
        return None
    config = station.config
    return UnattendedScreen(out, station_name=config.station_name,
                            network_boot=station.network_boot is not None,
                            switches_off=switches_off, erase_verify=config.erase_verify,
                            install_verify=config.install_verify, in_background=True)


def same_output(first: TextIO, second: TextIO) -> bool:
    """Whether two streams end in the same place: the same object, or the same file or device
    (/dev/tty1 opened by name is standard output on tty1)."""
    if first is second:
        return True
    try:
        one, other = os.fstat(first.fileno()), os.fstat(second.fileno())
    except (OSError, ValueError, AttributeError):  # a stream without a file (a test's StringIO)
        return False
    return (one.st_dev, one.st_ino) == (other.st_dev, other.st_ino)


def _is_terminal(stream: TextIO) -> bool:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        return stream.isatty()
    return False
