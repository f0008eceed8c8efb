"""The read-back sample that proves a firmware erase, against real loop devices."""

from __future__ import annotations

import subprocess

from agent.blockdev.device import BlockDevice
from agent.wipe.sample import compare, fingerprint
from tests.conftest import LoopFactory
from tests.loop.test_wipe_loop import fill_with_marker


def test_an_erased_disk_passes_the_sample(loop_disk: LoopFactory) -> None:
    disk = loop_disk(16 << 20)
    fill_with_marker(disk)
    target = BlockDevice(disk.path, disk.size_bytes)
    before = fingerprint(target, 1000)
    subprocess.run(["blkdiscard", "-z", disk.path], check=True)  # what a block erase leaves
    check = compare(before, target)
    assert check.ok and check.unchanged == []
    assert check.with_content_before == check.sectors
    assert 2 * 2048 < check.sectors <= 2 * 2048 + 1000  # both edge MiBs and the random sectors


def test_a_drive_that_claims_success_without_erasing_is_caught(loop_disk: LoopFactory) -> None:
    disk = loop_disk(16 << 20)
    fill_with_marker(disk)
    target = BlockDevice(disk.path, disk.size_bytes)
    before = fingerprint(target, 1000)
    # "Erases" only the first half, as some firmware has been seen to do.
    subprocess.run(["blkdiscard", "-z", "--length", str(8 << 20), disk.path], check=True)
    check = compare(before, target)
    assert not check.ok
    assert all(lba >= (8 << 20) // 512 for lba in check.unchanged)
    assert (16 << 20) // 512 - 1 in check.unchanged  # the last sector is always sampled


def test_a_blank_disk_proves_nothing_but_does_not_fail(loop_disk: LoopFactory) -> None:
    disk = loop_disk(8 << 20)
    target = BlockDevice(disk.path, disk.size_bytes)
    check = compare(fingerprint(target, 1000), target)
    assert check.ok and check.with_content_before == 0
