"""What every step of the walk-through shares: its title line (which step of how many), the
keys' line, and key names and descriptions in the volunteer's language."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widgets import Footer, Static

from agent.i18n import N_, _

if TYPE_CHECKING:
    from agent.tui.app import ReeebootApp

STEP_COUNT = 8
# Key names as the Footer shows them, marked for translation (Textual's own are English).
ENTER, ESCAPE, SPACE = N_("Enter"), N_("Esc"), N_("Space")


def translate_bindings(node: DOMNode) -> None:
    """Bindings are declared with message ids; shown in the language in use when the screen is
    made, which may change between runs of the same process (tests, a new configuration)."""
    table = node._bindings.key_to_bindings
    for key, bindings in table.items():
        table[key] = [dataclasses.replace(
            binding, description=_(binding.description) if binding.description else "",
            key_display=_(binding.key_display) if binding.key_display else None)
            for binding in bindings]


class StepTitle(Static):
    """ reeeboot - step 3 of 8: the disks """


class StepScreen(Screen[None]):
    STEP: ClassVar[int] = 0
    STEP_NAME: ClassVar[str] = ""  # a message id

    def __init__(self) -> None:
        super().__init__()
        translate_bindings(self)

    @property
    def walkthrough(self) -> ReeebootApp:
        return self.app  # type: ignore[return-value]

    def title_line(self) -> str:
        return _("reeeboot - step {number} of {count}: {name}").format(
            number=self.STEP, count=STEP_COUNT, name=_(self.STEP_NAME))

    def compose(self) -> ComposeResult:
        yield StepTitle(self.title_line(), markup=False)
        yield from self.compose_body()
        yield Footer(show_command_palette=False)

    def compose_body(self) -> ComposeResult:
        yield from ()
