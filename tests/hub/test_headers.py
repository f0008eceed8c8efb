"""Every answer of the hub carries its security headers: pages, API, CSV, PDF, errors."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.hub.helpers import Hub


def assert_protected(headers: object) -> None:
    get = headers.get  # type: ignore[attr-defined]
    policy = get("content-security-policy") or ""
    directives = dict(part.strip().partition(" ")[::2] for part in policy.split(";"))
    # Scripts from the hub's own files only: nothing inline, no eval, no other site.
    assert directives["script-src"] == "'self'" and directives["connect-src"] == "'self'"
    assert directives["default-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in directives["script-src"]
    assert get("x-content-type-options") == "nosniff"
    assert get("referrer-policy") == "no-referrer"
    assert get("x-frame-options") == "DENY"
    assert get("cache-control") == "no-store"


def test_pages_api_exports_and_errors_carry_the_headers(hub: Hub) -> None:
    station = hub.station()
    report = station.report()
    assert hub.client.post("/api/v1/reports", json=station.sign(report)).status_code == 201
    admin = hub.admin_headers()
    answers = [
        hub.client.get("/login"),
        hub.client.get("/api/v1/reports", headers=admin),
        hub.client.get("/api/v1/reports"),  # 401
        hub.client.get("/api/v1/export/reports.csv", headers=admin),
        hub.client.get(f"/api/v1/reports/{report['report_id']}/envelope", headers=admin),
        hub.client.post("/api/v1/reports", content=b"not json"),  # 400
        hub.client.get("/nowhere"),
    ]
    browser = TestClient(hub.client.app)
    hub.login(browser, hub.person("lyon@example.org"))
    answers += [browser.get("/live"),
                browser.get(f"/reports/{report['report_id']}/certificate.pdf"),
                browser.get("/board"), browser.get("/static/board.js")]
    assert [answer.status_code for answer in answers] == [200, 200, 401, 200, 200, 400, 404,
                                                          200, 200, 200, 200]
    for answer in answers:
        assert_protected(answer.headers)
    assert "strict-transport-security" not in answers[0].headers  # plain HTTP: nothing to pin


def test_behind_tls_the_browser_is_told_to_stay_on_it(hub: Hub) -> None:
    secure = TestClient(hub.client.app, base_url="https://hub.example.org")
    answer = secure.get("/login")
    assert answer.headers["strict-transport-security"] == "max-age=31536000"
    assert_protected(answer.headers)
