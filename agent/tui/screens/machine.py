"""Step 1: what this computer is, its health at a glance, what in its firmware would stop a
donation (a password the next owner does not know, remote control by the previous owner), and
what is wrong with the stick or its configuration."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from agent.i18n import N_, _, ngettext
from agent.report.sender import SenderState
from agent.tui.console import plain, plain_lines
from agent.tui.health_words import platform_locks, smart_line
from agent.tui.screens.base import ENTER, StepScreen
from agent.words import (
    disk_lines,
    interrupted_line,
    machine_lines,
)


class MachineScreen(StepScreen):
    STEP = 1
    STEP_NAME = N_("this computer")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "forward", N_("Continue"), key_display=ENTER),
        Binding("f10", "finish", N_("Finish"), key_display="F10"),
    ]

    def compose_body(self) -> ComposeResult:
        machine = Static(plain(_("Looking at this machine...")), id="machine", classes="panel",
                         markup=False)
        machine.border_title = plain(_("This computer"))
        yield machine
        yield Static("", id="notices", classes="text warning hidden", markup=False)
        yield Static("", id="locks", classes="text error hidden", markup=False)
        with VerticalScroll(id="disks", classes="list") as disks:
            disks.border_title = plain(_("Disks"))
            yield Static("", id="disk-lines", markup=False)
        yield Static("", id="outbox", classes="text", markup=False)

    def on_mount(self) -> None:
        self.show_outbox(self.walkthrough.outbox_state)
        if self.walkthrough.current_run.machine is not None:
            self.show_machine()

    def show_machine(self) -> None:
        run = self.walkthrough.current_run
        machine = run.machine
        if machine is None:
            return
        self.query_one("#machine", Static).update(plain_lines(machine_lines(machine)))
        lines: list[str] = []
        for plan in run.disks.values():
            smart = smart_line(run.health, plan.path)
            lines += disk_lines(plan, health=[smart] if smart else [])
        if not run.disks:
            lines.append(_("No disk was found in this computer."))
        self.query_one("#disk-lines", Static).update(plain_lines(lines))
        # The station's identity first: until it works, nothing goes further than this step.
        notices = [run.identity_problem] if run.identity_problem else []
        notices += [problem.describe() for problem in self.walkthrough.station.problems]
        notices += [interrupted_line(journal) for journal in run.interrupted]
        widget = self.query_one("#notices", Static)
        widget.update(plain_lines(notices))
        widget.set_class(not notices, "hidden")
        self.show_locks()
        self.refresh_bindings()

    def show_locks(self) -> None:
        """The firmware's locks that stop the donation until they are cleared, in red."""
        locks = platform_locks(self.walkthrough.current_run.health)
        widget = self.query_one("#locks", Static)
        widget.update(plain_lines([finding.describe() for finding in locks]))
        widget.set_class(not locks, "hidden")

    def show_outbox(self, state: SenderState) -> None:
        lines = [ngettext("{count} report waiting to be sent", "{count} reports waiting to be sent",
                          state.waiting).format(count=state.waiting)]
        if state.revoked and state.last_error:
            lines.append(state.last_error)  # already in the volunteer's language
        widget = self.query_one("#outbox", Static)
        widget.update(plain_lines(lines))
        widget.set_class(state.revoked, "warning")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "forward":
            return self.walkthrough.current_run.identity_problem is None
        return True

    def action_forward(self) -> None:
        run = self.walkthrough.current_run
        if run.machine is not None and run.identity_problem is None:
            self.walkthrough.show_who()

    def action_finish(self) -> None:
        self.walkthrough.show_end()
