"""The one block-device layer (agent/blockdev) against real loop devices (root)."""

from __future__ import annotations

import errno
import fcntl
import os
import subprocess
from pathlib import Path

import pytest

from agent.blockdev.buffers import AlignedBuffer
from agent.blockdev.device import BlockDevice, open_device, read_all, write_all
from agent.inventory.gpt import partition_names
from tests.conftest import LoopFactory


@pytest.mark.parametrize("sector", [512, 4096])
def test_a_device_is_known_by_its_size_and_logical_sector(loop_disk: LoopFactory,
                                                         sector: int) -> None:
    disk = loop_disk((3 << 20) + 8 * 4096, sector_size=sector)
    device = BlockDevice.at(disk.path)
    assert (device.size_bytes, device.sector) == ((3 << 20) + 8 * 4096, sector)
    assert device.sysfs.name == Path(disk.path).name and device.sysfs.exists()


def test_writing_opens_a_disk_direct_and_exclusive(loop_disk: LoopFactory) -> None:
    disk = loop_disk(4 << 20)
    fd = open_device(disk.path, os.O_WRONLY, exclusive=True)
    try:
        assert fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT
        with pytest.raises(OSError) as refused:  # nothing can mount or claim it meanwhile
            open_device(disk.path, os.O_WRONLY, exclusive=True)
        assert refused.value.errno == errno.EBUSY
        with AlignedBuffer(1 << 20) as data, AlignedBuffer(1 << 20) as back:
            data.view[:] = os.urandom(1 << 20) + bytes(data.view.nbytes - (1 << 20))
            write_all(fd, data.view[: 1 << 20], 3 << 20)
            reader = open_device(disk.path, os.O_RDONLY)
            try:
                read_all(reader, back.view[: 1 << 20], 3 << 20)
                assert back.equals_at(0, data, 0, 1 << 20)
                with pytest.raises(OSError) as short:  # past the end: an error, not a hang
                    read_all(reader, back.view[: 1 << 20], (4 << 20) - 4096)
                assert short.value.errno == errno.EIO
            finally:
                os.close(reader)
    finally:
        os.close(fd)


def test_a_regular_file_goes_through_the_cache(tmp_path: Path) -> None:
    image = tmp_path / "disk.img"
    image.write_bytes(bytes(1 << 20))
    fd = open_device(str(image), os.O_RDWR, exclusive=True)
    try:
        assert not fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT
    finally:
        os.close(fd)
    assert BlockDevice.at(str(image)) == BlockDevice(str(image), 1 << 20, 512)


def test_gpt_names_are_read_on_a_disk_of_4096_byte_sectors(loop_disk: LoopFactory) -> None:
    disk = loop_disk(16 << 20, sector_size=4096)
    layout = "label: gpt\nsize=2MiB, type=linux, name=reeeboot-state\n"
    subprocess.run(["sfdisk", "--quiet", disk.path], input=layout, text=True, check=True)
    assert partition_names(disk.path) == ["reeeboot-state"]
