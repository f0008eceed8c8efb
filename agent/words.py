"""The run's facts as sentences for people (the screen and the command line), in their language.

Values read from the machine are shown as they are, except the placeholders firmware writers
leave behind ("To Be Filled By O.E.M.", "--"), which are not facts: they read "unknown".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from agent.i18n import N_, _, ngettext, number
from agent.inventory.battery import Battery
from agent.inventory.identity import is_placeholder
from agent.inventory.model import Disk, Machine
from agent.report.labels import BUS_NAMES
from agent.run.progress import DiskProgress, InstallProgress
from agent.run.state import DiskPlan, MethodChoice
from agent.units import duration, human_size, memory_size, rate
from agent.wipe.firmware.model import OVERWRITE
from agent.wipe.journal import WipeJournal
from agent.wipe.labels import level_label, method_label
from agent.wipe.policy import ErasurePlan

if TYPE_CHECKING:
    from agent.install.job import InstallResult

RESULTS = {"erased": N_("erased"), "erased_with_exceptions": N_("erased, with exceptions"),
           "failed": N_("NOT ERASED"), "skipped": N_("not erased")}
PHASES = {"waiting": N_("waiting"), "sanitize": N_("the drive's own erase (sanitize)"),
          "format": N_("the drive's own erase (format)"),
          "security-erase": N_("the drive's own erase (security erase)"),
          "unfreeze": N_("short sleep to unfreeze the drive"), "verify": N_("checking"),
          "done": N_("done"), "failed": N_("failed")}
PASS_NAMES = {"random": N_("random"), "zero": N_("zeros"), "one": N_("ones")}


def unknown_if_placeholder(value: str | None) -> str:
    return _("unknown") if value is None or is_placeholder(value) else value


def machine_name(machine: Machine) -> str:
    vendor, product = machine.system.vendor, machine.system.product
    known = [value for value in (vendor, product) if value and not is_placeholder(value)]
    return " ".join(known) if known else _("computer of unknown make")


def machine_lines(machine: Machine) -> list[str]:
    """What the machine is, at a glance: name and serial, processor, memory, batteries."""
    cpu, memory = machine.cpu, machine.memory
    lines = [_("{name}, serial number: {serial}").format(
        name=machine_name(machine), serial=unknown_if_placeholder(machine.system.serial))]
    cores = ngettext("{count} core", "{count} cores", cpu.cores).format(count=cpu.cores)
    threads = ngettext("{count} thread", "{count} threads", cpu.threads).format(
        count=cpu.threads)
    lines.append(_("Processor: {model} ({cores}, {threads})").format(
        model=cpu.model or _("unknown"), cores=cores, threads=threads))
    if memory.total_bytes:
        lines.append(_("Memory: {size}").format(size=memory_size(memory.total_bytes)))
    else:
        lines.append(_("Memory: unknown"))
    lines += [battery_line(battery) for battery in machine.peripherals.batteries]
    return lines


def battery_line(battery: Battery) -> str:
    if battery.health_percent is None:
        return _("Battery: health unknown")
    health = _("Battery: {percent:.0f} % of its original capacity").format(
        percent=battery.health_percent)
    if battery.cycle_count is None:
        return _("{health}, charge cycles unknown").format(health=health)
    return ngettext("{health}, {count} charge cycle", "{health}, {count} charge cycles",
                    battery.cycle_count).format(health=health, count=battery.cycle_count)


def disk_title(disk: Disk) -> str:
    """Bus, size and model: what the volunteer compares with the disk's label."""
    return _("{bus} {size}  {model}").format(
        bus=BUS_NAMES.get(disk.bus, disk.bus), size=human_size(disk.size_bytes),
        model=unknown_if_placeholder(disk.model))


def disk_serial(disk: Disk) -> str:
    return _("serial {serial}").format(serial=unknown_if_placeholder(disk.serial))


def disk_health(disk: Disk) -> str:
    """SMART verdict, hours of use, wear and bad sectors, as far as the disk tells them."""
    if disk.smart_health == "passed":
        parts = [_("SMART: good")]
    elif disk.smart_health == "failed":
        parts = [_("SMART: FAILING")]
    else:
        parts = [_("SMART: not available")]
    if disk.power_on_hours is not None:
        parts.append(ngettext("{count} hour of use", "{count} hours of use",
                              disk.power_on_hours).format(count=number(disk.power_on_hours)))
    if disk.wear_percent_used is not None:
        parts.append(_("{percent} % worn").format(percent=disk.wear_percent_used))
    bad = sum(count or 0 for count in (disk.reallocated_sectors, disk.pending_sectors,
                                       disk.uncorrectable_sectors))
    if bad:
        parts.append(ngettext("{count} bad sector", "{count} bad sectors", bad).format(
            count=number(bad)))
    return ", ".join(parts)


def plan_line(plan: DiskPlan) -> str:
    """What will happen to the disk, in one line."""
    if plan.exclusion is not None:
        return _("kept: {reason}").format(reason=plan.exclusion.reason)
    if plan.keep:
        return _("kept as it is (your choice)")
    if plan.plan is None:
        return _("erase: method unknown")
    line = _("erase: {method} ({level})").format(**method_words(plan.plan, plan.method))
    if plan.interrupted is not None:
        line = _("{plan}; resumes at {percent} %").format(
            plan=line, percent=interrupted_percent(plan.interrupted))
    return line


def disk_lines(plan: DiskPlan, mark: str = "", health: Sequence[str] = ()) -> list[str]:
    """A disk in four lines, as the machine and disks screens list it: the disk, its serial,
    its health and what will happen to it; `mark` ("[X] ") goes before its name, and `health`
    (what the health checks found) under its health."""
    return [f"{mark}{plan.path}  {disk_title(plan.disk)}", f"    {disk_serial(plan.disk)}",
            f"    {disk_health(plan.disk)}", *(f"    {line}" for line in health),
            f"    {plan_line(plan)}"]


def method_words(plan: ErasurePlan, method: str) -> dict[str, str]:
    first = plan.chain[0]
    return {"method": method_label(first.method, plan.overwrite.method),
            "level": level_label(first.level)}


def plan_reasons(plan: DiskPlan) -> list[str]:
    """Why this method, and what the volunteer should know (a sleep to unfreeze, a hidden area,
    firmware capabilities that are not known)."""
    if plan.releasable and plan.exclusion is not None:
        return [_("This disk is kept: {reason}.").format(reason=plan.exclusion.reason),
                _("Press Space to erase it after all; you will be asked to confirm.")]
    if plan.exclusion is not None and not plan.released:
        return [_("The system never touches this disk: {reason}.").format(
            reason=plan.exclusion.reason)]
    if plan.keep:
        return [_("This disk stays as it is: nothing is written to it, and the report says "
                  "it was kept by choice. Press Space to erase it after all.")]
    if plan.plan is None:
        return []
    erasure = plan.plan
    lines = [_(erasure.chain[0].reason)]
    lines += [_(note) for note in erasure.notes]
    if plan.frozen_question:
        lines.append(_("The drive is frozen by the computer's firmware: its own erase needs the "
                       "computer to sleep for a few seconds, then it wakes up by itself."))
    return lines


def method_choice_line(choice: MethodChoice, plan: ErasurePlan | None) -> str:
    if choice.method == "auto":
        label = method_label(choice.first_step, plan.overwrite.method if plan else "random")
        return _("Automatic, the strongest for this disk: {method} ({level})").format(
            method=label, level=level_label(choice.level))
    return _("{method} ({level})").format(method=method_label(OVERWRITE, choice.method),
                                          level=level_label(choice.level))


def interrupted_percent(journal: WipeJournal) -> int:
    done = journal.written_up_to / journal.size_bytes if journal.size_bytes else 0.0
    return int(100 * done)


def interrupted_line(journal: WipeJournal) -> str:
    return _("Erasure interrupted on {device} (serial {serial}): pass {number} of {count} at "
             "{percent} %. It resumes from there when this disk is erased.").format(
        device=journal.device, serial=journal.serial or _("unknown"),
        number=journal.pass_index + 1, count=len(journal.passes),
        percent=interrupted_percent(journal))


def phase_line(progress: DiskProgress) -> str:
    """What the disk is doing now."""
    if progress.phase == "write" and progress.pass_count:
        name = progress.detail.split(" ", 1)[-1] if progress.detail else ""
        return _("pass {number} of {count} ({name})").format(
            number=progress.pass_number, count=progress.pass_count,
            name=_(PASS_NAMES[name]) if name in PASS_NAMES else name)
    if progress.phase == "unfreeze" and progress.detail:
        return _(progress.detail)
    if progress.phase == "failed":
        return _("FAILED: {error}").format(error=failure_words(progress.error))
    return _(PHASES[progress.phase]) if progress.phase in PHASES else progress.phase


def unfreeze_note(outcome: str) -> str:
    """The outcome of a sleep to unfreeze a drive (a message id of unfreeze.py), in a few
    words that fit beside the disk's name for the rest of its erasure."""
    from agent.wipe.firmware import unfreeze

    if outcome in (unfreeze.THAWED, unfreeze.NOT_FROZEN):
        return _("unfrozen: its own erase")
    return _("still frozen: overwritten instead")


def failure_words(error: str | None) -> str:
    """A job's error as a volunteer reads it."""
    if not error:
        return _("unknown error")
    if error == "cancelled":
        return _("stopped; it resumes where it stopped next time")
    if error.startswith("DiskVanished"):
        return _("the disk was removed or stopped answering")
    if error.startswith("DiskStalled"):
        return _("the disk stopped answering")
    if error.startswith("TooManyBadSectors"):
        return _("too many sectors refuse to be written: the disk is failing")
    if error.startswith("verification found"):
        return _("the read-back found data that was not erased")
    return error


def speed_and_time(progress: DiskProgress) -> str:
    parts = []
    if progress.bytes_per_second > 0 and progress.phase in ("write", "verify"):
        parts.append(rate(progress.bytes_per_second))
    left = progress.seconds_left()
    if not progress.over:
        parts.append(_("{time} left").format(time=duration(left)) if left is not None
                     else _("time left unknown"))
    return "  ".join(parts)


def total_time_left(seconds: float | None) -> str:
    if seconds is None:
        return _("Time left: unknown")
    return _("Time left: {time}").format(time=duration(seconds))


INSTALL_PHASES = {"waiting": N_("starting"), "download": N_("downloading the image"),
                  "write": N_("writing the system"), "verify": N_("reading it back to check it"),
                  "grow": N_("growing it to the whole disk"),
                  "configure": N_("making it this computer's own"),
                  "check": N_("checking the installed system"), "done": N_("done"),
                  "failed": N_("failed")}


def install_phase_line(progress: InstallProgress) -> str:
    return _(INSTALL_PHASES.get(progress.phase, progress.phase))


def install_verdict(installed: InstallResult | None, error: str | None) -> list[str]:
    """The install's result and the post-install check's verdict."""
    if installed is None:
        return [_("Nothing was installed: {error}").format(error=error or _("unknown error"))]
    if installed.result != "installed":
        return [_("The installation FAILED: {error}").format(
            error=installed.error or _("unknown error")),
            _("The disk was left without a partition table, so a half-written system never "
              "starts.")]
    lines = [_("{image} is installed on {disk}, named {hostname}.").format(
        image=installed.image.label, disk=installed.target.path, hostname=installed.hostname)]
    check = installed.check
    if check is not None:
        lines.append(_("Check of the installed system: passed.") if check.passed else
                     _("Check of the installed system: FAILED ({problems}).").format(
                         problems="; ".join(check.problems) or _("unknown error")))
    return lines
