"""The touchpad's guided check: a finger's events fed as the kernel sends them (a fake feed with
the Synaptics driver's nominal range, tests/fixtures/input/SOURCE.md), and a machine without a
touchpad."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from agent.health.input_events import (
    ABS_X,
    ABS_Y,
    BTN_LEFT,
    BTN_TOUCH,
    EV_ABS,
    EV_KEY,
    EV_SYN,
    AxisRange,
    EventSink,
    InputEvent,
)
from agent.tui.screens.guided_touchpad import TouchpadScreen
from tests.guided_host import SIZE, FakeClock, GuidedHost, compare_snapshot, context
from tests.screens import flat, screen_text
from tests.test_input_events import SYNAPTICS_X, SYNAPTICS_Y


class FakeTouchpad:
    """Stands for a touchpad read through evdev: the test sends its events."""

    def __init__(self, name: str = "SynPS/2 Synaptics TouchPad",
                 x_range: AxisRange | None = SYNAPTICS_X,
                 y_range: AxisRange | None = SYNAPTICS_Y) -> None:
        self.name, self.x_range, self.y_range = name, x_range, y_range
        self.sink: EventSink | None = None
        self.stopped = False
        self.seconds = 0.0

    def __call__(self, sink: EventSink) -> FakeTouchpad:
        self.sink = sink
        return self

    def stop(self) -> None:
        self.stopped = True

    def send(self, kind: int, code: int, value: int) -> None:
        assert self.sink is not None
        self.sink(InputEvent(self.seconds, kind, code, value))

    def slide(self, points: list[tuple[int, int]], *, lift_after: float = 1.0) -> None:
        self.send(EV_KEY, BTN_TOUCH, 1)
        for x, y in points:
            self.send(EV_ABS, ABS_X, x)
            self.send(EV_ABS, ABS_Y, y)
            self.send(EV_SYN, 0, 0)
        self.seconds += lift_after
        self.send(EV_KEY, BTN_TOUCH, 0)
        self.seconds += 1

    def click(self) -> None:
        self.send(EV_KEY, BTN_LEFT, 1)
        self.send(EV_SYN, 0, 0)
        self.send(EV_KEY, BTN_LEFT, 0)
        self.send(EV_SYN, 0, 0)


# Along the top edge, down the right, back along the bottom: the four corners' quarters.
AROUND = [(1472 + step * 100, 1500) for step in range(41)] + \
    [(5400, 1408 + step * 76) for step in range(41)] + \
    [(5472 - step * 100, 4400) for step in range(41)]


def touchpad_host(feed: FakeTouchpad | None, *, clock: FakeClock | None = None,
                  language: str = "fr") -> GuidedHost:
    def open_touchpad(sink: EventSink) -> FakeTouchpad | None:
        return feed(sink) if feed is not None else None

    return GuidedHost(lambda: TouchpadScreen(context(clock=clock), 6, 7,
                                             open_touchpad=open_touchpad), language)


async def redrawn(pilot: Pilot[None]) -> None:
    await pilot.pause(0.25)  # the box is redrawn ten times a second


async def test_corners_and_a_click_then_enter_pass() -> None:
    feed, clock = FakeTouchpad(), FakeClock()
    app = touchpad_host(feed, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        feed.slide(AROUND)
        feed.click()
        await redrawn(pilot)
        assert "Tout semble bon" in flat(screen_text(app))
        clock.now += 30
        await pilot.press("enter")
        await pilot.pause()
    [result] = app.results
    assert (result.check, result.verdict, result.findings) == ("touchpad", "pass", ())
    assert result.seconds == 30.0 and result.operator == "Atelier Lyon"
    assert result.measured["corners"] == 4 and result.measured["clicks"] == 1
    assert result.measured["taps"] == 0
    assert 0.05 < result.measured["coverage"] < 0.5
    assert result.measured["device"] == "SynPS/2 Synaptics TouchPad"
    assert feed.stopped


async def test_enter_before_it_looks_fine_asks_for_the_rest() -> None:
    feed = FakeTouchpad()
    app = touchpad_host(feed)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        feed.slide(AROUND[:5])  # the top left only, no click
        await redrawn(pilot)
        await pilot.press("enter")
        await pilot.pause()
        text = flat(screen_text(app))
        assert app.results == []
        assert "Coins atteints : 1 sur 4. Clics : 0." in text
        assert "Atteignez d'abord les quatre coins" in text
        feed.slide(AROUND, lift_after=0.1)  # a tap counts as a click
        await redrawn(pilot)
        await pilot.press("enter")
        await pilot.pause()
    [result] = app.results
    assert result.verdict == "pass" and result.measured["taps"] == 1


async def test_n_fails_it_with_what_was_seen() -> None:
    feed = FakeTouchpad()
    app = touchpad_host(feed)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        feed.slide(AROUND[:5])
        await redrawn(pilot)
        await pilot.press("n")
        await pilot.pause()
    [result] = app.results
    assert result.verdict == "fail"
    assert [finding.code for finding in result.findings] == ["touchpad_not_working"]
    assert result.measured["corners"] == 1 and result.measured["clicks"] == 0
    assert feed.stopped


async def test_esc_skips_it() -> None:
    feed = FakeTouchpad()
    app = touchpad_host(feed)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
    [result] = app.results
    assert result.verdict == "skipped" and feed.stopped


async def test_a_range_the_device_did_not_declare_is_learnt() -> None:
    feed = FakeTouchpad(x_range=None, y_range=None)
    app = touchpad_host(feed)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        feed.slide(AROUND)
        feed.click()
        await redrawn(pilot)
        assert "Coins atteints : 4 sur 4. Clics : 1." in flat(screen_text(app))


@pytest.mark.parametrize(("key", "verdict", "code"), [
    ("enter", "not_present", "touchpad_not_present"),
    ("n", "fail", "touchpad_not_found"),
])
async def test_no_touchpad_found(key: str, verdict: str, code: str) -> None:
    app = touchpad_host(None)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "Aucun pavé tactile n'a été trouvé" in flat(screen_text(app))
        await pilot.press(key)
        await pilot.pause()
    [result] = app.results
    assert result.verdict == verdict
    assert [finding.code for finding in result.findings] == [code]
    assert result.operator == "Atelier Lyon"


@pytest.mark.parametrize("language", ["fr", "en"])
async def test_snapshots(language: str) -> None:
    feed = FakeTouchpad(name="ELAN0501:01 04F3:3060 Touchpad [/b]")
    app = touchpad_host(feed, language=language)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        compare_snapshot("5l-touchpad-start", language, app)
        feed.slide(AROUND[:60])
        await redrawn(pilot)
        await pilot.press("enter")
        await pilot.pause()
        compare_snapshot("5l-touchpad-early", language, app)
        feed.slide(AROUND)
        feed.click()
        await redrawn(pilot)
        compare_snapshot("5l-touchpad-fine", language, app)
    absent = touchpad_host(None, language=language)
    async with absent.run_test(size=SIZE) as pilot:
        await pilot.pause()
        compare_snapshot("5l-touchpad-absent", language, absent)
