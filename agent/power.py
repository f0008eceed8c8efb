"""Switching the computer off or restarting it, at the end of a run (the screen's last choice).

A restart into the freshly installed system asks the firmware to start its boot entry once
(UEFI BootNext), so it comes up even with the stick still in; on a BIOS the stick has to come
out first, and the screen says so.
"""

from __future__ import annotations

import os
from typing import Protocol

from agent.runner import run


class Power(Protocol):
    def power_off(self) -> None: ...

    def reboot(self, boot_entry: str | None = None) -> None: ...


class SystemPower:
    """systemd does it: services stop cleanly and the data partition is unmounted first."""

    def power_off(self) -> None:
        os.sync()
        run(["systemctl", "poweroff"])

    def reboot(self, boot_entry: str | None = None) -> None:
        if boot_entry and boot_entry.startswith("Boot"):
            run(["efibootmgr", "--bootnext", boot_entry.removeprefix("Boot")])
        os.sync()
        run(["systemctl", "reboot"])
