#!/usr/bin/env python3
"""Full inventory (with SMART) against `lshw -json`, on this machine and in the QEMU VM.

    .venv/bin/python bench/inventory.py [--repeat 5] [--qemu]

Root gives both tools the same view (SMART, DMI). Three figures, each the best of `--repeat`
(agent/inventory/timing.py):
- `lshw -json`, the reference;
- the inventory step as the agent runs it, in a process where the agent is already loaded (the
  screen and the unattended run take the inventory that way);
- `reeeboot inventory --json` as a new command, Python's start-up and imports included.
`--qemu` also boots the live image (three-buses scenario's machine and disks) and runs the same
measurement inside it, through `reeeboot-inventory-timing`. Target (issue 4): at most 2 s, and no
slower than lshw.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "qemu-tests")]

from agent.inventory.timing import time_inventory  # noqa: E402 (after the path above)


def show(where: str, figures: dict[str, Any]) -> None:
    reference = figures["lshw"]
    print(f"{where}: {figures['machine']}, {figures['disks']} disk(s)")
    print(f"  {'lshw -json':<38} {reference:6.3f} s  1.00x")
    for key, label in (("step", "reeeboot inventory step (in agent)"),
                       ("command", "reeeboot inventory --json (command)")):
        seconds = figures[key]
        verdict = "ok" if seconds <= 2.0 and seconds <= reference else "slower than lshw"
        print(f"  {label:<38} {seconds:6.3f} s  {seconds / reference:5.2f}x  {verdict}")


def in_qemu() -> dict[str, Any]:
    """The same measurement in the VM, best of five (the image's script runs it that way)."""
    from harness import IMAGE, SCENARIOS, Boot, Scenario, Stick, make_disk, require_image

    require_image()
    scenario = Scenario.load(SCENARIOS / "three-buses.toml")
    with tempfile.TemporaryDirectory(prefix="reeeboot-bench-") as name:
        workdir = Path(name)
        stick = Stick.copy_of(IMAGE, workdir)
        disks = {spec.id: make_disk(spec, workdir) for spec in scenario.disks}
        boot = Boot(scenario, workdir, stick, disks, extra_cmdline=(
            "systemd.mask=reeeboot.service "  # nothing else reads the machine meanwhile
            "systemd.run=/usr/local/bin/reeeboot-inventory-timing "
            "systemd.run_success_action=poweroff"))
        boot.start()
        try:
            boot.wait_exit(scenario.timeout_seconds)
        finally:
            boot.stop()
        for line in boot.serial_text().splitlines():
            if line.startswith("REEEBOOT-TIMING "):
                figures: dict[str, Any] = json.loads(line.removeprefix("REEEBOOT-TIMING "))
                return figures
        raise SystemExit("no timing line from the VM:\n" + boot.serial_text()[-2000:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--qemu", action="store_true")
    args = parser.parse_args()
    show("this machine", time_inventory(args.repeat))
    if args.qemu:
        show("QEMU VM (TCG)", in_qemu())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
