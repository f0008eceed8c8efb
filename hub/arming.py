"""The bounds of an arming of unattended erasure, checked alike by the API, the command line and
the live board (docs/netboot.md, "Arming unattended erasure").

An arming always ends: within 1 to 720 minutes (12 hours, a working day), 30 unless asked. The
store takes any expiry (tests make expired armings directly); whoever arms goes through here.
Each refusal is an English message marked for translation, with its values apart: the API
answers it in English, the command line and the board in their reader's language.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence

from agent.i18n import N_
from agent.report.bootcredential import normal_mac

DEFAULT_MINUTES = 30
LONGEST_MINUTES = 720
# More than a workshop's LAN boots at once; a bound keeps one request small.
MOST_MACHINES = 500


class ArmingProblem(ValueError):
    """Why an arming is refused: `message` (a msgid with {fields}) and its values."""

    def __init__(self, message: str, **values: object) -> None:
        super().__init__(message.format(**values))
        self.message = message
        self.values = values

    def text(self, gettext: Callable[[str], str] | None = None) -> str:
        """The message in the reader's language (English without a gettext)."""
        template = gettext(self.message) if gettext is not None else self.message
        return template.format(**self.values)


MINUTES_PROBLEM = N_("An arming lasts 1 to 720 minutes.")
COUNT_PROBLEM = N_("Arm the next 1 to 500 machines.")
NO_MAC_PROBLEM = N_("Name at least one network card (MAC address).")
TOO_MANY_PROBLEM = N_("At most 500 machines at a time.")
MAC_PROBLEM = N_("Not a MAC address: {mac}")


def expiry(minutes: int, now: datetime.datetime | None = None) -> datetime.datetime:
    """When an arming of `minutes` made now ends; ArmingProblem outside 1 to 720 minutes."""
    if isinstance(minutes, bool) or not 1 <= minutes <= LONGEST_MINUTES:
        raise ArmingProblem(MINUTES_PROBLEM)
    return (now or datetime.datetime.now(datetime.UTC)) + datetime.timedelta(minutes=minutes)


def checked_count(count: int) -> int:
    if isinstance(count, bool) or not 1 <= count <= MOST_MACHINES:
        raise ArmingProblem(COUNT_PROBLEM)
    return count


def checked_macs(macs: Sequence[str]) -> list[str]:
    """The MAC addresses as the hub keeps them ("aa:bb:cc:dd:ee:ff"), each once, in order."""
    normal = []
    for text in macs:
        try:
            normal.append(normal_mac(text))
        except ValueError as error:
            raise ArmingProblem(MAC_PROBLEM, mac=text[:40]) from error
    unique = list(dict.fromkeys(normal))
    if not unique:
        raise ArmingProblem(NO_MAC_PROBLEM)
    if len(unique) > MOST_MACHINES:
        raise ArmingProblem(TOO_MANY_PROBLEM)
    return unique
