"""Thawing a frozen ATA drive by a short suspend to RAM, then checking that it worked.

The firmware freezes the drive's security (and often SANITIZE) at boot; only a power cycle of the
drive clears that. A five-second suspend does it on most desktops, but some laptops keep SATA
powered in S3 and the drive stays frozen, so the drive's IDENTIFY is read again afterwards in a
fresh hdparm process (never a cached value) and the outcome says what it shows. Asking the
operator first is the caller's business: the screen goes dark for a few seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from agent.i18n import N_
from agent.runner import CommandNotFound, CommandRecord, Runner
from agent.wipe.firmware.attempt import Clock, Sleep, drive_words
from agent.wipe.firmware.hdparm_text import parse_security
from agent.wipe.firmware.model import Transition

NOT_FROZEN = N_("The drive was not frozen, so the computer was not put to sleep.")
THAWED = N_("After a short sleep of the computer the drive is no longer frozen.")
STILL_FROZEN = N_(
    "The drive is still frozen after a short sleep of the computer: this computer keeps the "
    "drive powered while asleep. Unplugging and plugging back the drive's power may help."
)
SUSPEND_FAILED = N_("The computer could not be put to sleep, so the drive is still frozen.")
STATE_UNREADABLE = N_("The drive's frozen state could not be read after the sleep.")
TOOL_MISSING = N_("rtcwake or hdparm is not installed on the stick, so the drive stays frozen.")

SUSPEND_SECONDS = 5
# Right after resume the kernel is still bringing the links back: a first IDENTIFY may fail.
IDENTIFY_WAITS = (0.0, 2.0, 5.0)
# Disks are erased side by side: two frozen drives must not put the computer to sleep twice at
# once. The second one waits, then finds its drive thawed by the first sleep (or still frozen).
_ONE_SLEEP_AT_A_TIME = threading.Lock()

Reidentify = Callable[[str], CommandRecord]


@dataclass
class UnfreezeOutcome:
    device: str
    frozen_before: bool | None
    frozen_after: bool | None
    suspended: bool
    ok: bool  # the drive is not frozen now
    reason: str
    steps: list[Transition] = field(default_factory=list)
    commands: list[CommandRecord] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["commands"] = [command.to_json() for command in self.commands]
        return data


def unfreeze_by_suspend(
    device: str,
    run: Runner,
    reidentify: Reidentify | None = None,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
) -> UnfreezeOutcome:
    """Suspend for five seconds, then read the drive's security state again.

    `reidentify(device)` reads IDENTIFY in a new process and returns its record; by default it
    runs `hdparm -I DEVICE` through `run`.
    """
    started = clock()
    identify = reidentify or (lambda name: run(["hdparm", "-I", name]))
    outcome = UnfreezeOutcome(device, None, None, False, False, STATE_UNREADABLE)

    def step(state: str, detail: str) -> None:
        outcome.steps.append(Transition(clock() - started, state, None, detail))

    def done(ok: bool, reason: str) -> UnfreezeOutcome:
        outcome.ok, outcome.reason, outcome.seconds = ok, reason, clock() - started
        return outcome

    with _ONE_SLEEP_AT_A_TIME:
        return _suspend_and_check(device, run, identify, outcome, step, done, sleep)


def _suspend_and_check(
    device: str,
    run: Runner,
    identify: Reidentify,
    outcome: UnfreezeOutcome,
    step: Callable[[str, str], None],
    done: Callable[[bool, str], UnfreezeOutcome],
    sleep: Sleep,
) -> UnfreezeOutcome:
    try:
        outcome.frozen_before = _frozen(identify, device, outcome, step, (0.0,), sleep)
        if outcome.frozen_before is False:
            return done(True, NOT_FROZEN)
        record = run(["rtcwake", "-m", "mem", "-s", str(SUSPEND_SECONDS)], timeout=120)
        outcome.commands.append(record)
        step("suspend", drive_words(record))
        if record.returncode != 0:
            return done(False, SUSPEND_FAILED)
        outcome.suspended = True
        outcome.frozen_after = _frozen(identify, device, outcome, step, IDENTIFY_WAITS, sleep)
    except CommandNotFound as error:
        step("not_started", f"program not found: {error.program}")
        return done(False, TOOL_MISSING)
    if outcome.frozen_after is None:
        return done(False, STATE_UNREADABLE)
    if outcome.frozen_after:
        return done(False, STILL_FROZEN)
    return done(True, THAWED)


def _frozen(
    identify: Reidentify,
    device: str,
    outcome: UnfreezeOutcome,
    step: Callable[[str, str], None],
    waits: tuple[float, ...],
    sleep: Sleep,
) -> bool | None:
    for wait in waits:
        if wait:
            sleep(wait)
        record = identify(device)
        outcome.commands.append(record)
        security = parse_security(record.stdout)
        if record.returncode == 0 and security.frozen is not None:
            step("frozen" if security.frozen else "not_frozen", security.words)
            return security.frozen
        step("identify_unreadable", drive_words(record))
    return None
