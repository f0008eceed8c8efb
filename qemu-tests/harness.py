"""Boot the real live image under QEMU (TCG) with virtual disks described by a scenario file.

A scenario (qemu-tests/scenarios/*.toml) is data: firmware, mode, disks with bus, size, sector
size and serial, the machine's SMBIOS identity. New scenarios need no new harness code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.health import keyboard_map as km

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(os.environ.get("REEEBOOT_OUT", ROOT / "out"))
IMAGE = OUT / "reeeboot-live.img"
KERNEL = OUT / "reeeboot-live.vmlinuz"
INITRD = OUT / "reeeboot-live.initrd"
SCENARIOS = Path(__file__).parent / "scenarios"

MARKER = b"REEEBOOT-MARKER!" * 32  # one 512-byte sector of a pattern no erasure leaves behind
DATA_PARTITION_TYPE = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"  # Microsoft basic data
STATE_PARTITION_LABEL = "reeeboot-state"  # ext4: what the agent writes
STATUS_PREFIX = "REEEBOOT "
# As the image's own command line (mkosi.conf), with the root named for a boot without firmware.
BASE_CMDLINE = (
    "root=PARTLABEL=reeeboot-root ro systemd.volatile=overlay systemd.gpt_auto=0 "
    "console=tty1 console=ttyS0,115200 loglevel=3 systemd.show_status=error"
)


# QEMU's emulation, one host thread for all the guest's processors. With a thread per processor
# (QEMU's default), QEMU before 8.1 may run code one processor just rewrote from a stale
# translation on another; Debian 13's kernel rewrites its own code at run time (static keys,
# jump labels) and died of it now and then ("Oops: int3" in crng_make_state, kmem_cache_free).
# Real processors are not affected. The guest still has as many processors as the scenario says.
ACCELERATOR = ["-accel", "tcg,thread=single"]
# How a scenario's machine starts the stick (`firmware`): "direct" hands QEMU the image's kernel
# and initrd (fast, no boot loader); the others boot the stick through its own boot loader.
OVMF = Path("/usr/share/OVMF")
FIRMWARES: dict[str, list[str]] = {
    # SeaBIOS, QEMU's default: GRUB from the stick's MBR and BIOS boot partition.
    "bios": ["-machine", "q35"],
    # 64-bit UEFI with Secure Boot off: shim, Debian's signed GRUB and kernel all the same.
    "uefi": ["-machine", "q35",
             "-drive", f"if=pflash,format=raw,readonly=on,file={OVMF}/OVMF_CODE_4M.fd",
             "-drive", "if=pflash,format=raw,file={vars}"],
    # Secure Boot enforced, with the keys PCs ship with (Microsoft's) enrolled.
    "uefi-secure": ["-machine", "q35,smm=on", "-global", "ICH9-LPC.disable_s3=1",
                    "-global", "driver=cfi.pflash01,property=secure,value=on",
                    "-drive", f"if=pflash,format=raw,readonly=on,file={OVMF}/OVMF_CODE_4M.ms.fd",
                    "-drive", "if=pflash,format=raw,file={vars}"],
    # 32-bit UEFI in front of a 64-bit CPU, as on Bay Trail tablets (no keys enrolled).
    "uefi-ia32": ["-machine", "q35,smm=on", "-global", "ICH9-LPC.disable_s3=1",
                  "-drive",
                  f"if=pflash,format=raw,readonly=on,file={OVMF}/OVMF32_CODE_4M.secboot.fd",
                  "-drive", "if=pflash,format=raw,file={vars}"],
}
FIRMWARE_VARIABLES = {"uefi": OVMF / "OVMF_VARS_4M.fd", "uefi-secure": OVMF / "OVMF_VARS_4M.ms.fd",
                      "uefi-ia32": OVMF / "OVMF32_VARS_4M.fd"}
# What the agent must find out about each firmware: how it was started, the UEFI's width, the
# Secure Boot state and the kernel's lockdown (Debian's kernel locks itself under Secure Boot).
EXPECTED_BOOT: dict[str, dict[str, str | int | None]] = {
    "direct": {"mode": "bios", "uefi_bits": None, "secure_boot": None, "kernel_lockdown": "none"},
    "bios": {"mode": "bios", "uefi_bits": None, "secure_boot": None, "kernel_lockdown": "none"},
    "uefi": {"mode": "uefi", "uefi_bits": 64, "secure_boot": "disabled",
             "kernel_lockdown": "none"},
    "uefi-secure": {"mode": "uefi", "uefi_bits": 64, "secure_boot": "enabled",
                    "kernel_lockdown": "integrity"},
    "uefi-ia32": {"mode": "uefi", "uefi_bits": 32, "secure_boot": "disabled",
                  "kernel_lockdown": "none"},
}
# The stick's boot menu (image/grub.cfg), in its order, with a piece of each title that GRUB's
# serial terminal shows as is (it writes "?" for accented letters). "memtest" is left out of the
# menu under Secure Boot.
MENU_ENTRIES = ("attended", "safe-graphics", "unattended", "memtest")
MENU_SHOWN = "unattended: erases unasked"


# Scenario [system] keys and the QEMU -smbios options they set (SMBIOS types 1 and 2).
SMBIOS_SYSTEM = (("vendor", "manufacturer"), ("product", "product"), ("version", "version"),
                 ("serial", "serial"), ("sku", "sku"), ("family", "family"), ("uuid", "uuid"))
SMBIOS_BOARD = (("board_vendor", "manufacturer"), ("board_product", "product"),
                ("board_serial", "serial"))


@dataclass(frozen=True)
class DiskSpec:
    id: str
    bus: str  # virtio, sata, nvme, scsi, usb
    size_mib: int
    serial: str
    logical_sector_size: int = 512
    fill: str = "marker"  # "marker" or "empty"
    expect: str = "erased"  # the erasure result the report must give for this disk
    expect_method: str | None = None  # e.g. "nvme-format-user-data", "random"
    expect_level: str | None = None  # "clear" or "purge"
    expect_bad_ranges: tuple[tuple[int, int], ...] = ()  # [first LBA, last LBA] the report lists
    # The drive's speed, reads and writes together (QEMU's throttling), 0 for as fast as the
    # host: a test that must catch a phase in the middle needs it to last, whatever the host.
    mib_per_second: int = 0

    def __post_init__(self) -> None:
        # TOML gives lists; the dataclass is frozen and compared, so keep tuples.
        ranges = tuple(tuple(pair) for pair in self.expect_bad_ranges)
        object.__setattr__(self, "expect_bad_ranges", ranges)

    @property
    def erased(self) -> bool:
        return self.expect in ("erased", "erased_with_exceptions")


@dataclass(frozen=True)
class Fault:
    """Something going wrong on purpose, done by QEMU below the guest."""

    disk: str  # a DiskSpec id
    kind: str  # "write_error": writes touching `sector` fail with EIO (QEMU's blkdebug)
    sector: int = 0


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    firmware: str
    mode: str
    memory_mib: int
    cpus: int
    timeout_seconds: int
    system: dict[str, str]
    stick_serial: str
    disks: tuple[DiskSpec, ...]
    config_unattended: bool  # what the stick's reeeboot.toml says; the kernel switch is `mode`
    faults: tuple[Fault, ...] = ()
    mac: str | None = None  # the NIC's MAC address, which the inventory must report
    cpu: str | None = None  # QEMU's -cpu model, e.g. "Penryn" (no AES); None: QEMU's default
    # An HDA sound card whose speakers are a WAV file (Boot.sound_file): what the guided sound
    # check played, left and right.
    sound: bool = False

    @classmethod
    def load(cls, path: Path) -> Scenario:
        data = tomllib.loads(path.read_text())
        return cls(
            name=path.stem,
            description=data.get("description", ""),
            firmware=data.get("firmware", "direct"),
            mode=data.get("mode", "unattended"),
            memory_mib=int(data.get("memory_mib", 2048)),
            cpus=int(data.get("cpus", 2)),
            timeout_seconds=int(data.get("timeout_seconds", 900)),
            system=dict(data.get("system", {})),
            stick_serial=data.get("stick", {}).get("serial", "REEEBOOT-STICK"),
            disks=tuple(DiskSpec(**disk) for disk in data.get("disks", [])),
            config_unattended=bool(data.get("config_unattended", data.get("mode") != "attended")),
            faults=tuple(Fault(**fault) for fault in data.get("faults", [])),
            mac=data.get("mac"),
            cpu=data.get("cpu"),
            sound=bool(data.get("sound", False)),
        )


def all_scenarios() -> list[Path]:
    return sorted(SCENARIOS.glob("*.toml"))


def require_image() -> None:
    missing = [str(path) for path in (IMAGE, KERNEL, INITRD) if not path.exists()]
    if missing:
        raise FileNotFoundError(
            f"the live image is not built ({', '.join(missing)} missing): run image/build.sh"
        )
    if shutil.which("qemu-system-x86_64") is None:
        raise FileNotFoundError("qemu-system-x86_64 is not installed (tests/run installs it)")


def partition_ranges(path: Path) -> dict[str, tuple[int, int]]:
    """Byte ranges of the data partition (by its GPT type), of the state partition (by its
    name) and of every partition ("partition <node>") of a stick image, as its partition table
    says now."""
    table = json.loads(subprocess.run(
        ["sfdisk", "--json", str(path)], check=True, capture_output=True, text=True
    ).stdout)["partitiontable"]
    sector = int(table.get("sectorsize", 512))
    ranges = {}
    for partition in table["partitions"]:
        place = (int(partition["start"]) * sector,
                 (int(partition["start"]) + int(partition["size"])) * sector)
        if partition["type"].upper() == DATA_PARTITION_TYPE:
            ranges["data"] = place
        if partition.get("name") == STATE_PARTITION_LABEL:
            ranges["state"] = place
        ranges[f"partition {partition['node']}"] = place
    if not {"data", "state"} <= set(ranges):
        raise ValueError(f"{path} lacks a data partition (type {DATA_PARTITION_TYPE}) or "
                         f"a state partition ({STATE_PARTITION_LABEL})")
    return ranges


@dataclass
class Stick:
    """A copy of the live image, with the byte ranges of its data partition (FAT, the
    configuration and OS images) and of its state partition (ext4, what the agent writes), as
    its partition table says: the state partition grows at the first boot when the stick has
    room after it."""

    path: Path
    _replayed_at: int = 0  # the stick's mtime when its state partition was last copied

    @classmethod
    def copy_of(cls, image: Path, workdir: Path, name: str = "stick.img", *,
                room: int = 0) -> Stick:
        """`room`: bytes of free space after the image, as on a stick larger than the image."""
        path = workdir / name
        subprocess.run(["cp", "--sparse=always", str(image), str(path)], check=True)
        if room:
            os.truncate(path, path.stat().st_size + room)
        stick = cls(path)
        partition_ranges(path)  # a clear error now for an image without the partitions
        return stick

    @property
    def data_start(self) -> int:
        return partition_ranges(self.path)["data"][0]

    @property
    def state_start(self) -> int:
        return partition_ranges(self.path)["state"][0]

    @property
    def state_end(self) -> int:
        return partition_ranges(self.path)["state"][1]

    def write_file(self, name: str, content: str) -> None:
        source = self.path.parent / name
        source.write_text(content)
        subprocess.run(
            ["mcopy", "-o", "-i", f"{self.path}@@{self.data_start}", str(source), f"::/{name}"],
            check=True,
        )

    def read_dir(self, folder: str) -> list[str]:
        listing = subprocess.run(
            ["mdir", "-b", "-i", f"{self.path}@@{self.data_start}", f"::/{folder}"],
            capture_output=True, text=True,
        )
        return listing.stdout.split() if listing.returncode == 0 else []

    def fat_leftovers(self) -> list[str]:
        """Files a FAT check made of lost cluster chains (FSCK0000.REC ...), anywhere."""
        listing = subprocess.run(
            ["mdir", "-/", "-b", "-i", f"{self.path}@@{self.data_start}", "::/"],
            capture_output=True, text=True)
        return [line for line in listing.stdout.split() if line.upper().endswith(".REC")]

    def _state(self) -> str:
        """A copy of the state partition as the next boot mounts it: checked as the boot checks
        it, journal replayed (what a power cut left in the journal only is part of the file
        system). The stick itself is left as it is, for the next boot to recover. Made again
        when the stick changed."""
        changed = self.path.stat().st_mtime_ns
        copy = self.path.with_name(f"{self.path.stem}-state-replayed.img")
        if self._replayed_at != changed or not copy.exists():
            start, end = partition_ranges(self.path)["state"]
            with open(self.path, "rb") as stick, open(copy, "wb") as out:
                stick.seek(start)
                remaining = end - start
                while remaining:
                    block = stick.read(min(remaining, 1 << 20))
                    if block.count(0) == len(block):
                        out.seek(len(block), os.SEEK_CUR)
                    else:
                        out.write(block)
                    remaining -= len(block)
                out.truncate(end - start)
            # As the boot does (systemd-fsck: e2fsck -p): replay the journal, then fix only what
            # an unclean stop leaves by design (free counts, the orphan list). Anything else
            # makes e2fsck -p stop with 4: damage a person would have to repair.
            preened = subprocess.run(["e2fsck", "-f", "-p", str(copy)],
                                     capture_output=True, text=True)
            if preened.returncode not in (0, 1):
                raise AssertionError(f"the state partition is damaged (e2fsck -p: "
                                     f"{preened.returncode}):\n{preened.stdout}{preened.stderr}")
            self._replayed_at = changed
        return str(copy)

    def state_file(self, name: str) -> bytes | None:
        """A file of the state partition, None when it is not there."""
        found = subprocess.run(["debugfs", "-R", f"stat /{name}", self._state()],
                               capture_output=True, text=True)
        if "Inode:" not in found.stdout:
            return None
        return subprocess.run(["debugfs", "-R", f"cat /{name}", self._state()],
                              capture_output=True, check=True).stdout

    def state_dir(self, folder: str) -> list[str]:
        """The names in a folder of the state partition ([] when it is not there)."""
        listing = subprocess.run(["debugfs", "-R", f"ls -p /{folder}", self._state()],
                                 capture_output=True, text=True)
        names = [line.split("/")[5] for line in listing.stdout.splitlines()
                 if line.count("/") >= 6]
        return sorted(name for name in names if name not in ("", ".", ".."))

    def state_file_system_bytes(self) -> int:
        """The size of the state partition's file system, as its superblock says."""
        header = subprocess.run(["dumpe2fs", "-h", self._state()], capture_output=True,
                                text=True, check=True).stdout
        fields = dict(line.split(":", 1) for line in header.splitlines() if ":" in line)
        return int(fields["Block count"]) * int(fields["Block size"])

    def check_state(self) -> str:
        """e2fsck's forced, read-only check of the state partition after the boot's own check
        (journal replayed, preened): raises when anything is left to repair."""
        checked = subprocess.run(["e2fsck", "-fn", self._state()],
                                 capture_output=True, text=True)
        if checked.returncode != 0:
            raise AssertionError(f"the state partition is damaged:\n{checked.stdout}")
        return checked.stdout

    def digest_outside_state(self) -> str:
        """sha256 of every byte of the stick except its state partition: the data partition is
        only ever read."""
        start, end = partition_ranges(self.path)["state"]
        return self._digest(((0, start), (end, self.path.stat().st_size)))

    def digest_of_other_partitions(self) -> str:
        """sha256 of every partition's bytes but the state partition's, and of the MBR's boot
        code: all a boot may change besides the state partition on a stick with room to grow
        it is the partition table."""
        ranges = partition_ranges(self.path)
        state = ranges["state"]
        partitions = sorted(place for name, place in ranges.items()
                            if name.startswith("partition ") and place != state)
        return self._digest([(0, 440), *partitions])

    def _digest(self, ranges: Iterable[tuple[int, int]]) -> str:
        digest = hashlib.sha256()
        with open(self.path, "rb") as image:
            for start, end in ranges:
                image.seek(start)
                remaining = end - start
                while remaining:
                    block = image.read(min(remaining, 8 << 20))
                    if not block:
                        break
                    digest.update(block)
                    remaining -= len(block)
        return digest.hexdigest()


MBR_SLOTS = 446  # the four 16-byte partition entries start here; byte 0 of each is the flag


def active_flags(stick: Stick) -> list[int]:
    with stick.path.open("rb") as image:
        image.seek(MBR_SLOTS)
        table = image.read(64)
    return [table[slot * 16] for slot in range(4)]


def clear_active_flags(stick: Stick) -> None:
    """As a stick written by another tool may be: SeaBIOS must boot it without an active mark
    (the image sets one in an empty slot for BIOSes that want it, image/README.md)."""
    with stick.path.open("r+b") as image:
        for slot in range(4):
            image.seek(MBR_SLOTS + slot * 16)
            image.write(b"\0")


def attended_scenario(firmware: str) -> Scenario:
    """The three-bus machine without disks, started through `firmware` for the attended
    walk-through, nobody touching the boot menu."""
    base = Scenario.load(SCENARIOS / "three-buses.toml")
    return dataclasses.replace(base, firmware=firmware, mode="attended", disks=(),
                               config_unattended=False, timeout_seconds=600)


def firmware_arguments(firmware: str, workdir: Path) -> list[str]:
    """QEMU's machine and firmware options for `firmware` ("direct" or one of FIRMWARES), with
    a fresh copy of its variable store in `workdir`."""
    if firmware == "direct":
        return ["-machine", "q35"]
    if firmware not in FIRMWARES:
        raise ValueError(f"unknown firmware {firmware!r}")
    variables = workdir / "efivars.fd"  # the firmware's writable variable store
    if firmware in FIRMWARE_VARIABLES:
        shutil.copyfile(FIRMWARE_VARIABLES[firmware], variables)
    return [argument.replace("{vars}", str(variables)) for argument in FIRMWARES[firmware]]


def installed_disk_command(disk: Path, firmware: str, workdir: Path, serial_log: Path, *,
                           memory_mib: int, monitor: Path | None = None) -> list[str]:
    """QEMU booting an installed disk alone, as a virtio disk, through `firmware`, without a
    network; the serial port into `serial_log`, the human monitor on `monitor` if given."""
    return [
        "qemu-system-x86_64", *firmware_arguments(firmware, workdir), *ACCELERATOR,
        "-m", str(memory_mib), "-smp", "2", "-display", "none", "-vga", "std", "-no-reboot",
        "-serial", f"file:{serial_log}",
        *(["-monitor", f"unix:{monitor},server,nowait"] if monitor is not None else []),
        "-drive", f"if=none,id=installed,file={disk},format=raw,cache=unsafe",
        "-device", "virtio-blk-pci,drive=installed,bootindex=1", "-nic", "none",
    ]


def partition_offset(image: Path, type_guid: str) -> int:
    """The byte offset of the first partition of GPT type `type_guid` in a disk image."""
    table = json.loads(subprocess.run(["sfdisk", "--json", str(image)], check=True,
                                      capture_output=True, text=True).stdout)["partitiontable"]
    sector = int(table.get("sectorsize", 512))
    return next(int(partition["start"]) * sector for partition in table["partitions"]
                if partition["type"].upper() == type_guid.upper())


def make_disk(spec: DiskSpec, workdir: Path) -> Path:
    path = workdir / f"{spec.id}.img"
    size = spec.size_mib << 20
    with open(path, "wb") as disk:
        if spec.fill == "marker":
            block = MARKER * ((1 << 20) // len(MARKER))
            for _ in range(spec.size_mib):
                disk.write(block)
        disk.truncate(size)
    return path


def marker_sectors(path: Path) -> int:
    """How many sectors of the disk image still hold the marker pattern."""
    count = 0
    with open(path, "rb") as disk:
        while block := disk.read(8 << 20):
            count += block.count(MARKER)
    return count


def first_and_last_sector(path: Path) -> tuple[bytes, bytes]:
    with open(path, "rb") as disk:
        first = disk.read(512)
        disk.seek(-512, os.SEEK_END)
        return first, disk.read(512)


def disk_arguments(
    spec: DiskSpec, path: Path, index: int, faults: tuple[Fault, ...] = ()
) -> list[str]:
    drive = f"if=none,id={spec.id},file={path},format=raw,cache=unsafe"
    if spec.mib_per_second:
        drive += f",throttling.bps-total={spec.mib_per_second << 20}"
    for fault in faults:
        if fault.disk != spec.id:
            continue
        if fault.kind != "write_error":
            raise ValueError(f"unknown fault {fault.kind!r} in scenario")
        rules = path.with_suffix(".blkdebug")
        rules.write_text(
            f'[inject-error]\nevent = "write_aio"\nerrno = "5"\nsector = "{fault.sector}"\n'
            'once = "off"\n'
        )
        drive = (f"if=none,id={spec.id},driver=raw,cache=unsafe,file.driver=blkdebug,"
                 f"file.config={rules},file.image.filename={path}")
    sectors = f"logical_block_size={spec.logical_sector_size}," \
              f"physical_block_size={spec.logical_sector_size}"
    if spec.bus == "virtio":
        device = f"virtio-blk-pci,drive={spec.id},serial={spec.serial},{sectors}"
    elif spec.bus == "sata":
        device = f"ide-hd,drive={spec.id},bus=ahci.{index},serial={spec.serial}"
    elif spec.bus == "nvme":
        device = f"nvme,drive={spec.id},serial={spec.serial},{sectors}"
    elif spec.bus == "scsi":
        device = f"scsi-hd,drive={spec.id},bus=scsi.0,serial={spec.serial},{sectors}"
    elif spec.bus == "usb":
        device = f"usb-storage,drive={spec.id},serial={spec.serial}"
    else:
        raise ValueError(f"unknown bus {spec.bus!r} in scenario")
    return ["-drive", drive, "-device", device]


class AgentFailed(AssertionError):
    """The agent printed a `failed` status line (or died): no use waiting for its end."""


class Guest:
    """A QEMU machine of the suite seen from outside: its serial port's status lines, its
    monitor (screen, keys) and its process. Boot (a stick) and lan.NetMachine (the network)
    start one each their own way."""

    workdir: Path
    serial_log: Path
    monitor: Path
    process: subprocess.Popen[bytes] | None

    def start(self) -> None:
        raise NotImplementedError

    def menu_outcome(self) -> str:
        return "no boot menu"

    def serial_text(self) -> str:
        return self.serial_log.read_bytes().decode(errors="replace")

    def events(self) -> list[dict[str, Any]]:
        return status_events(self.serial_text())

    def wait_for(self, event: str, timeout: float,
                 where: Callable[[dict[str, Any]], bool] = lambda _event: True) -> dict[str, Any]:
        """The first status line of `event` that `where` accepts. Fails at once when the agent
        says it failed, or QEMU ends, instead of waiting out the timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = self.events()
            for found in events:
                if found.get("event") == event and where(found):
                    return found
            self._raise_if_failed(events)
            if self.process is not None and self.process.poll() is not None:
                break
            time.sleep(0.2)
        tail = self.serial_text()[-3000:]
        raise TimeoutError(f"no {event!r} status line ({self.menu_outcome()}); serial log "
                           f"tail:\n{tail}")

    def _raise_if_failed(self, events: list[dict[str, Any]]) -> None:
        failed = [event for event in events if event.get("event") == "failed"]
        if failed:
            self.stop()
            raise AgentFailed(f"the agent failed: {failed[0].get('error')}\nserial log tail:\n"
                              f"{self.serial_text()[-3000:]}")

    def wait_exit(self, timeout: float, *, after_failure: bool = False) -> int:
        """Until QEMU ends. Fails at once when the agent says it failed, unless that is known
        (`after_failure`: the screen took over from a failed unattended run)."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                return code
            if not after_failure:
                self._raise_if_failed(self.events())
            time.sleep(1)
        self.stop()
        raise TimeoutError(
            f"QEMU still running after {timeout} s ({self.menu_outcome()}); serial log tail:\n"
            f"{self.serial_text()[-3000:]}")

    def run_to_end(self, timeout: float) -> None:
        """Starts the machine and waits until it powers off (QEMU is killed on the way out)."""
        self.start()
        try:
            self.wait_exit(timeout)
        finally:
            self.stop()

    def hmp(self, command: str) -> str:
        """One human-monitor command (screendump, device_del, xp ...)."""
        return monitor_command(self.monitor, command)

    def screen_text(self) -> str:
        """The text on tty1 (the guest boots with `nomodeset`): `vga_text`."""
        return vga_text(self.monitor)

    def visible_screen(self, title: str = " reeeboot - ", rows: int = 25) -> str:
        """The walk-through's screen: the 25 rows from its title line, which Textual draws at
        the top (what is above it in VGA memory is what the console showed before)."""
        lines = self.screen_text().splitlines()
        starts = [index for index, line in enumerate(lines) if line.startswith(title)]
        if not starts:
            return ""
        return "\n".join(lines[starts[-1]:starts[-1] + rows])

    def wait_for_screen(self, *texts: str, timeout: float, titled: bool = True) -> str:
        """Until the screen shows every one of `texts` (whitespace and frames ignored).
        `titled` False: a screen without the title line (a question over a blank page),
        looked for in all of VGA memory: `texts` must be new on the screen."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                break
            try:
                screen = self.visible_screen() if titled else self.screen_text()
            except OSError:  # QEMU's monitor is not listening yet
                screen = ""
            if all(text in flat(screen) for text in texts):
                with (self.workdir / "screens.log").open("a") as shown:
                    shown.write(f"--- waited for {texts!r}\n{screen}\n")
                return screen
            time.sleep(2)
        self._keep_the_screen("timeout")
        raise TimeoutError(f"{texts!r} not on the screen; it shows:\n{screen}\n"
                           f"serial log tail:\n{self.serial_text()[-2000:]}")

    def _keep_the_screen(self, name: str) -> None:
        """The picture of the screen and all of VGA text memory, for a failure's reader."""
        try:
            self.hmp(f"screendump {self.workdir / f'{name}.ppm'}")
            (self.workdir / f"{name}-vga.txt").write_text(self.screen_text())
        except OSError:
            pass  # QEMU has ended

    def plug_usb_stick(self, image: Path, serial: str) -> None:
        """A USB stick plugged into a free port of the machine's xHCI controller, as a
        volunteer does while the USB ports are tested."""
        name = f"plugged-{serial.lower()}"
        self.hmp(f"drive_add 0 if=none,id={name},file={image},format=raw")
        self.hmp(f"device_add usb-storage,bus=xhci.0,drive={name},id={name},serial={serial}")

    def press(self, *keys: str, pause: float = 0.4) -> None:
        press_keys(self.monitor, keys, pause=pause)

    def type_text(self, text: str) -> None:
        """`text` typed on the live system's French (AZERTY) keyboard."""
        self.press(*azerty_keys(text))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()



@dataclass
class Boot(Guest):
    scenario: Scenario
    workdir: Path
    stick: Stick
    disks: dict[str, Path]
    serial_log: Path = field(init=False)
    monitor: Path = field(init=False)
    display: str = "none"  # the demo shows the screen: "gtk", "curses", ...
    extra_cmdline: str = ""  # appended to the kernel command line (direct boot only)
    # The boot menu entry to pick through the keyboard (MENU_ENTRIES), for a boot through
    # firmware; None picks by the scenario's mode: "unattended", or no key at all for attended
    # (the menu's default starts by itself, as when nobody is at the machine).
    menu_entry: str | None = None
    # More reeeboot sticks plugged in beside `stick` (another station's copies), with their USB
    # serials. The firmware then boots `stick` first.
    other_sticks: tuple[tuple[Stick, str], ...] = ()
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.serial_log = self.workdir / "serial.log"
        self.monitor = self.workdir / "monitor.sock"
        self.menu_log = self.workdir / "menu.log"
        self.sound_file = self.workdir / "speakers.wav"

    def command(self) -> list[str]:
        scenario = self.scenario
        command = [
            "qemu-system-x86_64", *self.firmware_arguments(), *ACCELERATOR,
            "-m", str(scenario.memory_mib), "-smp", str(scenario.cpus),
            "-no-reboot", "-display", self.display, "-vga", "std",
            "-serial", f"file:{self.serial_log}",
            "-monitor", f"unix:{self.monitor},server,nowait",
            "-nic", "user,model=virtio-net-pci" + (f",mac={scenario.mac}" if scenario.mac else ""),
            "-device", "qemu-xhci,id=xhci", "-device", "ahci,id=ahci",
            "-drive", f"if=none,id=stick,file={self.stick.path},format=raw,cache=unsafe",
            "-device", f"usb-storage,bus=xhci.0,drive=stick,serial={scenario.stick_serial},"
                       "removable=on" + (",bootindex=1" if scenario.firmware != "direct" else ""),
        ]
        for number, (other, serial) in enumerate(self.other_sticks, start=1):
            command += [
                "-drive", f"if=none,id=stick{number},file={other.path},format=raw,cache=unsafe",
                "-device", f"usb-storage,bus=xhci.0,drive=stick{number},serial={serial},"
                           "removable=on",
            ]
        if scenario.cpu:
            command += ["-cpu", scenario.cpu]
        if scenario.sound:
            # Output only (hda-output): the machine has speakers and no microphone.
            command += ["-audiodev", f"wav,id=speakers,path={self.sound_file},"
                                     "out.frequency=48000,out.channels=2,out.format=s16",
                        "-device", "intel-hda", "-device", "hda-output,audiodev=speakers"]
        if any(disk.bus == "scsi" for disk in scenario.disks):
            command += ["-device", "virtio-scsi-pci,id=scsi"]
        system = scenario.system
        if system:
            command += ["-smbios", "type=1," + ",".join(
                f"{option}={system[key]}" for key, option in SMBIOS_SYSTEM if key in system)]
            board = ",".join(f"{option}={system[key]}" for key, option in SMBIOS_BOARD
                             if key in system)
            if board:
                command += ["-smbios", f"type=2,{board}"]
        for index, spec in enumerate(scenario.disks):
            command += disk_arguments(spec, self.disks[spec.id], index, scenario.faults)
        cmdline = BASE_CMDLINE
        if scenario.mode == "unattended":
            cmdline += " reeeboot.unattended=1"
        if self.display in ("curses", "none"):
            # Keep tty1 in VGA text mode: the curses display and the tests read it as text.
            cmdline += " nomodeset"
        if self.extra_cmdline:
            cmdline += " " + self.extra_cmdline
        if scenario.firmware == "direct":
            command += ["-kernel", str(KERNEL), "-initrd", str(INITRD), "-append", cmdline]
        elif self.extra_cmdline:
            # The stick's own boot loader and menu: the kernel command line is the menu entry's.
            raise ValueError("extra_cmdline needs a direct boot: the boot menu's entries are "
                             "the image's own")
        return command

    def firmware_arguments(self) -> list[str]:
        return firmware_arguments(self.scenario.firmware, self.workdir)

    def chosen_menu_entry(self) -> str | None:
        if self.scenario.firmware == "direct":
            return None
        if self.menu_entry is not None:
            return self.menu_entry
        return "unattended" if self.scenario.mode == "unattended" else None

    def start(self, *, foreground: bool = False) -> None:
        self.serial_log.write_bytes(b"")
        if foreground:  # the demo: QEMU owns the terminal (curses display)
            self.process = subprocess.Popen(self.command())
        else:
            with (self.workdir / "qemu.log").open("wb") as errors:
                self.process = subprocess.Popen(
                    self.command(), stdout=subprocess.DEVNULL, stderr=errors
                )
        entry = self.chosen_menu_entry()
        if entry is not None:
            threading.Thread(target=self._pick_menu_entry, args=(entry,), daemon=True).start()

    def _pick_menu_entry(self, entry: str, timeout: float = 300) -> None:
        """Waits for the boot menu on the serial port, then moves to `entry` and starts it, as a
        volunteer would with the arrow keys. What happened goes to menu.log, which the failure
        messages quote: a boot that never showed the menu starts the default entry."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                self.menu_log.write_text("QEMU ended before the boot menu showed\n")
                return
            if MENU_SHOWN in self.serial_text():
                self.press(*["down"] * MENU_ENTRIES.index(entry), "ret")
                self.menu_log.write_text(f"picked {entry!r} in the boot menu\n")
                return
            time.sleep(0.2)
        self.menu_log.write_text(f"the boot menu did not show within {timeout} s\n")

    def menu_outcome(self) -> str:
        try:
            return self.menu_log.read_text().strip()
        except OSError:
            return "no boot menu entry picked"

_FRAME = str.maketrans({char: " " for char in "\u2502\u2500\u250c\u2510\u2514\u2518"})


def flat(screen: str) -> str:
    """The screen's words in one line: frames removed, wrapped lines joined."""
    return " ".join(screen.translate(_FRAME).split())


# QEMU names keys by their place on a US keyboard; the live system reads them as AZERTY.
_AZERTY_SWAPS = {"a": "q", "q": "a", "z": "w", "w": "z", "m": "semicolon"}
_AZERTY_PUNCTUATION = {"-": "6", " ": "spc", ".": "shift-comma", "_": "8"}


def azerty_keys(text: str) -> list[str]:
    """The QEMU key names that type `text` on a French keyboard (letters, digits, - . _)."""
    keys = []
    for char in text:
        if char.isdigit():
            keys.append(f"shift-{char}")  # AZERTY digits are shifted
        elif char.isalpha() and char.isascii():
            key = _AZERTY_SWAPS.get(char.lower(), char.lower())
            keys.append(f"shift-{key}" if char.isupper() else key)
        elif char in _AZERTY_PUNCTUATION:
            keys.append(_AZERTY_PUNCTUATION[char])
        else:
            raise ValueError(f"no AZERTY key for {char!r}")
    return keys


def vga_text(monitor: Path, cells: int = 16384) -> str:
    """The text in VGA text memory, in rows of 80 cells, each a CP437 character and an attribute
    byte. The whole 32 KiB window by default, because the console scrolls by moving its origin."""
    dump = monitor_command(monitor, f"xp /{cells}hx 0xb8000")
    words = [int(word, 16) for line in dump.splitlines() if ":" in line
             for word in line.split(":", 1)[1].split()]
    characters = bytes(word & 0xFF for word in words).decode("cp437")
    return "\n".join(characters[row:row + 80] for row in range(0, len(characters), 80))


# Linux's key codes (linux/input-event-codes.h) as QEMU's sendkey names the same keys.
_QEMU_KEY_NAMES = {
    km.KEY_ESC: "esc", km.KEY_MINUS: "minus", km.KEY_EQUAL: "equal",
    km.KEY_BACKSPACE: "backspace", km.KEY_TAB: "tab", km.KEY_LEFTBRACE: "bracket_left",
    km.KEY_RIGHTBRACE: "bracket_right", km.KEY_ENTER: "ret", km.KEY_LEFTCTRL: "ctrl",
    km.KEY_SEMICOLON: "semicolon", km.KEY_APOSTROPHE: "apostrophe",
    km.KEY_GRAVE: "grave_accent", km.KEY_LEFTSHIFT: "shift", km.KEY_BACKSLASH: "backslash",
    km.KEY_COMMA: "comma", km.KEY_DOT: "dot", km.KEY_SLASH: "slash",
    km.KEY_RIGHTSHIFT: "shift_r", km.KEY_LEFTALT: "alt", km.KEY_SPACE: "spc",
    km.KEY_CAPSLOCK: "caps_lock", km.KEY_102ND: "less", km.KEY_RIGHTCTRL: "ctrl_r",
    km.KEY_RIGHTALT: "alt_r", km.KEY_HOME: "home", km.KEY_UP: "up", km.KEY_PAGEUP: "pgup",
    km.KEY_LEFT: "left", km.KEY_RIGHT: "right", km.KEY_END: "end", km.KEY_DOWN: "down",
    km.KEY_PAGEDOWN: "pgdn", km.KEY_INSERT: "insert", km.KEY_DELETE: "delete",
    km.KEY_LEFTMETA: "meta_l", km.KEY_COMPOSE: "compose",
    **{code: str((code - km.KEY_1 + 1) % 10) for code in range(km.KEY_1, km.KEY_0 + 1)},
    **{code: f"f{code - km.KEY_F1 + 1}" for code in range(km.KEY_F1, km.KEY_F10 + 1)},
    km.KEY_F11: "f11", km.KEY_F12: "f12",
    **{code: letter for letters, first in (("qwertyuiop", km.KEY_Q), ("asdfghjkl", km.KEY_A),
                                           ("zxcvbnm", km.KEY_Z))
       for code, letter in zip(range(first, first + len(letters)), letters, strict=True)},
}


def every_key_of_the_map() -> list[str]:
    """Each key of the guided keyboard check's map once, as sendkey names it; Caps Lock twice,
    so that the console types lower case again afterwards."""
    keys = [_QEMU_KEY_NAMES[code] for code in km.KEY_CODES]
    return [*keys, "caps_lock"] if "caps_lock" in keys else keys


def press_keys(monitor: Path, keys: Sequence[str], *, pause: float = 0.4) -> None:
    """Keys as QEMU names them ("ret", "spc", "down", "shift-a"), one after the other."""
    for key in keys:
        # The monitor echoes the command line, then says nothing unless the key is unknown
        # ("invalid parameter: ...").
        echoed = monitor_command(monitor, f"sendkey {key}").removesuffix("(qemu) ")
        said = echoed.split("\r\n", 1)[1].strip() if "\r\n" in echoed else ""
        if said:
            raise ValueError(f"sendkey {key}: {said}")
        time.sleep(pause)


def monitor_command(monitor: Path, command: str) -> str:
    """One command to a QEMU human monitor listening on the Unix socket `monitor`."""
    with socket.socket(socket.AF_UNIX) as connection:
        connection.connect(str(monitor))
        connection.settimeout(10)
        _read_until_prompt(connection)
        connection.sendall(command.encode() + b"\n")
        return _read_until_prompt(connection)


def _read_until_prompt(connection: socket.socket) -> str:
    received = b""
    while not received.endswith(b"(qemu) "):
        chunk = connection.recv(65536)
        if not chunk:
            break
        received += chunk
    return received.decode(errors="replace")


def status_events(serial_text: str) -> list[dict[str, Any]]:
    events = []
    for line in serial_text.splitlines():
        start = line.find(STATUS_PREFIX + "{")
        if start < 0:
            continue
        try:
            events.append(json.loads(line[start + len(STATUS_PREFIX):].strip()))
        except json.JSONDecodeError:
            continue  # a line cut by kernel messages on the same console
    return events


# The health pass at its real settings but for the loads' length: what they measure under TCG is
# not a processor's or a memory's truth anyway. The unattended and attended runs prove the pass
# with it; the other boots leave it out (HEALTH_OFF): each of them would wait for it.
HEALTH_CPU_SECONDS = 5
HEALTH_MEMORY_SECONDS = 5
HEALTH_SHORT = (f'[health]\nself_test = "short"\ncpu_seconds = {HEALTH_CPU_SECONDS}\n'
                f'memory_seconds = {HEALTH_MEMORY_SECONDS}\nbattery_seconds = 60\n')
HEALTH_OFF = ('[health]\nself_test = "off"\ncpu_seconds = 0\nmemory_seconds = 0\n'
              'battery_seconds = 0\n')


def station_config(hub_url: str, token: str, *, unattended: bool, language: str = "fr",
                   health: str = HEALTH_OFF) -> str:
    return (
        f'language = "{language}"\nunattended = {"true" if unattended else "false"}\n'
        f'[station]\nname = "qemu-station"\n'
        f'[hub]\nurl = "{hub_url}"\nenrollment_token = "{token}"\n{health}'
    )
