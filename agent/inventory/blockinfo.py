"""Partitions and what they hold, through blkinfo, with its `lsblk` calls recorded."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from typing import Any

from agent.inventory.model import Partition
from agent.inventory.source import LiveSource, MachineSource


class _SourceSubprocess:
    """Stands in for the `subprocess` module inside blkinfo so lsblk goes through the machine
    source: recorded as evidence on a live machine, answered from the profile on a recorded one."""

    CalledProcessError = subprocess.CalledProcessError

    def __init__(self, source: MachineSource) -> None:
        self._source = source

    def check_output(self, argv: Sequence[str]) -> bytes:
        record = self._source.run(argv)
        if record.returncode != 0:
            raise subprocess.CalledProcessError(record.returncode, list(argv), record.stdout)
        return record.stdout.encode()


def disk_tree(source: MachineSource | None = None) -> dict[str, dict[str, Any]]:
    """Every block device by kernel name, each with its `children` (partitions) and mount point.

    blkinfo's public get_disks() keeps only disks of type "disk"; the wrapper's full tree also
    has loop devices, which the tests use as disks.
    """
    from blkinfo import wrappers  # imported when a disk is listed, not with the agent

    wrappers.subprocess = _SourceSubprocess(source or LiveSource())
    try:
        tree: dict[str, dict[str, Any]] = wrappers.LsBlkWrapper()._disks
    except (subprocess.CalledProcessError, ValueError):
        return {}  # no lsblk answer (a profile without it): disks without partitions
    return tree


def partitions_of(node: dict[str, Any]) -> tuple[Partition, ...]:
    return tuple(
        Partition(
            name=child["kname"],
            fstype=child.get("fstype") or None,
            label=child.get("label") or None,
            size_bytes=int(child.get("size") or 0),
            mountpoint=child.get("mountpoint") or None,
        )
        for child in node.get("children") or []
        if child.get("type") == "part"
    )
