"""How long the inventory takes on this machine, next to `lshw -json` (bench/inventory.py).

Kept in the agent so the same measurement runs on a workshop's machine or inside the QEMU VM
(`reeeboot-inventory-timing` in the image), not only on a developer's computer.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.inventory import take_inventory


def best_of(repeat: int, measure: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        measure()
        times.append(time.perf_counter() - started)
    return min(times)


def time_inventory(repeat: int = 5, command: list[str] | None = None) -> dict[str, Any]:
    """Seconds, best of `repeat`: lshw, the inventory step in this process, and the command."""
    if shutil.which("lshw") is None:
        raise FileNotFoundError("lshw is not installed")
    machine = take_inventory(with_smart=True)
    # The console script next to this interpreter: the same command a volunteer types.
    command = command or [str(Path(sys.executable).with_name("reeeboot")), "inventory", "--json"]
    return {
        "machine": f"{machine.system.vendor or '?'} {machine.system.product or '?'}",
        "disks": len(machine.disks),
        "lshw": best_of(repeat, lambda: subprocess.run(["lshw", "-json"], check=True,
                                                       capture_output=True)),
        "step": best_of(repeat, lambda: take_inventory(with_smart=True)),
        "command": best_of(repeat, lambda: subprocess.run(command, check=True,
                                                          capture_output=True)),
    }
