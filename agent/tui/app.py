"""The walk-through on tty1 (Textual). This version shows the inventory and the planned erasure."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType

from agent import flow
from agent.i18n import _
from agent.inventory.model import Machine
from agent.tui.screens.inventory import InventoryScreen
from agent.wipe.policy import ErasurePlan

OUTBOX_RETRY_SECONDS = 600.0


class ReeebootApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "reeeboot"
    ENABLE_COMMAND_PALETTE = False  # volunteers need the keys on the footer, nothing hidden
    BINDINGS: ClassVar[list[BindingType]] = [Binding("q", "quit", _("Quit"))]

    def __init__(
        self,
        station: flow.Station,
        take_inventory: Callable[[flow.Station], Machine] = flow.inventory,
        plan_erasures: Callable[[flow.Station, Machine], dict[str, ErasurePlan]] = (
            flow.plan_erasures),
    ) -> None:
        super().__init__()
        self.station = station
        self.take_inventory = take_inventory
        self.plan_erasures = plan_erasures

    def on_mount(self) -> None:
        # One title, no sub-title: Textual joins them with an em dash, a glyph the console lacks.
        self.title = _("reeeboot: refurbishing station")
        self.push_screen(InventoryScreen())
        if self.station.outbox.waiting():
            self.send_waiting_reports()

    @work(thread=True, exclusive=True, group="outbox")
    def send_waiting_reports(self) -> None:
        """Reports left from an earlier run (hub down, no network) go out in the background."""
        flow.deliver_reports(self.station, deadline_seconds=OUTBOX_RETRY_SECONDS)
