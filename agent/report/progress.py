"""Live progress for the hub's workshop view: one signed message at each step change and at most
every ~10 s during long jobs (contracts.md, "Live progress").

Everything happens in one background thread: the work only updates a small state under a lock,
never waits for the network, and nothing the hub does (down, slow, refusing) reaches it; a
failure costs one log line.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.events import ProgressEvent
from agent.inventory.model import Machine
from agent.report import dsse

PROGRESS_SCHEMA = "reeeboot.progress/1"
INTERVAL_SECONDS = 10.0
TIMEOUT_SECONDS = 5.0
# The flow's steps as the contract names them; the drives' self-tests, the health checks and the
# benchmarks belong to the disks' work.
CONTRACT_STEPS = {"inventory": "inventory", "self_test": "erase", "erase": "erase",
                  "health": "erase", "bench": "erase",
                  "install": "install", "report": "report", "done": "done"}
FINAL_PHASES = {"done": "done", "failed": "failed"}

log = logging.getLogger(__name__)
Post = Callable[[str, dict[str, Any]], int]


def post_json(url: str, body: dict[str, Any]) -> int:
    return requests.post(url, json=body, timeout=TIMEOUT_SECONDS).status_code


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

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "serial": self.serial, "model": self.model,
                "size_bytes": self.size_bytes, "phase": self.phase, "method": self.method,
                "bytes_done": self.bytes_done, "bytes_total": self.bytes_total,
                "rate_bytes_per_s": round(self.rate_bytes_per_s), "result": self.result}


class ProgressReporter:
    """Consumes the flow's steps and job events; sends the latest state in the background."""

    def __init__(
        self,
        hub_url: str,
        station_name: str,
        key: Callable[[], Ed25519PrivateKey],
        *,
        interval: float = INTERVAL_SECONDS,
        post: Post = post_json,
    ) -> None:
        self.url = hub_url.rstrip("/") + "/api/v1/progress"
        self.station_name = station_name
        self._key = key
        self.interval = interval
        self._post = post
        self._lock = threading.Condition()
        self._step = "inventory"
        self._machine: dict[str, Any] | None = None
        self._machine_id: str | None = None
        self._asset_id = ""
        self._disks: dict[str, _DiskState] = {}
        self._step_changed = False
        self._updated = False
        self._stopping = False
        self.sent = 0  # messages the hub accepted, for the log and tests
        self.failures = 0
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
                if not self._updated:  # the sender sleeps until there is something to say
                    self._updated = True
                    self._lock.notify()
        except Exception:  # never into the work
            log.exception("progress event not recorded")

    def disk_method(self, path: str, method: str) -> None:
        with self._lock:
            if path in self._disks:
                self._disks[path].method = method

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
                    wait = self.interval - (time.monotonic() - last_sent) if self._updated \
                        else None
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
        return self._updated and time.monotonic() - last_sent >= self.interval

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
        }

    def _send(self, payload: dict[str, Any]) -> None:
        try:
            envelope = dsse.sign(dsse.canonical_json(payload), self._key(),
                                 dsse.PROGRESS_PAYLOAD_TYPE)
            status = self._post(self.url, envelope)
        except Exception as error:  # a hub that is down costs a log line, nothing more
            self.failures += 1
            log.warning("progress not sent to %s: %s", self.url, error)
            return
        if status == 202:
            self.sent += 1
        else:
            self.failures += 1
            log.warning("progress refused by %s: HTTP %s", self.url, status)
