"""Block device tree and mount points through blkinfo, with its `lsblk` calls recorded."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from typing import Any

from blkinfo import BlkDiskInfo, wrappers

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
    """Disks by kernel name, each with its nested `children` (partitions) and `mountpoint`s."""
    wrappers.subprocess = _RecordedSubprocess
    return {disk["kname"]: disk for disk in BlkDiskInfo().get_disks()}


def mountpoints(disk: dict[str, Any]) -> list[tuple[str, str]]:
    """(device name, mount point) for the disk and every partition below it."""
    found: list[tuple[str, str]] = []
    stack = [disk]
    while stack:
        node = stack.pop()
        if node.get("mountpoint"):
            found.append((node["kname"], node["mountpoint"]))
        stack.extend(node.get("children") or [])
    return found
