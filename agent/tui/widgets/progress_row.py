"""One disk's erasure on the progress screen: the disk, what it is doing, speed and time left,
and a bar. Drawn from a snapshot of the run's progress; the screen hands it a new one, with what
the health checks say of the disk: its self-test while the erasure waits for it, and a failure,
on a line of its own under the disk's name."""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget

from agent.run.progress import DiskProgress
from agent.tui.console import fit_line
from agent.tui.widgets.bar import bar_with_percent
from agent.words import phase_line, speed_and_time, unfreeze_note, unknown_if_placeholder


class ProgressRow(Widget):
    def __init__(self, progress: DiskProgress) -> None:
        super().__init__()
        self.progress = progress
        self.status: str | None = None  # replaces the phase line (the self-test it waits for)
        self.health: str | None = None  # a health check failed: what it means for the disk

    def show(self, progress: DiskProgress, *, status: str | None = None,
             health: str | None = None) -> None:
        if (progress, status, health) != (self.progress, self.status, self.health):
            grown = (health is None) != (self.health is None)
            self.progress, self.status, self.health = progress, status, health
            self.refresh(layout=grown)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return 3 if self.health is None else 4

    def render(self) -> RenderableType:
        progress = self.progress
        width = self.size.width
        failed = progress.phase == "failed"
        title = Text()
        title.append(progress.path, "bold")
        title.append(f"  {unknown_if_placeholder(progress.model)}")
        if progress.note and progress.phase != "unfreeze":
            title.append(f"  ({unfreeze_note(progress.note)})", "bright_yellow")
        lines = [fit_line(title, width)]
        if self.health is not None:
            lines.append(fit_line(Text(self.health, "bright_red"), width))
        status = Text()
        if self.status is not None:
            status.append(self.status)
        else:
            status.append(phase_line(progress), "bright_red" if failed else "")
            timing = speed_and_time(progress)
            if timing:
                status.append("  " + timing)
        lines.append(fit_line(status, width))
        lines.append(bar_with_percent(progress.fraction(), width, failed=failed))
        # One line each, whatever a long model name or message: the row keeps its height.
        return Text("\n", no_wrap=True).join(lines)
