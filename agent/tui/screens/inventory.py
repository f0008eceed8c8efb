"""First screen: what this machine is, which disks will be erased or left alone and why, and
which OS will then be installed where."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from agent import flow
from agent.i18n import _
from agent.install.errors import ImageError
from agent.inventory.battery import Battery
from agent.inventory.model import Machine
from agent.report.sender import SenderState
from agent.units import human_size
from agent.wipe.journal import WipeJournal
from agent.wipe.labels import level_label, method_label
from agent.wipe.policy import ErasurePlan

if TYPE_CHECKING:
    from agent.tui.app import ReeebootApp


class InventoryScreen(Screen[None]):
    def compose(self) -> ComposeResult:
        yield Header(icon=" ")
        yield Static(_("Looking at this machine..."), id="machine")
        yield Static("", id="problems")
        yield Static("", id="interrupted")
        yield DataTable(id="disks", cursor_type="row", zebra_stripes=True)
        yield Static("", id="plan")
        yield Static("", id="install")
        yield Static("", id="outbox")
        yield Footer()

    @property
    def reeeboot(self) -> ReeebootApp:
        return self.app  # type: ignore[return-value]

    def on_mount(self) -> None:
        table = self.query_one("#disks", DataTable)
        table.add_columns(
            _("Disk"), _("Bus"), _("Model"), _("Serial"), _("Size"), _("SMART"), _("Plan")
        )
        problems = self.reeeboot.station.problems
        if problems:
            widget = self.query_one("#problems", Static)
            widget.update("\n".join(problem.describe() for problem in problems))
            widget.add_class("visible")
        interrupted = flow.interrupted_erasures(self.reeeboot.station)
        if interrupted:
            widget = self.query_one("#interrupted", Static)
            widget.update("\n".join(_describe_interrupted(journal) for journal in interrupted))
            widget.add_class("visible")
        self.show_outbox(self.reeeboot.outbox_state)
        self.take_inventory()

    def show_outbox(self, state: SenderState) -> None:
        lines = [_("Reports waiting to be sent: {count}").format(count=state.waiting)]
        if state.revoked and state.last_error:
            lines.append(state.last_error)  # already in the volunteer's language
        widget = self.query_one("#outbox", Static)
        widget.update("\n".join(lines))
        widget.set_class(state.revoked, "revoked")

    @work(thread=True, exclusive=True)
    def take_inventory(self) -> None:
        machine = self.reeeboot.take_inventory(self.reeeboot.station)
        # Probing runs a command or two per disk (nvme, hdparm): still part of the same wait.
        plans = self.reeeboot.plan_erasures(self.reeeboot.station, machine)
        self.app.call_from_thread(self.show_machine, machine, plans)
        # Finding the image may ask the hub: shown when known, after the disks.
        install = describe_install(self.reeeboot.station, machine)
        self.app.call_from_thread(self.query_one("#install", Static).update, install)

    def show_machine(self, machine: Machine, plans: dict[str, ErasurePlan]) -> None:
        system, cpu = machine.system, machine.cpu
        self.query_one("#machine", Static).update(
            "\n".join([
                _("{vendor} {product}, serial number: {serial}").format(
                    vendor=system.vendor or "?", product=system.product or "?",
                    serial=system.serial or _("unknown")),
                _("Processor: {model} ({cores} cores, {threads} threads, {level})").format(
                    model=cpu.model or "?", cores=cpu.cores, threads=cpu.threads,
                    level=cpu.microarchitecture_level or "?"),
                _("Memory: {size:.1f} GiB").format(
                    size=(machine.memory.total_bytes or 0) / 2**30),
                *(_battery_line(battery) for battery in machine.peripherals.batteries),
            ])
        )
        excluded = {exclusion.path: exclusion.reason for exclusion in machine.exclusions}
        table = self.query_one("#disks", DataTable)
        table.clear()
        for disk in machine.disks:
            if disk.path in excluded:
                plan = _("kept: {reason}").format(reason=excluded[disk.path])
            elif disk.path in plans:
                plan = _describe_plan(plans[disk.path])
            else:
                plan = _("erase")
            table.add_row(
                disk.path, disk.bus, disk.model or "?", disk.serial or "?",
                human_size(disk.size_bytes), _smart_label(disk.smart_health), plan,
                key=disk.path,
            )
        targets = machine.targets()
        lines = [_("{count} disk(s) will be erased, {kept} kept.").format(
            count=len(targets), kept=len(machine.exclusions))]
        for disk in targets:
            if disk.path in plans:
                lines.append(f"{disk.path}: {_(plans[disk.path].chain[0].reason)}")
        self.query_one("#plan", Static).update("\n".join(lines))


def describe_install(station: flow.Station, machine: Machine) -> str:
    """The OS the station will install after erasure, on which disk and why; or what it could
    install (the stick's images) when reeeboot.toml names none."""
    wanted = station.config.install_image
    if not wanted:
        found = [listed.image.label for listed in flow.os_images(station) if listed.image]
        return _("No OS will be installed ([install] image in reeeboot.toml). On the stick: "
                 "{images}").format(images=", ".join(found) or _("none"))
    try:
        image = flow.find_image(station, wanted)
    except ImageError as error:
        return _("OS to install: {name}: {error}").format(name=wanted, error=error)
    choice = flow.install_target(machine, (), image)
    if choice.disk is None:
        return _("OS to install: {image}, but {reason}.").format(image=image.label,
                                                                 reason=choice.reason)
    return _("OS to install: {image} on {disk} ({reason}).").format(
        image=image.label, disk=choice.disk.path, reason=choice.reason)


def _battery_line(battery: Battery) -> str:
    if battery.health_percent is None:
        return _("Battery: capacity unknown")
    return _("Battery: {health:.0f} % of its original capacity, {cycles} charge cycles").format(
        health=battery.health_percent,
        cycles=battery.cycle_count if battery.cycle_count is not None else "?")


def _describe_plan(plan: ErasurePlan) -> str:
    first = plan.chain[0]
    label = method_label(first.method, plan.overwrite.method)
    return _("erase: {method} ({level})").format(method=label, level=level_label(first.level))


def _describe_interrupted(journal: WipeJournal) -> str:
    done = journal.written_up_to / journal.size_bytes if journal.size_bytes else 0.0
    return _("Erasure interrupted on {device} (serial {serial}): pass {number} of {count} at "
             "{percent:.0f} %. It resumes from there when this disk is erased.").format(
        device=journal.device, serial=journal.serial or _("unknown"),
        number=journal.pass_index + 1, count=len(journal.passes), percent=100 * done)


def _smart_label(health: str | None) -> str:
    if health == "passed":
        return _("OK")
    if health == "failed":
        return _("FAILING")
    return "-"
