"""The stick's state partition takes the rest of the stick at the first boot
(image/extra/usr/lib/reeeboot/grow-state): a stick-like loop disk whose image was copied onto a
larger device grows its last partition, and only that; a second run, or a disk whose last
partition is not the state partition, is left alone."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from agent.inventory.model import Disk
from tests.conftest import LoopFactory

GROW_STATE = Path(__file__).resolve().parents[2] / "image/extra/usr/lib/reeeboot/grow-state"
MIB = 1 << 20
IMAGE_BYTES = 48 * MIB
STICK_BYTES = 200 * MIB
ACTIVE_FLAG_OFFSET = 446 + 16  # the boot flag of the MBR's second partition slot


def stick_image(loop_disk: LoopFactory, sector_size: int, *, state_last: bool = True) -> Disk:
    """A disk laid out as the stick (image/repart/): data, root, state; the partition table ends
    where the image does, as a stick written with dd or bmaptool carries it."""
    disk = loop_disk(IMAGE_BYTES, partscan=True, sector_size=sector_size)
    state = "size=16MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=reeeboot-state\n"
    root = "size=12MiB, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=reeeboot-root\n"
    layout = ("label: gpt\n"
              "size=8MiB, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name=REEEBOOT\n"
              + (root + state if state_last else state + root))
    subprocess.run(["sfdisk", "--quiet", disk.path], input=layout, text=True, check=True)
    subprocess.run(["partx", "--add", disk.path], check=False, capture_output=True)
    subprocess.run(["udevadm", "settle"], check=True)
    state_number = 3 if state_last else 2
    subprocess.run(["mkfs.ext4", "-q", "-L", "reeeboot-state",
                    f"{disk.path}p{state_number}"], check=True)
    root_number = 2 if state_last else 3
    with open(f"{disk.path}p{root_number}", "wb") as root_partition:
        root_partition.write(os.urandom(12 * MIB))
    with open(disk.path, "r+b") as whole:  # the active mark image/build.sh sets, in slot 2
        whole.seek(ACTIVE_FLAG_OFFSET)
        whole.write(b"\x80")
    return disk


def written_onto_a_larger_stick(disk: Disk, size: int) -> None:
    """What writing the image to a larger stick gives: the same bytes, more of them after."""
    name = Path(disk.path).name
    backing = Path(Path(f"/sys/block/{name}/loop/backing_file").read_text().strip())
    os.truncate(backing, size)
    subprocess.run(["losetup", "--set-capacity", disk.path], check=True)
    # A stick's partitions are read when it is plugged in; here the new size may make the kernel
    # forget them.
    subprocess.run(["partx", "--add", disk.path], check=False, capture_output=True)
    subprocess.run(["udevadm", "settle"], check=True)


def partitions(disk: Disk) -> dict[int, tuple[int, int]]:
    """Partition number -> (start, size), in 512-byte units, as the kernel sees them."""
    name = Path(disk.path).name
    found = {}
    for entry in Path(f"/sys/block/{name}").glob(f"{name}p*"):
        found[int((entry / "partition").read_text())] = (
            int((entry / "start").read_text()), int((entry / "size").read_text()))
    return found


def digest(device: str, start: int, size: int) -> str:
    with open(device, "rb") as disk:
        disk.seek(start * 512)
        return hashlib.sha256(disk.read(size * 512)).hexdigest()


def grow(partition: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(GROW_STATE), partition], capture_output=True, text=True,
                          check=True)


@pytest.mark.parametrize("sector_size", [512, 4096])
def test_the_state_partition_takes_the_rest_of_a_larger_stick(
        loop_disk: LoopFactory, sector_size: int) -> None:
    disk = stick_image(loop_disk, sector_size)
    before = partitions(disk)
    kept = {number: digest(disk.path, *place) for number, place in before.items()
            if number != 3}
    written_onto_a_larger_stick(disk, STICK_BYTES)

    ran = grow(f"{disk.path}p3")

    assert "grows by" in ran.stdout, ran.stdout + ran.stderr
    after = partitions(disk)
    # The kernel knows the new size without a re-read of the whole (busy) disk.
    start, size = after[3]
    assert start == before[3][0]
    # Up to the backup table at the disk's end: 33 sectors of 512 bytes, 5 of 4096.
    backup_table = 33 if sector_size == 512 else 5 * 8
    assert start + size == STICK_BYTES // 512 - backup_table
    assert {number: place for number, place in after.items() if number != 3} == {
        number: place for number, place in before.items() if number != 3}
    assert {number: digest(disk.path, *after[number]) for number in kept} == kept
    # Both copies of the table are whole and at their places.
    verified = subprocess.run(["sfdisk", "--verify", disk.path], capture_output=True, text=True)
    assert verified.returncode == 0 and "No errors detected" in verified.stdout, verified.stdout
    # The protective MBR sfdisk wrote again keeps the active mark old BIOSes look for.
    with open(disk.path, "rb") as whole:
        whole.seek(ACTIVE_FLAG_OFFSET)
        assert whole.read(1) == b"\x80"
    # The file system is still the one made in the image; systemd-growfs grows it once mounted.
    subprocess.run(["e2fsck", "-fn", f"{disk.path}p3"], check=True, capture_output=True)
    # Grown once: the next boot changes nothing.
    table = subprocess.run(["sfdisk", "--dump", disk.path], capture_output=True, text=True,
                           check=True).stdout
    assert grow(f"{disk.path}p3").stdout == ""
    assert subprocess.run(["sfdisk", "--dump", disk.path], capture_output=True, text=True,
                          check=True).stdout == table


def test_an_image_with_no_room_after_it_is_not_changed(loop_disk: LoopFactory) -> None:
    disk = stick_image(loop_disk, 512)
    whole = digest(disk.path, 0, IMAGE_BYTES // 512)

    assert grow(f"{disk.path}p3").stdout == ""
    assert digest(disk.path, 0, IMAGE_BYTES // 512) == whole


def test_a_state_partition_with_another_after_it_is_not_grown(loop_disk: LoopFactory) -> None:
    disk = stick_image(loop_disk, 512, state_last=False)
    written_onto_a_larger_stick(disk, STICK_BYTES)
    whole = digest(disk.path, 0, STICK_BYTES // 512)

    ran = grow(f"{disk.path}p2")

    assert "not the last one" in ran.stdout
    assert digest(disk.path, 0, STICK_BYTES // 512) == whole
