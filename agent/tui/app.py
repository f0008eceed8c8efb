"""The walk-through on tty1 (Textual). This version shows the inventory, the planned erasure and
the OS that will be installed."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.message import Message

from agent import flow
from agent.i18n import _
from agent.inventory.hotplug import DiskEvent, DiskEventSink, Stoppable, watch_for_disks
from agent.inventory.model import Machine
from agent.report.sender import OutboxSender, SenderState
from agent.tui.screens.inventory import InventoryScreen
from agent.wipe.policy import ErasurePlan


class OutboxChanged(Message):
    """The background sender's latest attempt: how many reports wait, and why."""

    def __init__(self, state: SenderState) -> None:
        super().__init__()
        self.state = state


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
        watch_disks: Callable[[DiskEventSink], Stoppable] | None = watch_for_disks,
        start_sender: Callable[[flow.Station, Callable[[SenderState], None]], OutboxSender]
        | None = flow.start_sender,
    ) -> None:
        super().__init__()
        self.station = station
        self.take_inventory = take_inventory
        self.plan_erasures = plan_erasures
        self._watch_disks = watch_disks
        self._watcher: Stoppable | None = None
        self._start_sender = start_sender
        self.sender: OutboxSender | None = None
        self.outbox_state = SenderState(station.outbox.count(), None)

    def on_mount(self) -> None:
        # One title, no sub-title: Textual joins them with an em dash, a glyph the console lacks.
        self.title = _("reeeboot: refurbishing station")
        self.push_screen(InventoryScreen())
        if self._start_sender is not None:
            # Reports left from an earlier run (hub down, no network) go out in the background,
            # and whatever this run files later; the screen shows how many still wait.
            # post_message, not call_from_thread: it never waits for the screen, so stopping the
            # sender while the app closes cannot wait on the app's own loop.
            self.sender = self._start_sender(self.station, self._sender_state)
        if self._watch_disks is not None:
            self._watcher = self._watch_disks(
                lambda event: self.call_from_thread(self.disk_changed, event))

    def on_unmount(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
        if self.sender is not None:
            self.sender.stop()

    def _sender_state(self, state: SenderState) -> None:
        """Called in the sender's thread."""
        self.post_message(OutboxChanged(state))

    def on_outbox_changed(self, message: OutboxChanged) -> None:
        state = message.state
        self.outbox_state = state
        screen = self.screen
        if isinstance(screen, InventoryScreen):
            screen.show_outbox(state)

    def disk_changed(self, event: DiskEvent) -> None:
        """A disk was plugged in or pulled out: say so, and look at the machine again."""
        message = (_("New disk: {path}") if event.action == "appeared"
                   else _("Disk removed: {path}")).format(path=event.path)
        self.notify(message, timeout=8)
        screen = self.screen
        if isinstance(screen, InventoryScreen):
            screen.take_inventory()
