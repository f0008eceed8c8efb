"""A disk attached or detached while the agent runs becomes an event (real udev/kernel events)."""

from __future__ import annotations

import os
import queue
import subprocess
from pathlib import Path

from agent.inventory.hotplug import DiskEvent, DiskWatcher


def test_a_disk_that_comes_and_goes_is_seen_both_times(tmp_path: Path) -> None:
    events: queue.Queue[DiskEvent] = queue.Queue()
    watcher = DiskWatcher(events.put, include_loop=True).start()
    backing = Path("/dev/shm") / f"reeeboot-hotplug-{os.getpid()}.img"
    backing.write_bytes(b"")
    os.truncate(backing, 16 << 20)
    device = ""
    try:
        device = subprocess.run(["losetup", "--find", "--show", str(backing)], check=True,
                                capture_output=True, text=True).stdout.strip()
        appeared = events.get(timeout=10)
        assert (appeared.action, appeared.path) == ("appeared", device)
        subprocess.run(["losetup", "-d", device], check=True)
        device = ""
        disappeared = events.get(timeout=10)
        assert (disappeared.action, disappeared.path) == ("disappeared", appeared.path)
    finally:
        watcher.stop()
        if device:
            subprocess.run(["losetup", "-d", device], check=False)
        backing.unlink()
    assert events.empty()  # one event each way, however many uevents the kernel sent
