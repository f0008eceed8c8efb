"""The install's bar on the install screen: what it is doing, the bar, and the time left."""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text
from textual.widget import Widget

from agent.i18n import _, number
from agent.run.progress import InstallProgress
from agent.tui.widgets.bar import bar_text
from agent.units import duration
from agent.words import install_phase_line

PERCENT_WIDTH = 6


class InstallRow(Widget):
    DEFAULT_CSS = """
    InstallRow { height: 2; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.progress = InstallProgress()

    def show(self, progress: InstallProgress) -> None:
        if progress != self.progress:
            self.progress = progress
            self.refresh()

    def render(self) -> RenderableType:
        progress = self.progress
        fraction = progress.fraction()
        bar = bar_text(fraction, max(10, self.size.width - PERCENT_WIDTH),
                       failed=progress.phase == "failed")
        bar.append(f" {number(100 * fraction):>3} %")
        status = Text(install_phase_line(progress), no_wrap=True, overflow="ellipsis")
        left = progress.seconds_left()
        if left is not None and progress.phase not in ("done", "failed"):
            status.append("  " + _("{time} left").format(time=duration(left)))
        return Text("\n").join([bar, status])
