"""The machine's health checks beside the erasure on the progress screen: one line each, its
name, then a bar while it runs (from the time it was given), its verdict once done, "waiting"
before. Drawn from a snapshot of the run's health pass; the screen hands it a new one."""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import RenderableType
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget

from agent.health.checkup import DONE, RUNNING, CheckProgress
from agent.health.model import FAIL, PASS, WARN
from agent.tui.console import fit_line
from agent.tui.health_words import check_name, check_state
from agent.tui.widgets.bar import bar_with_percent

_VERDICT_STYLES = {PASS: Style(color="bright_green"), WARN: Style(color="bright_yellow"),
                   FAIL: Style(color="bright_red")}
_QUIET = Style(color="bright_black")


class HealthChecks(Widget):
    DEFAULT_CSS = """
    HealthChecks { height: auto; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.checks: list[CheckProgress] = []
        self.now = 0.0

    def show(self, checks: list[CheckProgress], now: float) -> None:
        """`now`: the time on the health pass's own clock, which started the checks."""
        grown = len(checks) != len(self.checks)
        self.checks, self.now = checks, now
        self.refresh(layout=grown)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.checks)

    def render(self) -> RenderableType:
        width = self.size.width
        names = [check_name(check.check) for check in self.checks]
        name_width = max((cell_len(name) for name in names), default=0) + 2
        lines = []
        for name, check in zip(names, self.checks, strict=True):
            line = Text(name.ljust(name_width), no_wrap=True)
            fraction = check.fraction(self.now) if check.state == RUNNING else None
            if fraction is not None:
                line.append_text(bar_with_percent(fraction, width - name_width))
            else:
                verdict = check.result.verdict if check.result is not None else None
                style = (_VERDICT_STYLES.get(verdict or "", _QUIET) if check.state == DONE
                         else Style() if check.state == RUNNING else _QUIET)
                line.append(check_state(check), style)
            lines.append(fit_line(line, width))
        return Text("\n", no_wrap=True).join(lines)
