"""The pages in a real browser: Debian's chromium driven by Playwright (no browser download).

Signs in, opens the live view, a passport and a certificate, checks what each shows, and keeps
a screenshot of each under tests/artifacts/hub-screens/.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hub.helpers import PASSWORD, Hub, erased
from tests.hubserver import RunningHub, free_port

CHROMIUM = Path("/usr/bin/chromium")
SCREENS = Path(__file__).parents[1] / "artifacts" / "hub-screens"


@pytest.fixture
def served(database_url: str) -> Iterator[RunningHub]:
    running = RunningHub(database_url, free_port())
    running.start()
    yield running
    running.stop()


def test_sign_in_live_view_passport_and_certificate(served: RunningHub,
                                                    database_url: str) -> None:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is needed: tests/hub-services installs it")
    from fastapi.testclient import TestClient
    from playwright.sync_api import sync_playwright

    from hub.app import create_app

    hub = Hub(served.database, TestClient(create_app(served.database)))
    station = hub.station("lyon-3", "Lyon")
    hub.person("atelier@example.org", "workshop", "Lyon")
    report = station.report("SER-BROWSER", erasures=[
        erased("DISK-A", method="ata-sanitize-crypto", level="purge"),
        erased("DISK-B", "/dev/sdb", bad_ranges=[[2048, 2055]])])
    assert hub.client.post("/api/v1/reports", json=station.sign(report)).status_code == 201
    assert hub.client.post("/api/v1/progress",
                           json=station.progress("rb1-running", done=37)).status_code == 202
    machine_id = report["machine"]["identity"]["id"]
    database = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    SCREENS.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                             args=["--no-sandbox"] if os.geteuid() == 0 else [])
        try:
            page = browser.new_page(locale="fr-FR", viewport={"width": 1280, "height": 900})
            page.goto(f"{served.url}/live")
            assert "/login" in page.url
            page.fill("input[name=email]", "atelier@example.org")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/live")
            assert page.locator("h1").inner_text() == "Vue en direct"
            section = page.locator("section.machine")
            assert section.count() == 1
            assert "WD-LIVE" in section.inner_text() and "37 %" in section.inner_text()
            page.screenshot(path=str(SCREENS / f"live-{database}.png"), full_page=True)

            page.goto(f"{served.url}/machines/{machine_id}")
            assert "Passeport de la machine" in page.locator("h1").inner_text()
            erasure = page.locator("table.erasure").inner_text()
            assert "DISK-A" in erasure and "ata-sanitize-crypto" in erasure
            assert "Purge" in erasure and "2048-2055" in erasure
            assert page.locator("figure.qr svg").count() == 1
            page.screenshot(path=str(SCREENS / f"passport-{database}.png"), full_page=True)

            page.goto(f"{served.url}/reports/{report['report_id']}/certificate?lang=en")
            assert page.locator("h1").inner_text() == "Erasure certificate"
            body = page.locator("main").inner_text()
            assert station.key_id in body and "BEGIN PUBLIC KEY" in body
            assert "openssl pkeyutl -verify" in body
            page.screenshot(path=str(SCREENS / f"certificate-{database}.png"), full_page=True)
        finally:
            browser.close()
    for name in ("live", "passport", "certificate"):
        shot = SCREENS / f"{name}-{database}.png"
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
