"""The administrators' stations page: keys listed, revocation through a form with CSRF."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.hub.helpers import Hub


def test_revocation_from_the_stations_page(hub: Hub) -> None:
    station = hub.station("lyon-3", "Lyon")
    client = TestClient(hub.client.app)
    csrf = hub.login(client, hub.person("admin@example.org"))
    page = client.get("/stations").text
    assert "lyon-3" in page and station.key_id[:16] in page and "current" in page
    form = re.search(r'action="/stations/lyon-3/revoke"', page)
    assert form is not None
    refused = client.post("/stations/lyon-3/revoke", data={"csrf_token": "guess"})
    assert refused.status_code == 403
    assert not hub.store.station_by_name("lyon-3").revoked  # type: ignore[union-attr]
    done = client.post("/stations/lyon-3/revoke", data={"csrf_token": csrf},
                       follow_redirects=False)
    assert done.status_code == 303
    assert hub.store.station_by_name("lyon-3").revoked  # type: ignore[union-attr]
    assert "revoked" in client.get("/stations?lang=en").text
    answer = hub.client.post("/api/v1/reports", json=station.sign(station.report()))
    assert answer.status_code == 403


def test_a_workshop_account_cannot_revoke_from_a_form(hub: Hub) -> None:
    hub.station("lyon-3", "Lyon")
    client = TestClient(hub.client.app)
    csrf = hub.login(client, hub.person("lyon@example.org", "workshop", "Lyon"))
    assert client.post("/stations/lyon-3/revoke", data={"csrf_token": csrf}).status_code == 403
    assert not hub.store.station_by_name("lyon-3").revoked  # type: ignore[union-attr]
