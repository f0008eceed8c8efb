"""Which disk gets the OS: by default the best healthy internal disk, SSD before HDD, then the
larger; when two disks are equally good the volunteer is asked (the CLI and the screen), and
unattended mode takes the first and says so in the report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from agent.i18n import _
from agent.inventory.model import Disk, Machine
from agent.wipe.jobs import WipeResult

# Two disks of the same kind whose sizes differ by less than this are "equally good".
SIMILAR_SIZE = 0.9
# Disks a new owner would carry away or that are not part of the computer.
EXTERNAL_BUSES = ("usb",)


@dataclass(frozen=True)
class TargetChoice:
    disk: Disk | None
    ranked: tuple[Disk, ...]  # every suitable disk, best first
    ambiguous: bool  # the first two are equally good: a person should choose
    reason: str  # for people: why this disk, or why none

    def to_json(self) -> dict[str, object]:
        return {"path": self.disk.path if self.disk else None,
                "candidates": [disk.path for disk in self.ranked],
                "ambiguous": self.ambiguous, "reason": self.reason}


def unsuitable_reason(disk: Disk, erasure: WipeResult | None, image_size: int | None,
                      failing: str | None = None) -> str | None:
    """`failing`: why a health check found the disk failing (its self-test, its SMART data)."""
    if disk.bus in EXTERNAL_BUSES or disk.removable:
        return _("external or removable disk")
    if disk.smart_health == "failed":
        return _("its SMART health check failed")
    if failing is not None:
        return _("its health check failed: {why}").format(why=failing)
    if erasure is not None and erasure.result == "failed":
        return _("its erasure failed")
    if image_size is not None and disk.size_bytes < image_size:
        return _("smaller than the image")
    return None


def _rank_key(disk: Disk) -> tuple[bool, int]:
    return (not disk.rotational, disk.size_bytes)


def choose_target(
    machine: Machine, erasures: Sequence[WipeResult] = (), image_size: int | None = None,
    *, failing: Mapping[str, str] | None = None,
) -> TargetChoice:
    """`failing`: the disks a health check found failing, with why."""
    by_device = {result.device: result for result in erasures}
    failing = failing or {}
    suitable = [disk for disk in machine.targets()
                if unsuitable_reason(disk, by_device.get(disk.path), image_size,
                                     failing.get(disk.path)) is None]
    ranked = tuple(sorted(suitable, key=_rank_key, reverse=True))
    if not ranked:
        return TargetChoice(None, (), False, _("no healthy internal disk large enough"))
    best = ranked[0]
    ambiguous = len(ranked) > 1 and (
        ranked[1].rotational == best.rotational
        and ranked[1].size_bytes >= SIMILAR_SIZE * best.size_bytes)
    kind = _("HDD") if best.rotational else _("SSD")
    reason = _("the largest healthy {kind}").format(kind=kind)
    if ambiguous:
        reason = _("{first} and {second} are equally suitable").format(
            first=best.path, second=ranked[1].path)
    return TargetChoice(best, ranked, ambiguous, reason)
