"""What the machine is: platform, CPU, memory, disks, peripherals, identity, and the disks that
must not be touched, read through a machine source (live, or a recorded profile)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path

from agent.fsutil import write_durably
from agent.inventory.disks import list_disks
from agent.inventory.evidence import collect_evidence
from agent.inventory.exclusions import (
    Mount,
    find_exclusions,
    read_mounts,
    running_root_disk,
)
from agent.inventory.model import NO_PROCESSOR, Disk, Exclusion, Machine
from agent.inventory.network import first_wired_mac
from agent.inventory.peripherals import read_peripherals
from agent.inventory.platform import collect_platform
from agent.inventory.source import LiveSource, MachineSource, ProfileSource


def take_inventory(
    data_dir: Path | None = None,
    *,
    source: MachineSource | None = None,
    with_smart: bool = True,
    include_loop: bool = False,
    keep_windows_key: bool = False,
) -> Machine:
    # Always recording: the raw outputs are the evidence that goes with the report.
    source = source or LiveSource(record=True)
    # dmidecode, smartctl and lsblk mostly wait on firmware and drives: run them side by side.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="inventory") as pool:
        platform_job = pool.submit(collect_platform, source, keep_windows_key=keep_windows_key)
        disks_job = pool.submit(list_disks, source, with_smart=with_smart,
                                include_loop=include_loop)
        peripherals = read_peripherals(source)
        platform, disks = platform_job.result(), disks_job.result()
    mac = first_wired_mac(peripherals.network)
    # Read once for both: what the system runs from and what it must not touch.
    mounts = [] if isinstance(source, ProfileSource) else read_mounts()
    return Machine(
        system=platform.system,
        cpu=platform.cpu or NO_PROCESSOR,
        memory=platform.memory,
        disks=tuple(disks),
        exclusions=tuple(_exclusions(source, disks, data_dir, mounts)),
        board=platform.board,
        chassis=platform.chassis,
        firmware=platform.firmware,
        boot=platform.boot,
        tpm=platform.tpm,
        windows_licence=platform.windows_licence,
        peripherals=peripherals,
        identity=platform.identity((mac,) if mac else ()),
        evidence=tuple(collect_evidence(source)),
        stick=_stick(source, mounts),
    )


def record_profile(path: Path, description: str, *, data_dir: Path | None = None) -> Machine:
    """Inventory this machine and write everything it read to `path` as a machine profile,
    with what the erasure probe learns of every disk listed, excluded ones included."""
    source = LiveSource(record=True)
    machine = take_inventory(data_dir, source=source)
    _record_erasure_probe(source, machine.disks)
    # A replay lists the probe's outputs among the evidence (nvme id-ctrl ...): so does the
    # recording, and the two print the same inventory.
    machine = replace(machine, evidence=tuple(collect_evidence(source)))
    profile = source.profile(description, provenance="recorded with reeeboot inventory --record")
    # What exclusions depend on (mounts, exclusive opens) is the live system's state at that
    # moment: the profile keeps the answer, not the questions.
    profile["exclusions"] = [asdict(exclusion) for exclusion in machine.exclusions]
    profile["stick"] = machine.stick
    write_durably(path, json.dumps(profile, indent=1, sort_keys=True).encode())
    return machine


def _record_erasure_probe(source: LiveSource, disks: Iterable[Disk]) -> None:
    """Ask every disk what the erase would ask it (identify commands and sysfs, nothing that
    writes), through the recording source, so that a replay can plan the erasure truthfully."""
    # Imported here, not at the top: the probe imports agent.inventory's modules, so a module
    # that imports the probe first would find this package half-initialised.
    from agent.wipe.firmware.probe import probe_from_source

    for disk in disks:
        probe_from_source(disk, source)


def _stick(source: MachineSource, mounts: list[Mount]) -> str | None:
    if isinstance(source, ProfileSource):
        stick = source.profile.get("stick")
        return stick if isinstance(stick, str) else None
    name = running_root_disk(mounts)
    return f"/dev/{name}" if name else None


def _exclusions(source: MachineSource, disks: list[Disk], data_dir: Path | None,
                mounts: list[Mount]) -> list[Exclusion]:
    if isinstance(source, ProfileSource):
        return [Exclusion(**item) for item in source.profile.get("exclusions", [])]
    return find_exclusions(disks, mounts=mounts, data_dir=data_dir)
