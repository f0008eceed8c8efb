"""The pages in a real browser: Debian's chromium driven by Playwright (no browser download).

Signs in, opens the live view, a passport and a certificate, checks what each shows, and keeps
a screenshot of each under tests/artifacts/hub-screens/; and watches the live board update its
tiles by itself, with JavaScript and without.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.ingest import PROGRESS_PAYLOAD_TYPE
from tests.hub.helpers import PASSWORD, START, Hub, Station, erased
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


def board_progress(station: Station, step: str, done: int, **disk: Any) -> dict[str, Any]:
    """A progress message of the station's machine, one disk `done` percent erased."""
    return station.sign({
        "schema": "reeeboot.progress/1", "machine_id": f"rb1-{station.name}",
        "asset_id": f"RB-{station.name[-2:]}",
        "station": {"name": station.name, "key_id": station.key_id},
        "sent_at": START.isoformat(), "step": step,
        "machine": {"vendor": "Dell Inc.", "product": "OptiPlex 7010", "serial": "S"},
        "disks": [{"path": "/dev/sda", "model": "WDC WD5000AAKX", "phase": "overwrite",
                   "bytes_done": done * 10**9, "bytes_total": 100 * 10**9,
                   "rate_bytes_per_s": 120_000_000, "result": None, "error": None, **disk}],
    }, PROGRESS_PAYLOAD_TYPE)


def sign_in(page: Any, url: str, email: str) -> None:
    page.goto(url)
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(url)


def test_the_live_board_updates_its_tiles_without_reloading(served: RunningHub,
                                                           database_url: str) -> None:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is needed: tests/hub-services installs it")
    from fastapi.testclient import TestClient
    from playwright.sync_api import sync_playwright

    from hub.app import create_app

    hub = Hub(served.database, TestClient(create_app(served.database)))
    hub.person("atelier@example.org", "workshop", "Lyon")
    # A workshop's day: 32 machines at once, the one watched first in the station order.
    stations = [hub.station(f"lyon-{number:02d}", "Lyon") for number in range(32)]
    watched = stations[0]
    for number, station in enumerate(stations):
        assert hub.client.post("/api/v1/progress", json=board_progress(
            station, "erase", 3 * number)).status_code == 202
    database = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    SCREENS.mkdir(parents=True, exist_ok=True)
    tile = 'article.tile:has(input[value="lyon-00"])'
    box = 'input[name=stations][value="lyon-00"]'

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                             args=["--no-sandbox"] if os.geteuid() == 0 else [])
        try:
            page = browser.new_page(locale="en-US", viewport={"width": 1920, "height": 1080})
            sign_in(page, f"{served.url}/board", "atelier@example.org")
            assert page.locator(f"{tile}.state-running").count() == 1
            # Every tile on one screen of the workshop's wall.
            assert page.locator("article.tile").count() == 32
            page.screenshot(path=str(SCREENS / f"board-{database}.png"))
            last = page.locator("article.tile").last.bounding_box()
            assert last is not None and last["y"] + last["height"] <= 1080, last
            page.evaluate("window.sameDocument = 'not reloaded'")
            page.check(box)
            assert hub.client.post("/api/v1/progress", json=board_progress(
                watched, "done", 100, result="done", phase="done")).status_code == 202
            page.wait_for_selector(f"{tile}.state-finished", timeout=15_000)
            assert page.evaluate("window.sameDocument") == "not reloaded"
            assert page.is_checked(box)  # ticked before the update, still ticked
            assert "finished" in page.locator(tile).inner_text()

            # Without JavaScript: the page reloads itself, and shows the news after it.
            context = browser.new_context(java_script_enabled=False, locale="en-US")
            plain = context.new_page()
            sign_in(plain, f"{served.url}/board", "atelier@example.org")
            assert plain.locator('meta[http-equiv="refresh"][content="5"]').count() == 1
            assert plain.locator(f"{tile}.state-finished").count() == 1
            assert hub.client.post("/api/v1/progress", json=board_progress(
                watched, "erase", 40, result="failed", phase="failed",
                error="write error at LBA 2048")).status_code == 202
            plain.wait_for_selector(f"{tile}.state-failed", timeout=15_000)
            assert "write error at LBA 2048" in plain.locator(tile).inner_text()
            plain.click("text=Pause updates to choose machines")
            assert plain.locator('meta[http-equiv="refresh"]').count() == 0
            context.close()
        finally:
            browser.close()
    shot = SCREENS / f"board-{database}.png"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
