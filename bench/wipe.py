#!/usr/bin/env python3
"""Overwrite speed against dd on a RAM-backed loop device, as ratios measured in one run.

    .venv/bin/python bench/wipe.py [--size-mib 1024]

Needs root (loop devices). Prints each reeeboot phase's throughput as a ratio to dd's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.wipe.overwrite import verify_pass, write_pass
from agent.wipe.stream import KeyedStream


def timed(command: list[str]) -> float:
    started = time.monotonic()
    subprocess.run(command, check=True, capture_output=True)
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    args = parser.parse_args()
    size = args.size_mib << 20
    with tempfile.NamedTemporaryFile(dir="/dev/shm", prefix="reeeboot-bench-") as backing:
        os.posix_fallocate(backing.fileno(), 0, size)  # so no run pays for allocating RAM
        device = subprocess.run(["losetup", "--find", "--show", backing.name], check=True,
                                capture_output=True, text=True).stdout.strip()
        try:
            blocks = str(size // (4 << 20))
            timed(["dd", "if=/dev/zero", f"of={device}", "bs=4M", f"count={blocks}",
                   "oflag=direct"])  # warm-up: the first writes through a new loop device lag
            dd_write = timed(["dd", "if=/dev/zero", f"of={device}", "bs=4M", f"count={blocks}",
                              "oflag=direct"])
            dd_read = timed(["dd", f"if={device}", "of=/dev/null", "bs=4M", "iflag=direct"])
            stream = KeyedStream()
            _written, our_write = write_pass(device, stream)
            outcome = verify_pass(device, stream)
        finally:
            subprocess.run(["losetup", "-d", device], check=False)
    assert outcome.ok
    mib = size / 2**20
    print(f"size {mib:.0f} MiB on a RAM-backed loop device, {os.cpu_count()} cores")
    print(f"dd write (zeros, 4M, direct)  {mib / dd_write:8.0f} MiB/s  1.00x")
    print(f"reeeboot random pass          {mib / our_write:8.0f} MiB/s  "
          f"{dd_write / our_write:.2f}x")
    print(f"dd read (4M, direct)          {mib / dd_read:8.0f} MiB/s  1.00x")
    print(f"reeeboot verification         {mib / outcome.seconds:8.0f} MiB/s  "
          f"{dd_read / outcome.seconds:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
