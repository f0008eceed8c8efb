"""The screen's guided check: full-screen colours in turn with nothing else drawn (their colour
read from what the compositor draws), then the question; each answer becomes the check's
result. Snapshots at 80x25."""

from __future__ import annotations

import pytest
from textual.color import Color
from textual.pilot import Pilot

from agent.health import guided
from agent.health.model import FAIL, PASS, SKIPPED
from agent.tui.screens.guided_display import FULL_BLOCK, PAGES, PATTERN_GLYPH, DisplayScreen
from tests.guided_host import SIZE, FakeClock, GuidedHost, compare_snapshot, context
from tests.screens import flat, screen_text

ALL_PAGES = ["red", "green", "blue", "white", "black", "pattern"]
# The console's colour numbers: the bright ones are the fully saturated ones.
# Each page's background and what fills it: the Linux console's backgrounds are its 8 dark
# colours (red, green, blue are full hues there); white is full blocks in bright white.
ANSI = {"red": 1, "green": 2, "blue": 4, "white": 7, "black": 0, "pattern": 0}
GLYPHS = {"white": FULL_BLOCK, "pattern": PATTERN_GLYPH}


def host(language: str = "en", clock: FakeClock | None = None) -> GuidedHost:
    the_context = context(clock=clock)
    return GuidedHost(lambda: DisplayScreen(the_context, 2, 7), language)


async def settle(pilot: Pilot[None]) -> None:
    await pilot.pause()
    await pilot.pause()


def drawn(app: GuidedHost) -> tuple[set[int | None], set[str], set[int | None]]:
    """Every cell's background colour (the console's number), the characters, and the
    foreground colours, over the whole screen."""
    backgrounds: set[int | None] = set()
    foregrounds: set[int | None] = set()
    characters: set[str] = set()
    for strip in app.screen._compositor.render_strips():
        for segment in strip:
            style = segment.style
            assert style is not None
            backgrounds.add(style.bgcolor.number if style.bgcolor else None)
            if segment.text.strip():
                foregrounds.add(style.color.number if style.color else None)
            characters.update(segment.text)
    return backgrounds, characters, foregrounds


async def test_the_pages_fill_the_screen_one_after_the_other_then_no_defect_passes() -> None:
    clock = FakeClock()
    app = host(clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "light leaking in at the edges" in flat(screen_text(app))
        for page in ALL_PAGES:
            await pilot.press("space")
            await settle(pilot)
            backgrounds, characters, foregrounds = drawn(app)
            assert backgrounds == {ANSI[page]}, page  # the whole screen, title and keys too
            if page in GLYPHS:
                assert characters == {GLYPHS[page]}, page
                assert foregrounds == {15}, page
            else:
                assert characters == {" "}, page  # nothing drawn on it
        await pilot.press("enter")  # after the last page: the question
        await settle(pilot)
        assert "Did you see a dead pixel" in flat(screen_text(app))
        clock.now += 42.0
        await pilot.press("enter")  # the cursor is on "no"
        await settle(pilot)
    [result] = app.results
    assert (result.check, result.subject, result.verdict) == (guided.DISPLAY, "screen", PASS)
    assert result.findings == () and result.operator == "Atelier Lyon"
    assert result.measured == {"patterns": ALL_PAGES}
    assert result.seconds == 42.0


@pytest.mark.parametrize(("moves", "defect", "words"), [
    ((), "dead_pixels", "dead or stuck pixels"),
    (("down",), "lines", "lines"),
    (("down", "down"), "uneven_light", "spots or uneven light"),
    (("down", "down", "down"), "edge_light", "light at the edges"),
])
async def test_a_defect_seen_fails_naming_its_kind(moves: tuple[str, ...], defect: str,
                                                   words: str) -> None:
    app = host()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press(*["enter"] * (len(ALL_PAGES) + 1))
        await settle(pilot)
        await pilot.press("down", "enter")  # yes
        await settle(pilot)
        assert "What did you see?" in flat(screen_text(app))
        await pilot.press(*moves, "enter")
        await settle(pilot)
    [result] = app.results
    assert result.verdict == FAIL
    [finding] = result.findings
    assert (finding.code, finding.verdict) == ("display_defect", FAIL)
    assert finding.text == f"The screen shows a defect: {words}"
    assert result.measured == {"patterns": ALL_PAGES, "defect": defect}


async def test_n_on_a_colour_page_records_the_pages_shown_so_far() -> None:
    app = host()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("space", "space")  # red, green
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        await pilot.press("escape")  # not sure after all: back to the green page
        await settle(pilot)
        assert drawn(app)[0] == {ANSI["green"]}
        await pilot.press("n")
        await settle(pilot)
        await pilot.press("down", "enter")
        await settle(pilot)
    [result] = app.results
    assert result.measured == {"patterns": ["red", "green"], "defect": "lines"}


async def test_esc_skips_from_a_colour_page() -> None:
    app = host()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("space", "space", "space")
        await settle(pilot)
        assert drawn(app)[0] == {ANSI["blue"]}
        await pilot.press("escape")
        await settle(pilot)
    [result] = app.results
    assert result.verdict == SKIPPED
    assert [finding.code for finding in result.findings] == ["skipped_by_operator"]


async def test_esc_on_the_question_goes_back_then_space_shows_the_pages_again() -> None:
    app = host()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press(*["space"] * (len(ALL_PAGES) + 1))
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert app.results == []
        assert "That was the last colour." in flat(screen_text(app))
        await pilot.press("space")
        await settle(pilot)
        assert drawn(app)[0] == {ANSI["red"]}
        await pilot.press(*["space"] * len(ALL_PAGES))
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
    [result] = app.results
    assert result.verdict == PASS and result.measured == {"patterns": ALL_PAGES}


def test_the_pages_use_colours_the_linux_console_draws_as_backgrounds() -> None:
    assert list(PAGES) == ALL_PAGES
    assert {page: Color.parse(colour).ansi for page, (colour, _glyph) in PAGES.items()} == ANSI
    # The console's backgrounds are its first 8 colours: a bright one would show dark.
    assert all(number < 8 for number in ANSI.values())


@pytest.mark.parametrize("language", ["fr", "en"])
async def test_snapshots(language: str) -> None:
    app = host(language)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        compare_snapshot("5h-display-explanation", language, app)
        await pilot.press("space")
        await settle(pilot)
        compare_snapshot("5h-display-red", language, app)  # blank: the colour is checked above
        await pilot.press(*["space"] * (len(ALL_PAGES) - 1))
        await settle(pilot)
        compare_snapshot("5h-display-pattern", language, app)
        await pilot.press("space")
        await settle(pilot)
        compare_snapshot("5h-display-question", language, app)
        await pilot.press("down", "enter")
        await settle(pilot)
        compare_snapshot("5h-display-defect", language, app)
        await pilot.press("escape")
        await settle(pilot)
        compare_snapshot("5h-display-asked", language, app)
