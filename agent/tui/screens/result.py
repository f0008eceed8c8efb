"""Step 7: the outcome and the grade with their reasons, the health checks that did not pass
(or that all did), the report's id, whether it reached the platform (or why it waits, in plain
words), and the machine's passport as a QR code."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from agent.i18n import N_, _
from agent.report.labels import BATTERY_WORDS, FUNCTIONAL_WORDS, OUTCOMES, PERFORMANCE_WORDS
from agent.report.outbox import FlushOutcome
from agent.tui.console import plain_lines
from agent.tui.health_words import health_summary
from agent.tui.screens.base import ENTER, StepScreen
from agent.tui.widgets.qr import QrCode
from agent.words import RESULTS


class ResultScreen(StepScreen):
    STEP = 7
    STEP_NAME = N_("result")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "forward", N_("Continue"), key_display=ENTER),
    ]

    def __init__(self, delivery: FlushOutcome) -> None:
        super().__init__()
        self.delivery = delivery

    def compose_body(self) -> ComposeResult:
        run = self.walkthrough.current_run
        with Horizontal():
            with VerticalScroll(id="result", classes="text"):
                yield Static(plain_lines(self.lines()), markup=False)
            url = run.passport_url()
            if url:
                yield QrCode(url, id="qr")

    def lines(self) -> list[str]:
        run = self.walkthrough.current_run
        grade, outcome = run.grade()
        health, shown = health_summary(run.health.results())
        # A check that did not pass is a reason of the grade too (grade/2 takes the finding
        # itself as its reason): said once, under the checks.
        said = {finding.code for finding in shown}
        lines = [_("Outcome: {outcome}").format(outcome=_(OUTCOMES[outcome.value])),
                 _("Grade: {grade}").format(grade=grade.value),
                 # The grade's parts, so the letter can be traced to what made it.
                 _("{functional}: {functional_words}; {performance}: {performance_words}; "
                   "battery: {battery_words}").format(
                     functional=grade.functional,
                     functional_words=_(FUNCTIONAL_WORDS[grade.functional]),
                     performance=grade.performance,
                     performance_words=_(PERFORMANCE_WORDS[grade.performance]),
                     battery_words=_(BATTERY_WORDS[grade.battery]))]
        lines += [f"- {reason.describe()}" for reason in grade.reasons
                  if reason.code not in said]
        if outcome.reason.code in ("disk_not_erased", "disk_kept_by_choice"):
            lines.append(f"- {outcome.reason.describe()}")
        lines += health
        for result in run.erasures:
            lines.append(_("{disk}: {result}").format(
                disk=result.device, result=_(RESULTS.get(result.result, result.result))))
        lines.append(_("Report: {report_id}").format(report_id=run.report_id))
        lines += self.delivery_lines()
        url = run.passport_url()
        if url:
            lines.append(_("Passport: {url}").format(url=url))
        return lines

    def delivery_lines(self) -> list[str]:
        station = self.walkthrough.station
        if station.profile is not None:
            return [_("A recorded machine: its report is kept in the rehearsals folder and is "
                      "never sent.")]
        if not station.config.hub_url:
            return [_("No platform address in reeeboot.toml: the report stays on the stick, in "
                      "the outbox folder.")]
        if self.delivery.waiting:
            keeper = (_("This computer started from the network: the report is only in its "
                        "memory. Leave it on (check its network cable): it is sent by itself as "
                        "soon as the platform answers.")
                      if station.network_boot is not None else
                      _("It will be sent by itself later; the stick keeps it meanwhile."))
            return [_("Not sent yet: {why}.").format(why=self.delivery.last_error or _("unknown")),
                    keeper]
        return [_("Sent to the platform.")]

    def action_forward(self) -> None:
        self.walkthrough.show_end()
