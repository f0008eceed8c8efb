"""The health checks of a report on the workshop's passport and on the new owner's: each check in
words with its verdict and the findings behind it, translated only through the hub's own
catalog, and a station's texts shown inert."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from agent.health import battery, cpu_load, disk, guided, memory, network, platform
from agent.health.model import FAIL, NOT_PRESENT, PASS, SKIPPED, WARN, CheckResult, Finding
from agent.i18n import N_
from hub.health_view import (
    CHECK_LABELS,
    DISK_CHECKS,
    SUBJECT_LABELS,
    VERDICT_LABELS,
    finding_text,
)
from hub.web import page_gettext
from tests.hub.helpers import Hub, account

SMART = Path(__file__).parents[1] / "fixtures" / "health" / "smart"
EVIDENCE_DIGEST = "9f" * 32
OPERATOR = "Health-Operator-Ines"


def _entry(result: CheckResult, evidence: str | None = None) -> dict[str, Any]:
    """A check as HealthPass.to_json writes it: the evidence file in place of the commands."""
    entry = result.to_json()
    entry["evidence"] = [] if evidence is None else [
        {"name": evidence, "sha256": EVIDENCE_DIGEST, "size_bytes": 2048}]
    return entry


def health_section() -> dict[str, Any]:
    """A run that found something in every way a check can end: a drive's real SMART data with
    reallocated sectors and many hours, a passed self-test, a cool processor, a cancelled memory
    test, no battery, a firmware password; and the stick's own SMART, which is not the
    machine's."""
    smart = disk.judge_smart(json.loads((SMART / "sata-hdd-wd4000fyyx-megaraid.json")
                                        .read_text()), "/dev/sda")
    assert smart.verdict == FAIL
    checks = [
        _entry(smart),
        _entry(CheckResult(disk.SELF_TEST_CHECK, "/dev/sda", PASS, (), {"kind": "short"}, 121.0),
               "health-disk_self_test-sda.json"),
        _entry(CheckResult(cpu_load.CHECK, cpu_load.SUBJECT, PASS, (),
                           {"rules": "cpu-cooling/1", "peak_celsius": 71.5}, 95.2)),
        _entry(CheckResult(memory.CHECK, memory.SUBJECT, SKIPPED, (Finding.of(
            "memory_test_cancelled", SKIPPED, N_("The memory test was cancelled")),), {}, None,
            operator=OPERATOR)),
        _entry(CheckResult(battery.CHECK, battery.SUBJECT, NOT_PRESENT, (Finding.of(
            "battery_not_present", NOT_PRESENT, N_("This machine has no battery")),), {}, None)),
        _entry(CheckResult(platform.CHECK, platform.SUBJECT, FAIL, (
            Finding.of("firmware_admin_password", FAIL, N_(
                "A firmware administrator password is set ({name}): the next owner cannot "
                "change the firmware's settings. Ask the donor for it and clear it."),
                threshold="firmware_admin_password_fail", name="Admin"),
            Finding.of("secure_boot_on", PASS, N_("Secure Boot is on"))), {}, 0.4)),
        _entry(CheckResult(disk.SMART_CHECK, "/dev/sdb", WARN, (Finding.of(
            "power_on_hours_high", WARN,
            N_("{device}: powered on for {hours} hours (about {years:.1f} years)"),
            device="/dev/sdb", hours=99999, years=11.4),), {}, None)),
    ]
    return {"verdict": FAIL, "checks": checks}


def submit(hub: Hub, report: dict[str, Any], station: Any) -> None:
    answer = hub.client.post("/api/v1/reports", json=station.sign(report))
    assert answer.status_code == 201, answer.text


def pages(hub: Hub, machine_id: str, language: str) -> tuple[str, str]:
    """The signed-in passport and the public one, in `language`."""
    _api, signed_in = account(hub, f"admin-{uuid.uuid4().hex[:8]}@example.org", "admin")
    passport = TestClient(hub.client.app, headers=signed_in).get(
        f"/machines/{machine_id}?lang={language}")
    assert passport.status_code == 200
    link = re.search(r"/p/[A-Za-z0-9_-]{20,}", passport.text)
    assert link is not None
    public = TestClient(hub.client.app).get(f"{link.group(0)}?lang={language}")
    assert public.status_code == 200
    return passport.text, public.text


def health_part(page: str) -> str:
    start = page.index("<h2>Health checks") if "<h2>Health checks" in page else page.index(
        "<h2>Contrôles")
    return page[start:page.index("<h2>", start + 4)]


def test_both_passports_show_each_check_its_verdict_and_findings_in_words(hub: Hub) -> None:
    station = hub.station("lyon-3", "Lyon")
    report = station.report("SER-HEALTH", health=health_section())
    report["excluded"].append({"path": "/dev/sdb", "code": "reeeboot_stick",
                               "reason": "the reeeboot stick"})
    submit(hub, report, station)
    assert "firmware_admin_password" in {reason["code"] for reason in report["grade"]["reasons"]}
    workshop, public = pages(hub, report["machine"]["identity"]["id"], "en")

    section = health_part(workshop)
    for words in ("Disk health (SMART)", "Disk self-test", "Processor and cooling", "Memory",
                  "Battery", "Locks that stop a donation",
                  "/dev/sda (WDC WD5000AAKX)", "Processor", "Firmware",
                  ">failed<", ">warning<", ">passed<", ">not checked<", ">not present<",
                  "/dev/sda: 387 reallocated sectors", "(about 4.3 years)",
                  "A firmware administrator password is set (Admin)",
                  "The memory test was cancelled", "This machine has no battery",
                  "firmware_admin_password_fail", "ata_reallocated_fail_above_10",
                  "health-disk_self_test-sda.json", EVIDENCE_DIGEST, "2.0 kB", OPERATOR,
                  "2 min", "95 s", "peak_celsius", "/dev/sdb"):
        assert words in section, words
    assert "Secure Boot is on" not in section  # a finding that passed says nothing
    assert 'Health checks: <strong class="bad">failed</strong>' in workshop

    section = health_part(public)
    for words in ("Disk health (SMART)", "Disk self-test", "Processor and cooling", "Memory",
                  "Battery", "Locks that stop a donation", "WDC WD5000AAKX",
                  ">failed<", ">warning<", ">passed<", ">not checked<", ">not present<",
                  "/dev/sda: 387 reallocated sectors", "(about 4.3 years)",
                  "A firmware administrator password is set (Admin)"):
        assert words in section, words
    # Only what is wrong: no skipped or absent findings, no limits' names, nothing of the
    # workshop's records, and not the stick's disk.
    for words in ("The memory test was cancelled", "This machine has no battery",
                  "Secure Boot is on", "firmware_admin_password_fail", "/dev/sdb", "99999"):
        assert words not in section, words
    for secret in (EVIDENCE_DIGEST, "health-disk_self_test", OPERATOR, "peak_celsius"):
        assert secret not in public, secret
    assert '<th>Health checks</th><td><strong class="bad">failed</strong>' in public


def test_french_pages_translate_findings_the_catalog_knows(hub: Hub) -> None:
    station = hub.station("lyon-3", "Lyon")
    report = station.report("SER-HEALTH-FR", health=health_section())
    submit(hub, report, station)
    for page in pages(hub, report["machine"]["identity"]["id"], "fr"):
        for words in ("Mémoire", "Batterie", ">échec<", ">réussie<",
                      "/dev/sda : 387 secteurs réalloués",
                      "allumé pendant 37 788 heures (environ 4,3 ans)",
                      "Un mot de passe administrateur du micrologiciel est défini (Admin)"):
            assert words in page, words
        assert "387 reallocated sectors" not in page


def test_a_report_without_health_checks_still_renders(hub: Hub) -> None:
    station = hub.station("lyon-3", "Lyon")
    report = station.report("SER-NO-HEALTH")
    assert report["health"] is None
    submit(hub, report, station)
    older = station.old_report("SER-OLDER")
    assert "health" not in older
    hub.store_directly(station, older)
    machine_ids = [report["machine"]["identity"]["id"],
                   next(machine["machine_id"] for machine in hub.store.machines()
                        if machine["machine_id"] != report["machine"]["identity"]["id"])]
    for machine_id in machine_ids:
        for page in pages(hub, machine_id, "en"):
            assert "No health check in this report." in page
            assert "<th>Health checks</th>" not in page and "Health checks: <strong" not in page


# A station's texts built to break out of the page or to make the hub write a huge text: a
# message the catalog does not know with a width, one it knows with values that are markup or
# format fields, values that do not fit their message, and the empty message (whose gettext is
# the catalog's header).
HOSTILE_TEXT = '<script>alert("finding")</script>{x:>999999999}{0}%s'
HOSTILE_VALUE = '<img src=x onerror=alert(1)>{count:>999999999}'


def hostile_health() -> dict[str, Any]:
    def finding(message: str, values: dict[str, Any], text: str = HOSTILE_TEXT) -> dict[str, Any]:
        return {"code": "hostile", "verdict": FAIL, "text": text, "message": message,
                "threshold": None, "values": values}

    findings = [
        finding("{x:>999999999}", {"x": 1}),
        finding("{device}: {count} reallocated sectors",
                {"device": HOSTILE_VALUE, "count": "{count:>999999999}"}, "known message"),
        finding("{device}: powered on for {hours} hours (about {years:.1f} years)",
                {"device": "/dev/sda", "hours": 1, "years": "many"}, "values that do not fit"),
        finding("{device}: {count} reallocated sectors", {"device": "/dev/sda"}, "one missing"),
        finding("", {}, "empty message"),
    ]
    return {"verdict": FAIL, "checks": [{
        "check": "disk_smart", "subject": '<b onmouseover="x">/dev/sda</b>{0:>99999}',
        "verdict": FAIL, "findings": findings, "measured": {"<i>key</i>": "<u>value</u>"},
        "seconds": 1.0, "operator": "<script>operator</script>",
        "evidence": [{"name": "<svg onload=x>", "sha256": EVIDENCE_DIGEST, "size_bytes": 1}]}]}


def test_hostile_finding_texts_are_shown_inert(hub: Hub) -> None:
    station = hub.station("lyon-3", "Lyon")
    report = station.report("SER-HOSTILE", health=hostile_health())
    submit(hub, report, station)
    machine_id = report["machine"]["identity"]["id"]
    for language in ("en", "fr"):
        for page in pages(hub, machine_id, language):
            assert "<script" not in page and "<img" not in page and "<b " not in page
            assert "<svg onload" not in page and "<i>key" not in page and "<u>" not in page
            assert "&lt;script&gt;alert(&#34;finding&#34;)&lt;/script&gt;{x:&gt;999999999}" \
                   "{0}%s" in page
            assert len(page) < 100_000 and " " * 1000 not in page
            assert "Project-Id-Version" not in page
    french_workshop, french_public = pages(hub, machine_id, "fr")
    for page in (french_workshop, french_public):
        # The known message is translated, its values filled in as they are.
        assert "&lt;img src=x onerror=alert(1)&gt;{count:&gt;999999999} : " \
               "{count:&gt;999999999} secteurs réalloués" in page
        assert "values that do not fit" in page and "one missing" in page
    english, _public = pages(hub, machine_id, "en")
    assert "known message" in english and "empty message" in english


def test_a_finding_is_translated_only_through_the_catalog() -> None:
    french = page_gettext("fr")
    known = {"code": "c", "verdict": WARN, "text": "English",
             "message": "{device}: powered on for {hours} hours (about {years:.1f} years)",
             "threshold": None, "values": {"device": "/dev/sda", "hours": 17532, "years": 2.0}}
    assert finding_text(known, french, "fr") == \
        "/dev/sda : allumé pendant 17 532 heures (environ 2,0 ans)"
    assert finding_text(known, page_gettext("en"), "en") == "English"
    for changed in ({"message": "Not in any catalog {x}"}, {"message": ""}, {"message": None},
                    {"values": None}, {"values": {"device": "/dev/sda"}},
                    {"values": {"device": [1], "hours": True, "years": "2"}}):
        assert finding_text({**known, **changed}, french, "fr") == "English", changed
    # A list or a yes/no fills a field as its plain text.
    assert finding_text({**known, "values": {"device": ["a", 1], "hours": None, "years": 1.25}},
                        french, "fr") == '["a",1] : allumé pendant None heures (environ 1,2 ans)'

    # Even the catalog's own text may not let a value pick a width, an attribute or an index.
    def nested(message: str) -> str:
        return {"a": "{x:{y}}", "b": "{x.real}", "c": "{x[0]}", "d": "{0}"}.get(message, message)

    for message in "abcd":
        found = {**known, "message": message, "values": {"x": 1, "y": ">999999999"}}
        assert finding_text(found, nested, "fr") == "English", message


def test_the_checks_named_in_words_are_the_agents() -> None:
    assert set(CHECK_LABELS) == {disk.SMART_CHECK, disk.SELF_TEST_CHECK, cpu_load.CHECK,
                                 memory.CHECK, battery.CHECK, platform.CHECK, network.CHECK,
                                 *guided.GUIDED_CHECKS}
    assert set(guided.SUBJECTS.values()) <= set(SUBJECT_LABELS)
    assert set(DISK_CHECKS) == {disk.SMART_CHECK, disk.SELF_TEST_CHECK}
    from agent.health.model import VERDICTS

    assert set(VERDICT_LABELS) == set(VERDICTS)


def test_a_malformed_health_section_is_shown_as_far_as_it_goes() -> None:
    """A report stored without today's schema check (an earlier hub, a test) may hold anything
    in `health`: the pages show what they can read and never fail."""
    from hub.health_view import health_section

    english = page_gettext("en")
    malformed: tuple[Any, ...] = (
        None, "fail", [], {}, {"checks": "x"}, {"verdict": 3, "checks": [1, None]},
        {"checks": [{"check": None, "findings": "x", "evidence": [1], "measured": "text",
                     "seconds": "long", "operator": ""}]},
        {"checks": [{"check": "new_check", "subject": "/dev/sdz", "verdict": "odd",
                     "findings": [{"verdict": "warn", "text": None, "message": 5, "values": []}],
                     "seconds": True}]})
    for health in malformed:
        for public in (False, True):
            shown = health_section({"health": health, "machine": None, "excluded": "x"},
                                   english, "en", public=public)
            assert (shown is None) == (not isinstance(health, dict)), health
    shown = health_section({"health": {"checks": [{"check": "new_check", "subject": "/dev/sdz",
                                                   "verdict": "odd", "findings": []}]}},
                           english, "en")
    assert shown is not None
    [check] = shown.checks
    assert (check.check, check.subject, check.verdict_label) == ("new_check", "/dev/sdz", "odd")
