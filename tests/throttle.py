"""The kernel's block throttle on one device (cgroup blkio or io.max, at the root cgroup, so
every writer is limited, the kernel's write-back too), as a real disk limits its writers."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

THROTTLE_V1 = Path("/sys/fs/cgroup/blkio/blkio.throttle.write_bps_device")  # and read_bps
THROTTLE_V2 = Path("/sys/fs/cgroup/io.max")


@contextlib.contextmanager
def throttled(device: str, mbps: int | None, *, reads: bool = False) -> Iterator[None]:
    """Writes to `device` (and its reads too, with `reads`) limited to `mbps` MB/s while inside
    (None: no limit)."""
    if mbps is None:
        yield
        return
    number = os.stat(device).st_rdev
    rule = f"{os.major(number)}:{os.minor(number)}"
    limit = mbps * 1_000_000
    directions = ("write", "read") if reads else ("write",)
    if THROTTLE_V1.exists():
        knobs = [THROTTLE_V1.with_name(f"blkio.throttle.{direction}_bps_device")
                 for direction in directions]
        for knob in knobs:
            knob.write_text(f"{rule} {limit}")
    else:
        keys = [f"{direction[0]}bps" for direction in directions]
        THROTTLE_V2.write_text(f"{rule} " + " ".join(f"{key}={limit}" for key in keys))
    try:
        yield
    finally:
        if THROTTLE_V1.exists():
            for knob in knobs:
                knob.write_text(f"{rule} 0")
        else:
            THROTTLE_V2.write_text(f"{rule} " + " ".join(f"{key}=max" for key in keys))
