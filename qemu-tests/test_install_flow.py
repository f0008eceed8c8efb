"""The whole flow with the install step, on the real images: the live stick erases the NVMe disk
and installs the minimal OS from its images/ folder; then the installed disk alone boots under
SeaBIOS (legacy BIOS) and under OVMF (UEFI) to its first-boot questions, with the hostname made
from the asset id and the root file system grown to the disk."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from harness import (
    IMAGE,
    SCENARIOS,
    Boot,
    Scenario,
    Stick,
    make_disk,
    require_image,
    station_config,
)
from os_images import built_os_image

from agent.report import dsse
from tests.hubserver import RunningHub

SCENARIO = SCENARIOS / "install" / "minimal-os.toml"
# The installed system's kernel speaks on the serial port (for this test only), and says more
# than "quiet" lets through, so that its first-boot line reaches the port.
KERNEL_OPTIONS = "console=ttyS0,115200 loglevel=6"
FIRST_BOOT = re.compile(r"reeeboot-os: first boot ready hostname=(\S+) root_bytes=(\d+)")
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
    boot.start()
    try:
        boot.wait_exit(scenario.timeout_seconds)
    finally:
        boot.stop()
    events = boot.events()
    results = [event for event in events if event["event"] == "install_result"]
    assert results, f"no install result; serial tail:\n{boot.serial_text()[-3000:]}"
    assert results[-1]["result"] == "installed", results[-1]
    done = [event for event in events if event["event"] == "done"]
    assert done and done[-1]["ok"], done

    report = _stored_report(hub, token, scenario)
    record = report["install"]
    assert record["result"] == "installed"
    assert record["image"] == {"name": image.name, "version": image.version,
                               "sha256": image.manifest.sha256,  # type: ignore[union-attr]
                               "source": "stick"}
    assert record["target"]["serial"] == disk_spec.serial
    assert record["bytes_written"] == image.mapped_size
    assert record["verification"]["result"] == "passed"
    assert record["boot_mode"] == "bios"  # the stick was booted without UEFI here
    assert record["bootloader"]["bios_grub"] and record["bootloader"]["fallback_path"]
    assert record["post_install_check"]["result"] == "passed"
    hostname = record["hostname"]
    disk_bytes = disk_spec.size_mib << 20

    for firmware in ("bios", "uefi"):
        line = _boot_installed(disks[disk_spec.id], firmware, artifacts)
        assert line.group(1) == hostname, f"{firmware}: hostname"
        root_bytes = int(line.group(2))
        # ext4 keeps some of the partition for itself; the 2 GiB image must have grown.
        assert disk_bytes * 0.9 < root_bytes <= disk_bytes, f"{firmware}: root {root_bytes}"


def _stored_report(hub: RunningHub, token: str, scenario: Scenario) -> dict:
    rows = [row for row in hub.database.reports()
            if row["system_serial"] == scenario.system["serial"]]
    assert len(rows) == 1
    stored = hub.database.report(str(rows[0]["report_id"]))
    station = hub.database.station_by_token(token)
    assert stored is not None and station is not None and station.public_key is not None
    payload = dsse.verify(json.loads(str(stored["envelope"])),
                          Ed25519PublicKey.from_public_bytes(station.public_key))
    return dict(json.loads(payload))


def _boot_installed(disk: Path, firmware: str, artifacts: Path) -> re.Match[str]:
    """Boots the installed disk alone and waits for its first-boot line on the serial port."""
    serial_log = artifacts / f"installed-{firmware}.log"
    serial_log.write_bytes(b"")
    command = [
        "qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-m", "1024", "-smp", "2",
        "-display", "none", "-vga", "std", "-no-reboot", "-serial", f"file:{serial_log}",
        "-drive", f"if=none,id=installed,file={disk},format=raw,cache=unsafe",
        "-device", "virtio-blk-pci,drive=installed,bootindex=1", "-nic", "none",
    ]
    if firmware == "uefi":
        variables = artifacts / "OVMF_VARS.fd"
        subprocess.run(["cp", "/usr/share/OVMF/OVMF_VARS.fd", str(variables)], check=True)
        command += [
            "-drive", "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd",
            "-drive", f"if=pflash,format=raw,file={variables}",
        ]
    with (artifacts / f"qemu-installed-{firmware}.log").open("wb") as errors:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors)
    try:
        deadline = time.monotonic() + BOOT_SECONDS
        while time.monotonic() < deadline and process.poll() is None:
            found = FIRST_BOOT.search(serial_log.read_bytes().decode(errors="replace"))
            if found:
                return found
            time.sleep(2)
    finally:
        process.kill()
        process.wait()
    tail = serial_log.read_bytes().decode(errors="replace")[-3000:]
    raise AssertionError(f"the installed disk did not reach its first boot ({firmware}):\n{tail}")
