"""The kernel's block throttle on one device (cgroup blkio or io.max, at the root cgroup, so
every writer is limited, the kernel's write-back too), as a real disk limits its writers."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

THROTTLE_V1 = Path("/sys/fs/cgroup/blkio/blkio.throttle.write_bps_device")
THROTTLE_V2 = Path("/sys/fs/cgroup/io.max")


@contextlib.contextmanager
def throttled(device: str, mbps: int | None) -> Iterator[None]:
    """Writes to `device` limited to `mbps` MB/s while inside (None: no limit)."""
    if mbps is None:
        yield
        return
    number = os.stat(device).st_rdev
    rule = f"{os.major(number)}:{os.minor(number)}"
    knob = THROTTLE_V1 if THROTTLE_V1.exists() else THROTTLE_V2
    setting = (f"{rule} {mbps * 1_000_000}" if knob == THROTTLE_V1
               else f"{rule} wbps={mbps * 1_000_000}")
    knob.write_text(setting)
    try:
        yield
    finally:
        knob.write_text(f"{rule} 0" if knob == THROTTLE_V1 else f"{rule} wbps=max")
