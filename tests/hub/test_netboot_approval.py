"""A boot service that asks for approval: each machine it boots is answered "pending" until a
person of the workshop accepts it on the live board, then enrolls as an automatic one does;
refused, it is refused. The setting on the command line and the stations page. Each test on
every test database."""

from __future__ import annotations

import datetime
import html
import json
import logging
import re
import threading
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from agent.report import dsse
from agent.report.bootcredential import mint
from hub.cli import main
from hub.models import Arming, BootJoinRequest, Station
from hub.store import AwaitingApproval, StoreError
from tests.hub.helpers import SESSION_COOKIE, Hub, password_hash
from tests.hub.helpers import Station as SigningStation
from tests.hub.test_arming import later, offered
from tests.hub.test_netboot_enroll import (
    MAC,
    UUID,
    Machine,
    boot_service,
    claims_of,
    credential,
    enrollments,
    listed,
    refused,
)

PENDING = {"status": "pending", "station": "lyon-pc-1"}


def approving_service(hub: Hub, name: str = "boot-lyon", workshop: str = "Lyon") -> SigningStation:
    service = boot_service(hub, name, workshop)
    hub.store.set_enrollment(name, "approval")
    return service


def browser(hub: Hub, email: str = "atelier@example.org", role: str = "workshop",
            workshop: str | None = "Lyon") -> tuple[TestClient, str]:
    """A browser signed in as a new account, and its session's CSRF token (the session opened
    in the store, as the sign-in form does, without the form's slow password check)."""
    kept = workshop if role == "workshop" else None
    if kept is not None and hub.store.workshop_id(kept) is None:
        hub.store.add_workshop(kept)
    person_id = hub.store.add_person(email, password_hash(), role, kept)
    session, csrf = hub.store.open_session(person_id)
    client = TestClient(hub.client.app)
    client.cookies.set(SESSION_COOKIE, session)
    return client, csrf


def asking(page: str) -> list[str]:
    """The rows of the board's "Asking to join", as text."""
    found = re.search(r'<section class="joins">.*?<tbody>(.*?)</tbody>', page, re.DOTALL)
    if found is None:
        return []
    rows = re.findall(r"<tr>(.*?)</tr>", found.group(1), re.DOTALL)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", row)).split()) for row in rows]


def join_ids(page: str) -> list[int]:
    return [int(found) for found in re.findall(r'formaction="/board/joins/(\d+)/accept"', page)]


def decide(client: TestClient, csrf: str, join_id: int, decision: str,
           workshop: str = "") -> Any:
    return client.post(f"/board/joins/{join_id}/{decision}?lang=en",
                       data={"csrf_token": csrf, "workshop": workshop}, follow_redirects=False)


def requests_rows(hub: Hub) -> list[BootJoinRequest]:
    with hub.store.session() as session:
        return list(session.scalars(select(BootJoinRequest).order_by(BootJoinRequest.id)))


def audited(caplog: pytest.LogCaptureFixture, event: str) -> list[dict[str, Any]]:
    lines = [json.loads(record.getMessage()) for record in caplog.records
             if record.name == "reeeboot.hub.audit"]
    return [line for line in lines if line["event"] == event]


def test_a_machine_waits_and_no_station_is_made(hub: Hub,
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="reeeboot.hub.audit")
    service, machine = approving_service(hub), Machine()
    token = credential(service)
    first = machine.enroll(hub, token)
    assert first.status_code == 202 and first.json() == PENDING
    again = machine.enroll(hub, token)  # it asks again every 10 s: the same request
    assert again.status_code == 202 and again.json() == PENDING
    assert hub.store.station_by_name("lyon-pc-1") is None and enrollments(hub) == []
    [request] = requests_rows(hub)
    assert (request.status, request.mac, request.uuid, request.ip, request.ip_seen,
            request.key_id) == ("pending", MAC, UUID, "10.0.0.50", "testclient",
                                machine.station().key_id)
    assert len(audited(caplog, "boot_join_asked")) == 1  # once, not at each ask
    # Another key with the same credential is refused, as a used credential is.
    refused(Machine().enroll(hub, token), 403, "already used")
    assert len(requests_rows(hub)) == 1
    # What the board shows of it, a person of the workshop only.
    lyon = hub.store.workshop_id("Lyon")
    assert lyon is not None
    [shown] = hub.store.join_requests(lyon)
    assert (shown.station, shown.mac, shown.ip_seen) == ("lyon-pc-1", MAC, "testclient")
    hub.store.add_workshop("Grenoble")
    assert hub.store.join_requests(hub.store.workshop_id("Grenoble") or 0) == []


def test_accepted_on_the_board_the_same_request_enrolls_as_automatic_enrollment_does(
        hub: Hub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="reeeboot.hub.audit")
    service, machine = approving_service(hub), Machine()
    claims = claims_of(service, ip="<script>alert(1)</script>", uuid="<i>" + UUID)
    machine.uuid = "<I>" + UUID.upper()
    token = mint(claims, service.key)
    lyon = hub.store.workshop_id("Lyon")
    assert lyon is not None
    hub.store.arm_next(lyon, 1, later(30), "test")  # a place for the next machine to enroll
    assert machine.enroll(hub, token).status_code == 202
    assert remaining_places(hub) == [1]  # waiting takes no place
    client, csrf = browser(hub)
    page = client.get("/board?lang=en").text
    [row] = asking(page)
    assert "Asking to join" in page
    assert row.startswith(f"lyon-pc-1 {MAC} <i>{UUID} <script>alert(1)</script> testclient")
    assert re.search(r"\d+ s ago Accept Refuse$", row), row
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # In the fragment the board's script swaps in every 2 s too.
    fragment = client.get("/board/tiles?lang=en").text
    [again] = asking(fragment)
    assert re.sub(r"\d+ s ago", "", again) == re.sub(r"\d+ s ago", "", row)  # a second later
    assert join_ids(fragment) == join_ids(page)
    [join_id] = join_ids(page)
    # The buttons submit the form that carries the CSRF token, outside the ticked machines'.
    assert re.search(r'<form id="board-joins" method="post">\s*<input type="hidden" '
                     rf'name="csrf_token" value="{csrf}">', page)
    assert 'form="board-joins"' in fragment
    assert decide(client, "guess", join_id, "accept").status_code == 403
    assert machine.enroll(hub, token).status_code == 202  # still waiting
    done = decide(client, csrf, join_id, "accept")
    assert done.status_code == 303 and done.headers["location"] == "/board?done=join_accepted"
    shown = client.get("/board?done=join_accepted&lang=en").text
    assert "The machine was accepted" in shown and asking(shown) == []
    [line] = audited(caplog, "boot_join_accepted")
    assert (line["person"], line["workshop"], line["station"], line["mac"]) == (
        "atelier@example.org", "Lyon", "lyon-pc-1", MAC)
    # Its next ask enrolls it, as an automatic enrollment would have; a repeat is answered 200.
    enrolled = machine.enroll(hub, token)
    assert enrolled.status_code == 201, enrolled.text
    assert enrolled.json() == {"station": "lyon-pc-1", "key_id": machine.station().key_id,
                               "workshop": "Lyon"}
    repeated = machine.enroll(hub, token)
    assert repeated.status_code == 200 and repeated.json() == enrolled.json()
    assert listed(hub, "lyon-pc-1")["kind"] == "netbooted"
    [used] = enrollments(hub)
    assert used.key_id == machine.station().key_id
    assert remaining_places(hub) == [0]  # it took the next-N place when it enrolled
    assert offered(hub, machine.station()) is not None
    assert [request.status for request in requests_rows(hub)] == ["accepted"]
    # Booted again, asked again: what the board asked of its last run is cleared on enrolling.
    hub.store.set_power_off_at_end(lyon, ["lyon-pc-1"], True)
    second = Machine()
    second_token = credential(service)
    assert second.enroll(hub, second_token).status_code == 202
    assert power_off_at_end(hub) is True
    assert decide(client, csrf, join_ids(client.get("/board").text)[0],
                  "accept").status_code == 303
    assert second.enroll(hub, second_token).status_code == 201
    assert power_off_at_end(hub) is False


def remaining_places(hub: Hub) -> list[int | None]:
    with hub.store.session() as session:
        return list(session.scalars(select(Arming.remaining).order_by(Arming.id)))


def power_off_at_end(hub: Hub) -> bool:
    with hub.store.session() as session:
        return bool(session.scalar(select(Station.power_off_at_end).where(
            Station.name == "lyon-pc-1")))


def test_refused_on_the_board_the_machine_is_refused(hub: Hub,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="reeeboot.hub.audit")
    service, machine = approving_service(hub), Machine()
    token = credential(service)
    assert machine.enroll(hub, token).status_code == 202
    client, csrf = browser(hub)
    [join_id] = join_ids(client.get("/board").text)
    done = decide(client, csrf, join_id, "refuse")
    assert done.status_code == 303 and done.headers["location"] == "/board?done=join_refused"
    assert "The machine was refused" in client.get("/board?done=join_refused&lang=en").text
    refused(machine.enroll(hub, token), 403, "refused by the workshop")
    refused(machine.enroll(hub, token), 403, "refused by the workshop")  # and stays so
    assert hub.store.station_by_name("lyon-pc-1") is None and enrollments(hub) == []
    assert [line["station"] for line in audited(caplog, "boot_join_refused")] == ["lyon-pc-1"]
    # Decided once: a second decision, by anyone, changes nothing.
    again = decide(client, csrf, join_id, "accept")
    assert again.status_code == 409 and "already accepted or refused" in again.text
    refused(machine.enroll(hub, token), 403, "refused by the workshop")
    # A refused machine stays refused when the service stops asking for approval.
    hub.store.set_enrollment("boot-lyon", "automatic")
    refused(machine.enroll(hub, token), 403, "refused by the workshop")


def test_only_the_workshops_people_or_an_administrator_decide(hub: Hub) -> None:
    service, machine = approving_service(hub), Machine()
    token = credential(service)
    assert machine.enroll(hub, token).status_code == 202
    lyon, _lyon_csrf = browser(hub)
    [join_id] = join_ids(lyon.get("/board").text)
    grenoble, grenoble_csrf = browser(hub, "grenoble@example.org", workshop="Grenoble")
    assert asking(grenoble.get("/board").text) == []
    for decision in ("accept", "refuse"):
        assert decide(grenoble, grenoble_csrf, join_id, decision).status_code == 404
        assert decide(grenoble, grenoble_csrf, join_id, decision,
                      workshop="Lyon").status_code == 404
    assert machine.enroll(hub, token).status_code == 202  # still waiting
    admin, admin_csrf = browser(hub, "admin@example.org", "admin")
    assert decide(admin, admin_csrf, join_id, "accept",
                  workshop="Grenoble").status_code == 404  # not Grenoble's machine
    assert decide(admin, admin_csrf, join_id, "maybe", workshop="Lyon").status_code == 404
    done = decide(admin, admin_csrf, join_id, "accept", workshop="Lyon")
    assert done.status_code == 303
    assert done.headers["location"] == "/board?workshop=Lyon&done=join_accepted"
    assert machine.enroll(hub, token).status_code == 201


def test_a_request_whose_credential_expired_cannot_be_accepted(hub: Hub) -> None:
    service, machine = approving_service(hub), Machine()
    assert machine.enroll(hub, credential(service)).status_code == 202
    client, csrf = browser(hub)
    [join_id] = join_ids(client.get("/board").text)
    with hub.store.session() as session:
        session.execute(update(BootJoinRequest).values(
            expires_at=datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1)))
    assert asking(client.get("/board").text) == []  # the board drops it
    late = decide(client, csrf, join_id, "accept")
    assert late.status_code == 409 and "expired before anyone accepted it" in late.text
    assert [request.status for request in requests_rows(hub)] == ["pending"]
    # The machine's own credential expiring is refused by the credential's check, as always.
    issued = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=31)
    old = mint(claims_of(service, "lyon-pc-2", issued_at=issued.isoformat(),
                         expires_at=(issued + datetime.timedelta(minutes=30)).isoformat()),
               service.key)
    refused(Machine().enroll(hub, old), 403, "expired")


def test_automatic_enrollment_is_the_default_and_can_be_chosen_again(hub: Hub) -> None:
    service = boot_service(hub)
    assert listed(hub, "boot-lyon")["enrollment"] == "automatic"
    assert Machine().enroll(hub, credential(service)).status_code == 201
    assert requests_rows(hub) == []
    hub.store.set_enrollment("boot-lyon", "approval")
    assert listed(hub, "boot-lyon")["enrollment"] == "approval"
    machine = Machine()
    token = credential(service, "lyon-pc-2")
    assert machine.enroll(hub, token).status_code == 202
    # Back to automatic: a machine still waiting is enrolled at its next ask.
    hub.store.set_enrollment("boot-lyon", "automatic")
    assert machine.enroll(hub, token).status_code == 201
    assert listed(hub, "lyon-pc-2")["kind"] == "netbooted"
    stick = hub.station("lyon-3", "Lyon")
    assert listed(hub, stick.name)["enrollment"] is None
    with pytest.raises(StoreError, match="not a boot service"):
        hub.store.set_enrollment("lyon-3", "approval")
    with pytest.raises(StoreError, match="no enrollment"):
        hub.store.set_enrollment("boot-lyon", "sometimes")
    with pytest.raises(StoreError, match="no station"):
        hub.store.set_enrollment("nowhere", "approval")


def test_a_machine_that_could_not_enroll_is_not_put_before_a_person(hub: Hub) -> None:
    service = approving_service(hub)
    hub.station("lyon-3", "Lyon")  # a stick's name
    refused(Machine().enroll(hub, credential(service, "lyon-3")), 409,
            "not a network-booted station")
    refused(Machine(macs=["52:54:00:99:99:99"]).enroll(hub, credential(service)), 403,
            "another machine")
    assert requests_rows(hub) == []


def test_asks_at_the_same_moment_make_one_request(hub: Hub) -> None:
    service = approving_service(hub)
    claims = claims_of(service)
    key = Ed25519PrivateKey.generate()
    outcomes: list[object] = []
    start = threading.Barrier(4)

    def ask() -> None:
        start.wait()
        try:
            hub.store.enroll_booted(claims, dsse.public_key_bytes(key.public_key()),
                                    dsse.key_id(key.public_key()), "10.0.0.50")
        except AwaitingApproval as waiting:
            outcomes.append(("pending", waiting.first))
        except BaseException as error:  # reported below, not lost in the thread
            outcomes.append(error)

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(map(str, outcomes)) == sorted(
        [str(("pending", True))] + [str(("pending", False))] * 3)
    assert len(requests_rows(hub)) == 1


def test_the_command_line_chooses_and_the_stations_page_shows_it(
        hub: Hub, database_url: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REEEBOOT_LANGUAGE", "en")
    hub.store.add_workshop("Lyon")
    assert main(["--database", database_url, "station", "add", "boot-lyon", "--workshop",
                 "Lyon", "--boot-service", "--approval"]) == 0
    token = capsys.readouterr().out.strip()
    assert re.fullmatch(r"[\w-]+", token)  # the token alone, as before
    assert listed(hub, "boot-lyon")["enrollment"] == "approval"
    assert main(["--database", database_url, "station", "add", "lyon-3", "--workshop", "Lyon",
                 "--approval"]) == 2
    assert "--approval is for a boot service" in capsys.readouterr().err
    assert hub.store.station_by_name("lyon-3") is None
    assert main(["--database", database_url, "station", "add", "lyon-3", "--workshop",
                 "Lyon"]) == 0
    capsys.readouterr()
    assert main(["--database", database_url, "station", "enrollment", "boot-lyon",
                 "automatic"]) == 0
    assert "join the workshop automatically" in capsys.readouterr().out
    assert listed(hub, "boot-lyon")["enrollment"] == "automatic"
    assert main(["--database", database_url, "station", "enrollment", "boot-lyon",
                 "approval"]) == 0
    assert "accepted it on the live board" in capsys.readouterr().out
    assert listed(hub, "boot-lyon")["enrollment"] == "approval"
    assert main(["--database", database_url, "station", "enrollment", "lyon-3",
                 "approval"]) == 2
    assert "lyon-3 is not a boot service" in capsys.readouterr().err
    assert main(["--database", database_url, "station", "enrollment", "nowhere",
                 "approval"]) == 1
    assert "No station named nowhere." in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--database", database_url, "station", "enrollment", "boot-lyon", "sometimes"])
    assert "invalid choice" in capsys.readouterr().err
    # In the hub's language: French unless told otherwise.
    monkeypatch.setenv("REEEBOOT_LANGUAGE", "fr")
    assert main(["--database", database_url, "station", "enrollment", "lyon-3",
                 "approval"]) == 2
    assert "lyon-3 n'est pas un service de démarrage" in capsys.readouterr().err
    admin, _csrf = browser(hub, "admin@example.org", "admin")
    page = admin.get("/stations?lang=en").text
    assert "boot service: a person accepts each machine on the live board" in page
    hub.store.set_enrollment("boot-lyon", "automatic")
    assert "boot service: its machines join automatically" in admin.get(
        "/stations?lang=en").text
