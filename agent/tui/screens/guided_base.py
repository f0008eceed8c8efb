"""What every guided check's screen shares (agent/health/guided.py says what they are).

Each guided check is one screen, pushed by the app one after the other; it ends by dismissing
itself with its `CheckResult`. Esc skips it (recorded as skipped, never as a pass), except on
the keyboard's screen, where every key is the test itself. The title line says which test of
how many, inside step 5: the volunteer tests the machine while its disks are erased.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Static

from agent.health import guided
from agent.health.model import CheckResult, Finding
from agent.i18n import N_, _
from agent.inventory.model import Machine
from agent.runner import CommandRecord
from agent.tui.console import plain
from agent.tui.screens.base import ESCAPE, StepTitle, translate_bindings

if TYPE_CHECKING:
    from agent.tui.app import ReeebootApp

GUIDED_STEP = 5  # the guided checks are part of step 5, beside the erasure


@dataclass(frozen=True)
class GuidedContext:
    """What the guided screens need to know about the run; the same for every screen."""

    operator: str | None  # who answers: the run's operator
    machine: Machine | None  # the inventory, for what the machine has (a battery, a camera)
    keyboard_layout: str = "fr"  # the console's layout (etc/default/keyboard), for the key map
    clock: Callable[[], float] = field(default=time.monotonic)


class GuidedScreen(Screen[CheckResult]):
    CHECK: ClassVar[str] = ""  # agent/health/guided.py's name of the check
    NAME: ClassVar[str] = ""  # a message id: "the keyboard"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "skip", N_("Skip this test"), key_display=ESCAPE),
    ]

    def __init__(self, context: GuidedContext, number: int, count: int) -> None:
        super().__init__()
        translate_bindings(self)
        self.context = context
        self.number, self.count = number, count
        self.started = context.clock()
        # The commands the check ran (a tone played, the cameras listed): the report's evidence.
        self.evidence: list[CommandRecord] = []

    @property
    def walkthrough(self) -> ReeebootApp:
        return self.app  # type: ignore[return-value]

    def title_line(self) -> str:
        return _("reeeboot - step {number}: test {test} of {count}, {name}").format(
            number=GUIDED_STEP, test=self.number, count=self.count, name=_(self.NAME))

    def compose(self) -> ComposeResult:
        yield StepTitle(self.title_line(), markup=False)
        yield from self.compose_body()
        yield Footer(show_command_palette=False)

    def compose_body(self) -> ComposeResult:
        yield from ()

    def say(self, text: str, style: str) -> None:
        """The screen's status line (a Static with id "status" the screen composes): what was
        heard, seen or plugged in, in a style of console.tcss ("good", "warning", "error")."""
        status = self.query_one("#status", Static)
        status.update(plain(text))
        status.set_classes(f"text {style}".strip())

    # --- how a screen ends ------------------------------------------------------------------

    def seconds(self) -> float:
        return self.context.clock() - self.started

    def action_skip(self) -> None:
        self.dismiss(guided.skipped(self.CHECK, operator=self.context.operator,
                                    seconds=self.seconds(), evidence=self.evidence))

    def finish_passed(self, measured: dict[str, object] | None = None) -> None:
        self.dismiss(guided.passed(self.CHECK, operator=self.context.operator,
                                   seconds=self.seconds(), measured=measured,
                                   evidence=self.evidence))

    def finish_failed(self, finding: Finding, measured: dict[str, object] | None = None) -> None:
        self.dismiss(guided.failed(self.CHECK, finding, operator=self.context.operator,
                                   seconds=self.seconds(), measured=measured,
                                   evidence=self.evidence))

    def finish_absent(self, finding: Finding) -> None:
        self.dismiss(guided.absent(self.CHECK, finding, operator=self.context.operator,
                                   evidence=self.evidence))

    def finish_with(self, findings: tuple[Finding, ...],
                    measured: dict[str, object] | None = None,
                    verdict: str | None = None) -> None:
        """Several findings (dead keys and a stuck one): the worst decides, unless `verdict`
        says otherwise (speakers heard and a microphone not present: a pass)."""
        self.dismiss(guided.answered(self.CHECK, findings, operator=self.context.operator,
                                     seconds=self.seconds(), measured=measured,
                                     verdict=verdict, evidence=self.evidence))
