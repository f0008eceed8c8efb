"""What the machine is: system, CPU, memory, disks, and the disks that must not be touched."""

from __future__ import annotations

from pathlib import Path

from agent.inventory.disks import list_disks
from agent.inventory.exclusions import find_exclusions
from agent.inventory.model import Machine
from agent.inventory.system import read_cpu, read_memory, read_system


def take_inventory(
    data_dir: Path | None = None, *, with_smart: bool = True, include_loop: bool = False
) -> Machine:
    disks = list_disks(with_smart=with_smart, include_loop=include_loop)
    return Machine(
        system=read_system(),
        cpu=read_cpu(),
        memory=read_memory(),
        disks=tuple(disks),
        exclusions=tuple(find_exclusions(disks, data_dir=data_dir)),
    )
