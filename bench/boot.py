#!/usr/bin/env python3
"""Boot to the first screen: the stick against a plain Debian 13, through each firmware.

    .venv/bin/python bench/boot.py [--firmware bios,uefi,uefi-secure,uefi-ia32] [--runs 1]

For each firmware, QEMU (TCG, as in the tests) boots:
- the stick, nobody touching its boot menu, until the attended walk-through has drawn its first
  screen (its status line on the serial port);
- a plain Debian 13: the minimal OS image (out/os/: Debian's kernel, systemd, NetworkManager and
  OpenSSH, nothing of reeeboot's but its first-boot questions) installed by the install step on
  a sparse disk, booted through the same firmware and the same signed chain (shim, Debian's GRUB
  and kernel; GRUB alone under SeaBIOS), until its first-boot question is about to be drawn (its
  "first boot ready" line). Same memory, processors and serial console; its kernel as quiet as
  the stick's but for that line.

It prints each time from QEMU's start and the stick's time as a multiple of Debian's (the
reference, measured in the same run). No 32-bit UEFI for the plain Debian: Debian has no loader
for it on amd64 (the stick brings its own GRUB). The best of `--runs` boots of each counts.

As root, after image/build.sh; about 1.5 minutes a boot.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "qemu-tests"))  # the harness

from harness import (
    FIRMWARES,
    IMAGE,
    Boot,
    Stick,
    attended_scenario,
    installed_disk_command,
    require_image,
)
from os_images import built_os_image, install_on_file

DISK_BYTES = 4 << 30
# Debian's own "quiet" (the install step's GRUB configuration has it) with the first-boot line
# (notice) let through, on the screen and the serial port as the stick has them.
PLAIN_KERNEL_OPTIONS = "console=tty1 console=ttyS0,115200 loglevel=6"
PLAIN_READY = re.compile(r"reeeboot-os: first boot ready")
TIMEOUT_SECONDS = 900


def stick_seconds(firmware: str, workdir: Path) -> float:
    """QEMU's start to the walk-through's first screen, from an untouched boot menu."""
    scenario = dataclasses.replace(attended_scenario(firmware), timeout_seconds=TIMEOUT_SECONDS)
    stick = Stick.copy_of(IMAGE, workdir)
    boot = Boot(scenario, workdir, stick, {})
    started = time.monotonic()
    boot.start()
    try:
        boot.wait_for("screen", TIMEOUT_SECONDS)
        return time.monotonic() - started
    finally:
        boot.stop()


def install_plain_debian(workdir: Path) -> Path:
    """The minimal OS image installed on a sparse file, both boot loaders, as the tests do."""
    backing = workdir / "plain-debian.img"
    result = install_on_file(built_os_image(), backing, DISK_BYTES, hostname="plain-debian",
                             kernel_options=PLAIN_KERNEL_OPTIONS)
    if result.result != "installed":
        raise SystemExit(f"the minimal OS image did not install: {result.error}")
    return backing


def plain_seconds(firmware: str, disk: Path, workdir: Path) -> float:
    """QEMU's start to the installed Debian's first-boot line. The disk is a throwaway copy of
    the installed one, so that every boot is a first boot."""
    copy = workdir / "plain-copy.img"
    subprocess.run(["cp", "--sparse=always", str(disk), str(copy)], check=True)
    serial_log = workdir / "plain-serial.log"
    serial_log.write_bytes(b"")
    command = installed_disk_command(copy, firmware, workdir, serial_log, memory_mib=2048)
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.monotonic() - started < TIMEOUT_SECONDS and process.poll() is None:
            if PLAIN_READY.search(serial_log.read_bytes().decode(errors="replace")):
                return time.monotonic() - started
            time.sleep(0.2)
    finally:
        process.kill()
        process.wait()
        copy.unlink(missing_ok=True)
    raise SystemExit(f"plain Debian did not reach its first boot under {firmware}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--firmware", default="bios,uefi,uefi-secure,uefi-ia32",
                        help="comma-separated, among " + ", ".join(FIRMWARES))
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None)
    arguments = parser.parse_args()
    firmwares = arguments.firmware.split(",")
    unknown = [firmware for firmware in firmwares if firmware not in FIRMWARES]
    if unknown:
        parser.error(f"unknown firmware {', '.join(unknown)}")
    require_image()
    with tempfile.TemporaryDirectory(dir=arguments.workdir) as folder:
        workdir = Path(folder)
        plain_disk = install_plain_debian(workdir)
        print(f"{'firmware':<12} {'stick':>8} {'Debian':>8} {'ratio':>7}")
        for firmware in firmwares:
            stick = min(stick_seconds(firmware, workdir) for _ in range(arguments.runs))
            if firmware == "uefi-ia32":
                print(f"{firmware:<12} {stick:>7.0f}s {'-':>8} {'-':>7}")
                continue
            plain = min(plain_seconds(firmware, plain_disk, workdir)
                        for _ in range(arguments.runs))
            print(f"{firmware:<12} {stick:>7.0f}s {plain:>7.0f}s {stick / plain:>6.2f}x",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
