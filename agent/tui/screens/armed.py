"""The workshop armed this network-booted machine for an unattended erasure on the hub: before
anything is written, its first screen says so for ARMED_COUNTDOWN_SECONDS, where anyone who
passes by can stop it with any key (a PC booted from the network by mistake is saved there)."""

from __future__ import annotations

from agent.i18n import _, ngettext
from agent.tui.screens.countdown import Countdown

ARMED_COUNTDOWN_SECONDS = 30


class ArmedErasureScreen(Countdown):
    """Answers True when the countdown ran out (the unattended run starts), False when a key
    stopped it (nothing is written; the walk-through goes on with a person)."""

    def __init__(self, disks: list[str], seconds: int = ARMED_COUNTDOWN_SECONDS, *,
                 tick: float = 1.0) -> None:
        super().__init__(seconds, tick=tick)
        self.disks = disks  # one line each: the disks the unattended run erases

    def title_text(self) -> str:
        return _("Unattended erasure")

    def lines(self) -> list[str]:
        asked = _("The workshop asked to erase this computer without questions.")
        if not self.disks:  # the run still checks the machine and sends its report
            return [asked, _("No disk will be erased.")]
        return [asked, _("ALL ITS DISKS WILL BE ERASED:"), *self.disks]

    def seconds_line(self) -> str:
        return ngettext("The erasure starts in {seconds} second.",
                        "The erasure starts in {seconds} seconds.",
                        self.seconds_left).format(seconds=self.seconds_left)

    def key_line(self) -> str:
        return _("PRESS ANY KEY TO STOP: nothing is erased, and the screen goes on as usual.")
