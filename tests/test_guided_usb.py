"""The USB ports' guided screen: ports light up as devices are plugged in (events fed through
the watcher's seam), and each answer becomes the check's result; snapshots at 80x25."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from agent.health import guided
from agent.health.model import FAIL, PASS, SKIPPED
from agent.health.usb_ports import UsbDevice, UsbEvent, UsbEventSink
from agent.tui.screens.guided_usb import UsbPortsScreen
from tests.guided_host import SIZE, FakeClock, GuidedHost, compare_snapshot, context
from tests.screens import flat, screen_text

STICK = UsbDevice("2-1", "2-1", 480, "SanDisk Cruzer Blade")
KEYBOARD = UsbDevice("1-3", "1-3", 1.5, "Dell USB Keyboard")
MOUSE = UsbDevice("1-2", "1-2", 12, "Logitech USB Optical Mouse")
LAN = UsbDevice("4-1.2", "4-1", 5000, "Realtek USB 10/100/1000 LAN")


class FakeWatch:
    """The udev watcher's seam: the test plays udev."""

    def __init__(self, present: list[UsbDevice]) -> None:
        self.present = present
        self.sink: UsbEventSink | None = None
        self.stopped = False

    def __call__(self, sink: UsbEventSink) -> FakeWatch:
        self.sink = sink
        return self

    def stop(self) -> None:
        self.stopped = True

    def plug(self, device: UsbDevice) -> None:
        assert self.sink is not None
        self.sink(UsbEvent("plugged", device.sys_name, device))

    def unplug(self, sys_name: str) -> None:
        assert self.sink is not None
        self.sink(UsbEvent("unplugged", sys_name))


def host(watch: FakeWatch, language: str = "en",
         clock: FakeClock | None = None) -> GuidedHost:
    the_context = context(clock=clock)
    return GuidedHost(lambda: UsbPortsScreen(the_context, 5, 7, watch=watch), language)


async def settle(pilot: Pilot[None]) -> None:
    await pilot.pause()
    await pilot.pause()


async def test_every_port_answered_passes_with_the_ports_seen() -> None:
    watch, clock = FakeWatch([STICK, KEYBOARD]), FakeClock()
    app = host(watch, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        watch.plug(MOUSE)
        watch.plug(LAN)
        watch.unplug("1-2")
        await settle(pilot)
        text = flat(screen_text(app))
        assert "1-2 USB 1 Logitech USB Optical Mouse (answered, unplugged)" in text
        assert "4-1 USB 3 Realtek USB 10/100/1000 LAN (answered)" in text
        assert "2-1 USB 2 SanDisk Cruzer Blade (already in use)" in text
        assert "Ports that answered: 4 (2 of them since this test began)." in text
        clock.now += 95.04
        await pilot.press("enter")
        await settle(pilot)
        assert watch.stopped  # the watcher ends with the screen, not with the app
    [result] = app.results
    assert (result.check, result.subject, result.verdict) == (guided.USB_PORTS, "usb", PASS)
    assert result.findings == () and result.operator == "Atelier Lyon"
    assert result.seconds == 95.0
    assert [port["port"] for port in result.measured["ports"]] == ["2-1", "1-3", "1-2", "4-1"]
    assert result.measured["ports"][3] == {"port": "4-1", "speed_mbps": 5000,
                                           "product": "Realtek USB 10/100/1000 LAN",
                                           "in_use_at_start": False}


async def test_a_port_that_did_not_answer_fails_with_how_many() -> None:
    watch = FakeWatch([STICK])
    app = host(watch)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        watch.plug(MOUSE)
        await settle(pilot)
        await pilot.press("N")  # with Shift or Caps Lock too
        await settle(pilot)
        assert "How many ports did not answer?" in flat(screen_text(app))
        await pilot.press("down", "down", "enter")  # 3 or more
        await settle(pilot)
    [result] = app.results
    assert result.verdict == FAIL
    assert [finding.code for finding in result.findings] == ["usb_port_dead"]
    assert result.findings[0].text == "USB ports that did not answer: 3 ports or more"
    assert result.measured["ports_not_answering"] == "3+"
    assert [port["port"] for port in result.measured["ports"]] == ["2-1", "1-2"]


async def test_esc_from_the_count_goes_back_to_the_ports() -> None:
    watch = FakeWatch([STICK])
    app = host(watch)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert app.results == []
        assert isinstance(app.screen, UsbPortsScreen)
        await pilot.press("enter")  # the stick's port answered: that is enough to pass
        await settle(pilot)
    assert [result.verdict for result in app.results] == [PASS]


async def test_with_no_port_seen_enter_does_not_pass_and_esc_skips() -> None:
    watch = FakeWatch([])
    app = host(watch)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert app.results == []
        assert "Nothing was plugged in yet" in flat(screen_text(app))
        await pilot.press("escape")
        await settle(pilot)
    [result] = app.results
    assert result.verdict == SKIPPED
    assert [finding.code for finding in result.findings] == ["skipped_by_operator"]
    assert result.measured == {}


async def test_without_udev_the_screen_says_so_and_only_skips() -> None:
    def no_udev(_sink: UsbEventSink) -> FakeWatch:
        raise OSError("netlink: permission denied")

    app = GuidedHost(lambda: UsbPortsScreen(context(), 5, 7, watch=no_udev), "en")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "cannot be watched" in flat(screen_text(app))
        await pilot.press("enter")
        await settle(pilot)
        assert app.results == []


async def test_a_product_name_is_shown_as_it_is() -> None:
    hostile = UsbDevice("1-4", "1-4", 480, "[bold red]X[/] \u2122 Stick")
    watch = FakeWatch([])
    app = host(watch)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        watch.plug(hostile)
        await settle(pilot)
        text = screen_text(app)
        assert "[bold red]X[/] ? Stick" in text  # markup untouched, "TM" not in the font
        await pilot.press("enter")
        await settle(pilot)
    assert app.results[0].measured["ports"][0]["product"] == "[bold red]X[/] \u2122 Stick"


@pytest.mark.parametrize("language", ["fr", "en"])
async def test_snapshots(language: str) -> None:
    watch = FakeWatch([STICK, KEYBOARD])
    app = host(watch, language)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        compare_snapshot("5k-usb-start", language, app)
        watch.plug(MOUSE)
        watch.plug(LAN)
        watch.unplug("1-2")
        await settle(pilot)
        compare_snapshot("5k-usb-ports", language, app)
        await pilot.press("n")
        await settle(pilot)
        compare_snapshot("5k-usb-how-many", language, app)
    empty = host(FakeWatch([]), language)
    async with empty.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        compare_snapshot("5k-usb-nothing", language, empty)
