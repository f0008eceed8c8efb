"""The grade on the workshop's passport and on the new owner's: the label, the grade's parts in
the agent's own words (translated by the hub's catalog), the rules' version and the reasons
grouped by part on the workshop's; older reports as before; a station's texts shown inert."""

from __future__ import annotations

import dataclasses
from typing import Any

from agent.health import battery, cpu_load, disk, guided, memory
from agent.health.model import PASS, WARN, CheckResult, Finding
from agent.i18n import N_
from agent.inventory.battery import Battery
from agent.report import grade as table
from agent.report.labels import (
    BATTERY_WORDS,
    COSMETIC_WORDS,
    FUNCTIONAL_WORDS,
    PERFORMANCE_WORDS,
)
from hub.grade_view import GRADES, PART_LABELS, grade_section
from hub.web import page_gettext
from tests.hub.helpers import Hub, machine_with
from tests.hub.test_health_pages import pages, submit

HOURS = 40_000


def laptop(serial: str) -> Any:
    """The tests' desktop with a battery that holds 65 % of its design capacity (band B)."""
    machine = machine_with(serial)
    worn = Battery("BAT0", "SMP", "DELL GG4FM63", "BATT-1", "Li-ion", "Full", 55.0, 35.75, 65.0,
                   None)
    return dataclasses.replace(machine, peripherals=dataclasses.replace(
        machine.peripherals, batteries=(worn,)))


def checked(machine: Any) -> dict[str, Any]:
    """A run where every function works: the disk's SMART data shows many hours (a warning),
    its self-test, the processor, the memory and the battery (worn: a warning) were checked."""
    hours = Finding.of("power_on_hours_high", WARN,
                       N_("{device}: powered on for {hours} hours (about {years:.1f} years)"),
                       threshold=disk.T_POWER_ON_HOURS_WARN, device="/dev/sda", hours=HOURS,
                       years=HOURS / disk.HOURS_PER_YEAR)
    results = [
        CheckResult(disk.SMART_CHECK, "/dev/sda", WARN, (hours,), {}, 0.2),
        CheckResult(disk.SELF_TEST_CHECK, "/dev/sda", PASS, (), {"kind": "short"}, 121.0),
        CheckResult(cpu_load.CHECK, cpu_load.SUBJECT, PASS, (), {}, 95.0),
        CheckResult(memory.CHECK, memory.SUBJECT, PASS, (), {}, 600.0),
        CheckResult(battery.CHECK, battery.SUBJECT, WARN,
                    tuple(battery.judge_wear(machine.peripherals.batteries)), {}, 1.0),
    ]
    return {"verdict": WARN, "checks": [{**result.to_json(), "evidence": []}
                                        for result in results]}


def graded(hub: Hub, serial: str) -> tuple[dict[str, Any], str]:
    station = hub.station("lyon-3", "Lyon")
    machine = laptop(serial)
    report = station.report(serial, machine=machine, health=checked(machine))
    submit(hub, report, station)
    return report, report["machine"]["identity"]["id"]


def grade_part(page: str) -> str:
    """The signed-in passport's grade section."""
    start = page.index('<table class="grade">')
    return page[start:page.index("<h2>", start)]


def public_grade(page: str) -> str:
    start = page.index("<tr><th>Grade</th>") if "<tr><th>Grade</th>" in page else page.index(
        "<tr><th>Catégorie</th>")
    return page[start:page.index("</tr>", start)]


def test_both_passports_say_the_grade_in_words(hub: Hub) -> None:
    report, machine_id = graded(hub, "SER-GRADE")
    grade = report["grade"]
    assert (grade["rules"], grade["value"], grade["functional"], grade["performance"],
            grade["battery"]) == ("grade/2", "B", "F4", "P2", "B")
    workshop, public = pages(hub, machine_id, "en")

    section = grade_part(workshop)
    for words in ("<th>Grade</th><td><strong>B</strong>",
                  "<th>Functional state</th><td><strong>F4</strong> (every function tested "
                  "works)",
                  "<th>Performance class</th><td><strong>P2</strong> (runs current software, "
                  "more slowly)",
                  "<th>Battery</th><td><strong>B</strong> (50 to 80 % of its capacity left)",
                  "<th>Grading rules</th><td><code>grade/2</code>"):
        assert words in section, words
    # Each reason with its part and the letter it allows, grouped by part in the table's order.
    reasons = ['<span class="muted">performance, allows B</span>: processor is x86-64 level 2',
               '<span class="muted">performance, allows B</span>: only spinning hard disks',
               '<span class="muted">battery, allows B</span>: battery BAT0: 65 % of design '
               "capacity",
               '<span class="muted">wear, allows B</span>: /dev/sda: powered on for 40000 hours '
               "(about 4.6 years)"]
    positions = [section.index(reason) for reason in reasons]
    assert positions == sorted(positions)
    assert "Grade: <strong>B</strong>" in workshop

    row = public_grade(public)
    for words in ("<strong>B</strong>", "processor is x86-64 level 2; only spinning hard disks",
                  "Functional state: <strong>F4</strong> (every function tested works)",
                  "Performance class: <strong>P2</strong> (runs current software, more slowly)",
                  "Battery: <strong>B</strong> (50 to 80 % of its capacity left)"):
        assert words in row, words
    # The new owner reads the short list: no rules' version, no letter per rule.
    assert "grade/2" not in public and "allows" not in public


def test_the_french_passports_translate_the_hubs_words_only(hub: Hub) -> None:
    _report, machine_id = graded(hub, "SER-GRADE-FR")
    workshop, public = pages(hub, machine_id, "fr")
    section = grade_part(workshop)
    for words in ("<th>Catégorie</th><td><strong>B</strong>",
                  "<th>État de fonctionnement</th><td><strong>F4</strong> (toutes les fonctions "
                  "testées fonctionnent)",
                  "<th>Classe de performance</th><td><strong>P2</strong> (fait tourner les "
                  "logiciels actuels, plus lentement)",
                  "<th>Batterie</th><td><strong>B</strong> (50 à 80 % de sa capacité restante)",
                  "<th>Règles de classement</th><td><code>grade/2</code>",
                  # A reason is the station's English text...
                  '<span class="muted">performances, au mieux B</span>: processor is x86-64 '
                  "level 2",
                  # ...but one that repeats a health finding is shown as the finding is.
                  '<span class="muted">usure, au mieux B</span>: /dev/sda : allumé pendant '
                  "40 000 heures (environ 4,6 ans)"):
        assert words in section, words
    row = public_grade(public)
    for words in ("État de fonctionnement: <strong>F4</strong> (toutes les fonctions testées "
                  "fonctionnent)",
                  "Batterie: <strong>B</strong> (50 à 80 % de sa capacité restante)",
                  "processor is x86-64 level 2"):
        assert words in row, words
    for page in (workshop, public):
        assert "every function tested works" not in page and "powered on for" not in page


def test_the_guided_checks_and_the_cosmetic_code_are_shown_in_words(hub: Hub) -> None:
    """A person answered the guided checks: each is a row of the health table with who
    answered it, and the appearance they chose is the grade's cosmetic code, in words."""
    station = hub.station("lyon-3", "Lyon")
    machine = laptop("SER-GUIDED")
    health = checked(machine)
    answers = [guided.passed(check, operator="Atelier Lyon", seconds=12.0)
               for check in guided.GUIDED_CHECKS if check != guided.APPEARANCE]
    answers.append(guided.passed(guided.APPEARANCE, operator="Atelier Lyon", seconds=5.0,
                                 measured={"cosmetic": "C3"}))
    health["checks"] += [{**answer.to_json(), "evidence": []} for answer in answers]
    report = station.report("SER-GUIDED", machine=machine, health=health)
    submit(hub, report, station)
    assert (report["grade"]["cosmetic"], report["grade"]["functional"]) == ("C3", "F5")
    workshop, public = pages(hub, report["machine"]["identity"]["id"], "en")
    assert "<th>Appearance</th><td><strong>C3</strong> (visible wear)" in grade_part(workshop)
    assert '<span class="muted">appearance, allows B</span>: appearance C3' in grade_part(
        workshop)
    assert "Appearance: <strong>C3</strong> (visible wear)" in public_grade(public)
    for words in ("Keyboard, key by key", "Screen: colours, dead pixels, backlight",
                  "Speakers and microphone", "USB ports", "Touchpad"):
        assert words in workshop and words in public, words
    assert workshop.count("Operator: Atelier Lyon") >= len(guided.GUIDED_CHECKS)


def test_the_words_are_the_agents_and_every_part_has_a_name() -> None:
    french = page_gettext("fr")
    for words in (FUNCTIONAL_WORDS, PERFORMANCE_WORDS, BATTERY_WORDS, COSMETIC_WORDS):
        for text in words.values():
            assert french(text) != text, text
    assert set(PART_LABELS) == {table.FUNCTIONAL, table.PERFORMANCE, table.BATTERY, table.LOCKS,
                                table.WEAR, table.COSMETIC}
    assert GRADES == table.GRADES


def test_older_reports_show_the_letter_and_reasons_as_before(hub: Hub) -> None:
    station = hub.station("lyon-3", "Lyon")
    # Made by the rules of grade/1: a letter and reasons with a code and a text, nothing more.
    older = station.report("SER-GRADE-1")
    older["grade"] = {"value": "C", "reasons": [
        {"code": "memory_under_4_gib", "text": "3.8 GiB of memory, under 4 GiB"},
        {"code": "hard_disk_only", "text": "only spinning hard disks"}]}
    older.pop("health")
    hub.store_directly(station, older)
    oldest = station.old_report("SER-GRADE-0")  # no grade at all
    hub.store_directly(station, oldest)
    machine_ids = [machine["machine_id"] for machine in hub.store.machines()]
    assert len(machine_ids) == 2
    for machine_id in machine_ids:
        for language in ("en", "fr"):
            workshop, public = pages(hub, machine_id, language)
            for page in (workshop, public):
                for words in ("Functional state", "État de fonctionnement", "grade/2",
                              "allows", "au mieux"):
                    assert words not in page, words
    workshop, public = pages(hub, older["machine"]["identity"]["id"], "en")
    assert "Grade: <strong>C</strong>" in workshop
    assert ("<li>3.8 GiB of memory, under 4 GiB</li><li>only spinning hard disks</li>"
            in grade_part(workshop))
    assert ("<strong>C</strong> <span class=\"muted\">(3.8 GiB of memory, under 4 GiB; only "
            "spinning hard disks)</span>" in public_grade(public))
    [oldest_id] = set(machine_ids) - {older["machine"]["identity"]["id"]}
    workshop, public = pages(hub, oldest_id, "en")
    assert "Grade:" not in workshop and '<table class="grade">' not in workshop
    assert "<th>Grade</th>" not in public


HOSTILE_TEXT = '<script>alert("reason")</script>{0}{x:>999999999}%s'


def test_hostile_grade_texts_are_shown_inert(hub: Hub) -> None:
    station = hub.station("lyon-3", "Lyon")
    report = station.report("SER-GRADE-HOSTILE")
    report["grade"] = {
        "value": "<b>A</b>", "rules": "<i>grade/9</i>",
        "functional": "<script>F9</script>", "performance": "{0:>999999999}",
        "battery": "", "cosmetic": "<u>x</u>",
        "reasons": [
            {"code": "x", "text": HOSTILE_TEXT, "part": "performance", "label": "B"},
            {"code": "x", "text": "no battery", "part": "<em>new</em>", "label": "<s>A</s>"},
            {"code": "x", "text": "{part}, allows {label}", "part": "", "label": "{label}"},
            {"code": "x", "text": "", "part": "wear", "label": "C"},
            {"code": "x", "text": ["list"], "part": ["functional"], "label": None},
            "not a reason", None]}
    hub.store_directly(station, report)
    machine_id = report["machine"]["identity"]["id"]
    for language in ("en", "fr"):
        workshop, public = pages(hub, machine_id, language)
        for page in (workshop, public):
            for markup in ("<script", "<b>A", "<i>grade", "<u>x", "<em>", "<s>"):
                assert markup not in page, markup
            assert "&lt;script&gt;alert(&#34;reason&#34;)&lt;/script&gt;{0}{x:&gt;999999999}%s" \
                   in page
            assert "&lt;b&gt;A&lt;/b&gt;" in page and "{0:&gt;999999999}" in page
            assert "&lt;script&gt;F9&lt;/script&gt;" in page
            assert len(page) < 100_000 and " " * 1000 not in page
            assert "Project-Id-Version" not in page
        # A reason's text that happens to be a message of the catalog stays as it came.
        assert "no battery" in public and "pas de batterie" not in public
        assert "{part}, allows {label}" in workshop and "au mieux {label}" not in workshop
        assert "&lt;i&gt;grade/9&lt;/i&gt;" in workshop
        assert "&lt;em&gt;new&lt;/em&gt;</span>: no battery" in workshop


def test_a_malformed_grade_is_shown_as_far_as_it_goes() -> None:
    english = page_gettext("en")
    nothing: tuple[Any, ...] = (None, "", [], 3, {}, {"value": None}, {"reasons": []})
    for grade in nothing:
        assert grade_section({"grade": grade}, english, "en") is None, grade
    malformed: tuple[Any, ...] = (
        {"value": "B", "reasons": "x", "health": "x"},
        {"value": "B", "reasons": [{"text": None, "part": 3}, 5], "rules": 2, "functional": 4,
         "battery": None},
        {"value": "B", "reasons": [{"text": "t", "part": "odd", "label": "B"},
                                   {"text": "u", "part": "odd", "label": "E"}]})
    for grade in malformed:
        shown = grade_section({"grade": grade, "health": {"checks": [None, {"findings": 1}]}},
                              english, "en")
        assert shown is not None and shown.value == "B" and shown.rules is None, grade
        assert shown.parts == [], grade
    assert grade_section({"grade": "C"}, english, "en") == grade_section(
        {"grade": {"value": "C"}}, english, "en")
    shown = grade_section({"grade": {"value": "B", "reasons": [
        {"text": "t", "part": "odd", "label": "B"}, {"text": "u", "part": "wear", "label": "E"},
        {"text": "v"}]}}, english, "en")
    assert shown is not None
    assert [(reason.heading, reason.text) for reason in shown.reasons] == [
        ("wear", "u"), ("odd, allows B", "t"), ("", "v")]
