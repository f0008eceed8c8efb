"""Live progress for the hub's workshop view: one signed message at each step change, at most
every ~10 s during long jobs, and at least every 15 s once the machine is known, so that the
hub's board can tell a machine that went silent (switched off, crashed) (contracts.md, "Live
progress").

The hub answers each message with its orders for the machine (an unattended erasure it was
armed for, switching off at the end); they are read defensively and handed to `on_orders`.

Everything happens in one background thread: the work only updates a small state under a lock,
never waits for the network, and nothing the hub does (down, slow, refusing, answering nonsense)
reaches it; a failure costs one log line.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.events import ProgressEvent
from agent.inventory.model import Machine
from agent.report import dsse

PROGRESS_SCHEMA = "reeeboot.progress/1"
INTERVAL_SECONDS = 10.0
# The hub calls a machine silent after 60 s without news: a message at least this often, even
# when nothing changed.
HEARTBEAT_SECONDS = 15.0
TIMEOUT_SECONDS = 5.0
# The flow's steps as the contract names them; the drives' self-tests, the health checks and the
# benchmarks belong to the disks' work.
CONTRACT_STEPS = {"inventory": "inventory", "self_test": "erase", "erase": "erase",
                  "health": "erase", "bench": "erase",
                  "install": "install", "report": "report", "done": "done"}
FINAL_PHASES = {"done": "done", "failed": "failed"}
# What the machine did with an arming the hub offered (the payload's "arming"): its countdown
# shows, a person stopped it, or the unattended run started.
ArmingState = Literal["countdown", "stopped", "started"]

log = logging.getLogger(__name__)
# The hub's HTTP status and its answer's JSON body (None when the body is not JSON).
Post = Callable[[str, dict[str, Any]], tuple[int, Any]]


def post_json(url: str, body: dict[str, Any]) -> tuple[int, Any]:
    response = requests.post(url, json=body, timeout=TIMEOUT_SECONDS)
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, None


@dataclass(frozen=True)
class ArmedErasure:
    """The workshop armed this machine for an unattended erasure, on the hub."""

    arming: int  # the arming's id, named back in the payload's "arming"
    expires_in_seconds: int


@dataclass(frozen=True)
class HubOrders:
    """What the hub asks of the machine, in its answer to the live progress. An older hub gives
    no orders: nothing is armed, nothing is switched off."""

    unattended: ArmedErasure | None = None
    power_off_at_end: bool = False


NO_ORDERS = HubOrders()


def orders_from_answer(answer: Any) -> HubOrders:
    """The orders in the hub's answer: `{"orders": {"unattended": null | {"arming": int,
    "expires_in_seconds": int}, "power_off_at_end": bool}}`. What is missing means no order;
    what has the wrong type is ignored, with one log line for the answer."""
    if not isinstance(answer, dict) or answer.get("orders") is None:
        return NO_ORDERS
    orders = answer["orders"]
    if not isinstance(orders, dict):
        log.warning("the hub's orders are not understood, ignored: %.200r", orders)
        return NO_ORDERS
    problems = []
    armed = _armed_erasure(orders.get("unattended"))
    if armed is None and orders.get("unattended") is not None:
        problems.append(f"unattended={orders['unattended']!r:.200}")
    power_off = orders.get("power_off_at_end", False)
    if not isinstance(power_off, bool):
        problems.append(f"power_off_at_end={power_off!r:.200}")
        power_off = False
    if problems:
        log.warning("the hub's orders are not understood, ignored: %s", ", ".join(problems))
    return HubOrders(armed, power_off)


def _armed_erasure(order: Any) -> ArmedErasure | None:
    if not isinstance(order, dict):
        return None
    arming, expires = order.get("arming"), order.get("expires_in_seconds")
    # bool is an int to Python, not to the contract.
    if isinstance(arming, bool) or isinstance(expires, bool) \
            or not isinstance(arming, int) or not isinstance(expires, int):
        return None
    return ArmedErasure(arming, expires)


@dataclass
class _DiskState:
    path: str
    serial: str | None
    model: str | None
    size_bytes: int
    phase: str = "waiting"
    method: str | None = None
    bytes_done: int = 0
    bytes_total: int = 0
    rate_bytes_per_s: float = 0.0
    result: str | None = None
    error: str | None = None  # why the disk failed, as its job said

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "serial": self.serial, "model": self.model,
                "size_bytes": self.size_bytes, "phase": self.phase, "method": self.method,
                "bytes_done": self.bytes_done, "bytes_total": self.bytes_total,
                "rate_bytes_per_s": round(self.rate_bytes_per_s), "result": self.result,
                "error": self.error}


class ProgressReporter:
    """Consumes the flow's steps and job events; sends the latest state in the background, and
    hands the hub's orders to `on_orders` (called from the background thread, after every
    accepted message)."""

    def __init__(
        self,
        hub_url: str,
        station_name: str,
        key: Callable[[], Ed25519PrivateKey],
        *,
        interval: float = INTERVAL_SECONDS,
        heartbeat: float = HEARTBEAT_SECONDS,
        post: Post = post_json,
        on_orders: Callable[[HubOrders], None] | None = None,
    ) -> None:
        self.url = hub_url.rstrip("/") + "/api/v1/progress"
        self.station_name = station_name
        self._key = key
        self.interval = interval
        self.heartbeat = heartbeat
        self._post = post
        self.on_orders = on_orders
        self._lock = threading.Condition()
        self._step = "inventory"
        self._machine: dict[str, Any] | None = None
        self._machine_id: str | None = None
        self._asset_id = ""
        self._disks: dict[str, _DiskState] = {}
        self._arming: dict[str, Any] | None = None
        self._step_changed = False
        self._updated = False
        self._stopping = False
        self.sent = 0  # messages the hub accepted, for the log and tests
        self.failures = 0
        self._failing = False  # a hub down for hours costs one warning, not one per heartbeat
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
        self._thread.start()

    # Called from the work's threads: cheap, under the lock, never raising.

    def step(self, name: str) -> None:
        step = CONTRACT_STEPS.get(name)
        if step is None:
            return
        with self._lock:
            if step != self._step:
                self._step, self._step_changed = step, True
                self._lock.notify()

    def machine_known(self, machine: Machine, asset_id: str) -> None:
        with self._lock:
            self._machine_id = machine.identity.id if machine.identity else None
            self._asset_id = asset_id
            self._machine = {"vendor": machine.system.vendor, "product": machine.system.product,
                             "serial": machine.system.serial}
            self._disks = {disk.path: _DiskState(disk.path, disk.serial, disk.model,
                                                 disk.size_bytes) for disk in machine.targets()}
            self._step_changed = True  # the inventory step can be told only now
            self._lock.notify()

    def event(self, event: ProgressEvent) -> None:
        try:
            with self._lock:
                disk = self._disks.get(event.job)
                if disk is None:
                    return
                disk.phase = event.phase
                disk.bytes_done, disk.bytes_total = event.done_bytes, event.total_bytes
                disk.rate_bytes_per_s = event.bytes_per_second
                if event.phase in FINAL_PHASES:
                    disk.result = FINAL_PHASES[event.phase]
                if event.error is not None or event.phase in FINAL_PHASES:
                    disk.error = event.error
                if not self._updated:  # the sender sleeps until there is something to say
                    self._updated = True
                    self._lock.notify()
        except Exception:  # never into the work
            log.exception("progress event not recorded")

    def disk_method(self, path: str, method: str) -> None:
        with self._lock:
            if path in self._disks:
                self._disks[path].method = method

    def arming_state(self, arming: int, state: ArmingState) -> None:
        """What the machine did with the hub's arming `arming`; told at once, like a step
        change: the hub offers an arming until it hears of it."""
        with self._lock:
            self._arming = {"id": arming, "state": state}
            self._step_changed = True
            self._lock.notify()

    def stop(self, timeout: float = TIMEOUT_SECONDS + 1) -> None:
        """Send what is pending (the `done` step), then end the thread."""
        with self._lock:
            self._stopping = True
            self._lock.notify()
        self._thread.join(timeout)

    # The background thread.

    def _run(self) -> None:
        last_sent = 0.0
        while True:
            with self._lock:
                while not self._due(last_sent):
                    if self._stopping:
                        return
                    wait = self._wait(last_sent)
                    self._lock.wait(timeout=max(wait, 0.05) if wait is not None else None)
                payload = self._payload()
                self._step_changed = self._updated = False
            last_sent = time.monotonic()
            if payload is not None:
                self._send(payload)

    def _due(self, last_sent: float) -> bool:
        if self._machine_id is None:
            return False  # nothing the hub could file it under yet
        if self._step_changed:
            return True
        since = time.monotonic() - last_sent
        return since >= self.heartbeat or (self._updated and since >= self.interval)

    def _wait(self, last_sent: float) -> float | None:
        """How long the thread may sleep before something is due; None: until told."""
        if self._machine_id is None:
            return None
        since = time.monotonic() - last_sent
        wait = self.heartbeat - since
        if self._updated:
            wait = min(wait, self.interval - since)
        return wait

    def _payload(self) -> dict[str, Any] | None:
        key = self._key()
        return {
            "schema": PROGRESS_SCHEMA,
            "machine_id": self._machine_id,
            "asset_id": self._asset_id,
            "station": {"name": self.station_name,
                        "key_id": dsse.key_id(key.public_key())},
            "sent_at": datetime.datetime.now(datetime.UTC).isoformat(),
            "step": self._step,
            "machine": dict(self._machine or {}),
            "disks": [disk.to_json() for disk in self._disks.values()],
            **({"arming": dict(self._arming)} if self._arming is not None else {}),
        }

    def _send(self, payload: dict[str, Any]) -> None:
        try:
            envelope = dsse.sign(dsse.canonical_json(payload), self._key(),
                                 dsse.PROGRESS_PAYLOAD_TYPE)
            status, answer = self._post(self.url, envelope)
        except Exception as error:  # a hub that is down costs a log line, nothing more
            self._failed("progress not sent to %s: %s", error)
            return
        if status != 202:
            self._failed("progress refused by %s: HTTP %s", status)
            return
        self.sent += 1
        if self._failing:
            self._failing = False
            log.info("progress reaches %s again", self.url)
        listener = self.on_orders
        if listener is None:
            return
        try:
            listener(orders_from_answer(answer))
        except Exception:  # the listener's bug must not end the live progress
            log.exception("the hub's orders were not handled")

    def _failed(self, message: str, why: object) -> None:
        self.failures += 1
        log.log(logging.DEBUG if self._failing else logging.WARNING, message, self.url, why)
        self._failing = True
