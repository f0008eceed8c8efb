"""Every message of the walk-through, in one place: what the run's workers and the system tell
the screens (posted from other threads), and what the screens tell the app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

from agent.inventory.hotplug import DiskEvent
from agent.report.outbox import FlushOutcome
from agent.report.sender import SenderState

if TYPE_CHECKING:  # the live progress loads only when a hub is configured (agent/run/engine.py)
    from agent.report.progress import HubOrders


class MachineInspected(Message):
    """The inventory and the plan are ready (Run.inspect returned)."""


class ErasureDone(Message):
    """The erasure and the health checks are over (or the erasure was stopped)."""

    def __init__(self, cancelled: bool) -> None:
        super().__init__()
        self.cancelled = cancelled


class InstallDone(Message):
    """The install step is over, whatever its result."""


class ReportDone(Message):
    """The report is filed and a first attempt to send it is over."""

    def __init__(self, delivery: FlushOutcome) -> None:
        super().__init__()
        self.delivery = delivery


class OutboxChanged(Message):
    """The background sender's latest attempt: how many reports wait, and why."""

    def __init__(self, state: SenderState) -> None:
        super().__init__()
        self.state = state


class HubOrdersHeard(Message):
    """The hub's orders, in its answer to the latest live progress (agent/report/progress.py)."""

    def __init__(self, orders: HubOrders) -> None:
        super().__init__()
        self.orders = orders


class DiskChanged(Message):
    """A disk was plugged in or pulled out."""

    def __init__(self, event: DiskEvent) -> None:
        super().__init__()
        self.event = event


class Crashed(Message):
    """Something failed that nothing planned for: the error screen takes over."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error
