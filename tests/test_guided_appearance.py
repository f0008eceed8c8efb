"""The appearance's guided check: the cosmetic code chosen from pictures in words becomes the
check's result (a pass that carries the code); snapshots at 80x25."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot
from textual.widgets import OptionList

from agent.health import guided
from agent.health.model import PASS, SKIPPED
from agent.report.grade import grade_machine
from agent.report.labels import COSMETIC_PICTURES, COSMETIC_WORDS
from agent.tui.screens.guided_appearance import AppearanceScreen
from tests.guided_host import SIZE, FakeClock, GuidedHost, compare_snapshot, context
from tests.helpers import sample_machine
from tests.screens import flat, screen_text


def host(language: str = "en", clock: FakeClock | None = None) -> GuidedHost:
    the_context = context(clock=clock)
    return GuidedHost(lambda: AppearanceScreen(the_context, 7, 7), language)


async def settle(pilot: Pilot[None]) -> None:
    await pilot.pause()
    await pilot.pause()


def test_every_code_has_its_words_and_picture_best_first() -> None:
    assert tuple(COSMETIC_WORDS) == guided.COSMETIC_CODES
    assert tuple(COSMETIC_PICTURES) == guided.COSMETIC_CODES


@pytest.mark.parametrize(("downs", "code"), [(0, "C1"), (2, "C3"), (4, "C5")])
async def test_enter_on_a_code_passes_with_the_code(downs: int, code: str) -> None:
    clock = FakeClock()
    app = host(clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press(*["down"] * downs)
        clock.now += 12.34
        await pilot.press("enter")
        await settle(pilot)
    [result] = app.results
    assert (result.check, result.subject, result.verdict) == (guided.APPEARANCE, "case", PASS)
    assert result.findings == () and result.operator == "Atelier Lyon"
    assert result.measured == {"cosmetic": code}
    assert result.seconds == 12.3
    # What the grade reads: the code, and the label it allows.
    health = {"checks": [{**result.to_json(), "evidence": []}]}
    assert grade_machine(sample_machine(), None, health).cosmetic == code


async def test_the_pictures_are_shown_with_their_codes() -> None:
    app = host()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = flat(screen_text(app))
        assert "C2 Light wear Fine scratches, seen only up close." in text
        assert "C5 A damaged part A broken hinge" in text
        assert app.screen.query_one(OptionList).highlighted == 0


async def test_esc_skips_and_leaves_the_code_unknown() -> None:
    app = host()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down", "escape")
        await settle(pilot)
    [result] = app.results
    assert result.verdict == SKIPPED
    assert [finding.code for finding in result.findings] == ["skipped_by_operator"]
    health = {"checks": [{**result.to_json(), "evidence": []}]}
    assert grade_machine(sample_machine(), None, health).cosmetic is None


@pytest.mark.parametrize("language", ["fr", "en"])
async def test_snapshots(language: str) -> None:
    app = host(language)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        compare_snapshot("5m-appearance-codes", language, app)
        await pilot.press("down", "down", "down")
        await settle(pilot)
        assert app.screen.query_one(OptionList).highlighted == 3  # the text cannot show it
