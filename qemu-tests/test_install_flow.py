"""The whole flow with the install step, on the real images: the live stick, booted with Secure
Boot on (so its kernel is locked down), erases the NVMe disk, installs the minimal OS from its
images/ folder and adds the firmware's boot entry; then the installed disk alone boots under
SeaBIOS (legacy BIOS) and under OVMF with Secure Boot (UEFI) to its first-boot
questions, with the hostname made from the asset id and the root file system grown to the disk."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from harness import (
    EXPECTED_BOOT,
    IMAGE,
    SCENARIOS,
    Boot,
    Scenario,
    Stick,
    installed_disk_command,
    make_disk,
    require_image,
    station_config,
    vga_text,
)
from hub_reports import stored_report
from os_images import built_os_image

from tests.hubserver import RunningHub

SCENARIO = SCENARIOS / "install" / "minimal-os.toml"
# The installed system's kernel speaks on the serial port (for this test only), and says more
# than "quiet" lets through, so that its first-boot line reaches the port; nomodeset keeps the
# screen in VGA text mode under SeaBIOS, where the test reads the first-boot dialog.
KERNEL_OPTIONS = "console=ttyS0,115200 loglevel=6 nomodeset"
FIRST_QUESTION = "Langue / Language"
FIRST_BOOT = re.compile(
    r"reeeboot-os: first boot ready hostname=(\S+) root_bytes=(\d+) lockdown=(\S+)")
BOOT_SECONDS = 420


def test_install_then_boot_installed_disk(hub: RunningHub, artifacts: Path) -> None:
    require_image()
    image = built_os_image()
    scenario = Scenario.load(SCENARIO)
    stick = Stick.copy_of(IMAGE, artifacts)
    on_stick = [entry.rsplit("/", 1)[-1] for entry in stick.read_dir("images")]
    assert image.path is not None and image.path.name in on_stick, \
        "image/build.sh puts the OS images into the stick's images/ folder"
    token = hub.database.add_station("qemu-install")
    config = station_config(f"http://10.0.2.2:{hub.port}", token, unattended=True)
    config += (f'[install]\nimage = "{image.name}"\nkernel_options = "{KERNEL_OPTIONS}"\n')
    stick.write_file("reeeboot.toml", config)
    disks = {spec.id: make_disk(spec, artifacts) for spec in scenario.disks}
    [disk_spec] = scenario.disks

    boot = Boot(scenario, artifacts, stick, disks)
    boot.run_to_end(scenario.timeout_seconds)
    events = boot.events()
    results = [event for event in events if event["event"] == "install_result"]
    assert results, f"no install result; serial tail:\n{boot.serial_text()[-3000:]}"
    assert results[-1]["result"] == "installed", results[-1]
    done = [event for event in events if event["event"] == "done"]
    assert done and done[-1]["ok"], done

    report = stored_report(hub, token, scenario.system["serial"])
    record = report["install"]
    assert record["result"] == "installed"
    assert record["image"] == {"name": image.name, "version": image.version,
                               "sha256": image.manifest.sha256,  # type: ignore[union-attr]
                               "source": "stick"}
    assert record["target"]["serial"] == disk_spec.serial
    assert record["bytes_written"] == image.mapped_size
    assert record["verification"]["result"] == "passed"
    # Booted as QEMU was told (Secure Boot on in the scenario): the kernel was locked down
    # while it wrote the disk and the firmware's boot entry (efibootmgr, through efivarfs).
    expected = EXPECTED_BOOT[scenario.firmware]
    assert {key: report["machine"]["firmware"][key] for key in expected} == expected
    assert record["boot_mode"] == expected["mode"]
    if expected["mode"] == "uefi":
        assert re.fullmatch(r"Boot[0-9A-F]{4}", record["bootloader"]["efi_entry"] or ""), record
    assert record["bootloader"]["bios_grub"] and record["bootloader"]["fallback_path"]
    assert record["bootloader"]["secure_boot_ready"]  # shim and Debian's GRUB on the ESP
    assert record["post_install_check"]["result"] == "passed"
    hostname = record["hostname"]
    disk_bytes = disk_spec.size_mib << 20

    # UEFI with Secure Boot off starts the same shim, GRUB and kernel from the same fallback
    # path, only without lockdown: the two ends are booted.
    for firmware in ("bios", "uefi-secure"):
        line, screen = _boot_installed(disks[disk_spec.id], firmware, artifacts)
        assert line.group(1) == hostname, f"{firmware}: hostname"
        root_bytes = int(line.group(2))
        # ext4 keeps some of the partition for itself; the 2 GiB image must have grown.
        assert disk_bytes * 0.9 < root_bytes <= disk_bytes, f"{firmware}: root {root_bytes}"
        if firmware == "bios":  # OVMF's screen is a frame buffer: no text to read there
            assert FIRST_QUESTION in screen, f"the first question is not on the screen:\n{screen}"
        # Under Secure Boot the installed kernel came through shim and locked itself down.
        expected_lockdown = "integrity" if firmware == "uefi-secure" else "none"
        assert line.group(3) == expected_lockdown, f"{firmware}: {line.group(0)}"



def _boot_installed(disk: Path, firmware: str, artifacts: Path) -> tuple[re.Match[str], str]:
    """Boots the installed disk alone, waits for its first-boot line on the serial port, and
    returns it with the text on the screen (VGA text memory) once the first question shows."""
    serial_log = artifacts / f"installed-{firmware}.log"
    serial_log.write_bytes(b"")
    monitor = artifacts / f"installed-{firmware}.sock"
    command = installed_disk_command(disk, firmware, artifacts, serial_log, memory_mib=1024,
                                     monitor=monitor)
    with (artifacts / f"qemu-installed-{firmware}.log").open("wb") as errors:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors)
    try:
        deadline = time.monotonic() + BOOT_SECONDS
        found, screen = None, ""
        while time.monotonic() < deadline and process.poll() is None:
            found = found or FIRST_BOOT.search(serial_log.read_bytes().decode(errors="replace"))
            if found:
                screen = vga_text(monitor, cells=4000)
                if FIRST_QUESTION in screen or firmware != "bios":
                    break
            time.sleep(2)
        if found:
            return found, screen  # the caller says what is missing from the screen
    finally:
        process.kill()
        process.wait()
    tail = serial_log.read_bytes().decode(errors="replace")[-3000:]
    raise AssertionError(f"the installed disk did not reach its first boot ({firmware}):\n{tail}")
