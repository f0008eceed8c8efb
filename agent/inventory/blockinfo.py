"""Partitions and what they hold, through blkinfo, with its `lsblk` calls recorded."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from typing import Any

from blkinfo import wrappers

from agent.inventory.model import Partition
from agent.runner import run


class _RecordedSubprocess:
    """Stands in for the `subprocess` module inside blkinfo so lsblk goes through our runner."""

    CalledProcessError = subprocess.CalledProcessError

    @staticmethod
    def check_output(argv: Sequence[str]) -> bytes:
        record = run(argv)
        if record.returncode != 0:
            raise subprocess.CalledProcessError(record.returncode, list(argv), record.stdout)
        return record.stdout.encode()


def disk_tree() -> dict[str, dict[str, Any]]:
    """Every block device by kernel name, each with its `children` (partitions) and mount point.

    blkinfo's public get_disks() keeps only disks of type "disk"; the wrapper's full tree also
    has loop devices, which the tests use as disks.
    """
    wrappers.subprocess = _RecordedSubprocess
    tree: dict[str, dict[str, Any]] = wrappers.LsBlkWrapper()._disks
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
