"""Questions asked over the current screen: yes or no, or one choice in a list. The answer is
chosen with the arrows and Enter; Esc always means "no" or "leave it as it was"."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from agent.i18n import N_, _
from agent.tui.console import plain
from agent.tui.screens.base import ESCAPE, translate_bindings


class Question(ModalScreen[bool]):
    """A yes-or-no question; `default_yes` False puts the cursor on "no" (for what cannot be
    undone, so that a held Enter key answers no)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(False)", N_("No"), key_display=ESCAPE)]

    def __init__(self, title: str, text: str, yes: str, no: str, *,
                 default_yes: bool = False) -> None:
        super().__init__()
        translate_bindings(self)
        self._title, self._text = title, text
        self._yes, self._no = yes, no
        self._default_yes = default_yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as frame:
            frame.border_title = plain(self._title)
            yield Static(plain(self._text), classes="text", markup=False)
            yield OptionList(Option(plain(self._yes), id="yes"), Option(plain(self._no), id="no"),
                             id="answers")
            yield Static(plain(choose_hint()), classes="text hint", markup=False)

    def on_screen_resume(self) -> None:
        """Each time it is shown (a kept question is shown again): the cursor on the default."""
        answers = self.query_one(OptionList)
        answers.highlighted = 0 if self._default_yes else 1
        answers.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id == "yes")


class Choice(ModalScreen[str | None]):
    """One of several choices, by id; None when left with Esc."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", N_("Back"), key_display=ESCAPE)]

    def __init__(self, title: str, text: str, choices: list[tuple[str, str]],
                 selected: str | None = None) -> None:
        super().__init__()
        translate_bindings(self)
        self._title, self._text = title, text
        self._choices, self._selected = choices, selected

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as frame:
            frame.border_title = plain(self._title)
            if self._text:
                yield Static(plain(self._text), classes="text", markup=False)
            yield OptionList(*(Option(plain(label), id=key) for key, label in self._choices))
            yield Static(plain(choose_hint()), classes="text hint", markup=False)

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        keys = [key for key, _label in self._choices]
        if self._selected in keys:
            options.highlighted = keys.index(self._selected)
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)


def choose_hint() -> str:
    return _("Arrow keys to move, Enter to choose, Esc to go back")


def yes_no(title: str, text: str, *, default_yes: bool = False) -> Question:
    return Question(title, text, _("Yes"), _("No"), default_yes=default_yes)
