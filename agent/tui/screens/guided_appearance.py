"""Guided check: the machine's appearance. The volunteer looks the machine over and chooses the
cosmetic code whose picture in words fits it best (C1 like new ... C5 a damaged part); the grade
reads the code from `measured` (agent/report/grade.py, docs/grading.md 7.5).
Choosing is the answer, so the verdict is a pass whatever the code; Esc leaves it unknown."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from agent.health import guided
from agent.i18n import N_, _
from agent.report.labels import COSMETIC_PICTURES, COSMETIC_WORDS
from agent.tui.console import plain
from agent.tui.screens.base import ENTER
from agent.tui.screens.guided_base import GuidedScreen


class AppearanceScreen(GuidedScreen):
    CHECK = guided.APPEARANCE
    NAME = N_("the appearance")
    BINDINGS: ClassVar[list[BindingType]] = [
        # A priority binding, so that the keys' line shows it while the list has the cursor.
        Binding("enter", "choose", N_("Choose"), key_display=ENTER, priority=True),
    ]

    def compose_body(self) -> ComposeResult:
        yield Static(plain(_("Look at the whole machine: lid, base, keyboard, screen frame and "
                             "corners. Which line describes it best?")),
                     classes="text", markup=False)
        yield OptionList(*(Option(plain(self.option_text(code)), id=code)
                           for code in guided.COSMETIC_CODES),
                         id="codes", classes="list")

    @staticmethod
    def option_text(code: str) -> str:
        label = _(COSMETIC_WORDS[code])
        return f"{code}  {label[:1].upper()}{label[1:]}\n    {_(COSMETIC_PICTURES[code])}"

    def on_mount(self) -> None:
        codes = self.query_one(OptionList)
        codes.highlighted = 0
        codes.focus()

    def action_choose(self) -> None:
        codes = self.query_one(OptionList)
        if codes.highlighted is None:
            return
        self.choose(codes.get_option_at_index(codes.highlighted).id)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()  # a click on a line: the same as Enter
        self.choose(event.option.id)

    def choose(self, code: str | None) -> None:
        if code in guided.COSMETIC_CODES:
            self.finish_passed({"cosmetic": code})
