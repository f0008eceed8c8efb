"""The kernel's input devices: which are keyboards and touchpads (on the listings of real
machines, tests/fixtures/input/SOURCE.md), reading struct input_event records in a thread, and
what a finger did on a touchpad."""

from __future__ import annotations

import os
import re
import struct
import threading
from pathlib import Path

import pytest

from agent.health import input_events
from agent.health.input_events import (
    ABS_X,
    ABS_Y,
    BTN_LEFT,
    BTN_TOUCH,
    EV_ABS,
    EV_KEY,
    EV_SYN,
    EVENT_SIZE,
    AxisRange,
    EventReader,
    InputEvent,
    TouchTrace,
    pack_event,
    parse_bitmap,
)
from agent.health.keyboard_map import KEY_A, KEY_ESC, KEY_Z

FIXTURES = Path(__file__).parent / "fixtures" / "input"
# drivers/input/mouse/synaptics.c: the nominal range of a Synaptics touchpad.
SYNAPTICS_X, SYNAPTICS_Y = AxisRange(1472, 5472), AxisRange(1408, 4448)


def sysfs_tree(listing: str, root: Path) -> tuple[Path, Path]:
    """/sys/class/input and /dev/input rebuilt from a /proc/bus/input/devices listing (the
    rule is in tests/fixtures/input/SOURCE.md); each device node is an empty regular file."""
    sys_class_input, dev_input = root / "sys" / "class" / "input", root / "dev" / "input"
    dev_input.mkdir(parents=True)
    for entry in listing.strip().split("\n\n"):
        event = re.search(r"^H: Handlers=.*\b(event\d+)\b", entry, re.MULTILINE)
        if event is None:
            continue
        device = sys_class_input / event.group(1) / "device"
        (device / "capabilities").mkdir(parents=True)
        name = re.search(r'^N: Name="(.*)"$', entry, re.MULTILINE)
        (device / "name").write_text((name.group(1) if name else "") + "\n")
        for bitmap, value in re.findall(r"^B: (\w+)=(.*)$", entry, re.MULTILINE):
            target = device / "properties" if bitmap == "PROP" else \
                device / "capabilities" / bitmap.lower()
            target.write_text(value.strip() + "\n")
        (dev_input / event.group(1)).write_bytes(b"")
    return sys_class_input, dev_input


def fixture_devices(name: str, root: Path, word_bits: int = 64) -> list[input_events.InputDevice]:
    sys_class_input, dev_input = sysfs_tree((FIXTURES / name).read_text(), root)
    return input_events.scan_devices(sys_class_input, dev_input, root / "udev", word_bits)


# --- capabilities -------------------------------------------------------------------------

def test_bitmaps_are_read_last_word_lowest() -> None:
    assert parse_bitmap("120013") == 0x120013
    assert parse_bitmap("1 0") == 1 << 64
    assert parse_bitmap("1 0", word_bits=32) == 1 << 32
    assert parse_bitmap("") == 0


def test_a_laptop_keyboard_is_found_and_a_touchpad_driven_as_a_mouse_is_not(
        tmp_path: Path) -> None:
    devices = fixture_devices("lenovo-z50-70.devices", tmp_path)
    assert len(devices) == 14
    assert [(device.name, device.node.name) for device in input_events.keyboards(devices)] == [
        ("AT Translated Set 2 keyboard", "event3")]
    # The power buttons, the camera's button, "Ideapad extra buttons" have keys but no letters.
    assert input_events.touchpads(devices) == []
    elantech = next(device for device in devices if "Elantech" in device.name)
    assert input_events.has_bit(elantech.keys, BTN_LEFT)  # a mouse's buttons, no finger tool


def test_a_32_bit_kernel_s_listing_finds_its_keyboard_and_synaptics_touchpad(
        tmp_path: Path) -> None:
    devices = fixture_devices("acer-aspire-4810t.devices", tmp_path, word_bits=32)
    assert [device.node.name for device in input_events.keyboards(devices)] == ["event4"]
    assert [(device.name, device.node.name) for device in input_events.touchpads(devices)] == [
        ("SynPS/2 Synaptics TouchPad", "event9")]


def test_word_size_matters(tmp_path: Path) -> None:
    """Read as 64-bit words, the 32-bit kernel's keyboard has its letters in the wrong places:
    the word size must be the kernel's own."""
    devices = fixture_devices("acer-aspire-4810t.devices", tmp_path, word_bits=64)
    assert input_events.keyboards(devices) == []


def test_a_clickpad_is_a_touchpad(tmp_path: Path) -> None:
    [device] = fixture_devices("synaptics-clickpad.devices", tmp_path)
    assert device.is_touchpad and not device.is_keyboard
    assert input_events.has_bit(device.properties, 2)  # INPUT_PROP_BUTTONPAD


def test_udev_decides_when_it_said_something(tmp_path: Path) -> None:
    sys_class_input, dev_input = sysfs_tree(
        (FIXTURES / "lenovo-z50-70.devices").read_text(), tmp_path)
    udev = tmp_path / "udev"
    udev.mkdir()
    # The Elantech's event4 is char device 13:68; udev's database lists its properties as
    # "E:NAME=value" lines.
    (sys_class_input / "event4" / "dev").write_text("13:68\n")
    (udev / "c13:68").write_text("I:1234\nE:ID_INPUT=1\nE:ID_INPUT_TOUCHPAD=1\nG:seat\n")
    devices = input_events.scan_devices(sys_class_input, dev_input, udev)
    assert [device.node.name for device in input_events.touchpads(devices)] == ["event4"]
    (udev / "c13:68").write_text("E:ID_INPUT_TOUCHPAD=0\n")
    devices = input_events.scan_devices(sys_class_input, dev_input, udev)
    assert input_events.touchpads(devices) == []


def test_no_input_class_means_no_devices(tmp_path: Path) -> None:
    assert input_events.scan_devices(tmp_path / "none", tmp_path, tmp_path) == []


def test_the_absinfo_request_is_the_kernel_s() -> None:
    # EVIOCGABS(ABS_X) as evtest and libevdev use it on every architecture with _IOC_READ = 2.
    assert input_events.eviocgabs(ABS_X) == 0x80184540
    assert input_events.eviocgabs(ABS_Y) == 0x80184541


def test_a_file_that_is_not_an_input_device_has_no_axis_range(tmp_path: Path) -> None:
    path = tmp_path / "plain"
    path.write_bytes(b"")
    descriptor = os.open(path, os.O_RDONLY)
    try:
        assert input_events.axis_range(descriptor, ABS_X) is None
    finally:
        os.close(descriptor)


# --- reading events -----------------------------------------------------------------------

def test_the_record_is_the_64_bit_kernel_s() -> None:
    assert EVENT_SIZE == 24
    packed = pack_event(InputEvent(12.5, EV_KEY, KEY_A, 1))
    assert struct.unpack("llHHi", packed) == (12, 500000, EV_KEY, KEY_A, 1)


def test_events_are_read_from_a_pipe_even_split_across_writes() -> None:
    read_end, write_end = os.pipe()
    received: list[InputEvent] = []
    done = threading.Event()

    def on_event(event: InputEvent) -> None:
        received.append(event)
        if len(received) == 3:
            done.set()

    reader = EventReader([read_end], on_event).start()
    try:
        data = b"".join(pack_event(event) for event in (
            InputEvent(1.0, EV_KEY, KEY_ESC, 1), InputEvent(1.1, EV_SYN, 0, 0),
            InputEvent(1.2, EV_KEY, KEY_ESC, 0)))
        os.write(write_end, data[:30])  # one record and a quarter
        os.write(write_end, data[30:])
        assert done.wait(5)
    finally:
        reader.stop()
        os.close(write_end)
    assert [(event.type, event.code, event.value) for event in received] == [
        (EV_KEY, KEY_ESC, 1), (EV_SYN, 0, 0), (EV_KEY, KEY_ESC, 0)]
    assert received[0].seconds == pytest.approx(1.0)
    assert received[2].seconds == pytest.approx(1.2)


def test_stop_ends_a_reader_that_waits() -> None:
    read_end, write_end = os.pipe()
    reader = EventReader([read_end], lambda event: None).start()
    reader.stop()
    reader.join(2)
    assert not reader._thread.is_alive()
    os.close(write_end)


def test_a_failing_handler_does_not_end_the_reading(tmp_path: Path) -> None:
    path = tmp_path / "event0"
    path.write_bytes(pack_event(InputEvent(1.0, EV_KEY, KEY_A, 1))
                     + pack_event(InputEvent(1.1, EV_KEY, KEY_Z, 1)))
    seen: list[int] = []

    def on_event(event: InputEvent) -> None:
        seen.append(event.code)
        if event.code == KEY_A:
            raise ValueError("a bad handler")

    reader, opened = EventReader.open([path], on_event)
    assert opened == [path]
    reader.start().join(5)  # a file ends: the reader ends with it
    reader.stop()
    assert seen == [KEY_A, KEY_Z]


def test_open_keyboards_passes_only_key_events(tmp_path: Path) -> None:
    sys_class_input, dev_input = sysfs_tree(
        (FIXTURES / "lenovo-z50-70.devices").read_text(), tmp_path)
    (dev_input / "event3").write_bytes(b"".join(pack_event(event) for event in (
        InputEvent(5.0, 4, 4, 30), InputEvent(5.0, EV_KEY, KEY_A, 1),
        InputEvent(5.0, EV_SYN, 0, 0), InputEvent(5.1, EV_KEY, KEY_A, 0))))
    keys: list[tuple[int, int]] = []
    feed = input_events.open_keyboards(lambda code, value: keys.append((code, value)),
                                       sys_class_input=sys_class_input, dev_input=dev_input,
                                       udev_data=tmp_path / "udev")
    assert feed is not None
    assert feed.names == ["AT Translated Set 2 keyboard"]
    assert isinstance(feed, input_events.EvdevKeys)
    feed.reader.join(5)
    feed.stop()
    assert keys == [(KEY_A, 1), (KEY_A, 0)]


def test_no_readable_keyboard_means_no_feed(tmp_path: Path) -> None:
    sys_class_input, dev_input = sysfs_tree(
        (FIXTURES / "lenovo-z50-70.devices").read_text(), tmp_path)
    (dev_input / "event3").unlink()  # no device node: as if it could not be opened
    assert input_events.open_keyboards(lambda code, value: None,
                                       sys_class_input=sys_class_input, dev_input=dev_input,
                                       udev_data=tmp_path / "udev") is None


def test_open_touchpad_finds_the_touchpad_and_learns_its_range_when_not_told(
        tmp_path: Path) -> None:
    sys_class_input, dev_input = sysfs_tree(
        (FIXTURES / "synaptics-clickpad.devices").read_text(), tmp_path)
    feed = input_events.open_touchpad(lambda event: None, sys_class_input=sys_class_input,
                                      dev_input=dev_input, udev_data=tmp_path / "udev")
    assert feed is not None
    feed.stop()
    assert feed.name == "SynPS/2 Synaptics TouchPad"
    assert (feed.x_range, feed.y_range) == (None, None)  # a plain file answers no ioctl
    lenovo = tmp_path / "lenovo"
    sys_class_input, dev_input = sysfs_tree(
        (FIXTURES / "lenovo-z50-70.devices").read_text(), lenovo)
    assert input_events.open_touchpad(lambda event: None, sys_class_input=sys_class_input,
                                      dev_input=dev_input, udev_data=lenovo / "udev") is None


# --- a finger on a touchpad ---------------------------------------------------------------

def touch(trace: TouchTrace, seconds: float, points: list[tuple[int, int]],
          lift_after: float = 1.0) -> None:
    """A finger put down, moved over `points` (one report each), and lifted."""
    trace.feed(InputEvent(seconds, EV_KEY, BTN_TOUCH, 1))
    for x, y in points:
        trace.feed(InputEvent(seconds, EV_ABS, ABS_X, x))
        trace.feed(InputEvent(seconds, EV_ABS, ABS_Y, y))
        trace.feed(InputEvent(seconds, EV_SYN, 0, 0))
    trace.feed(InputEvent(seconds + lift_after, EV_KEY, BTN_TOUCH, 0))


def test_the_four_corners_and_a_click_look_fine() -> None:
    trace = TouchTrace(48, 12, SYNAPTICS_X, SYNAPTICS_Y)
    touch(trace, 1.0, [(1472, 1408), (5472, 1408)])
    assert trace.cells() == {(0, 0), (47, 0)}
    assert trace.corners() == 2 and not trace.looks_fine
    touch(trace, 3.0, [(5472, 4448), (1500, 4400)])
    assert trace.corners() == 4 and not trace.looks_fine  # no click yet
    trace.feed(InputEvent(5.0, EV_KEY, BTN_LEFT, 1))
    trace.feed(InputEvent(5.1, EV_KEY, BTN_LEFT, 0))
    assert trace.clicks == 1 and trace.looks_fine
    assert trace.coverage() == round(4 / (48 * 12), 2)


def test_a_short_touch_is_a_tap_and_a_long_one_is_not() -> None:
    trace = TouchTrace(48, 12, SYNAPTICS_X, SYNAPTICS_Y)
    touch(trace, 1.0, [(3000, 3000)], lift_after=1.0)
    assert trace.taps == 0
    touch(trace, 3.0, [(3000, 3000)], lift_after=0.1)
    assert trace.taps == 1 and trace.clicks == 0


def test_positions_after_the_finger_lifted_are_not_drawn() -> None:
    trace = TouchTrace(48, 12, SYNAPTICS_X, SYNAPTICS_Y)
    touch(trace, 1.0, [(1472, 1408)])
    trace.feed(InputEvent(3.0, EV_SYN, 0, 0))  # a report without a finger (a button's)
    trace.feed(InputEvent(3.0, EV_ABS, ABS_X, 5472))
    trace.feed(InputEvent(3.0, EV_SYN, 0, 0))
    assert trace.cells() == {(0, 0)}


def test_without_a_declared_range_the_positions_seen_make_it() -> None:
    trace = TouchTrace(4, 2)
    touch(trace, 1.0, [(100, 10), (500, 10), (400, 50)])
    assert trace.cells() == {(0, 0), (3, 0), (2, 1)}
    assert trace.corners() == 3
