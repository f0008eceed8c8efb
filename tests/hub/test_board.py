"""The live board (/board): each machine's tile and its state in words, the tiles alone for the
script (/board/tiles), the actions on the ticked machines (with the session's CSRF token), and
which workshop's board a person sees. Each test on every test database."""

from __future__ import annotations

import datetime
import html
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from hub.ingest import PROGRESS_PAYLOAD_TYPE
from hub.models import ArmedMachine, Arming, LiveState, Station
from tests.hub.helpers import START, Hub
from tests.hub.helpers import Station as SigningStation
from tests.hub.test_arming import MAC_A, MAC_B, later, netbooted, offered
from tests.hub.test_netboot_enroll import boot_service

GB = 1_000_000_000


def disk(**changes: Any) -> dict[str, Any]:
    found = {"path": "/dev/sda", "serial": "WD-1", "model": "WDC WD5000AAKX",
             "size_bytes": 100 * GB, "phase": "overwrite", "method": "random",
             "bytes_done": 40 * GB, "bytes_total": 100 * GB, "rate_bytes_per_s": 100_000_000,
             "result": None, "error": None}
    found.update(changes)
    return found


def send(hub: Hub, station: SigningStation, machine_id: str, step: str,
         disks: list[dict[str, Any]], asset_id: str = "", **extra: Any) -> None:
    document = {
        "schema": "reeeboot.progress/1", "machine_id": machine_id, "asset_id": asset_id,
        "station": {"name": station.name, "key_id": station.key_id},
        "sent_at": START.isoformat(), "step": step,
        "machine": {"vendor": "Dell Inc.", "product": "OptiPlex 7010", "serial": "S"},
        "disks": disks, **extra}
    response = hub.client.post("/api/v1/progress",
                               json=station.sign(document, PROGRESS_PAYLOAD_TYPE))
    assert response.status_code == 202, response.text


def person(hub: Hub, email: str = "atelier@example.org", role: str = "workshop",
           workshop: str | None = "Lyon") -> tuple[TestClient, str]:
    """A browser signed in through the form, and its session's CSRF token."""
    browser = TestClient(hub.client.app)
    csrf = hub.login(browser, hub.person(email, role, workshop if role == "workshop" else None))
    return browser, csrf


def tiles(page: str) -> dict[str, str]:
    """Each tile's HTML, by the station its box names."""
    found = {}
    for article in re.findall(r"<article .*?</article>", page, re.DOTALL):
        station = re.search(r'name="stations" value="([^"]*)"', article)
        assert station is not None
        found[html.unescape(station.group(1))] = article
    return found


def state_of(article: str) -> str:
    found = re.search(r'class="tile state-(\w+)"', article)
    assert found is not None
    return found.group(1)


def text_of(article: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", article))


def make_silent(hub: Hub, machine_id: str, seconds: int) -> None:
    with hub.store.session() as session:
        session.execute(update(LiveState).where(LiveState.machine_id == machine_id).values(
            updated_at=datetime.datetime.now(datetime.UTC)
            - datetime.timedelta(seconds=seconds)))


def test_each_state_has_its_own_words_and_a_failure_its_reason(
        hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    stations = {name: hub.station(name, "Lyon") for name in
                ("lyon-a-running", "lyon-b-waiting", "lyon-c-finished", "lyon-d-failed",
                 "lyon-e-silent")}
    send(hub, stations["lyon-a-running"], "rb1-a", "erase", [disk()], asset_id="RB-0001")
    send(hub, stations["lyon-b-waiting"], "rb1-b", "inventory",
         [disk(phase="waiting", bytes_done=0)])
    send(hub, stations["lyon-c-finished"], "rb1-c", "done",
         [disk(bytes_done=100 * GB, result="done", phase="done")])
    send(hub, stations["lyon-d-failed"], "rb1-d", "erase", [
        disk(model="<b>x</b>", result="failed", phase="failed",
             error="<script>alert(1)</script> write error at LBA 2048"),
        disk(path="/dev/sdb")])
    send(hub, stations["lyon-e-silent"], "rb1-e", "erase", [disk()])
    make_silent(hub, "rb1-e", 61)
    browser, _csrf = person(hub)
    page = browser.get("/board?lang=en")
    assert page.status_code == 200
    found = tiles(page.text)
    assert list(found) == sorted(stations)  # ordered by station: tiles never move
    assert {name: state_of(article) for name, article in found.items()} == {
        "lyon-a-running": "running", "lyon-b-waiting": "waiting",
        "lyon-c-finished": "finished", "lyon-d-failed": "failed", "lyon-e-silent": "silent"}
    words = {name: text_of(article) for name, article in found.items()}
    assert "running" in words["lyon-a-running"] and "RB-0001" in words["lyon-a-running"]
    assert "40 %" in words["lyon-a-running"] and "100.0 MB/s" in words["lyon-a-running"]
    assert "10 min left" in words["lyon-a-running"]  # 60 GB at 100 MB/s
    assert "waiting for a person" in words["lyon-b-waiting"]
    assert "0 %" in words["lyon-b-waiting"]
    assert "MB/s" not in words["lyon-b-waiting"] and "left" not in words["lyon-b-waiting"]
    assert "finished" in words["lyon-c-finished"]
    assert re.search(r"WD5000AAKX -\s+done", words["lyon-c-finished"])
    assert "silent" in words["lyon-e-silent"] and "last seen 1 min ago" in words["lyon-e-silent"]
    assert "40 %" in words["lyon-e-silent"] and "left" not in words["lyon-e-silent"]
    failed = found["lyon-d-failed"]
    assert "<b>x</b>" not in failed and "&lt;b&gt;x&lt;/b&gt;" in failed
    assert "<script>" not in failed
    assert "/dev/sda: <script>alert(1)</script> write error at LBA 2048" in words["lyon-d-failed"]
    assert 'href="/machines/rb1-d"' in failed and 'href="/machines/rb1-c"' in found[
        "lyon-c-finished"]
    assert "/machines/" not in found["lyon-a-running"]
    # How long "silent" waits can be set for the hub (tests, a slow LAN).
    monkeypatch.setenv("REEEBOOT_HUB_SILENT_SECONDS", "3600")
    assert state_of(tiles(browser.get("/board").text)["lyon-e-silent"]) == "running"
    monkeypatch.setenv("REEEBOOT_HUB_SILENT_SECONDS", "30")
    make_silent(hub, "rb1-a", 31)
    assert state_of(tiles(browser.get("/board").text)["lyon-a-running"]) == "silent"
    # A finished machine is finished, however long ago it was heard of.
    make_silent(hub, "rb1-c", 3600)
    assert state_of(tiles(browser.get("/board").text)["lyon-c-finished"]) == "finished"


def test_a_failed_run_and_a_machine_heard_of_long_ago(hub: Hub) -> None:
    station = hub.station("lyon-3", "Lyon")
    send(hub, station, "rb1-failed", "failed", [], error="the disks could not be listed")
    send(hub, hub.station("lyon-4", "Lyon"), "rb1-old", "erase", [disk()])
    make_silent(hub, "rb1-old", 13 * 3600)  # past the board's 12 hours
    browser, _csrf = person(hub)
    found = tiles(browser.get("/board?lang=en").text)
    assert list(found) == ["lyon-3"]
    assert state_of(found["lyon-3"]) == "failed"
    assert "the disks could not be listed" in text_of(found["lyon-3"])


def test_a_network_booted_machines_arming_and_power_off_are_on_its_tile(hub: Hub) -> None:
    service = boot_service(hub)
    machine = netbooted(hub, service, MAC_A)
    lyon = hub.store.workshop_id("Lyon")
    assert lyon is not None
    browser, _csrf = person(hub)

    def tile_words() -> str:
        send(hub, machine, "rb1-net", "inventory", [disk(phase="waiting", bytes_done=0)])
        return text_of(tiles(browser.get("/board?lang=en").text)[machine.name])

    assert "armed" not in tile_words() and "powers off" not in tile_words()
    arming_id = hub.store.arm_machines(lyon, [MAC_A], later(30), "test")
    assert "armed, waiting" in tile_words()
    assert offered(hub, machine) == arming_id
    assert "armed, waiting" in tile_words()
    stations_names = [machine.name]
    hub.store.set_power_off_at_end(lyon, stations_names, True)
    for state, words in (("countdown", "armed: counting down"),
                         ("started", "erasing unattended")):
        hub.store.record_arming_state(hub.store.signing_key(machine.key_id),  # type: ignore[arg-type]
                                      arming_id, state)
        shown = tile_words()
        assert words in shown and "powers off at the end" in shown
    assert "running" in tile_words()  # counting down or erasing: nobody is waited for
    # Booted again: what the arming did belongs to the earlier boot, power off is cleared.
    machine = netbooted(hub, service, MAC_A)
    shown = tile_words()
    assert "erasing unattended" not in shown and "powers off" not in shown
    assert "waiting for a person" in shown
    other = netbooted(hub, service, MAC_B)
    hub.store.record_arming_state(hub.store.signing_key(other.key_id),  # type: ignore[arg-type]
                                  arming_id, "stopped")  # not its row: ignored
    stopped = hub.store.arm_machines(lyon, [MAC_B], later(30), "test")
    assert offered(hub, other) == stopped
    hub.store.record_arming_state(hub.store.signing_key(other.key_id),  # type: ignore[arg-type]
                                  stopped, "stopped")
    send(hub, other, "rb1-other", "inventory", [])
    assert "stopped at the machine" in text_of(
        tiles(browser.get("/board?lang=en").text)[other.name])


def test_the_tiles_alone_for_the_script_and_the_page_without_it(hub: Hub) -> None:
    send(hub, hub.station("lyon-3", "Lyon"), "rb1-a", "erase", [disk()])
    send(hub, hub.station("grenoble-1", "Grenoble"), "rb1-g", "erase", [disk()])
    browser, _csrf = person(hub)
    page = browser.get("/board").text
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in page
    assert '<script src="/static/board.js" defer></script>' in page
    assert 'data-source="/board/tiles"' in page
    assert re.search(r"<script>|\son\w+=", page) is None  # nothing inline to run
    fragment = browser.get("/board/tiles")
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and "<nav" not in fragment.text
    assert list(tiles(fragment.text)) == ["lyon-3"] == list(tiles(page))
    paused = browser.get("/board?pause=1&lang=en").text
    assert "http-equiv" not in paused and "board.js" not in paused
    assert '<a href="/board">Resume updates</a>' in paused
    assert "pause=1" in page
    script = browser.get("/static/board.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "dataset.source" in script.text  # the page says where the tiles come from
    assert "eval(" not in script.text and "board-tiles" in script.text
    signed_out = TestClient(hub.client.app).get("/board/tiles", follow_redirects=False)
    assert signed_out.status_code == 303 and signed_out.headers["location"].startswith(
        "/login")


def test_a_workshop_sees_its_own_board_and_an_administrator_chooses(hub: Hub) -> None:
    send(hub, hub.station("lyon-3", "Lyon"), "rb1-a", "erase", [disk()])
    send(hub, hub.station("grenoble-1", "Grenoble"), "rb1-g", "erase", [disk()])
    lyon, _csrf = person(hub)
    assert list(tiles(lyon.get("/board").text)) == ["lyon-3"]
    assert list(tiles(lyon.get("/board?workshop=Lyon").text)) == ["lyon-3"]
    for path in ("/board?workshop=Grenoble", "/board/tiles?workshop=Grenoble"):
        refused = lyon.get(path)
        assert refused.status_code == 404 and "grenoble-1" not in refused.text
    admin, _admin_csrf = person(hub, "admin@example.org", "admin")
    chooser = admin.get("/board?lang=en")
    assert chooser.status_code == 200 and not tiles(chooser.text)
    assert 'href="/board?workshop=Grenoble"' in chooser.text
    assert 'href="/board?workshop=Lyon"' in chooser.text
    grenoble = admin.get("/board?workshop=Grenoble").text
    assert list(tiles(grenoble)) == ["grenoble-1"]
    assert 'data-source="/board/tiles?workshop=Grenoble"' in grenoble
    assert list(tiles(admin.get("/board/tiles?workshop=Grenoble").text)) == ["grenoble-1"]
    assert admin.get("/board?workshop=Nowhere").status_code == 404
    assert 'href="/board"' in lyon.get("/live").text  # in the navigation


def arming_rows(hub: Hub) -> list[tuple[int | None, int | None, list[str]]]:
    with hub.store.session() as session:
        armings = session.scalars(select(Arming).order_by(Arming.id)).all()
        return [(arming.next_count, arming.remaining, sorted(session.scalars(
            select(ArmedMachine.mac).where(ArmedMachine.arming_id == arming.id))))
            for arming in armings]


def power_off(hub: Hub) -> dict[str, bool]:
    with hub.store.session() as session:
        return {name: bool(value) for name, value in session.execute(
            select(Station.name, Station.power_off_at_end).where(
                Station.power_off_at_end.is_(True)))}


def message(response: Any) -> str:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith("/board?")
    return location


def test_arming_the_ticked_machines_and_powering_them_off(hub: Hub) -> None:
    service = boot_service(hub)
    first, second = netbooted(hub, service, MAC_A), netbooted(hub, service, MAC_B)
    stick = hub.station("lyon-3", "Lyon")
    grenoble = hub.station("grenoble-1", "Grenoble")
    for station in (first, second, stick, grenoble):
        send(hub, station, f"rb1-{station.name}", "inventory", [])
    browser, csrf = person(hub)
    form = {"csrf_token": csrf, "action": "arm", "minutes": "15",
            "stations": [first.name, second.name]}
    assert browser.post("/board/actions", data={**form, "csrf_token": "guess"},
                        follow_redirects=False).status_code == 403
    assert arming_rows(hub) == []
    done = browser.post("/board/actions", data=form, follow_redirects=False)
    location = message(done)
    assert parse_qs(urlsplit(location).query) == {"done": ["armed"], "count": ["2"],
                                                  "minutes": ["15"]}
    assert arming_rows(hub) == [(None, None, [MAC_A, MAC_B])]
    shown = browser.get(location + "&lang=en").text
    assert "2 machines armed for unattended erasure, for 15 minutes." in shown
    assert "Armed: 2 listed machines" in shown
    assert offered(hub, first) is not None and offered(hub, second) is not None
    # A stick, or another workshop's station, is refused with its name, and nothing is armed.
    for ticked, words in (([first.name, stick.name], "a stick has its own unattended switch"),
                          ([grenoble.name], "Not a machine of this workshop: grenoble-1"),
                          (["nowhere"], "Not a machine of this workshop: nowhere"),
                          ([], "Tick at least one machine")):
        refused = browser.post("/board/actions?lang=en", data={**form, "stations": ticked})
        assert refused.status_code == 422 and words in html.unescape(refused.text), ticked
        # Shown again paused, with the same boxes ticked.
        assert "board.js" not in refused.text
        assert all(f'value="{name}" checked' in refused.text for name in ticked
                   if name in (first.name, stick.name))
    for minutes in ("0", "721", "soon"):
        refused = browser.post("/board/actions?lang=en", data={**form, "minutes": minutes})
        assert refused.status_code == 422 and "1 to 720 minutes" in refused.text
    assert len(arming_rows(hub)) == 1
    powered = browser.post("/board/actions", data={
        "csrf_token": csrf, "action": "power_off", "stations": [first.name, stick.name]},
        follow_redirects=False)
    assert "done=power_off" in message(powered)
    assert power_off(hub) == {first.name: True, stick.name: True}
    assert "powers off at the end" in browser.get("/board?lang=en").text
    refused = browser.post("/board/actions", data={
        "csrf_token": csrf, "action": "power_off", "stations": [grenoble.name]})
    assert refused.status_code == 422 and grenoble.name not in power_off(hub)
    kept_on = browser.post("/board/actions", data={
        "csrf_token": csrf, "action": "stay_on", "stations": [stick.name]},
        follow_redirects=False)
    assert "done=stay_on" in message(kept_on)
    assert power_off(hub) == {first.name: True}


def test_arming_the_next_machines_from_the_board_and_ending_it(hub: Hub) -> None:
    service = boot_service(hub)
    browser, csrf = person(hub)
    form = {"csrf_token": csrf, "count": "3", "minutes": "45"}
    assert browser.post("/board/arm-next", data={**form, "csrf_token": ""},
                        follow_redirects=False).status_code == 403
    location = message(browser.post("/board/arm-next", data=form, follow_redirects=False))
    assert "done=armed_next" in location
    shown = browser.get(location + "&lang=en").text
    assert "The next 3 machines to start are armed for unattended erasure, for 45 minutes." \
        in shown
    assert "Armed: the next 3 machines to start (3 still to come)" in shown
    assert "ends in 45 min" in shown
    for count, minutes, words in (("0", "30", "1 to 500"), ("501", "30", "1 to 500"),
                                  ("two", "30", "1 to 500"), ("2", "0", "1 to 720 minutes")):
        refused = browser.post("/board/arm-next?lang=en",
                               data={**form, "count": count, "minutes": minutes})
        assert refused.status_code == 422 and words in refused.text
    assert arming_rows(hub) == [(3, 3, [])]
    machine = netbooted(hub, service, MAC_A)
    arming_id = offered(hub, machine)
    assert arming_id is not None and arming_rows(hub) == [(3, 2, [MAC_A])]
    assert browser.post(f"/board/armings/{arming_id}/end", data={"csrf_token": "x"},
                        follow_redirects=False).status_code == 403
    ended = browser.post(f"/board/armings/{arming_id}/end", data={"csrf_token": csrf},
                         follow_redirects=False)
    assert "done=ended" in message(ended)
    assert offered(hub, machine) is None
    assert offered(hub, netbooted(hub, service, MAC_B)) is None
    assert "End this arming now" not in browser.get("/board?lang=en").text
    # Another workshop's person cannot end or see it.
    again = hub.store.arm_next(hub.store.workshop_id("Lyon") or 0, 1, later(30), "test")
    grenoble, grenoble_csrf = person(hub, "grenoble@example.org", "workshop", "Grenoble")
    assert grenoble.post(f"/board/armings/{again}/end",
                         data={"csrf_token": grenoble_csrf}).status_code == 404
    assert "End this arming now" in browser.get("/board?lang=en").text


def test_an_administrator_acts_on_the_workshop_it_chose(hub: Hub) -> None:
    service = boot_service(hub)
    machine = netbooted(hub, service, MAC_A)
    send(hub, machine, "rb1-a", "inventory", [])
    admin, csrf = person(hub, "admin@example.org", "admin")
    done = admin.post("/board/actions", data={
        "csrf_token": csrf, "workshop": "Lyon", "action": "arm", "minutes": "30",
        "stations": [machine.name]}, follow_redirects=False)
    assert parse_qs(urlsplit(message(done)).query)["workshop"] == ["Lyon"]
    assert arming_rows(hub) == [(None, None, [MAC_A])]
    hub.store.add_workshop("Grenoble")
    refused = admin.post("/board/actions?lang=en", data={
        "csrf_token": csrf, "workshop": "Grenoble", "action": "arm", "minutes": "30",
        "stations": [machine.name]})
    assert refused.status_code == 422 and "Not a machine of this workshop" in refused.text
    assert admin.post("/board/arm-next", data={"csrf_token": csrf, "count": "1",
                                               "minutes": "30"}).status_code == 404
