"""The background sender against a real hub over HTTP: down then up, lost acknowledgements,
reboots (a new Station on the same data folder), revocation, and network changes."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from agent import flow
from agent.report.netwatch import NetworkWatch
from agent.report.outbox import FlushOutcome
from agent.report.sender import OutboxSender, SenderState
from agent.wipe.jobs import WipeResult
from tests.helpers import sample_disk, sample_machine
from tests.hubserver import RunningHub, free_port
from tests.receiver import Receiver

START = datetime.datetime(2026, 11, 28, 9, 0, tzinfo=datetime.UTC)


def station_for(data_dir: Path, hub_url: str, token: str) -> flow.Station:
    (data_dir / "reeeboot.toml").write_text(
        f'language = "en"\n[station]\nname = "lyon-3"\noperator = "Camille"\n'
        f'[hub]\nurl = "{hub_url}"\nenrollment_token = "{token}"\n')
    return flow.open_station(data_dir)


def erased(serial: str) -> WipeResult:
    disk = sample_disk(serial=serial)
    return WipeResult(disk.path, disk.serial, disk.model, disk.bus, disk.size_bytes,
                      result="erased", bytes_written=disk.size_bytes, verified=True)


def file_reports(station: flow.Station, count: int) -> list[str]:
    return [flow.file_report(station, sample_machine(), [erased(f"S{n}")], START)[0]
            for n in range(count)]


def test_hub_down_then_up_every_report_stored_once(data_dir: Path, tmp_path: Path) -> None:
    hub = RunningHub(tmp_path / "late.sqlite3", free_port())
    token = hub.database.add_station("lyon-3")
    station = station_for(data_dir, hub.url, token)
    report_ids = file_reports(station, 3)
    states: list[SenderState] = []
    sender = OutboxSender(lambda: flow.deliver_reports(station, deadline_seconds=0),
                          on_state=states.append, first_delay=0.05, max_delay=0.4,
                          network_watch=None)
    try:
        # Several failed attempts while the hub is down, with a growing wait between them.
        deadline = threading.Event()
        while len(sender.delays) < 5:
            deadline.wait(0.05)
        assert station.outbox.count() == 3
        assert states[0] == SenderState(3, states[0].last_error) and states[0].last_error
        hub.start()
        assert sender.wait_until_empty(30).waiting == 0
    finally:
        sender.stop()
        hub.stop()
    assert sender.delays[:4] == [0.05, 0.1, 0.2, 0.4] and max(sender.delays) == 0.4
    assert sorted(str(row["report_id"]) for row in hub.database.reports()) == sorted(report_ids)
    assert station.outbox.count() == 0 and states[-1].waiting == 0


def deliverer(station: flow.Station) -> Callable[[], FlushOutcome]:
    return lambda: flow.deliver_reports(station, deadline_seconds=0)


class ForgetfulProxy:
    """Forwards to the hub, but for the first `drop` report uploads hangs up before answering:
    the hub stored the report, the agent never heard it."""

    def __init__(self, target: str, drop: int) -> None:
        self.drop = drop
        self.forwarded = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                answer = requests.post(target + self.path, data=body, timeout=10,
                                       headers={"Content-Type": "application/json"})
                proxy.forwarded += self.path == "/api/v1/reports"
                if self.path == "/api/v1/reports" and proxy.drop > 0:
                    proxy.drop -= 1
                    self.close_connection = True
                    return  # no status line: the client sees the connection drop
                self.send_response(answer.status_code)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, format: str, *args: Any) -> None:
                del format, args

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def forgetful(hub: RunningHub) -> Iterator[ForgetfulProxy]:
    proxy = ForgetfulProxy(hub.url, drop=4)
    yield proxy
    proxy.close()


def test_lost_acknowledgements_and_reboots_end_with_one_stored_report(
    data_dir: Path, hub: RunningHub, forgetful: ForgetfulProxy,
) -> None:
    token = hub.database.add_station("lyon-3")
    station = station_for(data_dir, forgetful.url, token)
    (report_id,) = file_reports(station, 1)
    # Each "boot" is a new Station and Outbox on the same folder, with one short-lived sender.
    for _boot in range(3):
        sender = OutboxSender(deliverer(flow.open_station(data_dir)),
                              first_delay=0.01, max_delay=0.02, network_watch=None)
        sender.wait_until_empty(0.3)
        sender.stop()
    rebooted = flow.open_station(data_dir)
    sender = OutboxSender(lambda: flow.deliver_reports(rebooted, deadline_seconds=0),
                          first_delay=0.01, max_delay=0.02, network_watch=None)
    try:
        assert sender.wait_until_empty(30).waiting == 0
    finally:
        sender.stop()
    assert forgetful.drop == 0 and forgetful.forwarded >= 5  # every loss really happened
    assert [row["report_id"] for row in hub.database.reports()] == [report_id]
    assert (data_dir / "sent" / f"{report_id}.json").exists()


def test_reports_signed_before_a_reboot_are_sent_after_it(data_dir: Path,
                                                         hub: RunningHub) -> None:
    token = hub.database.add_station("lyon-3")
    down = station_for(data_dir, f"http://127.0.0.1:{free_port()}", token)
    report_ids = file_reports(down, 2)
    assert flow.deliver_reports(down, deadline_seconds=0).waiting == sorted(report_ids)
    after_reboot = station_for(data_dir, hub.url, token)  # same folder, hub now reachable
    assert after_reboot.outbox.count() == 2
    outcome = flow.deliver_reports(after_reboot, deadline_seconds=0)
    assert sorted(outcome.sent) == sorted(report_ids)
    assert sorted(str(row["report_id"]) for row in hub.database.reports()) == sorted(report_ids)


def test_revoked_station_is_told_and_reports_wait(
    data_dir: Path, receiver: Receiver, capsys: pytest.CaptureFixture[str],
) -> None:
    from agent.cli import main

    receiver.routes["/api/v1/stations/enroll"] = lambda body: (201, {"station": "lyon-3"})
    receiver.routes["/api/v1/reports"] = lambda body: (403, {"detail": "station key revoked"})
    station = station_for(data_dir, receiver.url, "token")
    (report_id,) = file_reports(station, 1)
    outcome = flow.deliver_reports(station, deadline_seconds=0)
    assert outcome.waiting == [report_id] and outcome.revoked
    assert "revoked this station's key" in (outcome.last_error or "")
    assert "new enrollment token" in (outcome.last_error or "")
    assert station.outbox.count() == 1 and len(receiver.bodies("/api/v1/reports")) == 1
    assert main(["--data", str(data_dir), "status"]) == 0
    out = capsys.readouterr().out
    assert "Reports waiting to be sent: 1" in out and "revoked this station's key" in out


def test_cli_send_and_status_print_the_waiting_count(
    data_dir: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    from agent.cli import main

    station = station_for(data_dir, f"http://127.0.0.1:{free_port()}", "token")
    file_reports(station, 2)
    assert main(["--data", str(data_dir), "status"]) == 0
    assert "Reports waiting to be sent: 2" in capsys.readouterr().out
    assert main(["--data", str(data_dir), "send"]) == 1
    assert "0 sent, 2 waiting" in capsys.readouterr().out


def test_sender_stops_cleanly_while_waiting() -> None:
    attempts: list[int] = []

    def deliver() -> FlushOutcome:
        attempts.append(1)
        return FlushOutcome(waiting=["a"], last_error="down")

    sender = OutboxSender(deliver, first_delay=3600, network_watch=None)
    sender.wait_until_empty(0.2)
    sender.stop(timeout=5)
    assert not sender._thread.is_alive() and len(attempts) == 1


def test_a_network_change_wakes_the_sender_at_once() -> None:
    attempts = threading.Semaphore(0)

    def deliver() -> FlushOutcome:
        attempts.release()
        return FlushOutcome(waiting=["a"], last_error="down")

    watches: list[NetworkWatch] = []

    def watch(changed: Any) -> NetworkWatch:
        watches.append(NetworkWatch(changed, settle_seconds=0.1))
        return watches[-1]

    sender = OutboxSender(deliver, first_delay=3600, network_watch=watch)
    try:
        assert attempts.acquire(timeout=10)  # the first attempt, then a wait of an hour
        add_and_remove_an_address()
        assert attempts.acquire(timeout=10)  # woken by the kernel's address messages
    finally:
        sender.stop()


def add_and_remove_an_address() -> None:
    """An address appearing then going, as when a DHCP lease arrives (needs root). On `lo`,
    from the documentation range, so no real interface or route is disturbed."""
    ip = shutil.which("ip")
    if ip is None:
        pytest.fail("the network-change test needs iproute2's ip")
    address = "192.0.2.77/32"
    added = subprocess.run([ip, "addr", "add", address, "dev", "lo"], capture_output=True,
                           text=True, check=False)
    if added.returncode != 0:
        pytest.fail(f"cannot add an address to lo (root needed): {added.stderr}")
    subprocess.run([ip, "addr", "del", address, "dev", "lo"], check=True)


def test_the_report_says_who_ran_the_station(data_dir: Path) -> None:
    from agent.report import dsse

    station = station_for(data_dir, f"http://127.0.0.1:{free_port()}", "token")
    _report_id, path = flow.file_report(station, sample_machine(), [erased("S1")], START)
    report = json.loads(dsse.verify(json.loads(path.read_text()), station.key.public_key()))
    assert report["operator"] == "Camille"


def test_after_a_revocation_a_new_token_enrolls_a_fresh_key(
    data_dir: Path, receiver: Receiver,
) -> None:
    """The hub refuses every key it revoked; a new token in reeeboot.toml starts again with a
    fresh key. Reports the revoked key signed stay in the outbox (the hub refuses them)."""
    from agent.report import dsse

    revoked: set[str] = set()
    enrolled: dict[str, str] = {}  # key id -> token

    def enroll(body: Any) -> tuple[int, dict]:
        key_id = hashlib.sha256(base64.b64decode(body["public_key"])).hexdigest()
        if key_id in revoked or body["token"] in enrolled.values():
            return 403, {"detail": "unknown token"}
        enrolled[key_id] = body["token"]
        return 201, {"station": body["name"], "key_id": key_id}

    def report(envelope: Any) -> tuple[int, dict]:
        signer = dsse.signer_key_ids(envelope)[0]
        if signer in revoked:
            return 403, {"detail": "station key revoked"}
        return (201, {"status": "stored"}) if signer in enrolled else (403, {"detail": "?"})

    receiver.routes.update({"/api/v1/stations/enroll": enroll, "/api/v1/reports": report})
    station = station_for(data_dir, receiver.url, "first-token")
    (first,) = file_reports(station, 1)
    assert flow.deliver_reports(station, deadline_seconds=0).sent == [first]
    old_id = dsse.key_id(station.key.public_key())
    revoked.add(old_id)
    (waiting,) = file_reports(station, 1)
    refused = flow.deliver_reports(station, deadline_seconds=0)
    assert refused.waiting == [waiting] and "new enrollment token" in (refused.last_error or "")
    # Same token again: nothing changes, the key stays (and stays refused).
    station = station_for(data_dir, receiver.url, "first-token")
    assert flow.deliver_reports(station, deadline_seconds=0).waiting == [waiting]
    assert dsse.key_id(station.key.public_key()) == old_id
    # A new token: a fresh key is enrolled and signs what comes next.
    station = station_for(data_dir, receiver.url, "second-token")
    (fresh,) = file_reports(station, 1)
    outcome = flow.deliver_reports(station, deadline_seconds=0)
    new_id = dsse.key_id(station.key.public_key())
    assert new_id != old_id and enrolled[new_id] == "second-token"
    assert outcome.sent == [fresh] and outcome.waiting == [waiting]
    assert (data_dir / f"station.key.revoked-{old_id}").exists()
