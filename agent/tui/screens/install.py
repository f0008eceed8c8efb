"""Step 6: which OS goes on which disk and why (and which disk a health check ruled out), then
the install with its time left, then the check of the installed system."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from agent.i18n import N_, _
from agent.run.state import InstallProposal
from agent.tui.console import plain, plain_lines
from agent.tui.health_words import without_disk
from agent.tui.screens.base import ENTER, StepScreen
from agent.tui.screens.dialogs import Choice
from agent.tui.widgets.install_row import InstallRow
from agent.units import human_size
from agent.words import disk_serial, disk_title, install_verdict

if TYPE_CHECKING:
    from agent.install.image import OsImage

NOTHING = "nothing"  # the option that installs no system
REDRAW_SECONDS = 0.5


class InstallScreen(StepScreen):
    STEP = 6
    STEP_NAME = N_("installing a system")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "forward", N_("Continue"), key_display=ENTER, priority=True),
        Binding("d", "disk", N_("Other disk"), key_display="D"),
    ]

    def __init__(self, images: list[OsImage], problems: list[str],
                 proposal: InstallProposal) -> None:
        super().__init__()
        self.images = images
        # The configured image that cannot be had says why, with the other images' problems.
        self.problems = [*([proposal.problem] if proposal.problem else []), *problems]
        self.proposal = proposal
        self.installing = False

    def compose_body(self) -> ComposeResult:
        options = [Option(plain(_image_line(image)), id=str(index))
                   for index, image in enumerate(self.images)]
        options.append(Option(plain(_("Install no system")), id=NOTHING))
        images = OptionList(*options, id="images", classes="list")
        images.border_title = plain(_("System to install"))
        yield images
        yield Static("", id="target", classes="panel", markup=False)
        yield Static(plain_lines(self.problems), id="problems",
                     classes="text warning" + ("" if self.problems else " hidden"), markup=False)
        yield InstallRow()
        yield Static("", id="verdict", classes="text", markup=False)

    def on_mount(self) -> None:
        images = self.query_one(OptionList)
        chosen = self.proposal.image
        index = next((i for i, image in enumerate(self.images) if chosen is not None and (
            image.label == chosen.label and image.source == chosen.source)), None)
        if index is None and chosen is None and not self.proposal.image_name and self.images:
            index = 0  # nothing configured: the stick's first image, a volunteer expects it
        images.highlighted = index if index is not None else len(self.images)
        images.focus()
        self.show_target()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """"Other disk" is offered only when there is another disk, and before the install."""
        if action == "disk":
            return not self.installing and len(self.proposal.candidates) > 1
        return True

    def _selected_image(self) -> OsImage | None:
        option = self.query_one(OptionList).highlighted_option
        if option is None or option.id == NOTHING:
            return None
        return self.images[int(option.id or 0)]

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if self.installing:
            return
        image = self._selected_image()
        if image is not None and image is not self.proposal.image:
            self.proposal = self.walkthrough.current_run.proposal_for(image)
        self.show_target()
        self.refresh_bindings()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()

    def show_target(self) -> None:
        widget = self.query_one("#target", Static)
        image = self._selected_image()
        proposal = self.proposal
        if image is None:
            lines = [_("No system will be installed: the disks stay empty.")]
        elif proposal.target is None:
            lines = [_("No disk to install on: {reason}.").format(reason=proposal.reason)]
        else:
            lines = [_("On {disk}  {title}").format(disk=proposal.target.path,
                                                    title=disk_title(proposal.target)),
                     "   " + disk_serial(proposal.target),
                     _("Why: {reason}").format(reason=proposal.reason)]
            if proposal.ambiguous:
                lines.append(_("Another disk is just as good: press D to choose."))
        if image is not None:
            target = proposal.target.path if proposal.target is not None else None
            for path, why in self.walkthrough.current_run.health.failing_disks().items():
                # A failing disk is never proposed; one chosen in reeeboot.toml still is.
                lines.append((_("Careful: {disk} failed a health check ({why}).") if path == target
                              else _("Not on {disk}: it failed a health check ({why}).")).format(
                    disk=path, why=without_disk(why, path)))
        widget.update(plain_lines(lines))

    def action_disk(self) -> None:
        proposal = self.proposal
        if self.installing or len(proposal.candidates) < 2:
            return
        choices = [(disk.path, f"{disk.path}  {disk_title(disk)}  {disk_serial(disk)}")
                   for disk in proposal.candidates]

        def chosen(path: str | None) -> None:
            if path is not None and proposal.image is not None:
                self.proposal = self.walkthrough.current_run.proposal_for(proposal.image, path)
                self.show_target()
                self.refresh_bindings()

        self.app.push_screen(Choice(_("Disk for the system"), "", choices,
                                    proposal.target.path if proposal.target else None), chosen)

    def action_forward(self) -> None:
        run = self.walkthrough.current_run
        if self.installing:
            if run.installed is not None or run.install_error is not None:
                self.walkthrough.file_report()
            return
        image, target = self._selected_image(), self.proposal.target
        if image is None or target is None:
            run.skip_install(_("no system was chosen") if image is None else self.proposal.reason)
            self.walkthrough.file_report()
            return
        self.installing = True
        self.query_one(OptionList).disabled = True
        self.query_one("#problems", Static).add_class("hidden")
        self.add_class("installing")
        self.refresh_bindings()
        self.redraw()
        self.set_interval(REDRAW_SECONDS, self.redraw)
        self.walkthrough.start_install(image, target, self.proposal.reason)

    def redraw(self) -> None:
        run = self.walkthrough.current_run
        self.query_one(InstallRow).show(run.install_progress.snapshot())
        if run.installed is not None or run.install_error is not None:
            verdict = self.query_one("#verdict", Static)
            verdict.update(plain_lines(install_verdict(run.installed, run.install_error)))
            verdict.set_class(run.installed is None or run.installed.result != "installed",
                              "error")


def _image_line(image: OsImage) -> str:
    where = _("on the stick") if image.source == "stick" else _("from the platform")
    size = human_size(image.image_size) if image.image_size else "?"
    return _("{label}  ({where}, {size})").format(label=image.label, where=where, size=size)
