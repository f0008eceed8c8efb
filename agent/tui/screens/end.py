"""Step 8: power off, restart into the installed system, or start again with the next machine.
The error screen offers the same choices: whatever happens, the screen never stays dead.

When the workshop asked on the hub for its machines to switch off at the end, a finished run
whose report reached the platform counts down to switching off (SwitchOffCountdown); any key
leaves the choices to the person."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from agent.i18n import N_, _, ngettext
from agent.report.sender import SenderState
from agent.tui.console import plain, plain_lines
from agent.tui.screens.base import ENTER, StepScreen
from agent.tui.screens.countdown import Countdown

POWER_OFF, REBOOT, AGAIN, QUIT = "power-off", "reboot", "again", "quit"
SWITCH_OFF_COUNTDOWN_SECONDS = 10


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
        lines = self.notice_lines(self.walkthrough.outbox_state)
        yield Static(plain_lines(lines), id="notice", classes="text " + self.notice_class(lines),
                     markup=False)
        yield OptionList(*(Option(plain(label), id=key) for key, label in self.choices()),
                         id="choices", classes="list")

    def notice_lines(self, outbox: SenderState) -> list[str]:
        """The notice, and on a machine started from the network the reports it would lose:
        it has no stick, they are only in its memory."""
        if self.walkthrough.station.network_boot is None or not outbox.waiting:
            return self.notice
        return [*self.notice, ngettext(
            "{count} report is not sent yet and is only in this computer's memory: switched off "
            "now, it is lost. Leave the computer on until it is sent (check the network cable).",
            "{count} reports are not sent yet and are only in this computer's memory: switched "
            "off now, they are lost. Leave the computer on until they are sent (check the "
            "network cable).", outbox.waiting).format(count=outbox.waiting)]

    def show_outbox(self, state: SenderState) -> None:
        """The outbox changed while the choices are shown (a report went out, or not)."""
        lines = self.notice_lines(state)
        widget = self.query_one("#notice", Static)
        widget.update(plain_lines(lines))
        widget.set_classes("text " + self.notice_class(lines))

    def notice_class(self, lines: list[str]) -> str:
        return "warning" if lines else "hidden"

    def choices(self) -> list[tuple[str, str]]:
        walkthrough = self.walkthrough
        entries = [(POWER_OFF, _("Switch this computer off"))]
        entry = walkthrough.installed_boot_entry()
        from_network = walkthrough.station.network_boot is not None
        if entry:  # the firmware is told to start it once: the stick may stay in
            entries.append((REBOOT, _("Restart into the installed system")))
        elif entry is not None and from_network:  # a BIOS may start from the network again
            entries.append((REBOOT, _("Restart into the installed system (should the network "
                                      "start it again, pick its disk in the firmware's boot "
                                      "menu)")))
        elif entry is not None:  # a BIOS starts the stick again if it is still in
            entries.append((REBOOT, _("Restart into the installed system (take the stick "
                                      "out first)")))
        entries.append((AGAIN, _("Start again on this computer") if from_network else
                        _("Start again (next machine, the stick stays in)")))
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

    def notice_class(self, lines: list[str]) -> str:
        return "error"


class SwitchOffCountdown(Countdown):
    """Answers True when the countdown ran out (the computer is switched off), False when a key
    kept it on."""

    def __init__(self, seconds: int = SWITCH_OFF_COUNTDOWN_SECONDS, *,
                 tick: float = 1.0) -> None:
        super().__init__(seconds, tick=tick)

    def title_text(self) -> str:
        return _("Switching off")

    def lines(self) -> list[str]:
        return [_("The workshop asked for this computer to switch off at the end."),
                _("Its report reached the platform.")]

    def seconds_line(self) -> str:
        return ngettext("Switching off in {seconds} second.",
                        "Switching off in {seconds} seconds.",
                        self.seconds_left).format(seconds=self.seconds_left)

    def key_line(self) -> str:
        return _("Press any key to leave it on.")
