"""Opening an ATA Host Protected Area before the erase, so the hidden sectors get erased too.

Volatile only: `hdparm -N NATIVE` without the "p" prefix raises the drive's max address until the
next power off, and the drive comes back from the donor with its HPA as it was, should anything go
wrong. The drive is then asked again (`hdparm -N`), and the kernel is asked to read the new size
(the SCSI device's `rescan`), since an erase only reaches what the kernel sees.

Drives with the newer Accessible Max Address feature (ACS-3) have no volatile setting: hdparm
then says "ACCESSIBLE MAX ADDRESS" instead of "HPA", and the outcome says the change lasts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agent.i18n import N_
from agent.runner import CommandNotFound, CommandRecord, Runner
from agent.wipe.firmware.attempt import Clock, drive_words
from agent.wipe.firmware.hdparm_text import parse_max_sectors
from agent.wipe.firmware.model import Transition

NOTHING_HIDDEN = N_("The drive has no hidden area: all its sectors are already visible.")
RESTORED_VOLATILE = N_(
    "The hidden area was opened until the next power off: the whole drive is now visible and "
    "will be erased."
)
RESTORED_LASTING = N_(
    "The hidden area was opened for good (this drive keeps its size across power offs): the "
    "whole drive is now visible and will be erased."
)
DRIVE_REFUSED = N_(
    "The hidden area could not be opened: the drive refused the new size. Its hidden sectors "
    "will not be erased."
)
DRIVE_KEPT_LIMIT = N_(
    "The hidden area could not be opened: the drive still reports its old size. Its hidden "
    "sectors will not be erased."
)
KERNEL_KEPT_SIZE = N_(
    "The drive opened its hidden area, but the system still sees the old size: the hidden "
    "sectors will not be erased."
)
TOOL_MISSING = N_("hdparm is not installed on the stick, so the hidden area was left as it is.")

KERNEL_SECTOR = 512  # /sys/class/block/*/size always counts 512-byte sectors


@dataclass
class HiddenAreaOutcome:
    device: str
    visible_sectors: int  # before, as the drive reported it
    native_sectors: int
    restored: bool  # the kernel now sees the native size
    reason: str
    sectors_after: int | None = None  # the drive's visible sectors after the change
    kernel_bytes_after: int | None = None
    volatile: bool = True  # the change ends at the next power off
    steps: list[Transition] = field(default_factory=list)
    commands: list[CommandRecord] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["commands"] = [command.to_json() for command in self.commands]
        return data


def restore_native_max(
    device: str,
    current: int,
    native: int,
    run: Runner,
    logical_sector_size: int = 512,
    sysfs: Path = Path("/sys"),
    clock: Clock = time.monotonic,
) -> HiddenAreaOutcome:
    """Raise the visible size from `current` to `native` sectors (as `hdparm -N` counts them)."""
    started = clock()
    outcome = HiddenAreaOutcome(device, current, native, False, DRIVE_REFUSED)

    def step(state: str, detail: str) -> None:
        outcome.steps.append(Transition(clock() - started, state, None, detail))

    def done(restored: bool, reason: str) -> HiddenAreaOutcome:
        outcome.restored, outcome.reason, outcome.seconds = restored, reason, clock() - started
        return outcome

    if current >= native:
        step("nothing_hidden", f"max sectors = {current}/{native}")
        return done(True, NOTHING_HIDDEN)
    try:
        record = run(["hdparm", "--yes-i-know-what-i-am-doing", "-N", str(native), device])
        outcome.commands.append(record)
        step("set_volatile", _words(record))
        if record.returncode != 0:
            return done(False, DRIVE_REFUSED)
        check = run(["hdparm", "-N", device])
        outcome.commands.append(check)
    except CommandNotFound:
        step("not_started", "program not found: hdparm")
        return done(False, TOOL_MISSING)
    sectors = parse_max_sectors(check.stdout)
    step("drive_reports", _words(check))
    outcome.volatile = "ACCESSIBLE MAX ADDRESS" not in check.stdout
    outcome.sectors_after = None if sectors is None else sectors.visible
    if sectors is None or sectors.visible < native:
        return done(False, DRIVE_KEPT_LIMIT)
    kernel_bytes = _rescan(device, sysfs, step)
    outcome.kernel_bytes_after = kernel_bytes
    if kernel_bytes is None or kernel_bytes < native * logical_sector_size:
        return done(False, KERNEL_KEPT_SIZE)
    return done(True, RESTORED_VOLATILE if outcome.volatile else RESTORED_LASTING)


def _words(record: CommandRecord) -> str:
    """hdparm's answer without the "/dev/sdc:" header, e.g. "setting max visible sectors ..."."""
    text = record.stdout + "\n" + record.stderr
    lines = [" ".join(line.split()) for line in text.splitlines()]
    answer = [line for line in lines if line and not line.endswith(":")]
    return "; ".join(answer) or drive_words(record)


def _rescan(device: str, sysfs: Path, step: Callable[[str, str], None]) -> int | None:
    """Ask the kernel to read the drive's capacity again; the size it now sees, in bytes."""
    block = sysfs / "class" / "block" / Path(device).name
    try:
        (block / "device" / "rescan").write_text("1")
        step("kernel_rescan", f"wrote 1 to {block / 'device' / 'rescan'}")
    except OSError as error:
        step("kernel_rescan_failed", f"{type(error).__name__}: {error}")
    try:
        sectors = int((block / "size").read_text().strip())
    except (OSError, ValueError) as error:
        step("kernel_size_unreadable", f"{type(error).__name__}: {error}")
        return None
    step("kernel_size", f"{sectors} sectors of {KERNEL_SECTOR} bytes")
    return sectors * KERNEL_SECTOR
