"""Length limits at the hub: a signed report with an over-long text is refused (422) and stores
nothing; one the agent built from a machine with absurd texts (cut to the schema's bounds) is
stored like any other."""

from __future__ import annotations

from agent.report.model import build_report
from tests.helpers import machine_with_every_part, stretched
from tests.hub.helpers import START, Hub, erased


def test_a_signed_report_with_an_over_long_disk_model_is_refused(hub: Hub) -> None:
    station = hub.station()
    report = station.report("SER-1")
    report["machine"]["disks"][0]["model"] = "M" * 5000
    response = hub.client.post("/api/v1/reports", json=station.sign(report))
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == (
        "report.machine.disks[0].model must be shorter than or equal to 256 characters")
    assert hub.stored_ids() == []


def test_a_report_built_from_a_machine_with_absurd_texts_is_stored(hub: Hub) -> None:
    station = hub.station()
    machine = machine_with_every_part(1000)
    erasure = erased(machine.disks[0].serial or "")
    erasure.model, erasure.error = machine.disks[0].model, stretched("hdparm: ", 200_000)
    report = build_report(machine, [erasure], station_name=station.name,
                          station_key_id=station.key_id, started_at=START,
                          operator=stretched("Camille", 1000),
                          asset_id=stretched("WS-0042", 1000))
    response = hub.client.post("/api/v1/reports", json=station.sign(report))
    assert response.status_code == 201, response.text
    assert hub.stored_ids() == [report["report_id"]]
    stored = hub.client.get(f"/api/v1/reports/{report['report_id']}",
                            headers=hub.admin_headers()).json()
    assert stored["report"] == report
    model = stored["report"]["machine"]["disks"][0]["model"]
    assert len(model) == 256 and model.endswith("...")
