"""Guided check: the touchpad. A box stands for the touchpad: the cells a finger passes over
light up, and clicks (buttons, or taps) are counted. When the finger has reached the four
corners' quarters and a click was seen, the screen says it looks fine; the volunteer says
whether it works. The events are the kernel's (evdev): the console draws no pointer.

No touchpad found: the screen says so, and the volunteer says whether the machine has none
(a desktop) or has one that was not found (a fault).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from agent.health import guided
from agent.health.input_events import EventSink, InputEvent, TouchFeed, TouchTrace
from agent.health.input_events import open_touchpad as open_evdev_touchpad
from agent.health.model import FAIL, NOT_PRESENT, Finding
from agent.i18n import N_, _
from agent.tui.console import plain
from agent.tui.screens.base import ENTER
from agent.tui.screens.guided_base import GuidedContext, GuidedScreen

COLUMNS, ROWS = 48, 12  # the box: about a touchpad's 3:2, with cells twice as tall as wide
LIT, UNLIT = "\u2588", "\u00b7"  # full block, middle dot: both in code page 437
REDRAW_SECONDS = 0.1

TouchpadOpener = Callable[[EventSink], TouchFeed | None]

# The keys' words in each state: a touchpad to test, or none found.
WORKS, DOES_NOT_WORK = N_("It works"), N_("It does not work")
HAS_NONE, NOT_FOUND = N_("Right, it has none"), N_("It has one, but it is not found")


class TouchBox(Static):
    """The touchpad's surface, cell by cell."""

    def draw(self, cells: set[tuple[int, int]]) -> None:
        lines = Text(no_wrap=True)
        for row in range(ROWS):
            if row:
                lines.append("\n")
            for column in range(COLUMNS):
                if (column, row) in cells:
                    lines.append(LIT, style="bright_green")
                else:
                    lines.append(UNLIT, style="bright_black")
        self.update(lines)


class TouchpadScreen(GuidedScreen):
    CHECK = guided.TOUCHPAD
    NAME = N_("the touchpad")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "works", WORKS, key_display=ENTER),
        Binding("n", "does_not_work", DOES_NOT_WORK),
    ]
    DEFAULT_CSS = """
    TouchpadScreen #box-frame {
        width: auto;
        height: auto;
        border: solid ansi_blue;
        border-title-color: ansi_bright_white;
        margin: 0 1;
    }
    TouchpadScreen TouchBox {
        width: auto;
        height: auto;
    }
    """

    class Touched(Message):
        """A touchpad event read by the kernel's reader thread, for the screen's own loop."""

        def __init__(self, event: InputEvent) -> None:
            super().__init__()
            self.event = event

    def __init__(self, context: GuidedContext, number: int, count: int, *,
                 open_touchpad: TouchpadOpener = open_evdev_touchpad) -> None:
        super().__init__(context, number, count)
        # Opened here, not when shown: what the screen says and its keys depend on it.
        self.feed = open_touchpad(self._from_kernel)
        self.present = self.feed is not None
        self.device = self.feed.name if self.feed is not None else None
        self.trace = TouchTrace(COLUMNS, ROWS, self.feed.x_range if self.feed else None,
                                self.feed.y_range if self.feed else None)
        self._changed = True
        self._asked_early = False
        if not self.present:
            table = self._bindings.key_to_bindings
            table["enter"] = [Binding("enter", "has_none", _(HAS_NONE), key_display=_(ENTER))]
            table["n"] = [Binding("n", "not_found", _(NOT_FOUND))]

    def compose_body(self) -> ComposeResult:
        if not self.present:
            yield Static(plain(self.absent_text()), id="explanation", classes="text",
                         markup=False)
            return
        yield Static(plain(self.explanation()), id="explanation", classes="text", markup=False)
        yield Static(plain(_("Touchpad: {name}").format(name=self.device)), id="device",
                     classes="text hint", markup=False)
        with Vertical(id="box-frame"):
            yield TouchBox(id="box")
        yield Static("", id="status", classes="text", markup=False)

    def on_mount(self) -> None:
        if self.present:
            self.set_interval(REDRAW_SECONDS, self._redraw_if_changed)
            self.redraw()

    def on_unmount(self) -> None:
        self._stop_feed()

    @staticmethod
    def absent_text() -> str:
        return "\n".join((
            _("No touchpad was found on this computer."), "",
            _("A desktop computer has none. If this one has a touchpad, it does not answer: "
              "press N."),
        ))

    @staticmethod
    def explanation() -> str:
        return _("Slide a finger over the whole touchpad, into its four corners, then click "
                 "once (or tap). The box lights up where the finger went.")

    # --- events -----------------------------------------------------------------------------

    def _from_kernel(self, event: InputEvent) -> None:
        """Called in the reader's thread: the event is handled in the screen's own loop."""
        self.post_message(self.Touched(event))

    def on_touchpad_screen_touched(self, message: Touched) -> None:
        self.trace.feed(message.event)
        self._changed = True

    def _redraw_if_changed(self) -> None:
        if self._changed:
            self.redraw()

    def redraw(self) -> None:
        self._changed = False
        self.query_one(TouchBox).draw(self.trace.cells())
        clicks = self.trace.clicks + self.trace.taps
        status = _("Corners reached: {corners} of 4. Clicks: {clicks}.").format(
            corners=self.trace.corners(), clicks=clicks)
        line = self.query_one("#status", Static)
        if self.trace.looks_fine:
            status += "\n" + _("It looks fine. Press Enter if the touchpad works, N if not.")
            line.set_classes("text good")
        elif self._asked_early:
            status += "\n" + _("Reach the four corners and click once first (or press N if "
                               "the touchpad does not work).")
            line.set_classes("text warning")
        self.query_one("#status", Static).update(plain(status))

    # --- answers ----------------------------------------------------------------------------

    def measured(self) -> dict[str, object]:
        return {"device": self.device, "coverage": self.trace.coverage(),
                "corners": self.trace.corners(), "clicks": self.trace.clicks,
                "taps": self.trace.taps}

    def action_works(self) -> None:
        if not self.trace.looks_fine:
            self._asked_early = True
            self.redraw()
            return
        self._stop_feed()
        self.finish_passed(self.measured())

    def action_does_not_work(self) -> None:
        self._stop_feed()
        self.finish_failed(Finding.of("touchpad_not_working", FAIL,
                                      N_("The touchpad does not work")), self.measured())

    def action_has_none(self) -> None:
        self.finish_absent(Finding.of("touchpad_not_present", NOT_PRESENT,
                                      N_("This computer has no touchpad")))

    def action_not_found(self) -> None:
        self.finish_failed(Finding.of("touchpad_not_found", FAIL,
                                      N_("The computer has a touchpad, but it is not found")))

    def action_skip(self) -> None:
        self._stop_feed()
        super().action_skip()

    def _stop_feed(self) -> None:
        feed, self.feed = self.feed, None
        if feed is not None:
            feed.stop()
