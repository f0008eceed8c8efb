"""People's pages: sign-in, sessions, CSRF, workshop isolation, and what each page shows."""

from __future__ import annotations

import io
import re
from pathlib import Path

from fastapi.testclient import TestClient
from httpx import Response
from pypdf import PdfReader

from agent.report import dsse
from tests.hub.helpers import PASSWORD, Hub, erased


def browser(hub: Hub) -> TestClient:
    return TestClient(hub.client.app)


def test_pages_need_a_session(hub: Hub) -> None:
    for path in ("/live", "/machines", "/reports", "/totals", "/stations"):
        response = browser(hub).get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith(
            "/login"), path
    assert browser(hub).get("/api/v1/reports").status_code == 401


def test_wrong_password_and_missing_csrf_are_refused(hub: Hub) -> None:
    email = hub.person("admin@example.org")
    client = browser(hub)
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    wrong = client.post("/login", data={"email": email, "password": "nope",
                                        "csrf_token": token.group(1)})
    assert wrong.status_code == 401 and "Mauvaise adresse" in wrong.text
    no_csrf = browser(hub).post("/login", data={"email": email, "password": "x" * 9})
    assert no_csrf.status_code == 403
    assert client.get("/live", follow_redirects=False).status_code == 303


def sign_in(client: TestClient, email: str, password: str) -> Response:
    """One attempt through the form, with the CSRF token the last answer gave."""
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": token.group(1)}, follow_redirects=False)


def test_guessing_a_password_is_slowed_down_and_a_person_is_never_locked_out_for_long(
        hub: Hub) -> None:
    email = hub.person("admin@example.org")
    now = [1000.0]
    throttle = hub.client.app.state.hub.login_throttle  # type: ignore[attr-defined]
    throttle.clock = lambda: now[0]
    attacker = browser(hub)
    answers = [sign_in(attacker, email, f"guess-{n}").status_code for n in range(50)]
    assert answers[:5] == [401] * 5
    assert answers.count(401) < 10 and answers[-1] == 429
    refused = sign_in(attacker, email, PASSWORD)  # the right one, while the account waits
    assert refused.status_code == 429 and "Trop de tentatives" in refused.text
    wait = int(refused.headers["retry-after"])
    assert 1 <= wait <= 60
    assert attacker.get("/live", follow_redirects=False).status_code == 303
    # However many guesses came before, the person waits a minute at most, then signs in.
    for _ in range(200):
        sign_in(attacker, email, "another guess")
    assert int(sign_in(attacker, email, PASSWORD).headers["retry-after"]) <= 60
    now[0] += 61
    person = browser(hub)
    assert sign_in(person, email, PASSWORD).status_code == 303
    assert person.get("/live").status_code == 200


def test_a_flood_from_one_address_slows_every_account_it_tries(hub: Hub) -> None:
    now = [1000.0]
    throttle = hub.client.app.state.hub.login_throttle  # type: ignore[attr-defined]
    throttle.clock = lambda: now[0]
    client = browser(hub)
    answers = [sign_in(client, f"user-{n}@example.org", "guess").status_code for n in range(40)]
    assert answers[:20] == [401] * 20 and 429 in answers


def test_sign_out_ends_the_session_and_needs_csrf(hub: Hub) -> None:
    client = browser(hub)
    csrf = hub.login(client, hub.person("admin@example.org"))
    assert client.post("/logout", data={"csrf_token": "guess"}).status_code == 403
    assert client.get("/live").status_code == 200
    out = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/live", follow_redirects=False).status_code == 303


def test_password_is_stored_as_argon2(hub: Hub) -> None:
    hub.person("admin@example.org")
    found = hub.store.person_for_login("admin@example.org")
    assert found is not None and found[1].startswith("$argon2id$")


def test_a_workshop_sees_only_its_own_machines(hub: Hub) -> None:
    lyon, nantes = hub.station("lyon-3", "Lyon"), hub.station("nantes-1", "Nantes")
    ours, theirs = lyon.report("SER-LYON"), nantes.report("SER-NANTES")
    for station, report in ((lyon, ours), (nantes, theirs)):
        assert hub.client.post("/api/v1/reports", json=station.sign(report)).status_code == 201
    hub.client.post("/api/v1/progress", json=nantes.progress("rb1-nantes-live"))
    token = hub.api_token(hub.person("lyon@example.org", "workshop", "Lyon"))
    listed = hub.client.get("/api/v1/reports", headers=token).json()
    assert [row["report_id"] for row in listed] == [ours["report_id"]]
    assert hub.client.get(f"/api/v1/reports/{theirs['report_id']}",
                          headers=token).status_code == 404
    machines = hub.client.get("/api/v1/machines", headers=token).json()
    assert [machine["system_serial"] for machine in machines] == ["SER-LYON"]
    assert hub.client.get("/api/v1/live", headers=token).json() == []
    csv_text = hub.client.get("/api/v1/export/reports.csv", headers=token).text
    assert "SER-LYON" in csv_text and "SER-NANTES" not in csv_text

    client = browser(hub)
    hub.login(client, "lyon@example.org")
    theirs_machine = theirs["machine"]["identity"]["id"]
    assert client.get(f"/machines/{theirs_machine}").status_code == 404
    assert client.get(f"/reports/{theirs['report_id']}/certificate").status_code == 404
    assert client.get(f"/reports/{theirs['report_id']}/certificate.pdf").status_code == 404
    assert "SER-NANTES" not in client.get("/reports").text
    assert client.get("/stations").status_code == 404
    assert "rb1-nantes-live" not in client.get("/live").text
    admin = browser(hub)
    hub.login(admin, hub.person("admin@example.org"))
    page = admin.get("/reports").text
    assert "SER-LYON" in page and "SER-NANTES" in page


def test_live_view_shows_each_running_disk(hub: Hub) -> None:
    station = hub.station("lyon-3", "Lyon")
    hub.client.post("/api/v1/progress", json=station.progress("rb1-live", done=42))
    hub.client.post("/api/v1/progress", json=station.progress("rb1-finished", step="done"))
    client = browser(hub)
    hub.login(client, hub.person("lyon@example.org", "workshop", "Lyon"))
    page = client.get("/live").text
    assert "Vue en direct" in page and "RB-LIVE1" in page and "WD-LIVE" in page
    assert "42 %" in page and 'http-equiv="refresh"' in page
    assert page.count("<section") == 1  # the finished machine is not running any more


def test_passport_shows_erasure_inventory_and_qr(hub: Hub) -> None:
    station = hub.station()
    report = station.report("SER-P", erasures=[
        erased("D1", bad_ranges=[[100, 107]]),
        erased("D2", "/dev/nvme0n1", method="nvme-sanitize-crypto", level="purge")])
    report["benchmarks"] = {"cpu": {"algorithm": "sha256", "single_core_bytes_per_second": 1234,
                                    "all_cores_bytes_per_second": 4000, "workers": 4,
                                    "seconds": 2.0}, "memory": None, "disks": []}
    report["install"] = {"result": "installed", "error": None,
                         "image": {"name": "debian-xfce", "version": "12.8", "sha256": "ab" * 32,
                                   "source": "stick"},
                         "hostname": "rb-ser-p", "boot_mode": "uefi"}
    hub.store_directly(station, report)
    client = browser(hub)
    hub.login(client, hub.person("admin@example.org"))
    page = client.get(f"/machines/{report['machine']['identity']['id']}?lang=en").text
    assert "Machine passport" in page and "RB-SER-P" in page and "OptiPlex 7010" in page
    assert "nvme-sanitize-crypto" in page and "Purge" in page and "Clear" in page
    assert "100-107" in page and "erased except bad sectors" in page
    assert "debian-xfce" in page and "1.2 kB/s" in page  # 1234 bytes per second
    assert "<svg" in page and "<path" in page  # the QR code
    # The language stays English for the next page (a cookie), French comes back on request.
    assert "Totals" in client.get("/totals").text
    assert "Bilan" in client.get("/totals?lang=fr").text


def test_pages_take_old_reports_without_optional_sections(hub: Hub) -> None:
    station = hub.station()
    report = station.old_report("SER-OLD")
    hub.store_directly(station, report)
    client = browser(hub)
    hub.login(client, hub.person("admin@example.org"))
    [machine] = hub.client.get("/api/v1/machines", headers=hub.admin_headers()).json()
    passport = client.get(f"/machines/{machine['machine_id']}")
    assert passport.status_code == 200 and "Aucun banc" in passport.text
    certificate = client.get(f"/reports/{report['report_id']}/certificate")
    assert certificate.status_code == 200
    assert client.get(f"/reports/{report['report_id']}/certificate.pdf").status_code == 200
    assert client.get("/totals").status_code == 200


def test_certificate_in_html_and_pdf(hub: Hub) -> None:
    station = hub.station("lyon-3", "Lyon")
    report = station.report("SER-CERT", erasures=[
        erased("DISK-1", method="ata-sanitize-crypto", level="purge"),
        erased("DISK-2", "/dev/sdb", bad_ranges=[[5, 9]])])
    hub.client.post("/api/v1/reports", json=station.sign(report))
    client = browser(hub)
    hub.login(client, hub.person("admin@example.org"))
    page = client.get(f"/reports/{report['report_id']}/certificate?lang=en").text
    assert "Erasure certificate" in page and station.key_id in page
    assert "BEGIN PUBLIC KEY" in page and "openssl pkeyutl -verify" in page
    assert "ata-sanitize-crypto" in page and "DISK-2" in page and "5-9" in page
    assert "docs/report.md" in page
    pdf = client.get(f"/reports/{report['report_id']}/certificate.pdf?lang=fr")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    flat = re.sub(r"\s+", "", text)
    assert "Certificatd'effacement" in flat
    assert report["report_id"] in flat and station.key_id in flat
    assert "DISK-1" in flat and "ata-sanitize-crypto" in flat and "Purge" in flat
    assert "BEGINPUBLICKEY" in flat


def test_certificate_recipe_verifies_with_openssl(hub: Hub, tmp_path: Path) -> None:
    """The steps the certificate prints, run for real: OpenSSL accepts the stored envelope."""
    import subprocess
    from html import unescape

    station = hub.station()
    report = station.report("SER-SSL")
    hub.client.post("/api/v1/reports", json=station.sign(report))
    client = browser(hub)
    hub.login(client, hub.person("admin@example.org"))
    page = client.get(f"/reports/{report['report_id']}/certificate").text
    folder = tmp_path
    pem = re.search(r'<pre class="pem">(.*?)</pre>', page, re.S)
    assert pem is not None
    (folder / "station.pem").write_text(unescape(pem.group(1)))
    envelope = client.get(f"/api/v1/reports/{report['report_id']}/envelope")
    (folder / "report.dsse.json").write_bytes(envelope.content)
    recipe = [unescape(block) for block in re.findall(r"<pre>(.*?)</pre>", page, re.S)]
    script = "set -e\n" + "\n".join(recipe)
    result = subprocess.run(["bash", "-c", script], cwd=folder, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Signature Verified Successfully" in result.stdout
    assert station.key_id in result.stdout  # the fingerprint line printed by sha256sum
    assert dsse.key_id(station.key.public_key()) == station.key_id


def test_totals_count_reused_machines_and_their_impact(hub: Hub) -> None:
    station = hub.station()
    reports = [
        station.report("SER-1", created_at="2026-10-02T10:00:00+00:00"),  # all disks erased
        station.report("SER-2", created_at="2026-11-02T10:00:00+00:00",
                       outcome={"value": "reuse", "reason": {"code": "ok", "text": "ok"}}),
        station.report("SER-3", created_at="2026-11-03T10:00:00+00:00",
                       outcome={"value": "recycle", "reason": {"code": "old", "text": "old"}}),
        station.report("SER-4", created_at="2026-11-04T10:00:00+00:00", erasures=[
            erased("X", method="zero").__class__("/dev/sda", "X", "M", "sata", 1)]),  # failed
    ]
    reports[0].pop("outcome", None)  # older reports: all disks erased counts as reuse
    for report in reports:
        hub.store_directly(station, report)
    client = browser(hub)
    hub.login(client, hub.person("admin@example.org"))
    page = client.get("/totals?lang=en").text
    cards = dict((label.strip(), value) for value, label in re.findall(
        r'<div class="card"><strong>([^<]+)</strong>([^<]+)</div>', page))
    assert cards["machines processed"] == "4"
    assert cards["machines given a second life"] == "2"
    assert cards["CO2 equivalent avoided"] == "1 000 kg"
    assert cards["fresh water saved"] == "7 000 L"
    assert cards["ore not extracted"] == "3.0 kg"
    assert "<title>2026-10: 1</title>" in page and "<title>2026-11: 3</title>" in page
    assert "<title>random: 4</title>" in page  # the failed disk tried random too


def test_reports_page_filters_by_date_and_its_csv_link_works(hub: Hub) -> None:
    station = hub.station()
    october = station.report("SER-OCT", created_at="2026-10-03T10:00:00+00:00")
    november = station.report("SER-NOV", created_at="2026-11-20T10:00:00+00:00")
    for report in (october, november):
        hub.client.post("/api/v1/reports", json=station.sign(report))
    client = browser(hub)
    hub.login(client, hub.person("admin@example.org"))
    page = client.get("/reports", params={"date": "2026-11-20"}).text
    assert "SER-NOV" in page and "SER-OCT" not in page
    assert "SER-OCT" in client.get("/reports", params={"date": "nonsense"}).text
    exports = []
    for html in (page, client.get("/reports").text):
        link = re.search(r'href="(/api/v1/export/reports\.csv[^"]*)"', html)
        assert link is not None
        export = client.get(link.group(1).replace("&amp;", "&"))
        assert export.status_code == 200, export.text
        exports.append(export.text)
    assert "SER-NOV" in exports[0] and "SER-OCT" not in exports[0]
    assert "SER-NOV" in exports[1] and "SER-OCT" in exports[1]


def test_progress_naming_another_key_is_refused(hub: Hub) -> None:
    station = hub.station()
    other = hub.station("nantes-1")
    message = station.progress("rb1-live")
    import base64
    import json

    payload = json.loads(base64.b64decode(message["payload"]))
    payload["station"]["key_id"] = other.key_id
    envelope = station.sign(payload, "application/vnd.reeeboot.progress+json")
    assert hub.client.post("/api/v1/progress", json=envelope).status_code == 422
    assert hub.store.live_states() == []


def test_links_follow_the_configured_public_url_not_the_requests_host(hub: Hub) -> None:
    from hub.app import create_app

    station = hub.station()
    report = station.report("SER-Q")
    report["machine"]["identity"]["id"] = "rb1-a?b#c"
    assert hub.client.post("/api/v1/reports", json=station.sign(report)).status_code == 201
    public = TestClient(create_app(hub.store, public_url="https://hub.example.org/"),
                        headers={"host": "evil.example"})
    hub.login(public, hub.person("admin@example.org"))
    passport = public.get("/machines/rb1-a%3Fb%23c")
    assert passport.status_code == 200
    # The QR code's link (the public passport) and the machine's own address, URL-encoded.
    assert re.search(r"https://hub\.example\.org/p/[A-Za-z0-9_-]{32}<", passport.text)
    assert 'action="/machines/rb1-a%3Fb%23c/public-link/withdraw"' in passport.text
    assert "evil.example" not in passport.text
    pdf = public.get(f"/reports/{report['report_id']}/certificate.pdf")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "https://hub.example.org/api/v1/reports/" in "".join(text.split())
    assert "evil.example" not in text


def test_a_certificate_with_very_long_texts_is_still_made(hub: Hub) -> None:
    import dataclasses

    station = hub.station()
    failed = dataclasses.replace(erased("DISK-L"), result="failed", verified=False,
                                 error="E" * 600, model="M" * 200_000)
    report = station.report("SER-LONG", erasures=[failed], asset_id="A" * 128)
    assert hub.client.post("/api/v1/reports", json=station.sign(report)).status_code == 201
    client = browser(hub)
    hub.login(client, hub.person("admin@example.org"))
    pdf = client.get(f"/reports/{report['report_id']}/certificate.pdf?lang=en")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    flat = re.sub(r"\s+", "", text)
    assert "MMMM..." in flat and "EEEE..." in flat and "A" * 128 in flat
    assert "M" * 200 not in flat


def test_the_passport_names_fields_in_words_not_the_reports_keys(hub: Hub) -> None:
    station = hub.station()
    report = station.report("SER-W")
    hub.client.post("/api/v1/reports", json=station.sign(report))
    client = browser(hub)
    hub.login(client, hub.person("admin@example.org"))
    machine_id = report["machine"]["identity"]["id"]
    french = client.get(f"/machines/{machine_id}?lang=fr").text
    for words in ("Processeur", "Fréquence la plus haute", "Fréquences lues dans", "Installée",
                  "Distingue les exemplaires du modèle", "3600 MHz", "8.6 GB"):
        assert words in french, words
    for key in ("max_mhz", "frequency_source", "total_bytes", "distinguishes_units"):
        assert f"<th>{key}</th>" not in french, key
    english = client.get(f"/machines/{machine_id}?lang=en").text
    assert "Highest frequency" in english and "<td>yes</td>" in english
