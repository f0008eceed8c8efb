"""The donor's certificate: a set of machines (asset ids, a date range or a lot entered on the
hub) with every disk's erasure, each line traceable to its signed report; and the lots."""

from __future__ import annotations

import dataclasses
import html
import io
import re
import subprocess
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from pypdf import PdfReader

from agent.wipe.jobs import WipeResult
from hub.pages.donor import MAX_MACHINES
from tests.hub.helpers import Hub, Station, erased


def browser(hub: Hub) -> TestClient:
    """A person's browser, reading English (the language cookie a `?lang=en` would set)."""
    client = TestClient(hub.client.app)
    client.cookies.set("reeeboot_language", "en")
    return client


def failed(serial: str, path: str = "/dev/sdb", error: str = "the disk stopped answering",
           ) -> WipeResult:
    return dataclasses.replace(erased(serial, path), result="failed", verified=False,
                               bytes_written=0, error=error)


def send(hub: Hub, station: Station, report: dict[str, Any]) -> dict[str, Any]:
    answer = hub.client.post("/api/v1/reports", json=station.sign(report))
    assert answer.status_code == 201, answer.text
    return report


def pdf_text(content: bytes) -> str:
    """The PDF's text without any white space (table cells wrap where they like)."""
    assert content.startswith(b"%PDF-")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    return re.sub(r"\s+", "", text)


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def disk_serials(report: dict[str, Any]) -> list[str]:
    return [disk["serial"] for disk in report["erasure"]]


def lyon_and_nantes(hub: Hub) -> tuple[Station, Station, TestClient, TestClient]:
    """Two workshops, a station and a signed-in workshop account each."""
    lyon, nantes = hub.station("lyon-3", "Lyon"), hub.station("nantes-1", "Nantes")
    lyon_person, nantes_person = browser(hub), browser(hub)
    hub.login(lyon_person, hub.person("lyon@example.org", "workshop", "Lyon"))
    hub.login(nantes_person, hub.person("nantes@example.org", "workshop", "Nantes"))
    return lyon, nantes, lyon_person, nantes_person


def test_certificate_by_asset_ids_lists_every_disk_traced_to_its_report(hub: Hub) -> None:
    lyon, _nantes, client, _other = lyon_and_nantes(hub)
    first = send(hub, lyon, lyon.report("SER-A", erasures=[
        erased("SER-A-D1", bad_ranges=[[100, 107]]),
        erased("SER-A-D2", "/dev/nvme0n1", method="nvme-sanitize-crypto", level="purge")]))
    second = send(hub, lyon, lyon.report("SER-B", erasures=[erased("SER-B-D1")]))
    not_asked = send(hub, lyon, lyon.report("SER-C"))
    page = client.get("/certificates/donor?lang=en", params=[
        ("asset_id", "RB-SER-A"), ("asset_id", "RB-SER-B"), ("asset_id", "RB-NOPE")])
    assert page.status_code == 200, page.text
    text = page.text
    assert "Donor's erasure certificate" in text
    for report in (first, second):
        assert report["report_id"] in text
        assert f'href="/reports/{report["report_id"]}/certificate"' in text
        assert f'href="/api/v1/reports/{report["report_id"]}/envelope"' in text
        for serial in disk_serials(report):
            assert serial in text
    assert "SER-C" not in text and not_asked["report_id"] not in text
    assert "OptiPlex 7010" in text and "RB-SER-A" in text
    # The method in words, its NIST level, the bad ranges as sectors and as bytes.
    assert "overwrite (random pass)" in text and "NVMe sanitize, cryptographic erase" in text
    assert "Purge" in text and "Clear" in text
    assert "LBA 100-107, bytes 51200-55295" in text
    assert "erased except bad sectors" in text
    # A machine asked for and not found is listed as such.
    missing = re.search(r'<section class="missing">(.*?)</section>', text, re.S)
    assert missing is not None and "RB-NOPE" in missing.group(1)
    # The station's key and the recipe to verify each report.
    assert lyon.key_id in text and "BEGIN PUBLIC KEY" in text
    assert "openssl pkeyutl -verify" in text and "sha256sum" in text


def test_the_latest_report_of_a_machine_is_the_one_certified(hub: Hub) -> None:
    lyon, _nantes, client, _other = lyon_and_nantes(hub)
    older = send(hub, lyon, lyon.report("SER-R", created_at="2026-10-01T10:00:00+00:00",
                                        erasures=[failed("SER-R-OLD", "/dev/sda")]))
    newer = send(hub, lyon, lyon.report("SER-R", created_at="2026-11-01T10:00:00+00:00",
                                        erasures=[erased("SER-R-NEW")]))
    text = client.get("/certificates/donor?lang=en&asset_id=RB-SER-R").text
    assert newer["report_id"] in text and older["report_id"] not in text
    assert "SER-R-NEW" in text and "SER-R-OLD" not in text


def test_certificate_by_date_range_lists_every_report_in_it(hub: Hub) -> None:
    lyon, nantes, client, _other = lyon_and_nantes(hub)
    october = send(hub, lyon, lyon.report("SER-OCT", created_at="2026-10-03T10:00:00+00:00"))
    early = send(hub, lyon, lyon.report("SER-NOV", created_at="2026-11-02T10:00:00+00:00",
                                        erasures=[erased("SER-NOV-FIRST")]))
    again = send(hub, lyon, lyon.report("SER-NOV", created_at="2026-11-20T10:00:00+00:00",
                                        erasures=[erased("SER-NOV-AGAIN")]))
    december = send(hub, lyon, lyon.report("SER-DEC", created_at="2026-12-01T00:00:00+00:00"))
    theirs = send(hub, nantes, nantes.report("SER-NANTES",
                                             created_at="2026-11-10T10:00:00+00:00"))
    page = client.get("/certificates/donor?lang=en&since=2026-11-01&until=2026-11-30")
    assert page.status_code == 200
    for report in (early, again):
        assert report["report_id"] in page.text
    assert "SER-NOV-FIRST" in page.text and "SER-NOV-AGAIN" in page.text
    for report in (october, december, theirs):
        assert report["report_id"] not in page.text
    assert "SER-NANTES" not in page.text
    pdf = client.get("/certificates/donor.pdf?lang=en&since=2026-11-01&until=2026-11-30")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    flat = pdf_text(pdf.content)
    assert "SER-NOV-FIRST" in flat and "SER-NOV-AGAIN" in flat and "SER-OCT" not in flat
    assert early["report_id"] in flat and again["report_id"] in flat
    # A range the form cannot mean is refused, not read as "everything".
    assert client.get("/certificates/donor?since=yesterday").status_code == 422
    assert client.get("/certificates/donor?since=2026-11-30&until=2026-11-01").status_code == 422


def test_without_a_choice_the_page_asks_what_to_certify(hub: Hub) -> None:
    lyon, _nantes, client, _other = lyon_and_nantes(hub)
    send(hub, lyon, lyon.report("SER-F"))
    form = client.get("/certificates/donor?lang=en")
    assert form.status_code == 200
    assert 'name="asset_ids"' in form.text and 'name="since"' in form.text
    assert "SER-F" not in form.text
    # The form's text area: one asset id a line.
    typed = client.get("/certificates/donor?lang=en",
                       params={"asset_ids": "RB-SER-F\r\n\r\n  RB-GONE  \n"})
    assert "SER-F-D1" in typed.text and "RB-GONE" in typed.text


def test_a_lot_is_entered_then_certified(hub: Hub) -> None:
    lyon, _nantes, client, _other = lyon_and_nantes(hub)
    reports = [send(hub, lyon, lyon.report(serial, erasures=[
        erased(f"{serial}-D1"), erased(f"{serial}-D2", "/dev/sdb")]))
        for serial in ("LOT-1", "LOT-2", "LOT-3")]
    assert 'href="/lots"' in client.get("/reports").text  # in every page's menu
    lots = client.get("/lots?lang=en")
    assert lots.status_code == 200
    created = client.post("/lots?lang=en", data={
        "csrf_token": csrf_of(lots.text), "name": "Lot 2026-11", "donor": "Dupont family",
        "note": "ten PCs, one box", "asset_ids": "RB-LOT-1\nRB-LOT-2\n\nRB-UNKNOWN\nRB-LOT-1\n"},
        follow_redirects=False)
    assert created.status_code == 303, created.text
    lot_page = client.get(created.headers["location"] + "?lang=en")
    assert lot_page.status_code == 200
    lot_url = created.headers["location"]
    assert re.fullmatch(r"/lots/\d+", lot_url)
    text = lot_page.text
    assert "Lot 2026-11" in text and "Dupont family" in text and "ten PCs, one box" in text
    assert text.count("RB-LOT-1") == 1  # entered twice, kept once
    unknown = re.search(r"<tr[^>]*>\s*<td>RB-UNKNOWN</td>(.*?)</tr>", text, re.S)
    assert unknown is not None and "not found in your workshop&#39;s reports" in unknown.group(1)
    assert f'href="{lot_url}/certificate"' in text

    more = client.post(f"{lot_url}/members", data={
        "csrf_token": csrf_of(text), "asset_ids": "RB-LOT-3\nRB-LOT-2"}, follow_redirects=False)
    assert more.status_code == 303
    certificate = client.get(f"{lot_url}/certificate?lang=en").text
    assert "Dupont family" in certificate and "Lot 2026-11" in certificate
    for report in reports:
        assert report["report_id"] in certificate
        for serial in disk_serials(report):
            assert serial in certificate
    missing = re.search(r'<section class="missing">(.*?)</section>', certificate, re.S)
    assert missing is not None and "RB-UNKNOWN" in missing.group(1)
    pdf = client.get(f"{lot_url}/certificate.pdf?lang=en")
    assert pdf.status_code == 200
    flat = pdf_text(pdf.content)
    assert "Dupontfamily" in flat and "RB-UNKNOWN" in flat
    for report in reports:
        assert report["report_id"] in flat
        for serial in disk_serials(report):
            assert serial in flat

    # The lots list links to each lot and to its certificate.
    listed = client.get("/lots?lang=en").text
    assert f'href="{lot_url}"' in listed and f'href="{lot_url}/certificate"' in listed

    # A mistaken line is taken out again.
    member = re.search(r'<td>RB-UNKNOWN</td>.*?action="(/lots/\d+/members/\d+/remove)"',
                       client.get(lot_url).text, re.S)
    assert member is not None
    removed = client.post(member.group(1), data={"csrf_token": csrf_of(text)},
                          follow_redirects=False)
    assert removed.status_code == 303
    assert "RB-UNKNOWN" not in client.get(lot_url).text


def test_a_lot_keeps_asset_ids_not_yet_reported_and_finds_them_later(hub: Hub) -> None:
    lyon, _nantes, client, _other = lyon_and_nantes(hub)
    csrf = csrf_of(client.get("/lots").text)
    created = client.post("/lots", data={"csrf_token": csrf, "name": "Boxes",
                                         "donor": "ACME", "asset_ids": "RB-LATER"},
                          follow_redirects=False)
    lot_url = created.headers["location"]
    before = client.get(f"{lot_url}/certificate?lang=en").text
    assert "RB-LATER" in re.search(  # type: ignore[union-attr]
        r'<section class="missing">(.*?)</section>', before, re.S).group(1)
    report = send(hub, lyon, lyon.report("LATER"))
    after = client.get(f"{lot_url}/certificate?lang=en").text
    assert report["report_id"] in after and "LATER-D1" in after
    assert '<section class="missing">' not in after


def test_another_workshops_machines_never_appear(hub: Hub) -> None:
    lyon, nantes, client, nantes_client = lyon_and_nantes(hub)
    ours = send(hub, lyon, lyon.report("SAME-L", asset_id="RB-SAME"))
    theirs = send(hub, nantes, nantes.report("SAME-N", asset_id="RB-SAME"))
    only_theirs = send(hub, nantes, nantes.report("ONLY-N"))
    asked = client.get("/certificates/donor?lang=en", params=[
        ("asset_id", "RB-SAME"), ("asset_id", "RB-ONLY-N")])
    text = asked.text
    assert ours["report_id"] in text and "SAME-L-D1" in text
    for report in (theirs, only_theirs):
        assert report["report_id"] not in text
    assert "SAME-N" not in text and "ONLY-N-D1" not in text and nantes.key_id not in text
    missing = re.search(r'<section class="missing">(.*?)</section>', text, re.S)
    assert missing is not None and "RB-ONLY-N" in missing.group(1)
    pdf = pdf_text(client.get("/certificates/donor.pdf", params=[
        ("asset_id", "RB-SAME"), ("asset_id", "RB-ONLY-N")]).content)
    assert "SAME-N" not in pdf and "ONLY-N-D1" not in pdf
    ranged = client.get("/certificates/donor?since=2000-01-01&until=2100-01-01").text
    assert "SAME-N" not in ranged and "ONLY-N" not in ranged

    # A lot of Lyon's naming Nantes' asset ids finds nothing of Nantes.
    csrf = csrf_of(client.get("/lots").text)
    ours_lot = client.post("/lots", data={"csrf_token": csrf, "name": "L", "donor": "D",
                                          "asset_ids": "RB-ONLY-N\nRB-SAME"},
                           follow_redirects=False).headers["location"]
    lot_page = client.get(f"{ours_lot}?lang=en").text
    assert "ONLY-N" in lot_page and "not found in your workshop&#39;s reports" in lot_page
    lot_certificate = client.get(f"{ours_lot}/certificate").text
    assert "SAME-N" not in lot_certificate and "SAME-L-D1" in lot_certificate

    # Nantes' lot is nobody else's business: every address of it answers 404 to Lyon.
    their_csrf = csrf_of(nantes_client.get("/lots").text)
    their_lot = nantes_client.post("/lots", data={
        "csrf_token": their_csrf, "name": "Nantes lot", "donor": "Secret donor",
        "asset_ids": "RB-ONLY-N"}, follow_redirects=False).headers["location"]
    assert "ONLY-N-D1" in nantes_client.get(f"{their_lot}/certificate").text
    for path in (their_lot, f"{their_lot}/certificate", f"{their_lot}/certificate.pdf"):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert "Secret donor" not in answer.text
    added = client.post(f"{their_lot}/members", data={"csrf_token": csrf,
                                                      "asset_ids": "RB-SAME"})
    assert added.status_code == 404
    assert "Secret donor" not in client.get("/lots").text
    assert "RB-SAME" not in nantes_client.get(their_lot).text
    assert client.get("/lots/999999").status_code == 404

    # An administrator sees both workshops' machines and lots.
    admin = browser(hub)
    hub.login(admin, hub.person("admin@example.org"))
    both = admin.get("/certificates/donor?asset_id=RB-SAME").text
    assert "SAME-L-D1" in both and "SAME-N-D1" in both
    lots = admin.get("/lots").text
    assert "Secret donor" in lots and f'href="{ours_lot}"' in lots


def test_an_administrator_enters_a_lot_for_a_workshop(hub: Hub) -> None:
    lyon, _nantes, _client, nantes_client = lyon_and_nantes(hub)
    send(hub, lyon, lyon.report("ADM-1"))
    admin = browser(hub)
    hub.login(admin, hub.person("admin@example.org"))
    form = admin.get("/lots?lang=en").text
    assert 'name="workshop"' in form
    lyon_id = hub.store.workshop_id("Lyon")
    created = admin.post("/lots", data={"csrf_token": csrf_of(form), "name": "From admin",
                                        "donor": "Town hall", "workshop": str(lyon_id),
                                        "asset_ids": "RB-ADM-1"}, follow_redirects=False)
    assert created.status_code == 303
    assert "ADM-1-D1" in admin.get(created.headers["location"] + "/certificate").text
    assert nantes_client.get(created.headers["location"]).status_code == 404
    unknown_workshop = admin.post("/lots", data={
        "csrf_token": csrf_of(form), "name": "X", "donor": "Y", "workshop": "999999",
        "asset_ids": "RB-ADM-1"})
    assert unknown_workshop.status_code == 422


def test_a_failed_or_partial_erasure_is_never_shown_as_erased(hub: Hub) -> None:
    lyon, _nantes, client, _other = lyon_and_nantes(hub)
    send(hub, lyon, lyon.report("OK-1"))
    send(hub, lyon, lyon.report("PART-1", erasures=[erased("PART-1-D1"),
                                                    failed("PART-1-D2")]))
    send(hub, lyon, lyon.report("FAIL-1", erasures=[failed("FAIL-1-D1", "/dev/sda")]))
    send(hub, lyon, lyon.report("NONE-1", erasures=[]))
    asked = [("asset_id", f"RB-{serial}") for serial in ("OK-1", "PART-1", "FAIL-1", "NONE-1")]
    text = client.get("/certificates/donor?lang=en", params=asked).text

    def status_of(asset_id: str) -> str:
        found = re.search(rf'<section class="machine[^"]*" id="[^"]*">\s*<h3>{asset_id} .*?'
                          r'<strong class="status (\w+)">([^<]+)</strong>', text, re.S)
        assert found is not None, asset_id
        return f"{found.group(1)} {found.group(2)}"

    assert status_of("RB-OK-1") == "ok erased"
    assert status_of("RB-PART-1") == "bad partly erased"
    assert status_of("RB-FAIL-1") == "bad not erased"
    assert status_of("RB-NONE-1") == "bad no disk erased"
    # Named again at the top, before any list of erased machines.
    warning = re.search(r'<section class="attention">(.*?)</section>', text, re.S)
    assert warning is not None
    for asset_id in ("RB-PART-1", "RB-FAIL-1", "RB-NONE-1"):
        assert asset_id in warning.group(1)
    assert "RB-OK-1" not in warning.group(1)
    assert "the disk stopped answering" in text
    flat = pdf_text(client.get("/certificates/donor.pdf?lang=en", params=asked).content)
    assert "partlyerased" in flat and "noterased" in flat and "nodiskerased" in flat
    assert "Notcertifiedaserased" in flat


def test_a_large_donation_makes_a_pdf_in_reasonable_time(hub: Hub) -> None:
    lyon, _nantes, client, _other = lyon_and_nantes(hub)
    signer = hub.store.signing_key(lyon.key_id)
    assert signer is not None
    serials = [f"M{number:02d}" for number in range(60)]
    for serial in serials:
        disks = [dataclasses.replace(erased(f"{serial}-D{index}", f"/dev/sd{'abcd'[index]}",
                                            bad_ranges=[[index, index + 7]] * 40),
                                     model=f"{'Very long disk model ' * 300}{index}")
                 for index in range(4)]
        hub.store_directly(lyon, lyon.report(serial, erasures=disks))
    params = [("asset_id", f"RB-{serial}") for serial in serials]
    started = time.monotonic()
    pdf = client.get("/certificates/donor.pdf?lang=en", params=params)
    elapsed = time.monotonic() - started
    assert pdf.status_code == 200, pdf.text
    assert elapsed < 20, elapsed
    flat = pdf_text(pdf.content)
    for serial in serials:
        for index in range(4):
            assert f"{serial}-D{index}" in flat
    assert "Verylongdiskmodel" in flat and "Verylongdiskmodel" * 40 not in flat
    page = client.get("/certificates/donor?lang=en", params=params)
    assert page.status_code == 200 and page.text.count('<section class="machine') == 60


def test_too_many_machines_for_one_certificate_are_refused_not_cut(hub: Hub) -> None:
    _lyon, _nantes, client, _other = lyon_and_nantes(hub)
    params = [("asset_id", f"RB-{number}") for number in range(MAX_MACHINES + 1)]
    assert client.get("/certificates/donor.pdf", params=params).status_code == 422
    refused = client.get("/certificates/donor", params=params)
    assert refused.status_code == 422 and f"At most {MAX_MACHINES} machines" in refused.text
    csrf = csrf_of(client.get("/lots").text)
    too_many = client.post("/lots", data={"csrf_token": csrf, "name": "Big", "donor": "D",
                                          "asset_ids": "\n".join(value for _key, value in params)})
    assert too_many.status_code == 422


def test_forms_that_change_a_lot_need_the_csrf_token(hub: Hub) -> None:
    _lyon, _nantes, client, _other = lyon_and_nantes(hub)
    refused = client.post("/lots", data={"name": "L", "donor": "D", "asset_ids": "RB-1"})
    assert refused.status_code == 403
    wrong = client.post("/lots", data={"csrf_token": "guess", "name": "L", "donor": "D"})
    assert wrong.status_code == 403
    assert "RB-1" not in client.get("/lots").text
    csrf = csrf_of(client.get("/lots").text)
    lot_url = client.post("/lots", data={"csrf_token": csrf, "name": "L", "donor": "D"},
                          follow_redirects=False).headers["location"]
    assert client.post(f"{lot_url}/members", data={"asset_ids": "RB-2"}).status_code == 403
    assert "RB-2" not in client.get(lot_url).text
    # Signed out, nothing at all.
    anonymous = browser(hub)
    for path in ("/lots", lot_url, "/certificates/donor?asset_id=RB-1",
                 f"{lot_url}/certificate.pdf"):
        answer = anonymous.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    assert anonymous.post("/lots", data={"csrf_token": csrf, "name": "L", "donor": "D"},
                          follow_redirects=False).status_code == 303


def test_a_lot_needs_a_name_and_a_donor_and_keeps_what_was_typed(hub: Hub) -> None:
    _lyon, _nantes, client, _other = lyon_and_nantes(hub)
    csrf = csrf_of(client.get("/lots").text)
    refused = client.post("/lots?lang=en", data={"csrf_token": csrf, "name": "",
                                                 "donor": "D", "asset_ids": "RB-KEPT-1"})
    assert refused.status_code == 422 and "RB-KEPT-1" in refused.text
    too_long = client.post("/lots?lang=en", data={"csrf_token": csrf, "name": "N",
                                                  "donor": "D", "asset_ids": "X" * 201})
    assert too_long.status_code == 422 and "X" * 201 in too_long.text
    assert "No lot yet." in client.get("/lots?lang=en").text


def test_hostile_strings_are_escaped(hub: Hub) -> None:
    lyon, _nantes, client, _other = lyon_and_nantes(hub)
    hostile = '<script>alert("x")</script>'
    disk = dataclasses.replace(erased("HOST-D1"), model=hostile + " 日本語")
    report = lyon.report("HOST", erasures=[disk], asset_id=f"RB-{hostile}")
    hub.store_directly(lyon, report)
    csrf = csrf_of(client.get("/lots").text)
    lot_url = client.post("/lots", data={
        "csrf_token": csrf, "name": hostile, "donor": f'"><img src=x>{hostile}',
        "note": hostile, "asset_ids": f"RB-{hostile}\n<b>unknown</b>"},
        follow_redirects=False).headers["location"]
    pages = [client.get(lot_url).text, client.get("/lots").text,
             client.get(f"{lot_url}/certificate").text,
             client.get("/certificates/donor", params={"asset_id": f"RB-{hostile}"}).text,
             client.get("/reports").text]
    for text in pages:
        assert "<script>" not in text and "<img src=x>" not in text and "<b>unknown" not in text
        assert html.escape("<script>") in text or "&lt;script&gt;" in text
    certificate = pages[2]
    assert report["report_id"] in certificate and "HOST-D1" in certificate
    pdf = client.get(f"{lot_url}/certificate.pdf")
    assert pdf.status_code == 200
    flat = pdf_text(pdf.content)
    assert "HOST-D1" in flat and "<script>" in flat  # shown as text in a PDF: harmless


def test_the_reports_list_leads_to_the_donor_certificate_in_one_click(hub: Hub) -> None:
    lyon, _nantes, client, _other = lyon_and_nantes(hub)
    shown = send(hub, lyon, lyon.report("DAY-1", created_at="2026-11-20T10:00:00+00:00"))
    also = send(hub, lyon, lyon.report("DAY-2", created_at="2026-11-20T12:00:00+00:00"))
    other_day = send(hub, lyon, lyon.report("DAY-3", created_at="2026-11-21T12:00:00+00:00"))
    page = client.get("/reports?lang=en", params={"date": "2026-11-20"}).text
    # The form selecting the listed reports' machines: checkboxes, no script.
    form = re.search(r'<form id="donor" method="get" action="/certificates/donor"[^>]*>',
                     page)
    assert form is not None and "<script" not in page
    boxes = re.findall(r'<input type="checkbox" form="donor" name="asset_id" value="([^"]+)"'
                       r" checked>", page)
    assert sorted(boxes) == ["RB-DAY-1", "RB-DAY-2"]
    chosen = client.get("/certificates/donor", params=[("asset_id", box) for box in boxes])
    assert shown["report_id"] in chosen.text and also["report_id"] in chosen.text
    assert other_day["report_id"] not in chosen.text
    # The link carries the list's filters.
    link = re.search(r'href="(/certificates/donor\?[^"]*)"', page)
    assert link is not None
    carried = client.get(html.unescape(link.group(1)))
    assert shown["report_id"] in carried.text and also["report_id"] in carried.text
    assert other_day["report_id"] not in carried.text
    by_asset = client.get("/reports?lang=en", params={"asset_id": "RB-DAY-3"}).text
    link = re.search(r'href="(/certificates/donor\?[^"]*)"', by_asset)
    assert link is not None and "asset_id=RB-DAY-3" in link.group(1)
    assert other_day["report_id"] in client.get(html.unescape(link.group(1))).text


def test_the_certificates_recipe_verifies_a_line_with_openssl(hub: Hub, tmp_path: Path) -> None:
    """The steps the donor's certificate prints, run for real on one of its lines."""
    lyon, _nantes, client, _other = lyon_and_nantes(hub)
    report = send(hub, lyon, lyon.report("SSL-1"))
    page = client.get("/certificates/donor", params={"asset_id": "RB-SSL-1"}).text
    key = re.search(rf'<h3 id="key-{lyon.key_id}">.*?<pre class="pem">(.*?)</pre>\s*'
                    r"<pre>(.*?)</pre>", page, re.S)
    assert key is not None
    (tmp_path / "station.pem").write_text(html.unescape(key.group(1)))
    envelope = re.search(r'href="(/api/v1/reports/[^"]+/envelope)"', page)
    assert envelope is not None and report["report_id"] in envelope.group(1)
    (tmp_path / "report.dsse.json").write_bytes(client.get(envelope.group(1)).content)
    recipe = re.search(r"<ol>.*?<pre>(.*?)</pre>", page, re.S)
    assert recipe is not None
    script = "set -e\n" + html.unescape(key.group(2)) + "\n" + html.unescape(recipe.group(1))
    result = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "Signature Verified Successfully" in result.stdout
    assert lyon.key_id in result.stdout
