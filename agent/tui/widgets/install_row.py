"""The install's bar on the install screen: what it is doing, the bar, and the time left."""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text
from textual.widget import Widget

from agent.i18n import _
from agent.run.progress import InstallProgress
from agent.tui.widgets.bar import bar_with_percent
from agent.units import duration
from agent.words import install_phase_line


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
        bar = bar_with_percent(progress.fraction(), self.size.width,
                               failed=progress.phase == "failed")
        status = Text(install_phase_line(progress), no_wrap=True, overflow="ellipsis")
        left = progress.seconds_left()
        if left is not None and progress.phase not in ("done", "failed"):
            status.append("  " + _("{time} left").format(time=duration(left)))
        return Text("\n").join([bar, status])
