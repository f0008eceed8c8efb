"""The guided checks for the walk-through's tests (`scripted_guided`), and one guided check's
screen on its own as the walk-through shows it (the console's stylesheet, colours and glyphs),
for Pilot and snapshot tests: `GuidedHost(make_screen)` pushes the screen and keeps what it was
dismissed with in `host.results`.

`compare_snapshot` is the walk-through's snapshot rule (tests/test_screens.py): the text of the
screen against tests/snapshots/<name>.<language>.txt, written again with
REEEBOOT_UPDATE_SNAPSHOTS=1 (read the diff before committing it).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path

from textual.app import App

from agent.health.camera import CameraDetection
from agent.health.model import CheckResult
from agent.health.sound import SoundHardware
from agent.health.usb_ports import UsbDevice, UsbEventSink
from agent.i18n import set_language
from agent.inventory.model import Machine
from agent.tui.console import use_console_glyphs
from agent.tui.screens.base import translate_bindings
from agent.tui.screens.guided_appearance import AppearanceScreen
from agent.tui.screens.guided_base import GuidedContext, GuidedScreen
from agent.tui.screens.guided_camera import CameraScreen
from agent.tui.screens.guided_display import DisplayScreen
from agent.tui.screens.guided_keyboard import KeyboardScreen
from agent.tui.screens.guided_sound import SoundScreen
from agent.tui.screens.guided_touchpad import TouchpadScreen
from agent.tui.screens.guided_usb import UsbPortsScreen
from tests.screens import outside_cp437, screen_text

SNAPSHOTS = Path(__file__).parent / "snapshots"
CONSOLE_CSS = Path(__file__).parent.parent / "agent" / "tui" / "console.tcss"
SIZE = (80, 25)


class FakeClock:
    """A clock the test moves: a guided result's `seconds` is then known exactly."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def context(*, operator: str | None = "Atelier Lyon", layout: str = "fr",
            clock: Callable[[], float] | None = None,
            machine: Machine | None = None) -> GuidedContext:
    return GuidedContext(operator=operator, machine=machine, keyboard_layout=layout,
                         clock=clock or FakeClock())


# The USB devices the scripted laptop has from the start: its keyboard's receiver and the stick.
PLUGGED_AT_START = (UsbDevice("1-1", "1-1", 12.0, "Logitech USB Receiver"),
                    UsbDevice("2-1", "2-1", 5000.0, "SanDisk Ultra"))


class PlugsNothing:
    """A udev watcher to which nothing is plugged during the test."""

    def __init__(self) -> None:
        self.present = list(PLUGGED_AT_START)

    def __call__(self, _sink: UsbEventSink) -> PlugsNothing:
        return self

    def stop(self) -> None:
        pass


def scripted_guided() -> list[Callable[[GuidedContext, int, int], GuidedScreen]]:
    """The guided checks on a laptop whose devices the test chooses, never this computer's:
    keys from the terminal, no sound card, no camera, no touchpad, the USB devices of
    PLUGGED_AT_START."""
    return [partial(KeyboardScreen, open_keyboards=lambda _sink: None), DisplayScreen,
            partial(SoundScreen, find=SoundHardware), partial(CameraScreen, find=CameraDetection),
            partial(UsbPortsScreen, watch=PlugsNothing()),
            partial(TouchpadScreen, open_touchpad=lambda _sink: None), AppearanceScreen]


class GuidedHost(App[None]):
    CSS_PATH = CONSOLE_CSS

    def __init__(self, make_screen: Callable[[], GuidedScreen], language: str = "fr") -> None:
        set_language(language)
        use_console_glyphs()
        super().__init__()
        translate_bindings(self)
        self._make_screen = make_screen
        self.results: list[CheckResult] = []

    def on_mount(self) -> None:
        self.theme = "ansi-dark"
        self.push_screen(self._make_screen(), self._answered)

    def _answered(self, result: CheckResult | None) -> None:
        assert result is not None, "a guided screen always ends with its result"
        self.results.append(result)


def compare_snapshot(name: str, language: str, app: App[None]) -> None:
    """The app's screen against its snapshot in tests/snapshots/ (REEEBOOT_UPDATE_SNAPSHOTS=1
    rewrites it)."""
    text = screen_text(app)
    assert not outside_cp437(text), f"{name}: {outside_cp437(text)}"
    path = SNAPSHOTS / f"{name}.{language}.txt"
    if os.environ.get("REEEBOOT_UPDATE_SNAPSHOTS"):
        path.write_text(text + "\n")
        return
    assert path.exists(), f"no snapshot {path}: run with REEEBOOT_UPDATE_SNAPSHOTS=1"
    expected = path.read_text().removesuffix("\n")
    assert text == expected, "\n".join(difflib.unified_diff(
        expected.splitlines(), text.splitlines(), str(path), "now", lineterm=""))
