"""Arming unattended erasure for network-booted machines: what the hub offers in the answer to a
station's progress, to which machine, until when; the arm API and the command line. Each test on
every test database.

The safety rule under test: a network-booted machine is offered an unattended erasure only when
its own workshop armed it (its network card listed, or one of the next N places taken when it
enrolled), before the arming ends, and never again once it said what it did with it.
"""

from __future__ import annotations

import datetime
import re
import threading
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import select

from agent.report import dsse
from hub.cli import main
from hub.ingest import PROGRESS_PAYLOAD_TYPE
from hub.models import ArmedMachine, Arming
from tests.hub.helpers import START, Hub, Station, account
from tests.hub.test_netboot_enroll import Machine, boot_service, claims_of, credential

MAC_A, MAC_B, MAC_C, MAC_D = ("52:54:00:00:00:0a", "52:54:00:00:00:0b", "52:54:00:00:00:0c",
                              "52:54:00:00:00:0d")
NO_ORDERS = {"unattended": None, "power_off_at_end": False}


def later(minutes: float) -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=minutes)


def netbooted(hub: Hub, service: Station, mac: str) -> Station:
    """A machine booted by `service` from the network card `mac`, enrolled as the boot service
    names it ("<service>-<MAC digits>"); booting it again enrolls a new key for it."""
    name = f"{service.name}-{mac.replace(':', '')}"
    machine = Machine(macs=["00:00:00:00:00:00", mac.upper()])
    response = machine.enroll(hub, credential(service, name, mac=mac))
    assert response.status_code == 201, response.text
    return machine.station(name)


def progress(station: Station, *, step: str = "inventory",
             arming: Any = None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "schema": "reeeboot.progress/1", "machine_id": f"rb1-{station.name}",
        "asset_id": "", "station": {"name": station.name, "key_id": station.key_id},
        "sent_at": START.isoformat(), "step": step,
        "machine": {"vendor": "Dell Inc.", "product": "OptiPlex 7010", "serial": "S1"},
        "disks": [{"path": "/dev/sda", "model": "WDC", "bytes_done": 0, "bytes_total": 100,
                   "rate_bytes_per_s": 0, "phase": "waiting", "result": None, "error": None}]}
    if arming is not None:
        document["arming"] = arming
    return station.sign(document, PROGRESS_PAYLOAD_TYPE)


def orders(hub: Hub, station: Station, **changes: Any) -> dict[str, Any]:
    """The orders in the hub's answer to the station's progress."""
    response = hub.client.post("/api/v1/progress", json=progress(station, **changes))
    assert response.status_code == 202, response.text
    answer = response.json()
    assert set(answer) == {"status", "orders"} and answer["status"] == "accepted"
    assert set(answer["orders"]) == {"unattended", "power_off_at_end"}
    return dict(answer["orders"])


def offered(hub: Hub, station: Station, **changes: Any) -> int | None:
    """The arming the hub offers the machine in its answer, or None."""
    unattended = orders(hub, station, **changes)["unattended"]
    if unattended is None:
        return None
    assert set(unattended) == {"arming", "expires_in_seconds"}
    assert isinstance(unattended["expires_in_seconds"], int)
    assert unattended["expires_in_seconds"] > 0
    return int(unattended["arming"])


def rows(hub: Hub) -> list[tuple[int, str, str, int | None]]:
    with hub.store.session() as session:
        return [(row.arming_id, row.mac, row.state, row.station_id) for row in session.scalars(
            select(ArmedMachine).order_by(ArmedMachine.arming_id, ArmedMachine.mac))]


def remaining(hub: Hub, arming_id: int) -> int | None:
    with hub.store.session() as session:
        return session.scalar(select(Arming.remaining).where(Arming.id == arming_id))


def lyon(hub: Hub) -> int:
    workshop_id = hub.store.workshop_id("Lyon")
    assert workshop_id is not None
    return workshop_id


# -- the orders in the answer to progress ---------------------------------------------------


def test_nothing_is_armed_by_default(hub: Hub) -> None:
    service = boot_service(hub)
    stick = hub.station("lyon-3", "Lyon")
    machine = netbooted(hub, service, MAC_A)
    assert orders(hub, stick) == NO_ORDERS
    assert orders(hub, machine) == NO_ORDERS


def test_a_listed_arming_is_offered_to_that_machine_only_until_it_says_what_it_did(
        hub: Hub) -> None:
    service = boot_service(hub)
    armed, other = netbooted(hub, service, MAC_A), netbooted(hub, service, MAC_B)
    arming_id = hub.store.arm_machines(lyon(hub), [MAC_A.upper()], later(30), "test")
    unattended = orders(hub, armed)["unattended"]
    assert unattended is not None and unattended["arming"] == arming_id
    assert 29 * 60 <= unattended["expires_in_seconds"] <= 30 * 60
    assert offered(hub, other) is None
    station_id = hub.store.station_by_name(armed.name).id  # type: ignore[union-attr]
    assert rows(hub) == [(arming_id, MAC_A, "offered", station_id)]
    # Its answer may have been lost: offered again at its next progress, until it answers.
    assert offered(hub, armed) == arming_id
    assert offered(hub, armed, arming={"id": arming_id, "state": "countdown"}) is None
    assert rows(hub) == [(arming_id, MAC_A, "countdown", station_id)]
    assert offered(hub, armed) is None
    assert offered(hub, armed, arming={"id": arming_id, "state": "started"}) is None
    assert rows(hub)[0][2] == "started"


@pytest.mark.parametrize("answer", ["stopped", "started"])
def test_a_machine_that_stopped_or_started_is_never_offered_the_arming_again(
        hub: Hub, answer: str) -> None:
    service = boot_service(hub)
    machine = netbooted(hub, service, MAC_A)
    arming_id = hub.store.arm_machines(lyon(hub), [MAC_A], later(30), "test")
    assert offered(hub, machine) == arming_id
    assert offered(hub, machine, arming={"id": arming_id, "state": answer}) is None
    # Its later messages, with or without the field, and a countdown it reports after: the
    # state stays what the machine said first.
    assert offered(hub, machine) is None
    assert offered(hub, machine, arming={"id": arming_id, "state": "countdown"}) is None
    assert [row[2] for row in rows(hub)] == [answer]
    # Booting again does not arm it again: that arming is done with for this machine.
    machine = netbooted(hub, service, MAC_A)
    assert offered(hub, machine) is None


def test_an_expired_arming_is_offered_to_nobody(hub: Hub) -> None:
    service = boot_service(hub)
    machine = netbooted(hub, service, MAC_A)
    hub.store.arm_machines(lyon(hub), [MAC_A], later(-1), "test")
    expired_next = hub.store.arm_next(lyon(hub), 5, later(-1), "test")
    assert offered(hub, machine) is None
    assert offered(hub, netbooted(hub, service, MAC_B)) is None
    assert remaining(hub, expired_next) == 5  # no place taken after its end
    assert [row[2] for row in rows(hub)] == ["waiting"]


def test_the_next_n_machines_that_enroll_are_armed_and_no_other(hub: Hub) -> None:
    service = boot_service(hub)
    before = netbooted(hub, service, MAC_A)
    arming_id = hub.store.arm_next(lyon(hub), 2, later(30), "test")
    assert offered(hub, before) is None  # it enrolled before the arming
    first, second = netbooted(hub, service, MAC_B), netbooted(hub, service, MAC_C)
    third = netbooted(hub, service, MAC_D)
    assert offered(hub, first) == arming_id
    assert offered(hub, second) == arming_id
    assert offered(hub, third) is None
    assert remaining(hub, arming_id) == 0
    # A machine with a place that boots again keeps it and takes no second one.
    first = netbooted(hub, service, MAC_B)
    assert offered(hub, first) == arming_id
    assert [(row[1], row[2]) for row in rows(hub)] == [(MAC_B, "offered"), (MAC_C, "offered")]


def test_two_machines_enrolling_at_once_cannot_both_take_the_last_place(hub: Hub) -> None:
    service = boot_service(hub)
    arming_id = hub.store.arm_next(lyon(hub), 1, later(30), "test")
    keys = [Ed25519PrivateKey.generate() for _ in range(4)]
    macs = [f"52:54:00:00:01:{index:02x}" for index in range(len(keys))]
    start = threading.Barrier(len(keys))
    failures: list[BaseException] = []

    def enroll(key: Ed25519PrivateKey, mac: str) -> None:
        claims = claims_of(service, f"boot-lyon-{mac.replace(':', '')}", mac=mac)
        start.wait()
        try:
            hub.store.enroll_booted(claims, dsse.public_key_bytes(key.public_key()),
                                    dsse.key_id(key.public_key()), "10.0.0.50")
        except BaseException as error:  # reported below, not lost in the thread
            failures.append(error)

    threads = [threading.Thread(target=enroll, args=pair) for pair in zip(keys, macs,
                                                                           strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert remaining(hub, arming_id) == 0
    assert len(rows(hub)) == 1 and rows(hub)[0][1] in macs


def test_a_stick_station_is_never_offered_an_unattended_erasure(hub: Hub) -> None:
    # Named as a network-booted machine would be, and its "MAC address" armed: still a stick,
    # whose unattended switch is its own settings'.
    stick = hub.station("boot-lyon-52540000000a", "Lyon")
    arming_id = hub.store.arm_machines(lyon(hub), [MAC_A], later(30), "test")
    assert offered(hub, stick) is None
    assert offered(hub, stick, arming={"id": arming_id, "state": "started"}) is None
    assert [row[2] for row in rows(hub)] == ["waiting"]


def test_another_workshops_arming_arms_nothing_here(hub: Hub) -> None:
    service = boot_service(hub)
    machine = netbooted(hub, service, MAC_A)
    hub.store.add_workshop("Grenoble")
    grenoble = hub.store.workshop_id("Grenoble")
    assert grenoble is not None
    hub.store.arm_machines(grenoble, [MAC_A], later(30), "test")
    hub.store.arm_next(grenoble, 3, later(30), "test")
    assert offered(hub, machine) is None
    assert offered(hub, netbooted(hub, service, MAC_B)) is None
    assert [(row[1], row[2]) for row in rows(hub)] == [(MAC_A, "waiting")]


def test_a_machine_changes_only_its_own_row_and_unreadable_states_are_ignored(
        hub: Hub) -> None:
    service = boot_service(hub)
    first, second = netbooted(hub, service, MAC_A), netbooted(hub, service, MAC_B)
    arming_id = hub.store.arm_machines(lyon(hub), [MAC_A, MAC_B], later(30), "test")
    # The first machine claims the second's row, then sends what this hub cannot read.
    assert offered(hub, first, arming={"id": arming_id + 1, "state": "stopped"}) == arming_id
    for unreadable in ({"id": str(arming_id), "state": "stopped"},
                       {"id": True, "state": "stopped"}, {"id": arming_id, "state": "erased"},
                       {"id": arming_id}, "stopped", [arming_id]):
        assert offered(hub, first, arming=unreadable) == arming_id
    assert offered(hub, second) == arming_id
    assert [row[2] for row in rows(hub)] == ["offered", "offered"]


def test_power_off_at_the_end_is_ordered_and_a_new_boot_clears_it(hub: Hub) -> None:
    service = boot_service(hub)
    machine, stick = netbooted(hub, service, MAC_A), hub.station("lyon-3", "Lyon")
    hub.store.add_workshop("Grenoble")
    grenoble = hub.store.workshop_id("Grenoble")
    assert hub.store.set_power_off_at_end(grenoble, [machine.name, stick.name], True) == 0
    assert orders(hub, machine)["power_off_at_end"] is False
    assert hub.store.set_power_off_at_end(lyon(hub), [machine.name, stick.name], True) == 2
    assert orders(hub, machine) == {"unattended": None, "power_off_at_end": True}
    assert orders(hub, stick)["power_off_at_end"] is True
    machine = netbooted(hub, service, MAC_A)  # booted again
    assert orders(hub, machine)["power_off_at_end"] is False
    assert orders(hub, stick)["power_off_at_end"] is True


def test_a_failed_step_and_a_disk_error_are_accepted(hub: Hub) -> None:
    service = boot_service(hub)
    machine = netbooted(hub, service, MAC_A)
    assert orders(hub, machine, step="failed") == NO_ORDERS


# -- POST /api/v1/netboot/arm ---------------------------------------------------------------


ARM = "/api/v1/netboot/arm"


def test_an_administrator_arms_listed_machines_or_the_next_ones(hub: Hub) -> None:
    service = boot_service(hub)
    machine = netbooted(hub, service, MAC_A)
    admin = hub.admin_headers()
    response = hub.client.post(ARM, json={"workshop": "Lyon", "macs": ["52-54-00-00-00-0A"],
                                          "minutes": 10}, headers=admin)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert set(answer) == {"arming", "expires_at"}
    expires = datetime.datetime.fromisoformat(answer["expires_at"])
    assert later(9) < expires <= later(10)
    assert offered(hub, machine) == answer["arming"]
    following = hub.client.post(ARM, json={"workshop": "Lyon", "next": 1}, headers=admin)
    assert following.status_code == 201, following.text
    expires = datetime.datetime.fromisoformat(following.json()["expires_at"])
    assert later(29) < expires <= later(30)  # 30 minutes unless asked
    assert offered(hub, netbooted(hub, service, MAC_B)) == following.json()["arming"]


@pytest.mark.parametrize(("body", "words"), [
    ({"workshop": "Lyon", "macs": [MAC_A], "next": 2}, "not both"),
    ({"workshop": "Lyon"}, "not both"),
    ({"workshop": "Lyon", "macs": []}, "at least one"),
    ({"workshop": "Lyon", "macs": ["52:54:00:zz:00:01"]}, "Not a MAC address"),
    ({"workshop": "Lyon", "macs": [f"52:54:00:00:{n // 256:02x}:{n % 256:02x}"
                                   for n in range(501)]}, "At most 500"),
    ({"workshop": "Lyon", "next": 0}, "1 to 500"),
    ({"workshop": "Lyon", "next": 501}, "1 to 500"),
    ({"workshop": "Lyon", "next": True}, "next"),
    ({"workshop": "Lyon", "next": 2, "minutes": 0}, "1 to 720 minutes"),
    ({"workshop": "Lyon", "next": 2, "minutes": 721}, "1 to 720 minutes"),
    ({"workshop": "Lyon", "next": 2, "minutes": "30"}, "minutes"),
    ({"workshop": "Lyon", "next": 2, "mac": MAC_A}, "mac"),
    ({"next": 2}, "names the workshop"),
    ({"workshop": "Nowhere", "next": 2}, "no workshop named"),
])
def test_arming_what_is_not_an_arming_is_refused_with_a_message(
        hub: Hub, body: dict[str, Any], words: str) -> None:
    hub.store.add_workshop("Lyon")
    response = hub.client.post(ARM, json=body, headers=hub.admin_headers())
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and words in detail, detail
    with hub.store.session() as session:
        assert session.scalars(select(Arming)).all() == []


def test_a_workshop_account_arms_its_own_workshops_machines_only(hub: Hub) -> None:
    lyon_service = boot_service(hub)
    grenoble_service = boot_service(hub, "boot-grenoble", "Grenoble")
    lyon_machine = netbooted(hub, lyon_service, MAC_A)
    grenoble_machine = netbooted(hub, grenoble_service, MAC_B)
    token, _browser = account(hub, "atelier@example.org", "workshop", "Lyon")
    refused = hub.client.post(ARM, json={"workshop": "Grenoble", "macs": [MAC_B]},
                              headers=token)
    assert refused.status_code == 403, refused.text
    # Its own workshop by default: the Grenoble machine's network card, armed by Lyon's
    # account, arms nothing in Grenoble.
    armed = hub.client.post(ARM, json={"macs": [MAC_A, MAC_B]}, headers=token)
    assert armed.status_code == 201, armed.text
    assert offered(hub, lyon_machine) == armed.json()["arming"]
    assert offered(hub, grenoble_machine) is None
    named = hub.client.post(ARM, json={"workshop": "Lyon", "next": 1}, headers=token)
    assert named.status_code == 201, named.text
    assert offered(hub, netbooted(hub, grenoble_service, MAC_C)) is None
    with hub.store.session() as session:
        assert {arming.created_by for arming in session.scalars(select(Arming))} == {
            "atelier@example.org"}


def test_arming_through_a_session_needs_its_csrf_token(hub: Hub) -> None:
    hub.store.add_workshop("Lyon")
    assert hub.client.post(ARM, json={"next": 1}).status_code == 401
    browser = TestClient(hub.client.app)
    csrf = hub.login(browser, hub.person("atelier@example.org", "workshop", "Lyon"))
    assert browser.post(ARM, json={"next": 1}).status_code == 403
    assert browser.post(ARM, json={"next": 1},
                        headers={"x-csrf-token": "guess"}).status_code == 403
    response = browser.post(ARM, json={"next": 1}, headers={"x-csrf-token": csrf})
    assert response.status_code == 201, response.text


# -- reeeboot-hub arm -------------------------------------------------------------------------


def test_the_command_line_arms_listed_machines_or_the_next_ones(
        hub: Hub, database_url: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REEEBOOT_LANGUAGE", "en")
    service = boot_service(hub)
    machine = netbooted(hub, service, MAC_A)
    assert main(["--database", database_url, "arm", "--workshop", "Lyon", "--mac", MAC_A,
                 "--mac", "52:54:00:00:00:0B", "--minutes", "5"]) == 0
    printed = capsys.readouterr().out
    found = re.search(r"Arming (\d+): unattended erasure armed until (\S+)\.", printed)
    assert found is not None, printed
    assert later(4) < datetime.datetime.fromisoformat(found.group(2)) <= later(5)
    assert offered(hub, machine) == int(found.group(1))
    assert offered(hub, netbooted(hub, service, MAC_B)) == int(found.group(1))
    assert main(["--database", database_url, "arm", "--workshop", "Lyon", "--next", "2"]) == 0
    next_id = int(re.findall(r"Arming (\d+)", capsys.readouterr().out)[0])
    assert remaining(hub, next_id) == 2
    with hub.store.session() as session:
        assert {arming.created_by for arming in session.scalars(select(Arming))} == {
            "command line"}


@pytest.mark.parametrize(("arguments", "words"), [
    (["--mac", "52:54:00:00:00"], "Not a MAC address: 52:54:00:00:00"),
    (["--next", "0"], "Arm the next 1 to 500 machines."),
    (["--next", "ten"], "Arm the next 1 to 500 machines."),
    (["--next", "-3"], "Arm the next 1 to 500 machines."),
    (["--mac", MAC_A, "--minutes", "half an hour"], "An arming lasts 1 to 720 minutes."),
    (["--next", "3", "--minutes", "0"], "An arming lasts 1 to 720 minutes."),
    (["--mac", MAC_A, "--minutes", "721"], "An arming lasts 1 to 720 minutes."),
])
def test_the_command_line_refuses_a_bad_arming_in_the_hubs_language(
        hub: Hub, database_url: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, arguments: list[str], words: str) -> None:
    hub.store.add_workshop("Lyon")
    monkeypatch.setenv("REEEBOOT_LANGUAGE", "en")
    assert main(["--database", database_url, "arm", "--workshop", "Lyon", *arguments]) == 2
    assert words in capsys.readouterr().err
    monkeypatch.setenv("REEEBOOT_LANGUAGE", "fr")
    assert main(["--database", database_url, "arm", "--workshop", "Lyon", *arguments]) == 2
    french = capsys.readouterr().err
    assert french.strip() and words not in french
    with hub.store.session() as session:
        assert session.scalars(select(Arming)).all() == []


def test_the_command_line_names_an_unknown_workshop_and_needs_one_choice(
        hub: Hub, database_url: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REEEBOOT_LANGUAGE", "en")
    assert main(["--database", database_url, "arm", "--workshop", "Nowhere", "--next",
                 "2"]) == 1
    assert "No workshop named Nowhere." in capsys.readouterr().err
    for both_or_neither in (["--next", "2", "--mac", MAC_A], []):
        with pytest.raises(SystemExit) as exited:
            main(["--database", database_url, "arm", "--workshop", "Lyon", *both_or_neither])
        assert exited.value.code == 2


def test_an_arming_of_a_single_mac_keeps_it_normalised(hub: Hub) -> None:
    hub.store.add_workshop("Lyon")
    arming_id = hub.store.arm_machines(lyon(hub), [" 52-54-00-AB-CD-EF ", "52:54:00:ab:cd:ef"],
                                       later(30), "test")
    assert rows(hub) == [(arming_id, "52:54:00:ab:cd:ef", "waiting", None)]

