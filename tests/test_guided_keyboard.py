"""The keyboard's guided check: the key map and its layouts, then the screen driven by keys
from the kernel (a fake feed, as evdev would send them) and from the terminal (pilot.press)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from textual.pilot import Pilot

from agent.health import keyboard_map
from agent.health.input_events import KeySink
from agent.health.keyboard_map import (
    KEY_1,
    KEY_2,
    KEY_102ND,
    KEY_A,
    KEY_B,
    KEY_ESC,
    KEY_F5,
    KEY_LEFTBRACE,
    KEY_LEFTSHIFT,
    KEY_Q,
    KEY_SPACE,
    KEY_TAB,
)
from agent.tui.screens import guided_keyboard
from agent.tui.screens.dialogs import Question
from agent.tui.screens.guided_keyboard import KeyboardScreen
from tests.guided_host import SIZE, FakeClock, GuidedHost, compare_snapshot, context
from tests.screens import flat, outside_cp437, screen_text

# --- the map ------------------------------------------------------------------------------


def test_the_map_fits_and_no_two_keys_overlap() -> None:
    rows: dict[int, list[keyboard_map.KeyPlace]] = {}
    for place in keyboard_map.PLACES:
        rows.setdefault(place.row, []).append(place)
        assert place.column + place.width <= keyboard_map.MAP_WIDTH
    for places in rows.values():
        places.sort(key=lambda place: place.column)
        for left, right in itertools.pairwise(places):
            assert left.column + left.width <= right.column, (left, right)
    assert len(keyboard_map.KEY_CODES) == 84


@pytest.mark.parametrize("name", keyboard_map.LAYOUTS)
def test_every_key_has_a_label_the_console_can_draw(name: str) -> None:
    layout = keyboard_map.layout(name)
    labels = [layout.label(code) for code in keyboard_map.KEY_CODES]
    assert all(labels) and not outside_cp437("".join(labels))
    names = [layout.full_name(code) for code in keyboard_map.KEY_CODES]
    assert not outside_cp437("".join(names))
    # In a list of keys each one is told apart ("Ctrl" twice would say nothing).
    assert len(set(names)) == len(names)


def test_characters_are_mapped_back_to_keys_through_the_layout() -> None:
    french, us = keyboard_map.layout("fr"), keyboard_map.layout("us")
    assert french.key_for_terminal("a", "a") == KEY_Q
    assert french.key_for_terminal("q", "q") == KEY_A
    assert us.key_for_terminal("a", "a") == KEY_A
    assert french.key_for_terminal("ctrl+a", "\x01") == KEY_Q
    assert french.key_for_terminal("eacute", "é") == KEY_2
    assert french.key_for_terminal("1", "1") == KEY_1  # Shift with the "&" key
    assert french.key_for_terminal("ecircumflex", "ê") == KEY_LEFTBRACE  # the dead key
    assert us.key_for_terminal("less_than_sign", "<") == KEY_102ND  # alone wins over Shift+,
    assert us.key_for_terminal("f5", None) == KEY_F5
    assert us.key_for_terminal("space", " ") == KEY_SPACE
    assert us.key_for_terminal("shift+tab", None) == KEY_TAB
    assert us.key_for_terminal("€", "€") is None


def test_an_unknown_layout_shows_the_us_labels() -> None:
    german = keyboard_map.layout("de")
    assert (german.name, german.known, german.asked) == ("us", False, "de")
    assert german.label(KEY_A) == "A"
    assert keyboard_map.layout("fr(oss)").name == "fr"


def test_the_layout_is_read_from_etc_default_keyboard(tmp_path: Path) -> None:
    path = tmp_path / "keyboard"
    path.write_text('# KEYBOARD CONFIGURATION FILE\nXKBMODEL="pc105"\nXKBLAYOUT="us,fr"\n'
                    'XKBVARIANT=""\n')
    assert keyboard_map.console_layout(path) == "us"
    path.write_text('XKBLAYOUT="fr"\n')
    assert keyboard_map.console_layout(path) == "fr"
    path.write_text('XKBMODEL="pc105"\n')
    assert keyboard_map.console_layout(path) == "fr"
    assert keyboard_map.console_layout(tmp_path / "missing") == "fr"


# --- the screen ---------------------------------------------------------------------------


class FakeKeyboards:
    """Stands for the kernel's keyboards: the test sends (code, value) as evdev would."""

    def __init__(self, names: list[str] | None = None) -> None:
        self.names = names if names is not None else ["AT Translated Set 2 keyboard"]
        self.sink: KeySink | None = None
        self.stopped = False

    def __call__(self, sink: KeySink) -> FakeKeyboards:
        self.sink = sink
        return self

    def stop(self) -> None:
        self.stopped = True

    def tap(self, *codes: int) -> None:
        assert self.sink is not None
        for code in codes:
            self.sink(code, 1)
            self.sink(code, 0)


@pytest.fixture(autouse=True)
def quick_settling(monkeypatch: pytest.MonkeyPatch) -> None:
    """The screen's wait for the terminal's late copies of the keys, short for the tests."""
    monkeypatch.setattr(guided_keyboard, "SETTLE_SECONDS", 0.05)


async def settled(pilot: Pilot[None]) -> None:
    """Past the end of the kernel's keys: the screen has stopped waiting for late copies."""
    await pilot.pause(0.3)


def keyboard_host(feed: FakeKeyboards | None = None, *, layout: str = "fr",
                  clock: FakeClock | None = None, language: str = "fr") -> GuidedHost:
    def open_keyboards(sink: KeySink) -> FakeKeyboards | None:
        return feed(sink) if feed is not None else None

    return GuidedHost(lambda: KeyboardScreen(context(layout=layout, clock=clock), 1, 7,
                                             open_keyboards=open_keyboards), language)


async def test_every_key_from_the_kernel_ends_the_test_as_a_pass() -> None:
    feed, clock = FakeKeyboards(), FakeClock()
    app = keyboard_host(feed, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        clock.now += 95
        feed.tap(*[code for code in keyboard_map.KEY_CODES if code != KEY_ESC])
        feed.tap(KEY_ESC)  # the last one: lit, the test ends by itself
        await settled(pilot)
    [result] = app.results
    assert (result.check, result.verdict, result.findings) == ("keyboard", "pass", ())
    assert result.operator == "Atelier Lyon" and result.seconds == 95.0
    assert result.measured == {"layout": "fr", "source": "evdev", "keys_total": 84,
                               "keys_pressed": 84, "dead": [], "stuck": []}
    assert feed.stopped


async def test_the_terminals_late_copies_of_the_keys_stay_on_this_screen(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A slow machine's terminal is behind the kernel: its copies of the last keys (Enter,
    Space, N) come after the kernel's ended the test, and would turn the screen check's pages.
    The keyboard's screen keeps them until none came for a while."""
    monkeypatch.setattr(guided_keyboard, "SETTLE_SECONDS", 0.5)
    feed = FakeKeyboards()
    app = keyboard_host(feed)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        feed.tap(*keyboard_map.KEY_CODES)  # the kernel saw every key: the test is done
        await pilot.pause()
        assert app.results == []  # but the terminal's copies may still come
        await pilot.press("enter", "space", "n")
        await pilot.pause(0.2)
        assert app.results == [] and isinstance(app.screen, KeyboardScreen)
        await pilot.pause(1.0)
    [result] = app.results
    assert result.verdict == "pass" and result.measured["keys_pressed"] == 84


async def test_esc_alone_does_not_skip_and_three_in_a_row_ask_about_the_rest() -> None:
    feed = FakeKeyboards()
    app = keyboard_host(feed)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        feed.tap(KEY_ESC, KEY_A, KEY_ESC, KEY_ESC)  # A between: not three in a row
        await pilot.pause()
        assert app.results == [] and not isinstance(app.screen, Question)
        feed.tap(KEY_ESC)
        await settled(pilot)
        assert isinstance(app.screen, Question)
        assert "Ces touches n'ont pas répondu" in flat(screen_text(app))
        assert feed.stopped  # the question is answered with the terminal's keys
        await pilot.press("up", "enter")  # yes: record them as not working
        await pilot.pause()
    [result] = app.results
    assert result.verdict == "fail"
    assert [finding.code for finding in result.findings] == ["keys_dead"]
    assert result.measured["keys_pressed"] == 2
    assert len(result.measured["dead"]) == 82
    assert "Q" not in result.measured["dead"]  # KEY_A is "Q" in AZERTY, and it was pressed
    assert "Shift" not in result.findings[0].text and "Maj gauche" in result.findings[0].text


async def test_keys_not_pressed_and_not_recorded_leave_the_test_skipped() -> None:
    feed = FakeKeyboards()
    app = keyboard_host(feed, layout="us")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        feed.tap(KEY_A, KEY_ESC, KEY_ESC, KEY_ESC)
        await settled(pilot)
        await pilot.press("enter")  # the cursor is on "no"
        await pilot.pause()
    [result] = app.results
    assert result.verdict == "skipped"
    assert [finding.code for finding in result.findings] == ["keys_not_tried"]
    assert result.findings[0].text.startswith("These keys were not tried: F1, F2")
    assert result.measured["dead"] == [] and result.measured["layout"] == "us"


async def test_a_key_held_over_two_seconds_is_stuck() -> None:
    feed, clock = FakeKeyboards(), FakeClock()
    app = keyboard_host(feed, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert feed.sink is not None
        # Each event is read on the screen's clock when handled: one pause each.
        feed.sink(KEY_B, 1)
        await pilot.pause()
        for _repeat in range(19):  # autorepeat, 0.1 s apart: 1.9 s is not yet stuck
            clock.now += 0.1
            feed.sink(KEY_B, 2)
            await pilot.pause()
        assert "Touche bloquée" not in screen_text(app)
        clock.now += 0.5
        feed.sink(KEY_B, 2)
        await pilot.pause()
        assert "Touche bloquée : B" in screen_text(app)
        feed.sink(KEY_B, 0)
        feed.tap(KEY_ESC, KEY_ESC, KEY_ESC)
        await settled(pilot)
        await pilot.press("enter")  # not recorded as dead: the stuck key still fails it
        await pilot.pause()
    [result] = app.results
    assert result.verdict == "fail"
    assert [finding.code for finding in result.findings] == ["key_stuck", "keys_not_tried"]
    assert result.findings[0].text == "A key stays pressed by itself: B"
    assert result.measured["stuck"] == ["B"]


async def test_a_key_held_without_autorepeat_is_found_stuck_too() -> None:
    feed, clock = FakeKeyboards(), FakeClock()
    app = keyboard_host(feed, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert feed.sink is not None
        feed.sink(KEY_LEFTSHIFT, 1)
        await pilot.pause()
        clock.now += 2.5
        await pilot.pause(0.7)  # the screen looks at held keys twice a second
        assert "Touche bloquée : Maj gauche" in screen_text(app)


async def test_the_terminal_s_keys_are_mapped_through_the_layout() -> None:
    clock = FakeClock()
    app = keyboard_host(None, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = flat(screen_text(app))
        assert "Touches lues par le terminal" in text and "0 touches sur 75" in text
        await pilot.press("a", "tab", "f5", "escape")
        await pilot.pause()
        assert "4 touches sur 75" in flat(screen_text(app))
        await pilot.press("escape")
        await pilot.pause()
        assert "Appuyez encore une fois sur Échap" in flat(screen_text(app))
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, Question)
        await pilot.press("enter")
        await pilot.pause()
    [result] = app.results
    assert result.verdict == "skipped"
    assert result.measured["source"] == "terminal"
    assert result.measured["keys_total"] == 75 and result.measured["keys_pressed"] == 4
    assert "Maj gauche" in result.measured["not_testable"]
    assert "Maj gauche" not in result.findings[0].text  # not testable: not counted as dead


async def test_a_character_repeating_without_pause_in_the_terminal_is_stuck() -> None:
    clock = FakeClock()
    app = keyboard_host(None, clock=clock, layout="us", language="en")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for _repeat in range(25):
            await pilot.press("b")
            clock.now += 0.1
        await pilot.pause()
        assert "Stuck key: B" in screen_text(app)
        clock.now += 1
        await pilot.press("c")
        await pilot.pause()
        assert "Stuck key: B" in screen_text(app) and "Stuck key: B, C" not in screen_text(app)


async def test_an_unknown_layout_says_so() -> None:
    app = keyboard_host(FakeKeyboards(), layout="de", language="en")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert 'The layout "de" is not known here' in flat(screen_text(app))
        compare_snapshot("5g-keyboard-unknown-layout", "en", app)


@pytest.mark.parametrize("language", ["fr", "en"])
async def test_snapshots(language: str) -> None:
    feed = FakeKeyboards(["AT Translated Set 2 keyboard [/b]"])
    app = keyboard_host(feed, layout="fr" if language == "fr" else "us", language=language)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        compare_snapshot("5g-keyboard-start", language, app)
        assert feed.sink is not None
        feed.tap(KEY_A, KEY_Q, KEY_SPACE, KEY_F5)
        feed.sink(KEY_B, 1)
        feed.tap(KEY_ESC, KEY_ESC)
        await pilot.pause()
        compare_snapshot("5g-keyboard-pressed", language, app)
        feed.tap(KEY_ESC)
        await settled(pilot)
        compare_snapshot("5g-keyboard-question", language, app)
    terminal = keyboard_host(None, layout="fr" if language == "fr" else "us", language=language)
    async with terminal.run_test(size=SIZE) as pilot:
        await pilot.pause()
        compare_snapshot("5g-keyboard-terminal", language, terminal)
