"""The kernel's input devices (evdev) for the guided keyboard and touchpad checks: which of
/dev/input/event* are keyboards and touchpads, reading their events in a background thread,
and what a finger did on a touchpad.

evdev sees every key, modifiers alone included, which a terminal never reports; the agent runs
as root on the live system, so it may read them. Capabilities come from sysfs
(/sys/class/input/eventN/device/capabilities/*): hexadecimal words of the kernel's `long`, most
significant first, leading zero words left out. udev's ID_INPUT_TOUCHPAD, when udevd runs, is
its own reading of the same capabilities plus its quirks.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import select
import struct
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Protocol

from agent.health.keyboard_map import KEY_A, KEY_L, KEY_M, KEY_P, KEY_Q, KEY_Z

log = logging.getLogger(__name__)

SYS_CLASS_INPUT = Path("/sys/class/input")
DEV_INPUT = Path("/dev/input")
UDEV_DATA = Path("/run/udev/data")

# struct input_event on a 64-bit kernel: struct timeval (two longs), type, code, value.
EVENT_FORMAT = "llHHi"
EVENT_SIZE = struct.calcsize(EVENT_FORMAT)
WORD_BITS = struct.calcsize("l") * 8  # the kernel's long, as its sysfs bitmaps print it

# linux/input-event-codes.h
EV_SYN, EV_KEY, EV_ABS = 0, 1, 3
SYN_REPORT = 0
ABS_X, ABS_Y = 0, 1
BTN_LEFT, BTN_RIGHT, BTN_MIDDLE = 0x110, 0x111, 0x112
BTN_TOOL_PEN, BTN_TOOL_FINGER, BTN_TOUCH = 0x140, 0x145, 0x14A
INPUT_PROP_DIRECT = 1  # a touch screen or a tablet: the finger is where it points
KEY_PRESS, KEY_RELEASE, KEY_REPEAT = 1, 0, 2
# KEY_A..KEY_Z are not one run of codes (they follow the QWERTY rows): the 26 letters' codes.
LETTER_CODES = frozenset({*range(KEY_Q, KEY_P + 1), *range(KEY_A, KEY_L + 1),
                          *range(KEY_Z, KEY_M + 1)})
CLICK_BUTTONS = (BTN_LEFT, BTN_RIGHT, BTN_MIDDLE)

# struct input_absinfo: value, minimum, maximum, fuzz, flat, resolution (six s32).
_ABSINFO_FORMAT = "6i"
_IOC_READ = 2


def eviocgabs(axis: int) -> int:
    """The EVIOCGABS(axis) ioctl request: _IOR('E', 0x40 + axis, struct input_absinfo)."""
    size = struct.calcsize(_ABSINFO_FORMAT)
    return (_IOC_READ << 30) | (size << 16) | (ord("E") << 8) | (0x40 + axis)


class InputEvent(NamedTuple):
    seconds: float  # the kernel's timestamp
    type: int
    code: int
    value: int


def pack_event(event: InputEvent) -> bytes:
    """`event` as the kernel writes it (for tests and replays)."""
    whole = int(event.seconds)
    micro = round((event.seconds - whole) * 1_000_000)
    return struct.pack(EVENT_FORMAT, whole, micro, event.type, event.code, event.value)


def parse_bitmap(text: str, word_bits: int = WORD_BITS) -> int:
    """A sysfs capability bitmap ("120013", "402000000 3803078f800d001 ...") as one integer:
    bit N set when capability N is there. Words are the kernel's longs, the last one lowest."""
    value = 0
    for word in text.split():
        value = (value << word_bits) | int(word, 16)
    return value


def has_bit(bitmap: int, bit: int) -> bool:
    return bool(bitmap >> bit & 1)


@dataclass(frozen=True)
class AxisRange:
    minimum: int
    maximum: int


@dataclass(frozen=True)
class InputDevice:
    node: Path  # /dev/input/eventN
    name: str
    keys: int  # capability bitmaps
    axes: int
    properties: int
    udev: dict[str, str] = field(default_factory=dict)

    @property
    def is_keyboard(self) -> bool:
        """Types letters: every key from A to Z (a power button or a mouse has none)."""
        return all(has_bit(self.keys, code) for code in LETTER_CODES)

    @property
    def is_touchpad(self) -> bool:
        """udev's word when it gave one; otherwise its own rule: absolute X and Y, a finger
        tool, no pen, and not a screen the finger touches directly."""
        if "ID_INPUT_TOUCHPAD" in self.udev:
            return self.udev["ID_INPUT_TOUCHPAD"] == "1"
        return (has_bit(self.axes, ABS_X) and has_bit(self.axes, ABS_Y)
                and has_bit(self.keys, BTN_TOOL_FINGER) and not has_bit(self.keys, BTN_TOOL_PEN)
                and not has_bit(self.properties, INPUT_PROP_DIRECT))


def scan_devices(sys_class_input: Path = SYS_CLASS_INPUT, dev_input: Path = DEV_INPUT,
                 udev_data: Path = UDEV_DATA, word_bits: int = WORD_BITS) -> list[InputDevice]:
    """Every event device the kernel lists, with its capabilities, in event number order."""
    devices = []
    entries = sys_class_input.glob("event*") if sys_class_input.is_dir() else []
    for entry in sorted(entries, key=_event_number):
        device = entry / "device"
        capabilities = device / "capabilities"
        devices.append(InputDevice(
            node=dev_input / entry.name,
            name=_read(device / "name").strip(),
            keys=parse_bitmap(_read(capabilities / "key"), word_bits),
            axes=parse_bitmap(_read(capabilities / "abs"), word_bits),
            properties=parse_bitmap(_read(device / "properties"), word_bits),
            udev=_udev_properties(udev_data, _read(entry / "dev").strip())))
    return devices


def keyboards(devices: Iterable[InputDevice]) -> list[InputDevice]:
    return [device for device in devices if device.is_keyboard]


def touchpads(devices: Iterable[InputDevice]) -> list[InputDevice]:
    return [device for device in devices if device.is_touchpad]


def _event_number(path: Path) -> int:
    digits = path.name.removeprefix("event")
    return int(digits) if digits.isdigit() else 1 << 30


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _udev_properties(udev_data: Path, major_minor: str) -> dict[str, str]:
    """udev's properties of a character device ("E:ID_INPUT_TOUCHPAD=1" lines of c13:N)."""
    if not major_minor:
        return {}
    properties = {}
    for line in _read(udev_data / f"c{major_minor}").splitlines():
        if line.startswith("E:") and "=" in line:
            name, _, value = line[2:].partition("=")
            properties[name] = value
    return properties


def axis_range(descriptor: int, axis: int) -> AxisRange | None:
    """An absolute axis' range as the driver declares it; None when the device does not say
    (not an evdev device, or no such axis)."""
    buffer = bytearray(struct.calcsize(_ABSINFO_FORMAT))
    try:
        fcntl.ioctl(descriptor, eviocgabs(axis), buffer)
    except OSError:
        return None
    _value, minimum, maximum, *_rest = struct.unpack(_ABSINFO_FORMAT, buffer)
    return AxisRange(minimum, maximum) if maximum > minimum else None


EventSink = Callable[[InputEvent], None]


class EventReader:
    """Reads struct input_event records from open descriptors in a background thread, passing
    each one to `on_event` (in that thread). A device that goes away is dropped; `stop()` ends
    the thread and closes what it opened."""

    def __init__(self, descriptors: Sequence[int], on_event: EventSink) -> None:
        self._descriptors = list(descriptors)
        self._on_event = on_event
        self._wake_read, self._wake_write = os.pipe()
        self._thread = threading.Thread(target=self._run, name="input events", daemon=True)
        self._stopped = False

    @classmethod
    def open(cls, nodes: Iterable[Path], on_event: EventSink) -> tuple[EventReader, list[Path]]:
        """A reader of those of `nodes` that can be opened (root, or the input group), with
        the list of those; the reader has nothing to read when that list is empty."""
        opened, descriptors = [], []
        for node in nodes:
            try:
                descriptors.append(os.open(node, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC))
            except OSError as error:
                log.info("cannot read %s: %s", node, error)
                continue
            opened.append(node)
        return cls(descriptors, on_event), opened

    @property
    def descriptors(self) -> list[int]:
        return list(self._descriptors)

    def start(self) -> EventReader:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"x")
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
        for descriptor in (*self._descriptors, self._wake_read, self._wake_write):
            with contextlib.suppress(OSError):
                os.close(descriptor)
        self._descriptors = []

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        pending = {descriptor: b"" for descriptor in self._descriptors}
        while pending:
            try:
                ready, _, _ = select.select([*pending, self._wake_read], [], [])
            except (OSError, ValueError):
                return
            if self._wake_read in ready:
                return
            for descriptor in ready:
                try:
                    chunk = os.read(descriptor, EVENT_SIZE * 64)
                except BlockingIOError:
                    continue
                except OSError as error:  # ENODEV: the device was unplugged
                    log.info("input device gone: %s", error)
                    chunk = b""
                if not chunk:
                    del pending[descriptor]
                    continue
                data = pending[descriptor] + chunk
                whole = len(data) - len(data) % EVENT_SIZE
                pending[descriptor] = data[whole:]
                for seconds, micro, kind, code, value in struct.iter_unpack(
                        EVENT_FORMAT, data[:whole]):
                    self._deliver(InputEvent(seconds + micro / 1_000_000, kind, code, value))

    def _deliver(self, event: InputEvent) -> None:
        try:
            self._on_event(event)
        except Exception:  # one bad event must not end the test
            log.exception("input event %s not handled", event)


# --- what the screens use -----------------------------------------------------------------

KeySink = Callable[[int, int], None]  # (key code, value): 1 press, 0 release, 2 autorepeat


class KeyFeed(Protocol):
    """A running source of key events for the keyboard screen."""

    names: list[str]  # the keyboards' names, as the kernel gives them

    def stop(self) -> None: ...


@dataclass
class EvdevKeys:
    reader: EventReader
    names: list[str]

    def stop(self) -> None:
        self.reader.stop()


def open_keyboards(on_key: KeySink, *, sys_class_input: Path = SYS_CLASS_INPUT,
                   dev_input: Path = DEV_INPUT, udev_data: Path = UDEV_DATA) -> KeyFeed | None:
    """Every keyboard's key events, passed to `on_key` from a background thread; None when no
    keyboard can be read (none found, or no permission): the screen then listens to the
    terminal instead."""
    found = keyboards(scan_devices(sys_class_input, dev_input, udev_data))

    def on_event(event: InputEvent) -> None:
        if event.type == EV_KEY:
            on_key(event.code, event.value)

    reader, opened = EventReader.open([device.node for device in found], on_event)
    if not opened:
        reader.stop()
        return None
    names = [device.name for device in found if device.node in opened]
    return EvdevKeys(reader.start(), names)


class TouchFeed(Protocol):
    """A running source of one touchpad's events for the touchpad screen."""

    name: str
    x_range: AxisRange | None  # None: learnt from the positions seen
    y_range: AxisRange | None

    def stop(self) -> None: ...


@dataclass
class EvdevTouchpad:
    reader: EventReader
    name: str
    x_range: AxisRange | None
    y_range: AxisRange | None

    def stop(self) -> None:
        self.reader.stop()


def open_touchpad(on_event: EventSink, *, sys_class_input: Path = SYS_CLASS_INPUT,
                  dev_input: Path = DEV_INPUT, udev_data: Path = UDEV_DATA) -> TouchFeed | None:
    """The first touchpad that can be read, its events passed to `on_event` from a background
    thread; None when there is none."""
    for device in touchpads(scan_devices(sys_class_input, dev_input, udev_data)):
        reader, opened = EventReader.open([device.node], on_event)
        if not opened:
            reader.stop()
            continue
        descriptor = reader.descriptors[0]
        return EvdevTouchpad(reader.start(), device.name, axis_range(descriptor, ABS_X),
                             axis_range(descriptor, ABS_Y))
    return None


# --- what a finger did on a touchpad ------------------------------------------------------

TAP_SECONDS = 0.25  # a touch this short, lifted again, is a tap (a click without a button)
_MAX_POINTS = 50_000  # positions kept while the range is learnt: minutes of a moving finger


class TouchTrace:
    """The cells of a `columns` x `rows` grid a finger went over, and the clicks and taps seen.
    Positions are read at each SYN_REPORT while the finger touches; the grid is scaled to the
    axes' declared ranges, or to the positions seen when the device declared none."""

    def __init__(self, columns: int, rows: int, x_range: AxisRange | None = None,
                 y_range: AxisRange | None = None) -> None:
        self.columns, self.rows = columns, rows
        self._x_range, self._y_range = x_range, y_range
        self._x: int | None = None
        self._y: int | None = None
        self._touching = True  # until the device says otherwise: not every one has BTN_TOUCH
        self._touch_started: float | None = None
        self._points: set[tuple[int, int]] = set()
        self.clicks = 0
        self.taps = 0

    def feed(self, event: InputEvent) -> None:
        if event.type == EV_ABS and event.code == ABS_X:
            self._x = event.value
        elif event.type == EV_ABS and event.code == ABS_Y:
            self._y = event.value
        elif event.type == EV_KEY and event.code in CLICK_BUTTONS and event.value == KEY_PRESS:
            self.clicks += 1
        elif event.type == EV_KEY and event.code == BTN_TOUCH:
            self._touched(event)
        elif event.type == EV_SYN and event.code == SYN_REPORT:
            self._report()

    def _report(self) -> None:
        if self._touching and self._x is not None and self._y is not None \
                and len(self._points) < _MAX_POINTS:
            self._points.add((self._x, self._y))

    def _touched(self, event: InputEvent) -> None:
        if event.value == KEY_PRESS:
            self._touching, self._touch_started = True, event.seconds
        elif event.value == KEY_RELEASE:
            if self._touch_started is not None \
                    and event.seconds - self._touch_started <= TAP_SECONDS:
                self.taps += 1
            self._touching, self._touch_started = False, None

    def cells(self) -> set[tuple[int, int]]:
        """(column, row) of every cell the finger went over."""
        if not self._points:
            return set()
        x_range = self._x_range or _seen_range(x for x, _y in self._points)
        y_range = self._y_range or _seen_range(y for _x, y in self._points)
        return {(_cell(x, x_range, self.columns), _cell(y, y_range, self.rows))
                for x, y in self._points}

    def corners(self) -> int:
        """How many of the four quadrants the finger reached."""
        half_columns, half_rows = self.columns / 2, self.rows / 2
        return len({(column >= half_columns, row >= half_rows) for column, row in self.cells()})

    def coverage(self) -> float:
        return round(len(self.cells()) / (self.columns * self.rows), 2)

    @property
    def looks_fine(self) -> bool:
        return self.corners() == 4 and self.clicks + self.taps > 0


def _seen_range(values: Iterable[int]) -> AxisRange:
    seen = list(values)
    return AxisRange(min(seen), max(seen))


def _cell(value: int, axis: AxisRange, count: int) -> int:
    span = axis.maximum - axis.minimum
    if span <= 0:
        return 0
    return min(count - 1, max(0, (value - axis.minimum) * count // (span + 1)))
