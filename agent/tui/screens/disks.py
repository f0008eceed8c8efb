"""Step 3: every disk with what will happen to it and why, and its health: the SMART judgement
when it warns, and its own self-test, which runs meanwhile (its percentage, then its verdict). The
volunteer may keep a disk as it is, or change its method where the policy allows; a disk that
failed a health check is still erased (its data must go). The disks the system must not touch
(the stick, a disk in use) are shown with why, and cannot be chosen."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from agent.i18n import N_, _
from agent.run.engine import RunError
from agent.run.state import DiskPlan
from agent.tui.console import plain, plain_lines
from agent.tui.health_words import disk_health_lines, disk_health_reasons
from agent.tui.screens.base import ENTER, ESCAPE, SPACE, StepScreen
from agent.tui.screens.dialogs import Choice, yes_no
from agent.words import (
    disk_lines,
    disk_serial,
    disk_title,
    method_choice_line,
    plan_reasons,
)

# The self-tests run while this screen shows: their percentages are looked at this often.
HEALTH_SECONDS = 1.0


class DisksScreen(StepScreen):
    STEP = 3
    STEP_NAME = N_("the disks")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "keep_or_erase", N_("Erase or keep"), key_display=SPACE),
        Binding("m", "method", N_("Method"), key_display="M"),
        Binding("enter", "forward", N_("Continue"), key_display=ENTER, priority=True),
        Binding("escape", "back", N_("Back"), key_display=ESCAPE),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._shown_health: dict[str, list[str]] = {}  # each disk's health lines as drawn

    def compose_body(self) -> ComposeResult:
        disks = OptionList(id="disk-list", classes="list")
        disks.border_title = plain(_("Disks: [X] erased, [ ] kept"))
        yield disks
        with VerticalScroll(id="why", classes="panel") as why:
            why.border_title = plain(_("Why"))
            yield Static("", id="why-text", markup=False)

    def on_mount(self) -> None:
        self.refresh_disks()
        self.query_one(OptionList).focus()
        self.set_interval(HEALTH_SECONDS, self._refresh_health)
        frozen = self.walkthrough.current_run.frozen_disks()
        if frozen:
            names = ", ".join(plan.path for plan in frozen)
            self.app.push_screen(yes_no(
                _("Frozen drive"),
                _("{disks}: the computer's firmware froze the drive's own erase. To use it "
                  "(it is stronger than an overwrite), the computer sleeps for a few seconds "
                  "and wakes up by itself. Allow this short sleep?").format(disks=names),
                default_yes=True), self._unfreeze_answered)

    def _unfreeze_answered(self, allowed: bool | None) -> None:
        self.walkthrough.current_run.allow_unfreeze(bool(allowed))
        self.refresh_disks()

    def refresh_disks(self) -> None:
        self._shown_health = self._health_lines()
        options = self.query_one(OptionList)
        highlighted = options.highlighted
        options.clear_options()
        options.add_options([self._option(plan)
                             for plan in self.walkthrough.current_run.disks.values()])
        if highlighted is not None and highlighted < options.option_count:
            options.highlighted = highlighted
        elif options.option_count:
            options.action_first()
        self._show_why()

    def _option(self, plan: DiskPlan) -> Option:
        mark = "[X]" if plan.erase else "[-]" if not plan.selectable else "[ ]"
        health = self._shown_health.get(plan.path, [])
        return Option(plain_lines(disk_lines(plan, f"{mark} ", health)), id=plan.path,
                      disabled=not (plan.selectable or plan.releasable))

    def _health_lines(self) -> dict[str, list[str]]:
        health = self.walkthrough.current_run.health
        return {path: disk_health_lines(health, path)
                for path in self.walkthrough.current_run.disks}

    def _refresh_health(self) -> None:
        """A self-test moved on or ended: the list is drawn again, the cursor where it was."""
        if self._health_lines() != self._shown_health:
            self.refresh_disks()

    def _highlighted(self) -> DiskPlan | None:
        option = self.query_one(OptionList).highlighted_option
        if option is None:
            return None
        return self.walkthrough.current_run.disks.get(option.id or "")

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._show_why()

    def _show_why(self) -> None:
        plan = self._highlighted()
        health = self.walkthrough.current_run.health
        lines = plan_reasons(plan) + disk_health_reasons(health, plan.path) if plan else []
        if not any(plan.selectable for plan in self.walkthrough.current_run.disks.values()):
            lines = [_("No disk of this computer can be erased.")]
        self.query_one("#why-text", Static).update(plain_lines(lines))

    def action_keep_or_erase(self) -> None:
        plan = self._highlighted()
        if plan is None:
            return
        if plan.releasable:
            self._ask_to_erase_other_stick(plan)
            return
        try:
            self.walkthrough.current_run.keep(plan.path, plan.erase)
        except RunError as error:
            self.notify(str(error), markup=False)
            return
        self.refresh_disks()

    def _ask_to_erase_other_stick(self, plan: DiskPlan) -> None:
        """Another reeeboot stick is only erased when the volunteer says so twice: Space, then
        "yes" to a question whose cursor starts on "no"."""
        run = self.walkthrough.current_run

        def answered(erase: bool | None) -> None:
            if erase:
                run.erase_other_stick(plan.path)
                self.refresh_disks()

        self.app.push_screen(yes_no(
            _("Erase another reeeboot stick?"),
            _("{path} ({disk}, {serial}) is another reeeboot stick: another station's copy, "
              "with its own configuration, station key and reports not sent yet. Erase it as "
              "well? Everything on it will be lost.").format(
                path=plan.path, disk=disk_title(plan.disk), serial=disk_serial(plan.disk))),
            answered)

    def action_method(self) -> None:
        plan = self._highlighted()
        if plan is None or not plan.erase:
            return
        run = self.walkthrough.current_run
        choices = [(choice.method, method_choice_line(choice, plan.plan))
                   for choice in run.method_choices(plan.path)]

        def chosen(method: str | None) -> None:
            if method is not None:
                run.set_method(plan.path, method)
                self.refresh_disks()

        self.app.push_screen(Choice(_("Method for {disk}").format(disk=plan.path),
                                    f"{disk_title(plan.disk)}  {disk_serial(plan.disk)}",
                                    choices, plan.method), chosen)

    def action_forward(self) -> None:
        self.walkthrough.show_confirm()

    def action_back(self) -> None:
        self.app.pop_screen()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()  # Enter goes forward (a priority binding); nothing else selects a disk
