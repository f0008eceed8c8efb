"""Live progress: signed messages at each step change and during long jobs, never in the way."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.events import ProgressEvent
from agent.inventory.identity import Identity
from agent.report import dsse
from agent.report.progress import ProgressReporter
from tests.helpers import sample_disk, sample_machine
from tests.hubserver import free_port
from tests.receiver import Receiver

IDENTITY = Identity("rb1-0123456789abcdef", ("system.serial",), (), "hid")


def machine() -> Any:
    return dataclasses.replace(
        sample_machine(disks=(sample_disk("/dev/sda", "S1"), sample_disk("/dev/sdb", "S2"))),
        identity=IDENTITY)


def accept_verified(key: Ed25519PrivateKey, accepted: list[dict]) -> Any:
    """The hub's side of the contract: verify the DSSE signature, keep the payload."""

    def route(envelope: Any) -> tuple[int, dict]:
        try:
            payload = dsse.verify(envelope, key.public_key())
        except dsse.EnvelopeError:
            return 403, {"detail": "bad signature"}
        if envelope["payloadType"] != dsse.PROGRESS_PAYLOAD_TYPE:
            return 400, {"detail": "payload type"}
        accepted.append(json.loads(payload))
        return 202, {"status": "accepted"}

    return route


def wait_for(condition: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_step_changes_and_job_progress_reach_the_hub_signed(receiver: Receiver) -> None:
    key = Ed25519PrivateKey.generate()
    accepted: list[dict] = []
    receiver.routes["/api/v1/progress"] = accept_verified(key, accepted)
    reporter = ProgressReporter(receiver.url, "lyon-3", lambda: key, interval=0.2)
    reporter.step("inventory")
    reporter.machine_known(machine(), "RB-TEST")
    wait_for(lambda: len(accepted) == 1)
    reporter.step("erase")
    wait_for(lambda: len(accepted) == 2)
    for done in range(1, 6):
        reporter.event(ProgressEvent("/dev/sda", "write", done << 20, 5 << 20, 1e6))
        time.sleep(0.05)
    wait_for(lambda: any(m["disks"][0]["bytes_done"] == 5 << 20 for m in accepted))
    reporter.event(ProgressEvent("/dev/sda", "done", 5 << 20, 5 << 20, 1e6))
    reporter.step("done")
    reporter.stop()

    first, second, last = accepted[0], accepted[1], accepted[-1]
    assert first["schema"] == "reeeboot.progress/1" and first["step"] == "inventory"
    assert first["machine_id"] == IDENTITY.id and first["asset_id"] == "RB-TEST"
    assert first["station"] == {"name": "lyon-3", "key_id": dsse.key_id(key.public_key())}
    assert first["machine"]["serial"] == "5XK2L3J"
    assert [disk["serial"] for disk in first["disks"]] == ["S1", "S2"]
    assert second["step"] == "erase"
    assert last["step"] == "done"
    assert last["disks"][0]["result"] == "done" and last["disks"][1]["phase"] == "waiting"
    assert set(last["disks"][0]) == {"path", "serial", "model", "size_bytes", "phase", "method",
                                     "bytes_done", "bytes_total", "rate_bytes_per_s", "result"}
    # Events every 50 ms are sent at most once per interval, not one message each.
    assert len(accepted) < 2 + 5 + 2


def test_events_between_intervals_are_merged(receiver: Receiver) -> None:
    key = Ed25519PrivateKey.generate()
    accepted: list[dict] = []
    receiver.routes["/api/v1/progress"] = accept_verified(key, accepted)
    reporter = ProgressReporter(receiver.url, "lyon-3", lambda: key, interval=3600)
    reporter.machine_known(machine(), "RB-TEST")
    wait_for(lambda: len(accepted) == 1)
    for done in range(1000):
        reporter.event(ProgressEvent("/dev/sda", "write", done, 1000, 1.0))
    reporter.step("erase")
    wait_for(lambda: len(accepted) == 2)
    reporter.stop()
    assert len(accepted) == 2  # a thousand events, one message: the step change
    assert accepted[1]["disks"][0]["bytes_done"] == 999


def test_a_hub_that_is_down_never_reaches_the_work() -> None:
    key = Ed25519PrivateKey.generate()
    reporter = ProgressReporter(f"http://127.0.0.1:{free_port()}", "lyon-3", lambda: key,
                                interval=0.05)
    reporter.machine_known(machine(), "RB-TEST")
    worker_done = threading.Event()

    def work() -> None:  # the erasure's thread: events must return at once, and never raise
        for done in range(2000):
            reporter.event(ProgressEvent("/dev/sda", "write", done, 2000, 1.0))
        reporter.event(ProgressEvent("/dev/unknown", "write", 1, 1, 1.0))
        worker_done.set()

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(10)
    assert worker_done.is_set()
    wait_for(lambda: reporter.failures >= 1)
    reporter.step("done")
    reporter.stop()
    assert reporter.sent == 0


def test_a_refusal_is_logged_and_sending_goes_on(receiver: Receiver) -> None:
    key = Ed25519PrivateKey.generate()
    other = Ed25519PrivateKey.generate()
    accepted: list[dict] = []
    receiver.routes["/api/v1/progress"] = accept_verified(other, accepted)  # not our key
    reporter = ProgressReporter(receiver.url, "lyon-3", lambda: key, interval=0.05)
    reporter.machine_known(machine(), "RB-TEST")
    reporter.step("erase")
    wait_for(lambda: reporter.failures >= 1)
    receiver.routes["/api/v1/progress"] = accept_verified(key, accepted)
    reporter.step("report")
    reporter.stop()
    assert accepted and accepted[-1]["step"] == "report"
