"""Guided check: the keyboard. A map of its keys lights each one as it is pressed; the test ends
by itself when every key has lit, or when Esc is pressed three times in a row (every key is
part of the test, so one Esc cannot skip it). Keys that never answered are then either recorded
as not working or as not tried, as the volunteer says.

Keys are read from the kernel (evdev) when a keyboard can be opened there: it sees Shift, Ctrl,
Alt and the other keys a terminal never reports alone, and says when a key is released. Without
it (no permission, tests) the terminal's key events are mapped back to keys through the layout,
and the modifier keys are shown as not testable, not counted as dead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from agent.health import guided, keyboard_map
from agent.health.input_events import KEY_PRESS, KEY_RELEASE, KEY_REPEAT, KeyFeed, KeySink
from agent.health.input_events import open_keyboards as open_evdev_keyboards
from agent.health.keyboard_map import KEY_ESC, MAP_ROWS, PLACES, KeyboardLayout
from agent.health.model import FAIL, SKIPPED, Finding
from agent.i18n import N_, _
from agent.tui.console import plain
from agent.tui.screens.base import ESCAPE
from agent.tui.screens.dialogs import yes_no
from agent.tui.screens.guided_base import GuidedContext, GuidedScreen

EVDEV, TERMINAL = "evdev", "terminal"
STUCK_SECONDS = 2.0  # held (evdev) or repeating (terminal) this long: the key is stuck
# A terminal only sees a held key as the same character again and again; a gap this short
# between two of them is the keyboard's autorepeat (10 or more a second), not a finger.
REPEAT_GAP = 0.2
ESCAPES_TO_END = 3
# With the kernel's events the test ends on the kernel's copy of the last key, while the
# terminal's copies of the keys may still be on their way (a slow machine can be seconds
# behind): they would turn the next screen's colour pages or answer its question. The screen
# swallows them until none came for SETTLE_SECONDS, at most SETTLE_LONGEST after the end.
SETTLE_SECONDS = 1.5
SETTLE_LONGEST = 15.0

# How a key is drawn: not pressed yet, pressed, stuck, not testable here.
STYLES = {"waiting": "bright_white on blue", "lit": "black on bright_green",
          "stuck": "bright_white on red", "untestable": "bright_black on black"}

KeyOpener = Callable[[KeySink], KeyFeed | None]


class KeyboardMap(Static):
    """The keys where they are on the keyboard, each in its state's colours."""

    def draw(self, layout: KeyboardLayout, lit: set[int], stuck: set[int],
             untestable: frozenset[int]) -> None:
        lines = [Text(no_wrap=True) for _row in range(MAP_ROWS * 2 - 1)]
        for place in sorted(PLACES, key=lambda place: (place.row, place.column)):
            line = lines[place.row * 2]
            line.append(" " * (place.column - line.cell_len))
            label = layout.label(place.code) if place.labelled else ""
            state = ("stuck" if place.code in stuck else "lit" if place.code in lit
                     else "untestable" if place.code in untestable else "waiting")
            line.append(label[:place.width - 1].center(place.width - 1), style=STYLES[state])
            line.append(" ")
        self.update(Text("\n").join(lines))


class KeyboardScreen(GuidedScreen):
    CHECK = guided.KEYBOARD
    NAME = N_("the keyboard")
    # Every key is handled by `on_key`; this binding only puts Esc's meaning on the keys' line.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "end_test", N_("3 times in a row: end the test"), key_display=ESCAPE),
    ]
    DEFAULT_CSS = """
    KeyboardScreen KeyboardMap {
        width: auto;
        height: auto;
    }
    KeyboardScreen #map-frame {
        width: auto;
    }
    """

    class KernelKey(Message):
        """A key event read by the kernel's reader thread, brought into the screen's loop."""

        def __init__(self, code: int, value: int) -> None:
            super().__init__()
            self.code, self.value = code, value

    def __init__(self, context: GuidedContext, number: int, count: int, *,
                 open_keyboards: KeyOpener = open_evdev_keyboards) -> None:
        super().__init__(context, number, count)
        self.key_layout = keyboard_map.layout(context.keyboard_layout)
        self._open_keyboards = open_keyboards
        self.feed: KeyFeed | None = None
        self.source = TERMINAL
        self.lit: set[int] = set()
        self.stuck: dict[int, None] = {}  # in the order they were found stuck
        self._held: dict[int, float] = {}  # evdev: key code -> when it was pressed
        self._repeating: tuple[int, float, float] | None = None  # terminal: key, since, last
        self._escapes = 0
        self._ending = False
        self._ended_at = 0.0
        self._last_terminal_key = 0.0  # while settling: when a late terminal copy came

    # --- what is drawn ----------------------------------------------------------------------

    def compose_body(self) -> ComposeResult:
        yield Static("", id="explanation", classes="text", markup=False)
        yield Static("", id="device", classes="text hint", markup=False)
        with Vertical(id="map-frame", classes="panel"):
            yield KeyboardMap(id="map")
        yield Static("", id="count", classes="text", markup=False)
        yield Static("", id="stuck", classes="text error", markup=False)

    def on_mount(self) -> None:
        self.feed = self._open_keyboards(self._from_kernel)
        self.source = EVDEV if self.feed is not None else TERMINAL
        self.query_one("#map-frame").border_title = _("Layout: {layout}").format(
            layout=self.key_layout.name)
        self.query_one("#explanation", Static).update(plain(self.explanation()))
        self.query_one("#device", Static).update(plain(self.device_line()))
        self.set_interval(0.5, self._check_held)
        self.redraw()

    def on_unmount(self) -> None:
        self._stop_feed()

    @property
    def untestable(self) -> frozenset[int]:
        return keyboard_map.TERMINAL_SILENT if self.source == TERMINAL else frozenset()

    @property
    def testable(self) -> list[int]:
        return [code for code in keyboard_map.KEY_CODES if code not in self.untestable]

    def explanation(self) -> str:
        lines = [_("Press each key of the keyboard once: it turns green on the map. The test "
                   "ends by itself when every key is green."),
                 _("To end it before that, press Esc three times in a row.")]
        if self.source == TERMINAL:
            lines.append(_("The keys in grey (Shift, Ctrl, Alt...) cannot be tested here: "
                           "they do not count."))
        if not self.key_layout.known:
            lines.append(_('The layout "{layout}" is not known here: the keys show the US '
                           "labels.").format(layout=self.key_layout.asked))
        return "\n".join(lines)

    def device_line(self) -> str:
        if self.feed is None:
            return _("Keys read from the terminal.")
        return _("Keyboard: {names}").format(names=", ".join(self.feed.names) or "?")

    def redraw(self) -> None:
        self.query_one(KeyboardMap).draw(self.key_layout, self.lit, set(self.stuck),
                                         self.untestable)
        testable = self.testable
        count = _("{pressed} of {total} keys answered.").format(
            pressed=len(self.lit.intersection(testable)), total=len(testable))
        if self._escapes == ESCAPES_TO_END - 1:
            count += " " + _("Press Esc once more to end the test.")
        self.query_one("#count", Static).update(plain(count))
        stuck = _("Stuck key: {keys}").format(keys=self.labels(self.stuck)) if self.stuck else ""
        self.query_one("#stuck", Static).update(plain(stuck))

    def labels(self, codes: Iterable[int]) -> str:
        return ", ".join(self.key_layout.full_name(code) for code in codes)

    # --- keys from the kernel ---------------------------------------------------------------

    def _from_kernel(self, code: int, value: int) -> None:
        """Called in the reader's thread: the event is handled in the screen's own loop."""
        self.post_message(self.KernelKey(code, value))

    def on_keyboard_screen_kernel_key(self, message: KernelKey) -> None:
        if self._ending:
            return
        now = self.context.clock()
        if message.value == KEY_PRESS:
            self._held[message.code] = now
            self.pressed(message.code)
        elif message.value == KEY_RELEASE:
            self._held.pop(message.code, None)
        elif message.value == KEY_REPEAT:
            since = self._held.setdefault(message.code, now)
            if now - since > STUCK_SECONDS:
                self.found_stuck(message.code)

    def _check_held(self) -> None:
        """A key held without autorepeat (some keyboards repeat nothing) is stuck too."""
        if self._ending:
            return
        now = self.context.clock()
        for code, since in list(self._held.items()):
            if now - since > STUCK_SECONDS:
                self.found_stuck(code)

    # --- keys from the terminal -------------------------------------------------------------

    def on_key(self, event: events.Key) -> None:
        """Every key is the test's: none reaches a binding (Esc does not skip, Tab does not
        move). With the kernel's events the terminal's copy of the same key is ignored."""
        event.stop()
        event.prevent_default()
        if self._ending:
            self._last_terminal_key = time.monotonic()  # a late copy: settling goes on
            return
        if self.source != TERMINAL:
            return
        code = self.key_layout.key_for_terminal(event.key, event.character)
        if code is None:
            return
        now = self.context.clock()
        repeating = self._repeating
        if repeating is not None and repeating[0] == code and now - repeating[2] <= REPEAT_GAP:
            self._repeating = (code, repeating[1], now)
            if now - repeating[1] > STUCK_SECONDS:
                self.found_stuck(code)
        else:
            self._repeating = (code, now, now)
        self.pressed(code)

    # --- what a key does --------------------------------------------------------------------

    def pressed(self, code: int) -> None:
        self._escapes = self._escapes + 1 if code == KEY_ESC else 0
        if code in keyboard_map.KEY_CODES:
            self.lit.add(code)
        if self._escapes >= ESCAPES_TO_END or not self.unlit():
            self.end()
            return
        self.redraw()

    def found_stuck(self, code: int) -> None:
        if code not in self.stuck:
            self.stuck[code] = None
            self.redraw()

    def unlit(self) -> list[int]:
        return [code for code in self.testable if code not in self.lit]

    def action_end_test(self) -> None:
        """Only reached by a click on the keys' line: Esc itself is handled by `on_key`."""
        if not self._ending:
            self.end()

    def end(self) -> None:
        self._ending = True
        self._stop_feed()
        self.redraw()
        if self.source == EVDEV:
            self._ended_at = self._last_terminal_key = time.monotonic()
            self.set_timer(SETTLE_SECONDS, self._settled)
            return
        self._conclude()

    def _settled(self) -> None:
        """The terminal's late copies of the keys are swallowed until none came for a while."""
        now = time.monotonic()
        quiet = now - self._last_terminal_key
        if quiet < SETTLE_SECONDS and now - self._ended_at < SETTLE_LONGEST:
            self.set_timer(SETTLE_SECONDS - quiet, self._settled)
            return
        self._conclude()

    def _conclude(self) -> None:
        unlit = self.unlit()
        if not unlit:
            self.finish(())
            return
        question = yes_no(_("The keyboard"), _(
            "These keys did not answer: {keys}.\n\nRecord them as not working?").format(
                keys=self.labels(unlit)))
        self.app.push_screen(question, lambda dead: self.answered(unlit, bool(dead)))

    def answered(self, unlit: list[int], dead: bool) -> None:
        keys = self.labels(unlit)
        if dead:
            finding = Finding.of("keys_dead", FAIL, N_("These keys do not work: {keys}"),
                                 keys=keys)
        else:
            finding = Finding.of("keys_not_tried", SKIPPED,
                                 N_("These keys were not tried: {keys}"), keys=keys)
        self.finish((finding,), dead=unlit if dead else [])

    def finish(self, findings: tuple[Finding, ...], dead: list[int] | None = None) -> None:
        if self.stuck:
            findings = (Finding.of("key_stuck", FAIL, N_("A key stays pressed by itself: {keys}"),
                                   keys=self.labels(self.stuck)), *findings)
        measured: dict[str, object] = {
            "layout": self.key_layout.name, "source": self.source,
            "keys_total": len(self.testable),
            "keys_pressed": len(self.lit.intersection(self.testable)),
            "dead": [self.key_layout.full_name(code) for code in dead or []],
            "stuck": [self.key_layout.full_name(code) for code in self.stuck]}
        if self.untestable:
            measured["not_testable"] = [self.key_layout.full_name(code)
                                        for code in keyboard_map.KEY_CODES
                                        if code in self.untestable]
        if not self.key_layout.known:
            measured["layout_asked"] = self.key_layout.asked
        if findings:
            self.finish_with(findings, measured)
        else:
            self.finish_passed(measured)

    def _stop_feed(self) -> None:
        feed, self.feed = self.feed, None
        if feed is not None:
            feed.stop()
