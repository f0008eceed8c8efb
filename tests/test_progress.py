"""Live progress: signed messages at each step change and during long jobs, never in the way."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.events import ProgressEvent
from agent.inventory.identity import Identity
from agent.report import dsse
from agent.report.progress import (
    ArmedErasure,
    HubOrders,
    ProgressReporter,
    orders_from_answer,
)
from tests.helpers import sample_disk, sample_machine
from tests.hubserver import free_port
from tests.receiver import Receiver

IDENTITY = Identity("rb1-0123456789abcdef", ("system.serial",), (), "hid")


def machine() -> Any:
    return dataclasses.replace(
        sample_machine(disks=(sample_disk("/dev/sda", "S1"), sample_disk("/dev/sdb", "S2"))),
        identity=IDENTITY)


def accept_verified(key: Ed25519PrivateKey, accepted: list[dict],
                    answers: list[Any] | None = None) -> Any:
    """The hub's side of the contract: verify the DSSE signature, keep the payload. It answers
    each message with the next of `answers` (the last one again once they run out), else as a
    hub without orders does."""

    def route(envelope: Any) -> tuple[int, Any]:
        try:
            payload = dsse.verify(envelope, key.public_key())
        except dsse.EnvelopeError:
            return 403, {"detail": "bad signature"}
        if envelope["payloadType"] != dsse.PROGRESS_PAYLOAD_TYPE:
            return 400, {"detail": "payload type"}
        accepted.append(json.loads(payload))
        if not answers:
            return 202, {"status": "accepted"}
        return 202, answers.pop(0) if len(answers) > 1 else answers[0]

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
                                     "bytes_done", "bytes_total", "rate_bytes_per_s", "result",
                                     "error"}
    assert "arming" not in last  # nothing was armed
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


def test_a_machine_that_changes_nothing_is_still_heard_from(receiver: Receiver) -> None:
    """The heartbeat: the hub's board calls a machine silent after a minute without news."""
    key = Ed25519PrivateKey.generate()
    accepted: list[dict] = []
    receiver.routes["/api/v1/progress"] = accept_verified(key, accepted)
    reporter = ProgressReporter(receiver.url, "lyon-3", lambda: key, interval=3600,
                                heartbeat=0.2)
    time.sleep(0.5)
    assert accepted == []  # nothing the hub could file it under yet
    reporter.machine_known(machine(), "RB-TEST")
    wait_for(lambda: len(accepted) >= 4)
    reporter.stop()
    assert {message["step"] for message in accepted} == {"inventory"}
    assert {json.dumps(message["disks"]) for message in accepted} == {
        json.dumps(accepted[0]["disks"])}
    sent_at = [message["sent_at"] for message in accepted]
    assert sent_at == sorted(set(sent_at))  # each a new message, not one repeated


ORDERS = {"status": "accepted",
          "orders": {"unattended": {"arming": 7, "expires_in_seconds": 600},
                     "power_off_at_end": True}}


def test_the_hubs_orders_reach_the_listener(receiver: Receiver) -> None:
    key = Ed25519PrivateKey.generate()
    accepted: list[dict] = []
    answers: list[Any] = [ORDERS, {"status": "accepted"},
                          {"status": "accepted", "orders": {"unattended": None,
                                                            "power_off_at_end": False}}]
    receiver.routes["/api/v1/progress"] = accept_verified(key, accepted, answers)
    heard: list[HubOrders] = []
    reporter = ProgressReporter(receiver.url, "lyon-3", lambda: key, interval=3600,
                                heartbeat=0.1, on_orders=heard.append)
    reporter.machine_known(machine(), "RB-TEST")
    wait_for(lambda: len(heard) >= 3)
    reporter.stop()
    assert heard[0] == HubOrders(ArmedErasure(7, 600), power_off_at_end=True)
    assert heard[1] == HubOrders()  # an older hub: no orders
    assert heard[2] == HubOrders()


def test_a_refused_message_gives_no_orders(receiver: Receiver) -> None:
    key = Ed25519PrivateKey.generate()
    receiver.routes["/api/v1/progress"] = lambda _body: (403, ORDERS)
    heard: list[HubOrders] = []
    reporter = ProgressReporter(receiver.url, "lyon-3", lambda: key, interval=3600,
                                heartbeat=0.1, on_orders=heard.append)
    reporter.machine_known(machine(), "RB-TEST")
    wait_for(lambda: reporter.failures >= 3)
    reporter.stop()
    assert heard == [] and reporter.sent == 0


MALFORMED = [
    ({"orders": "erase everything"}, HubOrders()),
    ({"orders": {"unattended": {"arming": "7", "expires_in_seconds": 600}}}, HubOrders()),
    ({"orders": {"unattended": {"arming": True, "expires_in_seconds": 600}}}, HubOrders()),
    ({"orders": {"unattended": {"arming": 7}, "power_off_at_end": True}},
     HubOrders(None, power_off_at_end=True)),
    ({"orders": {"unattended": [7, 600], "power_off_at_end": "yes"}}, HubOrders()),
    ({"orders": {"unattended": {"arming": 7, "expires_in_seconds": 30.5}}}, HubOrders()),
]


@pytest.mark.parametrize(("answer", "understood"), MALFORMED)
def test_orders_the_agent_cannot_read_are_ignored_with_one_log_line(
        receiver: Receiver, caplog: pytest.LogCaptureFixture, answer: Any,
        understood: HubOrders) -> None:
    key = Ed25519PrivateKey.generate()
    accepted: list[dict] = []
    receiver.routes["/api/v1/progress"] = accept_verified(key, accepted, [answer])
    heard: list[HubOrders] = []
    reporter = ProgressReporter(receiver.url, "lyon-3", lambda: key, interval=3600,
                                heartbeat=3600, on_orders=heard.append)
    with caplog.at_level(logging.WARNING, logger="agent.report.progress"):
        reporter.machine_known(machine(), "RB-TEST")
        wait_for(lambda: len(heard) == 1)
        reporter.stop()
    assert heard == [understood]
    assert len(caplog.records) == 1 and "ignored" in caplog.records[0].getMessage()


def test_answers_without_orders_are_no_orders() -> None:
    answers: list[Any] = [None, [], "accepted", {"status": "accepted"}, {"orders": None}]
    for answer in answers:
        assert orders_from_answer(answer) == HubOrders()


def test_a_listener_that_fails_does_not_end_the_live_progress(receiver: Receiver) -> None:
    key = Ed25519PrivateKey.generate()
    accepted: list[dict] = []
    receiver.routes["/api/v1/progress"] = accept_verified(key, accepted, [ORDERS])

    def broken(orders: HubOrders) -> None:
        raise RuntimeError("a bug in the screen")

    reporter = ProgressReporter(receiver.url, "lyon-3", lambda: key, interval=3600,
                                heartbeat=3600, on_orders=broken)
    reporter.machine_known(machine(), "RB-TEST")
    wait_for(lambda: len(accepted) == 1)
    reporter.step("erase")
    wait_for(lambda: len(accepted) == 2)
    reporter.stop()
    assert reporter.sent == 2


def test_what_the_machine_did_with_an_arming_is_told_at_once(receiver: Receiver) -> None:
    key = Ed25519PrivateKey.generate()
    accepted: list[dict] = []
    receiver.routes["/api/v1/progress"] = accept_verified(key, accepted, [ORDERS])
    reporter = ProgressReporter(receiver.url, "lyon-3", lambda: key, interval=3600,
                                heartbeat=3600)
    reporter.machine_known(machine(), "RB-TEST")
    wait_for(lambda: len(accepted) == 1)
    reporter.arming_state(7, "countdown")
    wait_for(lambda: len(accepted) == 2)
    reporter.arming_state(7, "stopped")
    wait_for(lambda: len(accepted) == 3)
    reporter.stop()
    assert "arming" not in accepted[0]
    assert accepted[1]["arming"] == {"id": 7, "state": "countdown"}
    assert accepted[2]["arming"] == {"id": 7, "state": "stopped"}


def test_why_a_disk_failed_is_in_the_progress(receiver: Receiver) -> None:
    key = Ed25519PrivateKey.generate()
    accepted: list[dict] = []
    receiver.routes["/api/v1/progress"] = accept_verified(key, accepted)
    reporter = ProgressReporter(receiver.url, "lyon-3", lambda: key, interval=0.05,
                                heartbeat=3600)
    reporter.machine_known(machine(), "RB-TEST")
    reporter.step("erase")
    reporter.event(ProgressEvent("/dev/sda", "write", 1 << 20, 5 << 20, 1e6))
    reporter.event(ProgressEvent("/dev/sdb", "failed", 0, 5 << 20, error="DiskVanished: gone"))
    wait_for(lambda: any(message["disks"][1]["result"] == "failed" for message in accepted))
    reporter.stop()
    sda, sdb = accepted[-1]["disks"]
    assert sda["error"] is None and sda["phase"] == "write"
    assert sdb["error"] == "DiskVanished: gone" and sdb["result"] == "failed"
