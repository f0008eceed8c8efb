"""The new owner's passport: a public, unguessable, revocable link per workshop machine that
shows what a new owner may see, in words, and nothing of the workshop's own records."""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hub.app import create_app
from tests.hub.helpers import Hub, erased

LINK = re.compile(r"/p/([A-Za-z0-9_-]{20,})")


def browser(hub: Hub, **options: Any) -> TestClient:
    return TestClient(hub.client.app, **options)


def public_link(client: TestClient, machine_id: str) -> str:
    """The public link the signed-in passport shows (and encodes in its QR code)."""
    page = client.get(f"/machines/{machine_id}")
    assert page.status_code == 200, page.text
    found = set(LINK.findall(page.text))
    assert len(found) == 1, found
    return f"/p/{found.pop()}"


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


# Values that must never reach the public page, each written so that it cannot occur by chance.
SECRETS = {
    "operator": "Operator-Zoe-Quintal",
    "system serial": "SYS-SERIAL-7731",
    "system uuid": "uuid-4c4c-0058-secret",
    "system sku": "SKU-SECRET-06DC",
    "board serial": "BOARD-SERIAL-5521",
    "chassis serial": "CHASSIS-SERIAL-19",
    "chassis asset tag": "CHASSIS-TAG-88",
    "disk serial": "DISK-SERIAL-A1",
    "second disk serial": "DISK-SERIAL-B2",
    "disk wwn": "0x5002538dsecret",
    "memory module serial": "DIMM-SERIAL-66",
    "network address": "00:25:90:aa:bb:cc",
    "battery serial": "BATT-SERIAL-12",
    "screen serial": "EDID-SERIAL-3",
    "windows product key": "WINKEY-SECRET-PRODUCT",
    "evidence file": "dmidecode-secret.txt",
    "evidence digest": "cd" * 32,
    "erasure evidence digest": "ab" * 32,
    "image digest": "ef" * 32,
    "ereuse hardware id": "ereuse-hid-secret",
    "machine id": "rb1-machine-secret-0042",
    "installed hostname": "host-secret-rb",
}


def rich_report(hub: Hub, station_name: str = "station-kappa-19",
                workshop: str = "Atelier Lyon") -> tuple[Any, dict[str, Any]]:
    """A report with one of each part the public page shows, and a distinctive value in every
    field it must leave out."""
    station = hub.station(station_name, workshop)
    report = station.report("SER-RICH", erasures=[
        erased(SECRETS["disk serial"]),
        erased(SECRETS["second disk serial"], "/dev/nvme0n1", method="nvme-sanitize-crypto",
               level="purge")])
    report["operator"] = SECRETS["operator"]
    machine = report["machine"]
    machine["system"].update(serial=SECRETS["system serial"], uuid=SECRETS["system uuid"],
                             sku=SECRETS["system sku"], family="OptiPlex", chassis={
                                 "type": "Desktop", "vendor": "Dell Inc.",
                                 "serial": SECRETS["chassis serial"],
                                 "asset_tag": SECRETS["chassis asset tag"]})
    machine["board"] = {"vendor": "Dell Inc.", "product": "0GY6Y8", "version": "A00",
                        "serial": SECRETS["board serial"]}
    machine["firmware"] = {"vendor": "Dell Inc.", "version": "A29", "release_date": "2018-06-13",
                           "uefi_capable": True, "mode": "uefi", "uefi_bits": 64,
                           "secure_boot": "disabled"}
    machine["memory"]["modules"] = [{
        "locator": "DIMM1", "bank": "BANK 0", "size_bytes": 8 << 30, "type": "DDR3",
        "speed_mts": 1600, "configured_speed_mts": 1600, "manufacturer": "Hynix",
        "part_number": "HMT41GU6", "serial": SECRETS["memory module serial"],
        "form_factor": "DIMM"}]
    machine["memory"]["empty_slots"] = 3
    disk = machine["disks"][0]
    disk.update(serial=SECRETS["disk serial"], wwn=SECRETS["disk wwn"])
    machine["disks"].append({**disk, "name": "nvme0n1", "path": "/dev/nvme0n1", "bus": "nvme",
                             "model": "SAMSUNG MZVLB256", "serial": SECRETS["second disk serial"],
                             "size_bytes": 256_060_514_304, "rotational": False, "wwn": None})
    machine["gpus"] = [{"slot": "0000:00:02.0", "pci_id": "8086:0152", "subsystem_id": None,
                        "pci_class": 0x030000, "vendor": "Intel Corporation",
                        "model": "Xeon E3-1200 v2 Graphics", "driver": "i915",
                        "boot_vga": True}]
    machine["network"] = [{"name": "wlp2s0", "mac": SECRETS["network address"],
                           "kind": "wireless", "driver": "iwlwifi", "bus": "pci",
                           "vendor": "Intel Corporation", "model": "Centrino Advanced-N 6235",
                           "device_id": "8086:088e", "hardware_path": "pci-0000:02:00.0"}]
    machine["battery"] = [{"name": "BAT0", "manufacturer": "SMP", "model": "DELL GG4FM63",
                           "serial": SECRETS["battery serial"], "technology": "Li-ion",
                           "status": "Full", "design_capacity_wh": 55.0,
                           "full_capacity_wh": 48.0, "health_percent": 87.3,
                           "cycle_count": 312}]
    machine["display"] = [{"card": "card0", "connector": "eDP-1", "connector_type": "eDP",
                           "built_in": True, "connected": True, "edid": {
                               "version": "1.4", "manufacturer_id": "LGD",
                               "manufacturer": "LG Display", "product_code": 1234,
                               "serial_number": 987654321, "manufacture_week": 1,
                               "manufacture_year": 2016, "year_is_model_year": False,
                               "digital": True, "width_cm": 31, "height_cm": 17,
                               "diagonal_inches": 14.0, "native": {
                                   "width": 1920, "height": 1080, "refresh_hz": 60.0,
                                   "pixel_clock_khz": 138500, "image_width_mm": 309,
                                   "image_height_mm": 174, "interlaced": False},
                               "name": "LP140WF6", "serial_text": SECRETS["screen serial"],
                               "text": ["LG Display"], "extension_count": 0}}]
    machine["tpm"] = {"present": True, "version": "2.0", "evidence": "sysfs",
                      "smbios_version": "2.0"}
    machine["windows_licence"] = {"present": True, "key_sha256": None,
                                  "product_key": SECRETS["windows product key"]}
    machine["identity"].update(id=SECRETS["machine id"], ereuse_hid=SECRETS["ereuse hardware id"])
    machine["evidence"] = [{"name": SECRETS["evidence file"], "sha256": SECRETS["evidence digest"],
                            "size_bytes": 17}]
    report["benchmarks"] = {
        "cpu": {"algorithm": "sha256", "single_core_bytes_per_second": 412_000_000,
                "all_cores_bytes_per_second": 1_600_000_000, "workers": 4, "seconds": 2.0},
        "memory": {"copy_bytes_per_second": 9_100_000_000, "buffer_bytes": 1 << 26,
                   "seconds": 1.0},
        "disks": [{"path": "/dev/sda", "serial": SECRETS["disk serial"],
                   "model": "WDC WD5000AAKX", "result": "measured",
                   "read_bytes_per_second": 131_000_000, "bytes_read": 1 << 30,
                   "seconds": 8.0, "direct_io": True, "error": None}]}
    report["install"] = {
        "result": "installed", "error": None,
        "image": {"name": "debian-xfce", "version": "12.8", "sha256": SECRETS["image digest"],
                  "source": "stick"},
        "target": {"path": "/dev/nvme0n1", "serial": SECRETS["second disk serial"],
                   "model": "SAMSUNG MZVLB256", "size_bytes": 256_060_514_304,
                   "reason": "the fastest disk"},
        "bytes_written": 4 << 30, "seconds": 60.0,
        "verification": {"result": "passed", "bytes_checked": 4 << 30, "first_mismatch": None},
        "boot_mode": "uefi", "hostname": SECRETS["installed hostname"], "bootloader": None,
        "post_install_check": {"result": "passed", "problems": [], "files_verified": 1200},
        "grow": None, "identity": {"firstboot_questions": True, "ssh_host_keys_removed": True}}
    hub.store_directly(station, report)
    return station, report


def test_the_public_link_works_without_a_session_and_is_not_indexed(hub: Hub) -> None:
    station = hub.station("lyon-3", "Lyon")
    report = station.report("SER-PUB")
    assert hub.client.post("/api/v1/reports", json=station.sign(report)).status_code == 201
    person = browser(hub)
    hub.login(person, hub.person("lyon@example.org", "workshop", "Lyon"))
    link = public_link(person, report["machine"]["identity"]["id"])

    stranger = browser(hub)
    page = stranger.get(link)
    assert page.status_code == 200
    assert "OptiPlex 7010" in page.text and "Lyon" in page.text
    assert "Processeur" in page.text and "Fabricant" in page.text  # French by default
    assert "noindex" in page.headers["x-robots-tag"]
    assert '<meta name="robots" content="noindex' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "<script" not in page.text
    english = stranger.get(f"{link}?lang=en")
    assert english.status_code == 200 and "Processor" in english.text
    # Seeing it signs nobody in.
    assert stranger.get("/live", follow_redirects=False).status_code == 303
    # The link stays the same from one visit of the passport to the next.
    assert public_link(person, report["machine"]["identity"]["id"]) == link


def test_the_public_page_names_parts_in_words_and_never_the_workshops_records(hub: Hub) -> None:
    station, report = rich_report(hub)
    admin = browser(hub)
    hub.login(admin, hub.person("admin@example.org"))
    link = public_link(admin, SECRETS["machine id"])
    english = browser(hub).get(f"{link}?lang=en").text
    french = browser(hub).get(link).text

    for words in (
            "Dell Inc.", "OptiPlex 7010", "Atelier Lyon", "RB-SER-RICH",  # the sticker's number
            "Highest frequency", "3600 MHz", "Intel(R) Core(TM) i5-3470", "8.6 GB",
            "WDC WD5000AAKX", "536.9 GB", "SAMSUNG MZVLB256", "256.1 GB", "SSD", "NVMe",
            "Xeon E3-1200 v2 Graphics", "Centrino Advanced-N 6235", "Wi-Fi",
            "87 %", "312", "14.0", "1920 x 1080",
            "overwrite (random pass)", "NVMe sanitize, cryptographic erase", "Purge", "Clear",
            "debian-xfce", "12.8", "500 kg", "3 500 L", "1.5 kg",
            "412.0 MB/s", "131.0 MB/s", "Grade", f">{report['grade']['value']}<"):
        assert words in english, words
    assert report["created_at"][:10] in english
    for words in ("Processeur", "Fréquence la plus haute", "Fabricant", "Mémoire", "Modèle"):
        assert words in french, words
    for key in ("max_mhz", "frequency_source", "total_bytes", "size_bytes", "smart_health",
                "single_core_bytes_per_second", "health_percent", "diagonal_inches",
                "nvme-sanitize-crypto", "microarchitecture_level", "cpu.", "system."):
        assert key not in english, key
    never = {**SECRETS, "station": station.name, "key id": station.key_id,
             "report id": report["report_id"]}
    for name, value in never.items():
        assert value not in english and value not in french, name
        assert value.lower() not in english.lower(), name


def test_the_station_is_answered_with_the_public_passport_url(hub: Hub) -> None:
    station = hub.station("lyon-3", "Lyon")
    report = station.report("SER-ANSWER")
    public = TestClient(create_app(hub.store, public_url="https://hub.example.org/"),
                        headers={"host": "evil.example"})
    first = public.post("/api/v1/reports", json=station.sign(report))
    assert first.status_code == 201
    url = first.json()["passport_url"]
    assert url.startswith("https://hub.example.org/p/")
    again = public.post("/api/v1/reports", json=station.sign(report))
    assert again.status_code == 200 and again.json()["passport_url"] == url
    # A later report of the same machine keeps the same link.
    later = station.report("SER-ANSWER")
    assert public.post("/api/v1/reports", json=station.sign(later)).json()["passport_url"] == url
    hub.login(public, hub.person("lyon@example.org", "workshop", "Lyon"))
    assert public_link(public, report["machine"]["identity"]["id"]) == url.removeprefix(
        "https://hub.example.org")
    assert "evil.example" not in public.get(
        f"/machines/{report['machine']['identity']['id']}").text
    assert browser(hub).get(url.removeprefix("https://hub.example.org")).status_code == 200
    # A hub without a public address does not know what address to give.
    other = station.report("SER-NO-URL")
    answer = hub.client.post("/api/v1/reports", json=station.sign(other))
    assert answer.status_code == 201 and "passport_url" not in answer.json()


def test_a_withdrawn_link_answers_404_and_its_replacement_works(
        hub: Hub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="reeeboot.hub.audit")
    station = hub.station("lyon-3", "Lyon")
    report = station.report("SER-W")
    assert hub.client.post("/api/v1/reports", json=station.sign(report)).status_code == 201
    machine_id = report["machine"]["identity"]["id"]
    person = browser(hub)
    csrf = hub.login(person, hub.person("lyon@example.org", "workshop", "Lyon"))
    old = public_link(person, machine_id)
    token = old.removeprefix("/p/")
    action = f"/machines/{machine_id}/public-link/withdraw"
    assert f'action="{action}"' in person.get(f"/machines/{machine_id}").text

    refused = person.post(action, data={"csrf_token": "guess", "token": token})
    assert refused.status_code == 403
    assert browser(hub).get(old).status_code == 200
    assert browser(hub).post(action, data={"csrf_token": csrf, "token": token},
                             follow_redirects=False).status_code == 303  # to the sign-in form
    assert browser(hub).get(old).status_code == 200

    done = person.post(action, data={"csrf_token": csrf, "token": token},
                       follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/machines/{machine_id}"
    gone = browser(hub).get(old)
    assert gone.status_code == 404 and "withdrawn" in browser(hub).get(f"{old}?lang=en").text
    assert "OptiPlex" not in gone.text
    new = public_link(person, machine_id)
    assert new != old and browser(hub).get(new).status_code == 200
    [logged] = [json.loads(record.getMessage()) for record in caplog.records
                if record.name == "reeeboot.hub.audit" and "public_link" in record.getMessage()]
    assert logged["event"] == "public_link_withdrawn" and logged["by"] == "lyon@example.org"
    assert token not in caplog.text  # a live or withdrawn link is never written to the log
    # The same form sent twice withdraws nothing more: the new link stays.
    again = person.post(action, data={"csrf_token": csrf, "token": token},
                        follow_redirects=False)
    assert again.status_code == 303
    assert public_link(person, machine_id) == new and browser(hub).get(new).status_code == 200


def test_another_workshops_links_neither_leak_nor_can_be_withdrawn(hub: Hub) -> None:
    lyon, nantes = hub.station("lyon-3", "Lyon"), hub.station("nantes-1", "Nantes")
    # The same PC through both workshops: one passport, and one link, in each.
    ours = lyon.report("SER-BOTH", asset_id="RB-LYON-1")
    theirs = nantes.report("SER-BOTH", asset_id="RB-NANTES-1")
    machine_id = ours["machine"]["identity"]["id"]
    assert theirs["machine"]["identity"]["id"] == machine_id
    for station, report in ((lyon, ours), (nantes, theirs)):
        assert hub.client.post("/api/v1/reports", json=station.sign(report)).status_code == 201
    lyon_person, nantes_person = browser(hub), browser(hub)
    lyon_csrf = hub.login(lyon_person, hub.person("lyon@example.org", "workshop", "Lyon"))
    hub.login(nantes_person, hub.person("nantes@example.org", "workshop", "Nantes"))
    lyon_link = public_link(lyon_person, machine_id)
    nantes_link = public_link(nantes_person, machine_id)
    assert lyon_link != nantes_link

    lyon_page, nantes_page = browser(hub).get(lyon_link).text, browser(hub).get(nantes_link).text
    assert "RB-LYON-1" in lyon_page and "Nantes" not in lyon_page
    assert "RB-NANTES-1" in nantes_page and "Lyon" not in nantes_page
    assert "RB-NANTES-1" not in lyon_page and "RB-LYON-1" not in nantes_page
    assert nantes_link.removeprefix("/p/") not in lyon_person.get(f"/machines/{machine_id}").text

    # Lyon sends Nantes's token on its own machine's form, and on a machine it does not have.
    action = f"/machines/{machine_id}/public-link/withdraw"
    lyon_person.post(action, data={"csrf_token": lyon_csrf,
                                   "token": nantes_link.removeprefix("/p/")})
    assert browser(hub).get(nantes_link).status_code == 200
    assert public_link(lyon_person, machine_id) == lyon_link
    only_nantes = nantes.report("SER-NANTES-ONLY")
    assert hub.client.post("/api/v1/reports", json=nantes.sign(only_nantes)).status_code == 201
    other_id = only_nantes["machine"]["identity"]["id"]
    other_link = public_link(nantes_person, other_id)
    refused = lyon_person.post(f"/machines/{other_id}/public-link/withdraw",
                               data={"csrf_token": lyon_csrf,
                                     "token": other_link.removeprefix("/p/")})
    assert refused.status_code == 404
    assert browser(hub).get(other_link).status_code == 200


def test_a_guessed_token_answers_404(hub: Hub) -> None:
    station = hub.station("lyon-3", "Lyon")
    report = station.report("SER-G")
    assert hub.client.post("/api/v1/reports", json=station.sign(report)).status_code == 201
    machine_id = report["machine"]["identity"]["id"]
    admin = browser(hub)
    hub.login(admin, hub.person("admin@example.org"))
    token = public_link(admin, machine_id).removeprefix("/p/")
    assert len(token) >= 22  # at least 128 bits in base64url
    stranger = browser(hub)
    for guess in (secrets.token_urlsafe(24), token[:-1], token.upper() if token.upper() != token
                  else token.lower(), machine_id, report["report_id"], "x" * 5000, "%00"):
        answer = stranger.get(f"/p/{guess}")
        assert answer.status_code == 404, guess
        assert "OptiPlex" not in answer.text
    assert stranger.get(f"/p/{token}").status_code == 200


def test_hostile_strings_come_back_escaped(hub: Hub) -> None:
    station = hub.station("lyon-3", "Lyon")
    report = station.report("SER-H")
    report["machine"]["system"]["vendor"] = '<script>alert("vendor")</script>'
    report["machine"]["cpu"]["model"] = '"><img src=x onerror=alert(1)>'
    assert hub.client.post("/api/v1/reports", json=station.sign(report)).status_code == 201
    admin = browser(hub)
    hub.login(admin, hub.person("admin@example.org"))
    page = browser(hub).get(public_link(admin, report["machine"]["identity"]["id"])).text
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;" in page and "&lt;img src=x" in page


def test_one_live_link_however_many_ask_at_once(hub: Hub) -> None:
    station = hub.station("lyon-3", "Lyon")
    report = station.report("SER-C")
    assert hub.client.post("/api/v1/reports", json=station.sign(report)).status_code == 201
    workshop_id = hub.store.workshop_id("Lyon")
    machine_id = report["machine"]["identity"]["id"]
    tokens: list[str] = []
    start = threading.Barrier(8)

    def ask() -> None:
        start.wait()
        tokens.append(hub.store.public_link(workshop_id, machine_id))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(tokens) == 8 and len(set(tokens)) == 1



def test_an_old_report_without_optional_parts_still_has_a_public_page(hub: Hub) -> None:
    station = hub.station("lyon-3", "Lyon")
    report = station.old_report("SER-OLD")
    hub.store_directly(station, report)
    [machine] = hub.store.machines()
    admin = browser(hub)
    hub.login(admin, hub.person("admin@example.org"))
    page = browser(hub).get(f"{public_link(admin, machine['machine_id'])}?lang=en")
    assert page.status_code == 200
    assert "No disk was erased." in page.text and "reuse avoids" not in page.text
