"""Step 2: the workshop's number for this computer (typed, or read by a USB barcode scanner,
which types like a keyboard and ends with Enter) and who works on it. Both go in the report."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input, Static

from agent.i18n import N_, _
from agent.report.asset import default_asset_id
from agent.tui.console import plain
from agent.tui.screens.base import ENTER, ESCAPE, StepScreen

MAX_LENGTH = 128  # the report's limit for both


class WhoScreen(StepScreen):
    STEP = 2
    STEP_NAME = N_("asset number and operator")
    BINDINGS: ClassVar[list[BindingType]] = [
        # A priority binding: shown on the keys' line even while a field has the cursor.
        Binding("enter", "forward", N_("Continue"), key_display=ENTER, priority=True),
        Binding("escape", "back", N_("Back"), key_display=ESCAPE),
    ]

    def compose_body(self) -> ComposeResult:
        run = self.walkthrough.current_run
        yield Static(plain(_("Asset number of this computer (type it, or scan its label):")),
                     classes="label", markup=False)
        yield Input(value=run.choices.asset_id or "", max_length=MAX_LENGTH, id="asset")
        derived = default_asset_id(run.machine) if run.machine is not None else ""
        yield Static(plain(_("Without a number it is called {asset_id}, from its identity.")
                           .format(asset_id=derived)), classes="text", markup=False)
        yield Static(plain(_("Operator (the person or workshop named in the report):")),
                     classes="label", markup=False)
        yield Input(value=run.choices.operator or "", max_length=MAX_LENGTH, id="operator")

    def on_mount(self) -> None:
        self.query_one("#asset", Input).focus()

    def action_forward(self) -> None:
        """Enter in the first field (a barcode scanner ends with it) goes to the second."""
        if self.focused is self.query_one("#asset", Input):
            self.query_one("#operator", Input).focus()
            return
        self.walkthrough.current_run.identify(asset_id=self.query_one("#asset", Input).value,
                                      operator=self.query_one("#operator", Input).value)
        self.walkthrough.show_disks()

    def action_back(self) -> None:
        self.walkthrough.current_run.identify(asset_id=self.query_one("#asset", Input).value,
                                      operator=self.query_one("#operator", Input).value)
        self.app.pop_screen()
