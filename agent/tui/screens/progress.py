"""Step 5: the erasure, one row per disk, then the health checks. A disk that fails or is
unplugged says why while the others go on; stopping asks first, and leaves a journal from which
the next erasure of those disks resumes."""

from __future__ import annotations

import threading
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from agent.i18n import N_, _
from agent.run.progress import DiskProgress
from agent.tui.console import plain
from agent.tui.screens.base import ESCAPE, StepScreen
from agent.tui.screens.dialogs import Question
from agent.tui.widgets.progress_row import ProgressRow
from agent.words import total_time_left

REDRAW_SECONDS = 0.5
STOP_QUESTION = "stop-erasure"


class ProgressScreen(StepScreen):
    STEP = 5
    STEP_NAME = N_("erasure and health checks")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "stop", N_("Stop"), key_display=ESCAPE),
    ]

    def __init__(self, cancel: threading.Event) -> None:
        super().__init__()
        self.cancel = cancel

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="rows", classes="list") as rows:
            rows.border_title = plain(_("Erasing"))
            for plan in self.walkthrough.current_run.to_erase():
                disk = plan.disk
                yield ProgressRow(DiskProgress(disk.path, disk.model, disk.serial,
                                               disk.size_bytes))
        yield Static("", id="total", classes="text", markup=False)

    def on_mount(self) -> None:
        if not self.walkthrough.current_run.to_erase():
            self.query_one("#total", Static).update(plain(_("No disk to erase.")))
        self.redraw()
        self.set_interval(REDRAW_SECONDS, self.redraw)

    def redraw(self) -> None:
        run = self.walkthrough.current_run
        snapshot = {progress.path: progress for progress in run.progress.snapshot()}
        for row in self.query(ProgressRow):
            if row.progress.path in snapshot:
                row.show(snapshot[row.progress.path])
        if self.cancel.is_set():
            text = _("Stopping: each disk stops at its next checkpoint...")
        elif run.erasures or not snapshot:
            text = _("Health checks: processor, memory and disks (reading only)...")
        else:
            text = total_time_left(run.progress.seconds_left())
        self.query_one("#total", Static).update(plain(text))

    def action_stop(self) -> None:
        if self.cancel.is_set() or self.walkthrough.current_run.erasures:
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
