"""Step 8: power off, restart into the installed system, or start again with the next machine.
The error screen offers the same choices: whatever happens, the screen never stays dead."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from agent.i18n import N_, _
from agent.tui.console import plain, plain_lines
from agent.tui.screens.base import ENTER, StepScreen

POWER_OFF, REBOOT, AGAIN, QUIT = "power-off", "reboot", "again", "quit"


class EndScreen(StepScreen):
    STEP = 8
    STEP_NAME = N_("end")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "choose", N_("Choose"), key_display=ENTER, priority=True),
    ]

    def __init__(self, notice: list[str] | None = None) -> None:
        super().__init__()
        self.notice = notice or []

    def compose_body(self) -> ComposeResult:
        yield Static(plain_lines(self.notice), id="notice",
                     classes="text " + self.notice_class(), markup=False)
        yield OptionList(*(Option(plain(label), id=key) for key, label in self.choices()),
                         id="choices", classes="list")

    def notice_class(self) -> str:
        return "warning" if self.notice else "hidden"

    def choices(self) -> list[tuple[str, str]]:
        walkthrough = self.walkthrough
        entries = [(POWER_OFF, _("Switch this computer off"))]
        entry = walkthrough.installed_boot_entry()
        if entry:  # the firmware is told to start it once: the stick may stay in
            entries.append((REBOOT, _("Restart into the installed system")))
        elif entry is not None:  # a BIOS starts the stick again if it is still in
            entries.append((REBOOT, _("Restart into the installed system (take the stick "
                                      "out first)")))
        entries.append((AGAIN, _("Start again (next machine, the stick stays in)")))
        if walkthrough.station.profile is not None:
            entries.append((QUIT, _("Leave (a recorded machine: nothing is switched off)")))
        return entries

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def action_choose(self) -> None:
        option = self.query_one(OptionList).highlighted_option
        if option is not None:
            self.walkthrough.end_with(option.id or "")


class CrashScreen(EndScreen):
    """What stopped the run, where the log is, and the same ways on."""

    STEP_NAME = N_("an error stopped the run")

    def title_line(self) -> str:
        return _("reeeboot - {name}").format(name=_(self.STEP_NAME))

    def notice_class(self) -> str:
        return "error"
