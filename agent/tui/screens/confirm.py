"""Step 4: the deliberate step before anything is written. It names every disk that will be
erased, and asks for a word to be typed: a held Enter key, or a barcode scanner going off,
cannot pass it."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Input, Static

from agent.i18n import N_, _
from agent.tui.console import plain, plain_lines
from agent.tui.screens.base import ESCAPE, StepScreen
from agent.words import disk_serial, disk_title, plan_line

# The word to type, in the screen's language ("EFFACER" in French).
CONFIRMATION_WORD = N_("ERASE")


class ConfirmScreen(StepScreen):
    STEP = 4
    STEP_NAME = N_("confirmation")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", N_("Back"), key_display=ESCAPE),
    ]

    def compose_body(self) -> ComposeResult:
        run = self.walkthrough.current_run
        erased, kept = run.to_erase(), run.kept()
        with VerticalScroll(id="summary", classes="list") as summary:
            summary.border_title = plain(_("What will happen"))
            lines = []
            if erased:
                lines.append(_("These disks will be erased. Everything on them is lost for "
                               "good:"))
                lines += [f"  {plan.path}  {disk_title(plan.disk)}  {disk_serial(plan.disk)}"
                          for plan in erased]
            else:
                lines.append(_("No disk will be erased."))
            if kept:
                lines.append(_("These disks stay as they are:"))
                lines += [f"  {plan.path}  {plan_line(plan)}" for plan in kept]
            yield Static(plain_lines(lines), classes="text", markup=False)
        word = _(CONFIRMATION_WORD)
        prompt = (_("To erase them, type {word} and press Enter:").format(word=word) if erased
                  else _("Press Enter to go on."))
        yield Static(plain(prompt), classes="label", markup=False)
        yield Input(id="word", max_length=40)
        yield Static("", id="refused", classes="text error", markup=False)

    def on_mount(self) -> None:
        self.query_one("#word", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not self.walkthrough.current_run.to_erase() or (
                event.value.strip().casefold() == _(CONFIRMATION_WORD).casefold()):
            self.walkthrough.start_erasure()
            return
        event.input.value = ""
        self.query_one("#refused", Static).update(plain(
            _("Nothing was erased: type {word} exactly, or press Esc to go back.").format(
                word=_(CONFIRMATION_WORD))))

    def action_back(self) -> None:
        self.app.pop_screen()
