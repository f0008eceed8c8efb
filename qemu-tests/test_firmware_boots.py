"""The stick boots through its own boot loader under each firmware a donated PC may have.

The whole unattended flows run elsewhere under Secure Boot (scenarios/three-buses.toml), SeaBIOS
(scenarios/failing-disk.toml) and plain UEFI (test_two_sticks.py), and the attended walk-through
under SeaBIOS from a stick with no active MBR partition (test_attended.py). Here: the boot menu's
default is the attended walk-through when nobody touches the keyboard, on 32-bit UEFI; GRUB for
BIOS keeps to the stick the BIOS booted when another
is plugged in; Secure Boot refuses a loader its keys did not sign, so the Secure Boot runs
cannot pass by accident; and the menu's memory test starts memtest86+ under BIOS and UEFI (its
absence under Secure Boot is checked in test_unattended_flow.py).
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
from harness import (
    IMAGE,
    MENU_SHOWN,
    Boot,
    Stick,
    attended_scenario,
    partition_offset,
    require_image,
)
from screendumps import Picture

ESP_TYPE = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"  # EFI system partition
OTHER_STICK_MENU = "menu of the other stick"
MEMTEST_STARTED = "Memtest86+ v"  # its title, on the serial port too


# GRUB's line on the serial port as it starts the attended entry, in English or in French
# ("Démarrage de « ... »", accents and quotes shown as "?").
ATTENDED_STARTED = re.compile(r"(Booting|marrage de)[^\n]{0,8}Reeeboot : d.marrer / start")


def wait_for_first_screen(boot: Boot, timeout: float) -> dict[str, object]:
    boot.start()
    try:
        event = boot.wait_for("screen", timeout)
        boot.hmp(f"screendump {boot.workdir / 'first-screen.ppm'}")
        return event
    finally:
        boot.stop()


def test_untouched_the_boot_menu_starts_the_attended_walkthrough(artifacts: Path) -> None:
    """On 32-bit UEFI, the slowest firmware to emulate; SeaBIOS, from a stick without an active
    MBR partition, starts the whole attended walk-through (test_attended.py)."""
    require_image()
    firmware = "uefi-ia32"
    stick = Stick.copy_of(IMAGE, artifacts)
    boot = Boot(attended_scenario(firmware), artifacts, stick, {})
    assert boot.chosen_menu_entry() is None  # nobody at the keyboard
    started = time.monotonic()
    event = wait_for_first_screen(boot, timeout=600)
    seconds = time.monotonic() - started
    assert event["name"] == "MachineScreen"
    serial = boot.serial_text()
    assert MENU_SHOWN in serial, "the boot menu was not shown"
    assert ATTENDED_STARTED.search(serial), "the countdown did not start the attended entry"
    # The attended entry has no unattended switch: the agent did not start an unattended run.
    assert '"event": "started"' not in serial and "config_problem" not in serial
    screen = Picture.read(boot.workdir / "first-screen.ppm")
    assert screen.lit_share() * screen.width * screen.height > 10_000, "the screen is black"
    (artifacts / "boot-time.log").write_text(f"{firmware}: first screen after {seconds:.0f} s\n")


def test_secure_boot_refuses_a_loader_that_microsofts_keys_did_not_sign(artifacts: Path) -> None:
    """Debian's GRUB is signed by Debian, whose key only shim trusts: started by the firmware
    directly, in shim's place, it must be refused."""
    require_image()
    stick = Stick.copy_of(IMAGE, artifacts)
    esp = partition_offset(stick.path, ESP_TYPE)
    grub = artifacts / "grubx64.efi"
    subprocess.run(["mcopy", "-o", "-i", f"{stick.path}@@{esp}", "::/EFI/BOOT/grubx64.efi",
                    str(grub)], check=True)
    subprocess.run(["mcopy", "-o", "-i", f"{stick.path}@@{esp}", str(grub),
                    "::/EFI/BOOT/BOOTX64.EFI"], check=True)
    boot = Boot(attended_scenario("uefi-secure"), artifacts, stick, {})
    boot.start()
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and "Access Denied" not in boot.serial_text():
            time.sleep(1)
        time.sleep(20)  # time enough to show a menu, had it been let through
        serial = boot.serial_text()
    finally:
        boot.stop()
    assert "Access Denied" in serial, serial[-2000:]
    assert MENU_SHOWN not in serial and "REEEBOOT " not in serial


def test_under_bios_grub_reads_the_menu_of_the_stick_the_bios_booted(artifacts: Path) -> None:
    """Two sticks plugged in, the same image on both: GRUB for BIOS takes its menu (and so its
    kernel) from the first partition of the drive the BIOS booted, `(,gpt1)`, never from a drive
    found by a name that both carry. The other stick's menu is marked to tell them apart."""
    require_image()
    mine = Stick.copy_of(IMAGE, artifacts, "mine.img")
    other = Stick.copy_of(IMAGE, artifacts, "other.img")
    esp = partition_offset(other.path, ESP_TYPE)
    menu = artifacts / "grub.cfg"
    subprocess.run(["mcopy", "-o", "-i", f"{other.path}@@{esp}", "::/grub/grub.cfg", str(menu)],
                   check=True)
    text = menu.read_text(encoding="utf-8")
    assert MENU_SHOWN in text
    menu.write_text(text.replace(MENU_SHOWN, OTHER_STICK_MENU), encoding="utf-8")
    subprocess.run(["mcopy", "-o", "-i", f"{other.path}@@{esp}", str(menu), "::/grub/grub.cfg"],
                   check=True)
    boot = Boot(attended_scenario("bios"), artifacts, mine, {},
                other_sticks=((other, "REEEBOOT-STICK-0002"),))
    boot.start()
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not any(
                shown in boot.serial_text() for shown in (MENU_SHOWN, OTHER_STICK_MENU)):
            time.sleep(1)
        serial = boot.serial_text()
    finally:
        boot.stop()
    assert MENU_SHOWN in serial, serial[-2000:]
    assert OTHER_STICK_MENU not in serial


@pytest.mark.parametrize("firmware", ["bios", "uefi"])
def test_the_menus_memory_test_starts_memtest86(firmware: str, artifacts: Path) -> None:
    require_image()
    stick = Stick.copy_of(IMAGE, artifacts)
    boot = Boot(attended_scenario(firmware), artifacts, stick, {}, menu_entry="memtest")
    boot.start()
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and MEMTEST_STARTED not in boot.serial_text():
            time.sleep(2)
        serial = boot.serial_text()
    finally:
        boot.stop()
    assert MENU_SHOWN in serial, "the boot menu was not shown"
    assert MEMTEST_STARTED in serial, f"{boot.menu_outcome()}; serial log tail:\n{serial[-2000:]}"
    assert "REEEBOOT " not in serial, "the live system started instead"
