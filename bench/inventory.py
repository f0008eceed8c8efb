#!/usr/bin/env python3
"""Full inventory (with SMART) against `lshw -json` on this machine, as ratios in one run.

    .venv/bin/python bench/inventory.py [--repeat 5]

Root gives both tools the same view (SMART, DMI). Three figures, each the best of `--repeat`:
- `lshw -json`, the reference;
- the inventory step as the agent runs it (the agent is already loaded: the screen or the
  unattended run takes the inventory in a running process);
- `reeeboot inventory --json` as a command, Python's start-up and imports included.
Target (issue 4): at most 2 s, and no slower than lshw.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.inventory import take_inventory  # noqa: E402 (after the path above)


def best(repeat: int, measure: Callable[[], None]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        measure()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if shutil.which("lshw") is None:
        raise SystemExit("lshw is not installed (apt-get install lshw)")

    def lshw() -> None:
        subprocess.run(["lshw", "-json"], check=True, capture_output=True)

    def step() -> None:
        take_inventory(with_smart=True)

    def command() -> None:
        subprocess.run([str(ROOT / ".venv/bin/reeeboot"), "inventory", "--json"], check=True,
                       capture_output=True)

    machine = take_inventory(with_smart=True)
    print(f"{machine.system.vendor or '?'} {machine.system.product or '?'}: "
          f"{len(machine.disks)} disk(s), {len(machine.peripherals.network)} NIC(s)")
    reference = best(args.repeat, lshw)
    print(f"{'lshw -json':<36} {reference:6.3f} s  1.00x")
    for label, measure in (("reeeboot inventory step (in agent)", step),
                           ("reeeboot inventory --json (command)", command)):
        seconds = best(args.repeat, measure)
        verdict = "ok" if seconds <= 2.0 and seconds <= reference else "slower than lshw"
        print(f"{label:<36} {seconds:6.3f} s  {seconds / reference:.2f}x of lshw's time  "
              f"{verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
