"""The guided checks in the walk-through: asked beside the erasure when the volunteer presses T
on the progress screen, or after it for those not answered yet, then the install; each answer
joins the run's health pass, with the operator, and the signed report.

The checks' own screens are tested in tests/test_guided_*.py; here each is a stand-in that
answers with the key pressed, so the sequence is what is tested."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.pilot import Pilot
from textual.widgets import Static

from agent.health import guided
from agent.health.model import Finding
from agent.i18n import _
from agent.tui.app import ReeebootApp
from agent.tui.screens.confirm import CONFIRMATION_WORD
from agent.tui.screens.dialogs import Question
from agent.tui.screens.guided_base import GuidedContext, GuidedScreen
from agent.tui.screens.install import InstallScreen
from agent.tui.screens.progress import ProgressScreen
from tests.screens import flat, screen_text, settle, type_text
from tests.scripted_run import ScriptedRun
from tests.test_screens import LOG, FakePower, os_images, station_for

__all__ = ["os_images"]  # a fixture: a stick's images/ folder with one small OS image


def stand_in(check: str) -> type[GuidedScreen]:
    """A guided check that passes on Enter and fails on "n"."""

    class StandIn(GuidedScreen):
        CHECK = check
        NAME = check
        BINDINGS: ClassVar[list[BindingType]] = [
            Binding("enter", "works", "Works"), Binding("n", "fails", "Fails"),
            Binding("q", "ask", "Ask")]

        def compose_body(self) -> ComposeResult:
            yield Static(f"stand-in for {check}", markup=False)

        def action_works(self) -> None:
            self.finish_passed({"answered": "enter"})

        def action_fails(self) -> None:
            self.finish_failed(Finding.of(f"{check}_broken", "fail", "broken"))

        def action_ask(self) -> None:
            """A question over the check, as the screen's and the keyboard's ask theirs."""

            def answered(works: bool | None) -> None:
                if works:
                    self.action_works()

            self.app.push_screen(Question("Works?", "Did it?", "Yes", "No", default_yes=True),
                                 answered)

    return StandIn


CHECKS = (guided.KEYBOARD, guided.DISPLAY, guided.APPEARANCE)


async def to_the_erasure(pilot: Pilot[None], app: ReeebootApp) -> None:
    await settle(pilot, app)
    await pilot.press("enter")
    await pilot.pause()
    await type_text(pilot, "WS-1")
    await pilot.press("enter", "enter")
    await pilot.pause()
    await pilot.press("enter")  # the frozen drive's question: yes
    await pilot.pause()
    await pilot.press("enter")
    await pilot.pause()
    await type_text(pilot, _(CONFIRMATION_WORD))
    await pilot.press("enter")
    await pilot.pause()
    assert isinstance(app.screen, ProgressScreen), screen_text(app)


async def until(pilot: Pilot[None], condition: object, what: str) -> None:
    for _wait in range(200):
        if condition():  # type: ignore[operator]
            return
        await pilot.pause(0.05)
    raise AssertionError(what)


def app_for(data_dir: Path, os_images: Path) -> tuple[ReeebootApp, ScriptedRun]:
    station = station_for(data_dir, os_images, "en")
    run = ScriptedRun(station)
    app = ReeebootApp(station, make_run=lambda _station: run, watch_disks=None,
                      start_sender=None, power=FakePower(), log_path=LOG,
                      guided=[stand_in(check) for check in CHECKS], keyboard_layout="fr")
    return app, run


async def test_answered_during_the_erasure_the_install_follows_it_directly(
        data_dir: Path, os_images: Path) -> None:
    app, run = app_for(data_dir, os_images)
    async with app.run_test(size=(80, 25)) as pilot:
        await to_the_erasure(pilot, app)
        assert "Test the keyboard, screen, sound" in flat(screen_text(app))
        await pilot.press("t")
        await pilot.pause()
        assert "test 1 of 3, keyboard" in screen_text(app)
        await pilot.press("enter")
        await pilot.pause()
        assert "test 2 of 3, display" in screen_text(app)
        await pilot.press("n")
        await pilot.pause()
        await pilot.press("escape")  # skipped
        await pilot.pause()
        # Back to the erasure, which goes on; the key is gone once every check is answered.
        assert isinstance(app.screen, ProgressScreen)
        assert "Test the keyboard" not in flat(screen_text(app))
        run.release.set()
        await until(pilot, lambda: isinstance(app.screen, InstallScreen), "no install screen")
    answers = {result.check: result for result in run.health.results()
               if result.check in CHECKS}
    assert {check: result.verdict for check, result in answers.items()} == {
        guided.KEYBOARD: "pass", guided.DISPLAY: "fail", guided.APPEARANCE: "skipped"}
    assert {result.operator for result in answers.values()} == {"Atelier Lyon"}
    assert answers[guided.KEYBOARD].measured == {"answered": "enter"}
    assert [finding.code for finding in answers[guided.DISPLAY].findings] == [
        "display_broken"]


async def test_not_answered_they_come_after_the_erasure_then_the_install_and_the_report(
        data_dir: Path, os_images: Path) -> None:
    app, run = app_for(data_dir, os_images)
    async with app.run_test(size=(80, 25)) as pilot:
        await to_the_erasure(pilot, app)
        await pilot.press("t")
        await pilot.pause()
        await pilot.press("enter")  # the keyboard, answered during the erasure
        await pilot.pause()
        # The erasure ends while the second check is on the screen: it stays there.
        run.release.set()
        await until(pilot, lambda: run.erasures, "the erasure did not end")
        await asyncio.sleep(0.3)
        await pilot.pause()
        assert "test 2 of 3, display" in screen_text(app)
        await pilot.press("enter")
        await pilot.pause()
        assert "test 3 of 3, appearance" in screen_text(app)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, InstallScreen), "no install screen")
        await pilot.press("enter")
        await until(pilot, lambda: run.reached.is_set(), "the install did not start")
        run.release.set()
        await settle(pilot, app)
        await pilot.press("enter")
        await settle(pilot, app)
        assert run.report_id is not None
    [envelope] = [json.loads(path.read_text())
                  for path in run.station.outbox.directory.glob("*.json")]
    report = json.loads(base64.b64decode(envelope["payload"]))
    answered = {check["check"]: check for check in report["health"]["checks"]
                if check["check"] in CHECKS}
    assert {check: item["verdict"] for check, item in answered.items()} == dict.fromkeys(
        CHECKS, "pass")
    assert {item["operator"] for item in answered.values()} == {"Atelier Lyon"}


async def test_the_erasure_ending_under_a_checks_question_leaves_the_question_there(
        data_dir: Path, os_images: Path) -> None:
    app, run = app_for(data_dir, os_images)
    async with app.run_test(size=(80, 25)) as pilot:
        await to_the_erasure(pilot, app)
        await pilot.press("t", "q")
        await pilot.pause()
        assert isinstance(app.screen, Question)
        run.release.set()
        await until(pilot, lambda: run.erasures, "the erasure did not end")
        await asyncio.sleep(0.3)
        await pilot.pause()
        # Still the question of the first check, with no other check pushed over it.
        assert isinstance(app.screen, Question)
        assert sum(isinstance(screen, GuidedScreen) for screen in app.screen_stack) == 1
        await pilot.press("enter")  # yes: it works
        await pilot.pause()
        assert "test 2 of 3, display" in screen_text(app)
    [keyboard] = [result for result in run.health.results() if result.check == guided.KEYBOARD]
    assert keyboard.verdict == "pass"


async def test_without_a_key_pressed_the_erasure_leads_to_the_guided_checks(
        data_dir: Path, os_images: Path) -> None:
    app, run = app_for(data_dir, os_images)
    async with app.run_test(size=(80, 25)) as pilot:
        await to_the_erasure(pilot, app)
        run.release.set()
        await until(pilot, lambda: isinstance(app.screen, GuidedScreen), "no guided check")
        assert "test 1 of 3, keyboard" in screen_text(app)
        for _check in CHECKS:
            await pilot.press("escape")
            await pilot.pause()
        await until(pilot, lambda: isinstance(app.screen, InstallScreen), "no install screen")
    assert [result.verdict for result in run.health.results() if result.check in CHECKS] == [
        "skipped"] * 3


def test_a_context_carries_the_runs_operator() -> None:
    context = GuidedContext(operator="Atelier Lyon", machine=None)
    assert context.keyboard_layout == "fr"
