"""The background sender: the outbox goes out whenever a network appears, and otherwise with
exponential backoff capped at a few minutes; it stops cleanly.

One thread, used by the screen and the unattended mode. It never removes anything but what the
hub acknowledged (Outbox.flush), so stopping it at any moment, or a power cut, loses nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from agent.report.netwatch import NetworkWatch, watch_network
from agent.report.outbox import FlushOutcome

FIRST_DELAY = 2.0
MAX_DELAY = 300.0

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SenderState:
    waiting: int  # reports still in the outbox
    last_error: str | None
    revoked: bool = False  # the hub revoked the station's key: say so, a person must act


class OutboxSender:
    def __init__(
        self,
        deliver: Callable[[], FlushOutcome],
        *,
        on_state: Callable[[SenderState], None] | None = None,
        first_delay: float = FIRST_DELAY,
        max_delay: float = MAX_DELAY,
        network_watch: Callable[[Callable[[], None]], NetworkWatch | None] | None = (
            watch_network),
    ) -> None:
        """`deliver` makes one attempt over the whole outbox (no waiting inside)."""
        self._deliver = deliver
        self._on_state = on_state
        self.first_delay = first_delay
        self.max_delay = max_delay
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self.attempts = 0  # attempts finished
        self.delays: list[float] = []  # the waits after failed attempts, for the log and tests
        self.state = SenderState(0, None)
        self._watch = network_watch(self.network_changed) if network_watch else None
        self._thread = threading.Thread(target=self._run, name="outbox-sender", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """A new report is in the outbox: try now."""
        self._wake.set()

    def network_changed(self) -> None:
        log.info("network changed: trying the outbox")
        self._wake.set()

    def stop(self, timeout: float = 20.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._watch is not None:
            self._watch.stop()
        self._thread.join(timeout)

    def _run(self) -> None:
        delay = self.first_delay
        while not self._stop.is_set():
            self._wake.clear()
            try:
                outcome = self._deliver()
            except Exception as error:  # e.g. the data partition vanished: say it, retry later
                log.exception("outbox delivery failed")
                outcome = FlushOutcome(waiting=["?"], last_error=str(error))
            self.attempts += 1
            self._publish(SenderState(len(outcome.waiting), outcome.last_error, outcome.revoked))
            if not outcome.waiting:
                delay = self.first_delay
                self._wake.wait()  # until a new report or a network change
                continue
            self.delays.append(delay)
            woken = self._wake.wait(delay)
            # A network that just appeared deserves a quick first try, not the long backoff.
            delay = self.first_delay if woken else min(delay * 2, self.max_delay)

    def wait_until_empty(self, timeout: float, *, after: int = 0) -> SenderState:
        """Block until an attempt left the outbox empty, or `timeout` seconds. `after`: only
        attempts that finished after that many (what `attempts` was when a report was filed)
        count, so an earlier attempt over an emptier outbox does not answer."""
        with self._changed:
            self._changed.wait_for(lambda: self.attempts > after and self.state.waiting == 0,
                                   timeout)
            return self.state

    def _publish(self, state: SenderState) -> None:
        with self._changed:
            self.state = state
            self._changed.notify_all()
        if self._on_state is not None:
            try:
                self._on_state(state)
            except Exception:
                log.exception("outbox state listener failed")
