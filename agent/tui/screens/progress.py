"""Step 5: the erasure, one row per disk, and the health checks. The disks' own self-tests come
first (each row says how far its disk got: the erasure waits for them); then the processor,
memory and battery checks run beside the erasure, in a frame of their own. A disk that fails or
is unplugged says why while the others go on; stopping asks first, and leaves a journal from which
the next erasure of those disks resumes. Whatever runs, the screen says what it waits for: it is
never silent."""

from __future__ import annotations

import threading
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from agent.health.disk import SELF_TEST_CHECK
from agent.i18n import N_, _
from agent.run.engine import Run
from agent.run.progress import DiskProgress
from agent.tui.console import plain
from agent.tui.health_words import failure_line, machine_checks, waiting_for_self_test
from agent.tui.screens.base import ESCAPE, StepScreen
from agent.tui.screens.dialogs import Question
from agent.tui.widgets.health_checks import HealthChecks
from agent.tui.widgets.progress_row import ProgressRow
from agent.words import total_time_left

REDRAW_SECONDS = 0.5
STOP_QUESTION = "stop-erasure"


class ProgressScreen(StepScreen):
    STEP = 5
    STEP_NAME = N_("erasure and health checks")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "stop", N_("Stop"), key_display=ESCAPE),
        # While the disks are erased, the volunteer tests what only a person can.
        Binding("t", "guided_checks", N_("Test the keyboard, screen, sound...")),
    ]

    def __init__(self, cancel: threading.Event) -> None:
        super().__init__()
        self.cancel = cancel
        self._stoppable = True  # as the keys' line last showed it

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="rows", classes="list") as rows:
            rows.border_title = plain(_("Erasing"))
            for plan in self.walkthrough.current_run.to_erase():
                disk = plan.disk
                yield ProgressRow(DiskProgress(disk.path, disk.model, disk.serial,
                                               disk.size_bytes))
        checks = HealthChecks(id="health", classes="hidden")
        checks.border_title = plain(_("Health checks"))
        yield checks
        yield Static("", id="total", classes="text", markup=False)

    def on_mount(self) -> None:
        self.redraw()
        self.set_interval(REDRAW_SECONDS, self.redraw)

    def redraw(self) -> None:
        run = self.walkthrough.current_run
        health = run.health
        erasure = {progress.path: progress for progress in run.progress.snapshot()}
        self_tests = {progress.subject: progress for progress in health.snapshot()
                      if progress.check == SELF_TEST_CHECK}
        for row in self.query(ProgressRow):
            path = row.progress.path
            failing = failure_line(health, path)
            if path in erasure:
                row.show(erasure[path], health=failing)
            elif path in self_tests:  # the erasure has not started: it waits for the tests
                row.show(row.progress, status=waiting_for_self_test(self_tests[path]),
                         health=failing)
        checks = machine_checks(health)
        panel = self.query_one(HealthChecks)
        panel.set_class(not checks, "hidden")
        if checks:
            panel.show(checks, health.clock())
        self.query_one("#total", Static).update(plain(self.summary(run, erasure)))
        if self.stoppable() != self._stoppable:
            self._stoppable = self.stoppable()
            self.refresh_bindings()

    def stoppable(self) -> bool:
        """Until the erasure is over or stopped: the checks that finish after it have nothing
        to lose, so Esc leaves the keys' line then."""
        return not self.cancel.is_set() and not self.walkthrough.current_run.erasures

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop":
            return self.stoppable()
        if action == "guided_checks":
            return self.walkthrough.guided_checks_left() > 0
        return True

    def on_screen_resume(self) -> None:
        self.refresh_bindings()  # back from the guided checks: the key goes once all are done

    def action_guided_checks(self) -> None:
        self.walkthrough.start_guided_checks()

    def summary(self, run: Run, erasure: dict[str, DiskProgress]) -> str:
        """What the whole step waits for, on the line under the frames."""
        health = run.health
        if self.cancel.is_set():
            return _("Stopping: each disk stops at its next checkpoint...")
        if any(not progress.over for progress in erasure.values()):
            return total_time_left(run.progress.seconds_left())
        if not erasure and health.self_tests_running():
            return _("The disks test themselves first (self-test); the erasure starts when "
                     "they are done.")
        if health.machine_checks_running():
            return _("The health checks are finishing (processor, memory, battery); the next "
                     "step comes by itself.")
        if not erasure and not run.erasures and not run.to_erase():
            return _("No disk to erase.")
        if not erasure and not run.erasures:
            return total_time_left(None)  # the erasure is starting
        return _("Measuring the speed of the processor, memory and disks (reading only)...")

    def action_stop(self) -> None:
        if not self.stoppable():
            return

        def answered(stop: bool | None) -> None:
            if stop:
                self.cancel.set()
                self.redraw()

        # Made once and kept for the app's life (the next machines' erasures show it again):
        # the erasure keeps the processor busy, and a dialog composed afresh at each press
        # would answer the key later.
        if not self.app.is_screen_installed(STOP_QUESTION):
            self.app.install_screen(Question(
                _("Stop the erasure?"),
                _("The disks are not completely erased yet. Their erasure can resume where it "
                  "stopped: the next time they are erased, from this stick."),
                _("Stop the erasure"), _("Go on erasing")), STOP_QUESTION)
        self.app.push_screen(STOP_QUESTION, answered)
