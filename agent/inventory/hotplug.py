"""Disks that appear or disappear while the agent runs (a second disk on a USB adapter, a cable
pulled): a udev monitor turns them into events for the screen and the erasure jobs.

udev's own events are used when udevd runs (the live image); without it (a container, a rescue
shell) the kernel's uevents are enough, since only the disk's name and size are needed. A loop
device "appears" when a file is attached to it and "disappears" when it is detached: for the
kernel both are size changes, not additions.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pyudev

from agent.inventory.disks import VIRTUAL_PREFIXES

SYS_BLOCK = Path("/sys/class/block")


@dataclass(frozen=True)
class DiskEvent:
    action: str  # "appeared" or "disappeared"
    name: str  # kernel name, e.g. "sdb"
    path: str  # device node, e.g. "/dev/sdb"


DiskEventSink = Callable[[DiskEvent], None]


class Stoppable(Protocol):
    def stop(self) -> None: ...


DiskWatch = Callable[[DiskEventSink], Stoppable]


def watch_for_disks(sink: DiskEventSink) -> Stoppable:
    """The live watcher, started: what the screen and the erasure jobs use by default."""
    return DiskWatcher(sink).start()


class DiskWatcher:
    def __init__(self, on_event: DiskEventSink, *, include_loop: bool = False,
                 sys_block: Path = SYS_BLOCK) -> None:
        self._on_event = on_event
        self._include_loop = include_loop
        self._sys_block = sys_block
        self._lock = threading.Lock()
        self._present = {name for name in self._names() if self._size(name) > 0}
        context = pyudev.Context()
        source = "udev" if Path("/run/udev/control").exists() else "kernel"
        monitor = pyudev.Monitor.from_netlink(context, source=source)
        monitor.filter_by(subsystem="block")
        self._observer = pyudev.MonitorObserver(monitor, callback=self._seen,
                                                name="disk watcher")

    def start(self) -> DiskWatcher:
        self._observer.start()
        return self

    def stop(self) -> None:
        self._observer.stop()

    def _seen(self, device: pyudev.Device) -> None:
        name = device.sys_name
        if device.device_type != "disk" or not self._wanted(name):
            return
        size = 0 if device.action == "remove" else self._size(name)
        with self._lock:
            if size > 0 and name not in self._present:
                self._present.add(name)
                action = "appeared"
            elif size == 0 and name in self._present:
                self._present.discard(name)
                action = "disappeared"
            else:
                return
        self._on_event(DiskEvent(action, name, f"/dev/{name}"))

    def _wanted(self, name: str) -> bool:
        if name.startswith("loop"):
            return self._include_loop
        return not name.startswith(VIRTUAL_PREFIXES)

    def _names(self) -> list[str]:
        try:
            return [entry.name for entry in self._sys_block.iterdir()
                    if not (entry / "partition").exists() and self._wanted(entry.name)]
        except OSError:
            return []

    def _size(self, name: str) -> int:
        try:
            return int((self._sys_block / name / "size").read_text())
        except (OSError, ValueError):
            return 0
