"""Writing OS images to real loop devices (root): what reaches the disk, and what bad input does.

The images are made here: a sparse GPT (or MBR) disk with a FAT ESP and an ext4 root holding
files, its bmap, and its zstd, xz and gzip forms.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.events import ProgressEvent
from agent.install.bmap import create_bmap, read_bmap, render_bmap
from agent.install.errors import (
    ChecksumMismatch,
    CorruptImage,
    InstallCancelled,
    NoPartitionTable,
    TargetTooSmall,
    TruncatedImage,
    WriteFailed,
)
from agent.install.image import OsImage, image_from_path
from agent.install.pack import pack_image
from agent.install.writer import verify_written, write_image
from agent.inventory.model import Disk
from tests.conftest import LoopFactory
from tests.disk_images import compress, fill_tree, make_disk_image, write_bmap

MIB = 1 << 20
IMAGE_SIZE = 48 * MIB
OLD_DATA = b"OLD-DISK-CONTENT" * 256  # 4 KiB of what a donated disk held before


pytestmark = pytest.mark.usefixtures("english")


@dataclass(frozen=True)
class BuiltImages:
    raw: Path
    bmap: Path
    folder: Path


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> BuiltImages:
    for tool in ("sfdisk", "mkfs.vfat", "mcopy", "mkfs.ext4", "zstd", "xz", "gzip"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing (tests/run installs it)")
    folder = tmp_path_factory.mktemp("install-images")
    tree = folder / "tree"
    fill_tree(tree, files=30)
    raw = folder / "os.img"
    make_disk_image(raw, IMAGE_SIZE, tree)
    bmap = write_bmap(raw)
    for kind in ("zst", "xz", "gz"):
        compress(raw, kind)
    return BuiltImages(raw, bmap, folder)


def old_disk(loop_disk: LoopFactory, size: int = 64 * MIB) -> Disk:
    """A disk full of old data, as a donated one (or one erased with random data) is."""
    disk = loop_disk(size)
    with open(disk.path, "r+b") as device:
        device.write(OLD_DATA * (size // len(OLD_DATA)))
    return disk


def disk_bytes(disk: Disk, length: int | None = None) -> bytes:
    with open(disk.path, "rb") as device:
        return device.read(length if length is not None else disk.size_bytes)


def has_partition_table(disk: Disk) -> bool:
    probe = subprocess.run(["blkid", "-p", "-o", "value", "-s", "PTTYPE", disk.path],
                           capture_output=True, text=True)
    return bool(probe.stdout.strip())


def assert_mapped_ranges_equal(disk: Disk, raw: Path, bmap: Path) -> None:
    written, original = disk_bytes(disk), raw.read_bytes()
    block_map = read_bmap(bmap)
    assert block_map.mapped_size < block_map.image_size // 2
    for start, end, _checksum in block_map.byte_ranges():
        assert written[start:end] == original[start:end], f"bytes {start}-{end} differ"


@pytest.mark.parametrize("form", ["zst", "xz", "gz", "raw"])
def test_every_mapped_range_reaches_the_disk(loop_disk: LoopFactory, images: BuiltImages,
                                             form: str) -> None:
    disk = old_disk(loop_disk)
    path = images.raw if form == "raw" else Path(f"{images.raw}.{form}")
    image = image_from_path(path, bmap_path=images.bmap)
    events: list[ProgressEvent] = []
    outcome = write_image(image, disk.path, progress=events.append)
    block_map = read_bmap(images.bmap)
    assert outcome.bytes_written == block_map.mapped_size
    assert outcome.ranges == len(block_map.ranges) and outcome.image_size == IMAGE_SIZE
    assert_mapped_ranges_equal(disk, images.raw, images.bmap)
    # Only the mapped ranges were written: a hole past the first MiB still holds old data.
    holes = [(end, start) for (_, end, _c), (start, _e, _d)
             in zip(block_map.byte_ranges(), block_map.byte_ranges()[1:], strict=False)
             if start - end >= len(OLD_DATA) and end > MIB and end % len(OLD_DATA) == 0]
    assert holes
    assert disk_bytes(disk)[holes[0][0]:holes[0][0] + len(OLD_DATA)] == OLD_DATA
    assert events[-1].phase == "write" and events[-1].done_bytes == block_map.mapped_size
    verified = verify_written(image, disk.path, written=outcome)
    assert verified.ok and verified.bytes_read == block_map.mapped_size
    assert has_partition_table(disk)
    table = subprocess.run(["sfdisk", "--json", disk.path], capture_output=True, text=True)
    assert '"name":"root"' in table.stdout.replace(" ", "")
    # bmaptool's own check of the disk against the map agrees.
    subprocess.run(["bmaptool", "copy", "--bmap", str(images.bmap), disk.path, "/dev/null"],
                   check=True, capture_output=True)


def test_framed_zstd_from_pack_is_written_in_parallel_frames(
        loop_disk: LoopFactory, images: BuiltImages, tmp_path: Path) -> None:
    manifest = pack_image(images.raw, "test-os", "1", tmp_path)
    image = image_from_path(tmp_path / manifest.file, manifest=manifest)
    assert image.bmap is not None and image.manifest is not None
    disk = old_disk(loop_disk)
    outcome = write_image(image, disk.path)
    assert outcome.bytes_written == manifest.mapped_size
    assert_mapped_ranges_equal(disk, images.raw, images.bmap)
    assert verify_written(image, disk.path, written=outcome).ok


def test_a_user_raw_image_without_bmap_is_written_whole(loop_disk: LoopFactory,
                                                         images: BuiltImages,
                                                         tmp_path: Path) -> None:
    bare = tmp_path / "mine.img.zst"
    shutil.copyfile(f"{images.raw}.zst", bare)
    image = image_from_path(bare)
    assert image.bmap is None
    disk = old_disk(loop_disk)
    outcome = write_image(image, disk.path)
    assert outcome.bytes_written == IMAGE_SIZE and outcome.ranges == 1
    expected = hashlib.sha256(images.raw.read_bytes()).hexdigest()
    assert outcome.image_sha256 == expected
    assert disk_bytes(disk, IMAGE_SIZE) == images.raw.read_bytes()
    assert verify_written(image, disk.path, written=outcome).bytes_read == IMAGE_SIZE


def corrupted_copy(source: Path, destination: Path, at_fraction: float) -> Path:
    data = bytearray(source.read_bytes())
    at = int(len(data) * at_fraction)
    for offset in range(at, at + 64):
        data[offset] ^= 0x5A
    destination.write_bytes(bytes(data))
    return destination


@pytest.mark.parametrize("form", ["zst", "xz", "gz"])
def test_planted_corruption_is_caught_and_the_disk_left_without_a_table(
        loop_disk: LoopFactory, images: BuiltImages, tmp_path: Path, form: str) -> None:
    bad = corrupted_copy(Path(f"{images.raw}.{form}"), tmp_path / f"bad.img.{form}", 0.6)
    image = image_from_path(bad, bmap_path=images.bmap)
    disk = old_disk(loop_disk)
    with pytest.raises((CorruptImage, ChecksumMismatch, TruncatedImage)) as caught:
        write_image(image, disk.path)
    assert "bad.img" in str(caught.value)
    assert not has_partition_table(disk)
    head, tail = disk_bytes(disk)[:MIB], disk_bytes(disk)[-MIB:]
    assert head == bytes(MIB) and tail == bytes(MIB)


@pytest.mark.parametrize("form", ["zst", "xz", "gz"])
def test_a_truncated_image_is_refused(loop_disk: LoopFactory, images: BuiltImages,
                                      tmp_path: Path, form: str) -> None:
    data = Path(f"{images.raw}.{form}").read_bytes()
    cut = tmp_path / f"cut.img.{form}"
    cut.write_bytes(data[:len(data) * 2 // 3])
    disk = old_disk(loop_disk)
    with pytest.raises((TruncatedImage, CorruptImage)) as caught:
        write_image(image_from_path(cut, bmap_path=images.bmap), disk.path)
    assert "cut.img" in str(caught.value)
    if form == "zst":
        # zstd's frames are walked before writing: the disk is not even touched.
        assert isinstance(caught.value, TruncatedImage)
        assert disk_bytes(disk, len(OLD_DATA)) == OLD_DATA
    else:
        assert not has_partition_table(disk)


def test_a_range_whose_checksum_does_not_match_stops_the_write(
        loop_disk: LoopFactory, images: BuiltImages, tmp_path: Path) -> None:
    block_map = create_bmap(images.raw)
    ranges = list(block_map.ranges)
    victim = len(ranges) // 2
    ranges[victim] = type(ranges[victim])(ranges[victim].first, ranges[victim].last, "0" * 64)
    wrong = tmp_path / "wrong.bmap"
    wrong.write_text(render_bmap(type(block_map)(block_map.image_size, block_map.block_size,
                                                 tuple(ranges))))
    disk = old_disk(loop_disk)
    with pytest.raises(ChecksumMismatch) as caught:
        write_image(image_from_path(f"{images.raw}.zst", bmap_path=wrong), disk.path)
    start, end, _checksum = block_map.byte_ranges()[victim]
    assert (caught.value.start, caught.value.end) == (start, end)
    assert not caught.value.on_disk
    assert not has_partition_table(disk)


def test_a_target_smaller_than_the_image_is_refused_before_writing(
        loop_disk: LoopFactory, images: BuiltImages) -> None:
    disk = old_disk(loop_disk, 32 * MIB)
    with pytest.raises(TargetTooSmall, match="larger disk"):
        write_image(image_from_path(f"{images.raw}.xz", bmap_path=images.bmap), disk.path)
    assert disk_bytes(disk) == OLD_DATA * (32 * MIB // len(OLD_DATA))


def test_an_image_without_a_partition_table_is_refused(loop_disk: LoopFactory,
                                                       tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    fill_tree(tree, files=2)
    plain = tmp_path / "root.img"
    with open(plain, "wb") as handle:
        handle.truncate(16 * MIB)
    subprocess.run(["mkfs.ext4", "-q", "-d", str(tree), str(plain)], check=True)
    fat = tmp_path / "esp.img"
    subprocess.run(["mkfs.vfat", "-C", str(fat), "8192"], check=True, capture_output=True)
    disk = old_disk(loop_disk)
    for path in (plain, fat):
        with pytest.raises(NoPartitionTable, match="partition table"):
            write_image(image_from_path(path), disk.path)
    assert disk_bytes(disk, len(OLD_DATA)) == OLD_DATA


def test_an_mbr_image_is_accepted(loop_disk: LoopFactory, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    fill_tree(tree, files=2)
    raw = tmp_path / "mbr.img"
    make_disk_image(raw, 24 * MIB, tree, table="dos")
    bmap = write_bmap(raw)
    disk = old_disk(loop_disk, 32 * MIB)
    outcome = write_image(image_from_path(raw, bmap_path=bmap), disk.path)
    assert outcome.bytes_written == read_bmap(bmap).mapped_size
    assert_mapped_ranges_equal(disk, raw, bmap)


def test_read_back_catches_a_disk_that_does_not_hold_what_was_written(
        loop_disk: LoopFactory, images: BuiltImages) -> None:
    image: OsImage = image_from_path(f"{images.raw}.zst", bmap_path=images.bmap)
    disk = old_disk(loop_disk)
    outcome = write_image(image, disk.path)
    start, end, _checksum = read_bmap(images.bmap).byte_ranges()[-2]
    with open(disk.path, "r+b") as device:  # the disk "forgets" a sector
        device.seek(start)
        device.write(b"\xa5" * 512)
        device.flush()
        os.fsync(device.fileno())
    with pytest.raises(ChecksumMismatch) as caught:
        verify_written(image, disk.path, written=outcome)
    assert caught.value.on_disk and (caught.value.start, caught.value.end) == (start, end)
    assert not has_partition_table(disk)


def test_a_stopped_install_leaves_no_partition_table(loop_disk: LoopFactory,
                                                     images: BuiltImages) -> None:
    image = image_from_path(f"{images.raw}.gz", bmap_path=images.bmap)
    disk = old_disk(loop_disk)
    stop = threading.Event()

    def stop_midway(event: ProgressEvent) -> None:
        if event.done_bytes > 0:
            stop.set()

    with pytest.raises(InstallCancelled):
        write_image(image, disk.path, progress=stop_midway, cancel=stop, chunk=256 << 10)
    assert not has_partition_table(disk)


def test_a_disk_with_4096_byte_sectors_gets_aligned_writes(loop_disk: LoopFactory,
                                                           images: BuiltImages) -> None:
    disk = loop_disk(64 * MIB, sector_size=4096)
    image = image_from_path(f"{images.raw}.zst", bmap_path=images.bmap)
    outcome = write_image(image, disk.path)
    assert_mapped_ranges_equal(disk, images.raw, images.bmap)
    assert verify_written(image, disk.path, written=outcome).ok


def test_a_disk_in_use_is_not_written(loop_disk: LoopFactory, images: BuiltImages) -> None:
    disk = old_disk(loop_disk)
    holder = os.open(disk.path, os.O_RDONLY | os.O_EXCL)  # as a mount holds it
    try:
        with pytest.raises(WriteFailed, match="busy"):
            write_image(image_from_path(f"{images.raw}.zst", bmap_path=images.bmap), disk.path)
    finally:
        os.close(holder)
    assert disk_bytes(disk, len(OLD_DATA)) == OLD_DATA


def test_corruption_in_a_framed_image_is_caught(loop_disk: LoopFactory, images: BuiltImages,
                                                tmp_path: Path) -> None:
    manifest = pack_image(images.raw, "test-os", "2", tmp_path / "packed")
    bad = corrupted_copy(tmp_path / "packed" / manifest.file, tmp_path / "bad.raw.zst", 0.5)
    disk = old_disk(loop_disk)
    with pytest.raises((CorruptImage, ChecksumMismatch)):
        write_image(image_from_path(bad, bmap_path=images.bmap), disk.path)
    assert not has_partition_table(disk)
    assert disk_bytes(disk, MIB) == bytes(MIB)
