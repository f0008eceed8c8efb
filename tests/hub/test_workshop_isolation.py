"""A station changes only what its own workshop sees: another workshop's machines, passports and
live view stay as that workshop's stations left them, whatever a station claims."""

from __future__ import annotations

import datetime

from tests.hub.helpers import Hub


def test_a_station_cannot_take_another_workshops_machine(hub: Hub) -> None:
    lyon, nantes = hub.station("lyon-3", "Lyon"), hub.station("nantes-1", "Nantes")
    lyon_people = hub.api_token(hub.person("lyon@example.org", "workshop", "Lyon"))
    nantes_people = hub.api_token(hub.person("nantes@example.org", "workshop", "Nantes"))
    theirs = nantes.report("SER-N1")
    machine_id = theirs["machine"]["identity"]["id"]
    assert hub.client.post("/api/v1/reports", json=nantes.sign(theirs)).status_code == 201
    # Lyon's station names Nantes's machine, with a clock a day ahead.
    tomorrow = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
    claim = lyon.report("SER-N1", created_at=tomorrow.isoformat())
    assert claim["machine"]["identity"]["id"] == machine_id
    assert hub.client.post("/api/v1/reports", json=lyon.sign(claim)).status_code == 201

    listed = hub.client.get("/api/v1/machines", headers=nantes_people).json()
    assert [(m["machine_id"], m["latest_report_id"]) for m in listed] == [
        (machine_id, theirs["report_id"])]
    passport = hub.client.get(f"/api/v1/machines/{machine_id}", headers=nantes_people)
    assert passport.status_code == 200
    assert [r["report_id"] for r in passport.json()["reports"]] == [theirs["report_id"]]
    # Nantes's own next report is its machine's latest again, whatever Lyon claimed.
    again = nantes.report("SER-N1")
    assert hub.client.post("/api/v1/reports", json=nantes.sign(again)).status_code == 201
    mine = hub.client.get(f"/api/v1/machines/{machine_id}", headers=nantes_people).json()
    assert mine["latest_report_id"] == again["report_id"]
    # Lyon has a history of its own for the same PC, with its own report only.
    lyons = hub.client.get(f"/api/v1/machines/{machine_id}", headers=lyon_people).json()
    assert lyons["latest_report_id"] == claim["report_id"]
    assert [r["report_id"] for r in lyons["reports"]] == [claim["report_id"]]
    # An administrator sees both workshops' rows.
    everyone = hub.client.get("/api/v1/machines", headers=hub.admin_headers()).json()
    assert sorted(m["workshop"] for m in everyone if m["machine_id"] == machine_id) == [
        "Lyon", "Nantes"]


def test_live_progress_cannot_move_another_workshops_machine(hub: Hub) -> None:
    lyon, nantes = hub.station("lyon-3", "Lyon"), hub.station("nantes-1", "Nantes")
    nantes_people = hub.api_token(hub.person("nantes@example.org", "workshop", "Nantes"))
    lyon_people = hub.api_token(hub.person("lyon@example.org", "workshop", "Lyon"))
    assert hub.client.post("/api/v1/progress",
                           json=nantes.progress("rb1-live", done=40)).status_code == 202
    assert hub.client.post("/api/v1/progress",
                           json=lyon.progress("rb1-live", done=99)).status_code == 202
    nantes_view = hub.client.get("/api/v1/live", headers=nantes_people).json()
    assert [(s["machine_id"], s["station"], s["progress"]["disks"][0]["bytes_done"])
            for s in nantes_view] == [("rb1-live", "nantes-1", 40)]
    lyon_view = hub.client.get("/api/v1/live", headers=lyon_people).json()
    assert [(s["machine_id"], s["station"]) for s in lyon_view] == [("rb1-live", "lyon-3")]
