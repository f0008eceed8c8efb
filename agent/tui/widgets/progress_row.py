"""One disk's erasure on the progress screen: the disk, what it is doing, speed and time left,
and a bar. Drawn from a snapshot of the run's progress; the screen hands it a new one."""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text
from textual.widget import Widget

from agent.run.progress import DiskProgress
from agent.tui.widgets.bar import bar_with_percent
from agent.words import phase_line, speed_and_time, unfreeze_note, unknown_if_placeholder


class ProgressRow(Widget):
    def __init__(self, progress: DiskProgress) -> None:
        super().__init__()
        self.progress = progress

    def show(self, progress: DiskProgress) -> None:
        if progress != self.progress:
            self.progress = progress
            self.refresh()

    def render(self) -> RenderableType:
        progress = self.progress
        failed = progress.phase == "failed"
        title = Text(no_wrap=True, overflow="ellipsis")
        title.append(progress.path, "bold")
        title.append(f"  {unknown_if_placeholder(progress.model)}")
        if progress.note and progress.phase != "unfreeze":
            title.append(f"  ({unfreeze_note(progress.note)})", "bright_yellow")
        status = Text(no_wrap=True, overflow="ellipsis")
        status.append(phase_line(progress), "bright_red" if failed else "")
        timing = speed_and_time(progress)
        if timing:
            status.append("  " + timing)
        bar = bar_with_percent(progress.fraction(), self.size.width, failed=failed)
        # One line each, whatever a long model name or message: the row keeps its 3 lines.
        return Text("\n", no_wrap=True, overflow="ellipsis").join([title, status, bar])
