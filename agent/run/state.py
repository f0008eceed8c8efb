"""What a run knows and what the person (or the configuration) chose: plain dataclasses that
every front end reads, and only the engine changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agent.inventory.exclusions import OTHER_STICK
from agent.inventory.model import Disk, Exclusion
from agent.wipe.firmware.capabilities import DiskCapabilities
from agent.wipe.jobs import AUTO
from agent.wipe.journal import WipeJournal
from agent.wipe.passes import METHODS
from agent.wipe.policy import ErasurePlan

if TYPE_CHECKING:
    from agent.install.image import OsImage

# Steps in order, as the report's timings and the hub's live view name them.
STEPS = ("inventory", "erase", "bench", "install", "report", "done")


@dataclass
class DiskPlan:
    """One disk of the machine: what the system must not touch, what the policy planned, and
    what the volunteer changed."""

    disk: Disk
    exclusion: Exclusion | None = None  # the system never touches it (boot stick, in use...)
    capabilities: DiskCapabilities | None = None  # what the drive said it can do
    plan: ErasurePlan | None = None  # the policy's chain with the options chosen
    # The plan had the volunteer agreed to a short sleep of the computer (a frozen drive).
    plan_if_unfrozen: ErasurePlan | None = None
    interrupted: WipeJournal | None = None  # an overwrite a power cut or a crash stopped
    keep: bool = False  # kept as it is by the volunteer's choice
    method: str = AUTO  # "auto" (the policy's chain) or an overwrite method of passes.py
    # Another reeeboot stick that the volunteer asked, on the screen, to erase after all.
    released: bool = False

    @property
    def path(self) -> str:
        return self.disk.path

    @property
    def selectable(self) -> bool:
        return self.exclusion is None or self.released

    @property
    def releasable(self) -> bool:
        """Kept by the system only because it is another reeeboot stick: a person may ask for it
        to be erased (the configuration and unattended mode never can)."""
        return (self.exclusion is not None and self.exclusion.code == OTHER_STICK
                and not self.released)

    @property
    def erase(self) -> bool:
        return self.selectable and not self.keep

    @property
    def frozen_question(self) -> bool:
        """A short sleep of the computer would unlock a stronger firmware erase."""
        return (self.plan is not None and self.plan_if_unfrozen is not None
                and self.plan_if_unfrozen.needs_unfreeze
                and self.plan_if_unfrozen.methods != self.plan.methods)


@dataclass(frozen=True)
class MethodChoice:
    """A method the volunteer may pick for one disk."""

    method: str  # "auto" or an overwrite method
    level: str  # "clear" or "purge", of the first step this choice runs
    first_step: str  # the plan's first method: a firmware command, or "overwrite"


@dataclass
class RunChoices:
    """Everything decided for this run, by the configuration, the command line or a person."""

    asset_id: str | None = None  # typed or scanned; None: derived from the machine's identity
    operator: str | None = None  # who ran the station; None: nobody named
    allow_unfreeze: bool | None = None  # None: nobody answered yet (the screen asks)
    fresh: bool = False  # start interrupted overwrites again instead of resuming them

    def __post_init__(self) -> None:
        self.asset_id = _stripped(self.asset_id)
        self.operator = _stripped(self.operator)


@dataclass
class InstallProposal:
    """The OS the run would install and where, with why; or why it cannot."""

    image_name: str  # as configured ("" when none is)
    image: OsImage | None = None  # when found
    target: Disk | None = None
    reason: str = ""  # why this disk, or why nothing can be installed (translated)
    ambiguous: bool = False  # two disks are equally good: a person should choose
    candidates: tuple[Disk, ...] = field(default=())  # suitable disks, best first
    problem: str | None = None  # the image cannot be found or read (translated)


def overwrite_methods() -> tuple[str, ...]:
    return tuple(METHODS)


def _stripped(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None
