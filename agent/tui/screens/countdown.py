"""A notice over the current screen that counts down the seconds, then answers True, unless a
key is pressed first: any key answers False. Nothing is behind a particular key, so whoever
passes by the machine can stop what is about to happen."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Center, Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from agent.tui.console import plain, plain_lines
from agent.tui.widgets.big_number import BigNumber


class Countdown(ModalScreen[bool]):
    """`seconds` to count; `tick`: how long one of them lasts (a test's countdown runs out in
    no time)."""

    def __init__(self, seconds: int, *, tick: float = 1.0) -> None:
        super().__init__()
        self.seconds_left = seconds
        self._tick = tick
        self._answered = False

    # What the notice says, in the volunteer's language.

    def title_text(self) -> str:
        raise NotImplementedError

    def lines(self) -> list[str]:
        raise NotImplementedError

    def seconds_line(self) -> str:
        raise NotImplementedError

    def key_line(self) -> str:
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog countdown") as frame:
            frame.border_title = plain(self.title_text())
            yield Static(plain_lines(self.lines()), classes="text", markup=False)
            with Center():
                yield BigNumber(self.seconds_left, id="seconds")
            yield Static(plain(self.seconds_line()), id="seconds-line", classes="text warning",
                         markup=False)
            yield Static(plain(self.key_line()), id="key-line", classes="text", markup=False)

    def on_mount(self) -> None:
        self.set_interval(self._tick, self._count)

    def _count(self) -> None:
        if self._answered:
            return
        self.seconds_left -= 1
        if self.seconds_left <= 0:
            self._answer(True)
            return
        self.query_one("#seconds", BigNumber).show(self.seconds_left)
        self.query_one("#seconds-line", Static).update(plain(self.seconds_line()))

    def on_key(self, event: events.Key) -> None:
        event.stop()
        event.prevent_default()
        self._answer(False)

    def _answer(self, go_on: bool) -> None:
        if not self._answered:  # a key pressed as the last second ends answers once
            self._answered = True
            self.dismiss(go_on)
