"""The desktop image, the one workshops give away, as its new owner meets it: installed by the real
install step (on a loop device), then booted alone under OVMF with Microsoft's keys and Secure
Boot enforced; the first-boot questions answered on the keyboard (French, AZERTY, an account);
the login at LightDM with that account; the Xfce desktop. The screen is a frame buffer, so each
stage is seen through screendumps, compared with pictures of what a working system shows
(qemu-tests/reference/, made as screendumps.py says)."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import azerty_keys, installed_disk_command, monitor_command, press_keys
from os_images import built_os_image, install_on_file
from screendumps import Picture, differing_cells, reduce, wait_until_settled

REFERENCE = Path(__file__).parent / "reference"
DISK_BYTES = 10 << 30
# The installed kernel speaks on the serial port only, so that no kernel message is drawn over
# the dialogs, and lets the first boot's "shows ..." lines (info) through, which say which dialog
# comes next; the screen is otherwise as a new owner has it (no nomodeset: the desktop needs its
# graphics driver).
KERNEL_OPTIONS = "console=ttyS0,115200 loglevel=7"
FIRST_BOOT_READY = re.compile(r"reeeboot-os: first boot ready hostname=(\S+) \S+ lockdown=(\S+)")
FIRST_BOOT_DONE = re.compile(r"reeeboot-os: first boot done user=(\S+) language=(\S+) "
                             r"keyboard=(\S+)")
# The new owner. "azerty" typed on an AZERTY keyboard takes the keys QEMU calls q w e r t y, so
# the login proves that the keyboard chosen at the first boot reached the desktop too.
FULL_NAME, USER, PASSWORD = "Olivier Dupont", "olivierdupont", "azerty-2026"
# A reference screen may differ in this share of its cells (a clock, a user's name, a cursor);
# a dialog over it, another background or a black screen differ in far more.
TOLERATED_SHARE = 0.03


@pytest.fixture
def installed_desktop(artifacts: Path) -> Iterator[Path]:
    """The desktop image installed by the install step on a loop device over a sparse file."""
    backing = artifacts / "desktop-disk.img"
    result = install_on_file(built_os_image("reeeboot-os-desktop"), backing, DISK_BYTES,
                             hostname="rb-bureau", kernel_options=KERNEL_OPTIONS).to_json()
    assert result["result"] == "installed", result["error"]
    assert result["bootloader"]["secure_boot_ready"], result["bootloader"]
    yield backing
    backing.unlink(missing_ok=True)


UPDATING_REFERENCES = os.environ.get("REEEBOOT_UPDATE_REFERENCES") == "1"


def differing_share(picture: Picture, reference: Picture) -> float:
    return len(differing_cells(picture, reference)) / (reference.width * reference.height)


class Screen:
    """The installed machine's screen and keyboard, through QEMU's monitor."""

    def __init__(self, monitor: Path, workdir: Path) -> None:
        self.monitor = monitor
        self.workdir = workdir
        self.last: Picture | None = None

    def take(self) -> Picture:
        path = self.workdir / "screen.ppm"
        monitor_command(self.monitor, f"screendump {path}")
        return Picture.read(path)

    def expect(self, name: str, *, quiet: float = 2, timeout: float = 120) -> None:
        """Waits until the screen has changed since the last expected picture, settled, and
        looks like the reference `name` (qemu-tests/reference/NAME.ppm); keeps it in the
        artifacts as NAME.ppm, and says how far it was from the reference if it never did.

        With REEEBOOT_UPDATE_REFERENCES=1 the first settled picture that is not mostly black
        becomes the reference (look at them before committing)."""
        path = REFERENCE / f"{name}.ppm"
        if UPDATING_REFERENCES:
            self.last = wait_until_settled(self.take, self.last, quiet=quiet, timeout=timeout,
                                           accept=lambda picture: picture.lit_share() > 0.5)
            self.last.write(self.workdir / f"{name}.ppm")
            reduce(self.last).write(path)
            return
        reference = Picture.read(path)
        seen: list[Picture] = []  # the last picture compared

        def looks_like(picture: Picture) -> bool:
            seen[:] = [picture]
            return differing_share(picture, reference) <= TOLERATED_SHARE

        try:
            self.last = wait_until_settled(self.take, self.last, quiet=quiet, timeout=timeout,
                                           accept=looks_like)
        except TimeoutError as error:
            closest = seen[-1] if seen else self.take()
            closest.write(self.workdir / f"{name}.ppm")
            raise AssertionError(
                f"{error}: the screen never looked like {name} (the last settled picture "
                f"differs in {differing_share(closest, reference):.0%} of its cells, "
                f"{TOLERATED_SHARE:.0%} tolerated); see {name}.ppm in the test's artifacts"
            ) from None
        self.last.write(self.workdir / f"{name}.ppm")

    def type(self, text: str) -> None:
        """`text` typed on the French keyboard, then Enter."""
        press_keys(self.monitor, [*azerty_keys(text), "ret"], pause=0.15)

    def enter(self) -> None:
        press_keys(self.monitor, ["ret"], pause=0)


class SerialLog:
    """The machine's serial port, read on from where the last expected line was found."""

    def __init__(self, path: Path, process: subprocess.Popen[bytes]) -> None:
        self.path = path
        self.process = process
        self.offset = 0

    def expect(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            text = self.path.read_bytes().decode(errors="replace")
            found = pattern.search(text, self.offset)
            if found:
                self.offset = found.end()
                return found
            time.sleep(0.5)
        tail = self.path.read_bytes().decode(errors="replace")[-3000:]
        raise AssertionError(f"{pattern.pattern!r} not on the serial port:\n{tail}")


# The first boot's dialogs in their order (the firstboot script says on the kernel log which one
# comes next), and what the new owner types in each (None: Enter on what is offered).
FIRST_BOOT_DIALOGS: tuple[tuple[str, str | None], ...] = (
    ("language", None),        # Français, the default
    ("keyboard", None),        # French (AZERTY), the default
    ("fullname", FULL_NAME),
    ("username", None),        # the name suggested from FULL_NAME
    ("password", PASSWORD),
    ("password-again", PASSWORD),
    ("ready", None),
)


def test_desktop_first_boot_login_and_xfce_under_secure_boot(
        installed_desktop: Path, artifacts: Path) -> None:
    serial_log = artifacts / "serial.log"
    serial_log.write_bytes(b"")
    monitor = artifacts / "monitor.sock"
    command = installed_disk_command(installed_desktop, "uefi-secure", artifacts, serial_log,
                                     memory_mib=3072, monitor=monitor)
    started = time.monotonic()
    with (artifacts / "qemu.log").open("wb") as errors:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors)
    serial = SerialLog(serial_log, process)
    screen = Screen(monitor, artifacts)
    timings = []

    def lap(stage: str) -> None:
        timings.append(f"{stage}: {time.monotonic() - started:.0f} s")

    try:
        ready = serial.expect(FIRST_BOOT_READY, 600)
        lap("first boot ready")
        assert ready.group(1) == "rb-bureau"
        assert ready.group(2) == "integrity", "shim, Debian's GRUB and kernel under Secure Boot"
        for dialog, typed in FIRST_BOOT_DIALOGS:
            serial.expect(re.compile(rf"reeeboot-os: first boot shows {re.escape(dialog)}\s"), 120)
            screen.expect(f"firstboot-{dialog}")
            if typed is None:
                screen.enter()
            else:
                screen.type(typed)
        done = serial.expect(FIRST_BOOT_DONE, 120)
        assert done.groups() == (USER, "fr", "fr")

        # The console goes black when the questions end, then LightDM's greeter comes.
        screen.expect("login", quiet=5, timeout=300)
        lap("login screen")
        screen.type(USER)  # Enter moves on to the password
        time.sleep(2)
        screen.type(PASSWORD)
        # The greeter's background stays until Xfce has drawn its own, then its panels and
        # icons, one after the other: about a minute under TCG.
        screen.expect("desktop", quiet=10, timeout=420)
        lap("desktop")
    finally:
        process.kill()
        process.wait()
        (artifacts / "timings.log").write_text("\n".join(timings) + "\n")
