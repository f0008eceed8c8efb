"""The overwrite engine against real loop devices (root): real O_DIRECT writes and reads."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from agent.cli import main
from agent.inventory.model import Disk
from agent.wipe.jobs import wipe_disks
from agent.wipe.overwrite import verify_pass, write_pass
from agent.wipe.stream import KeyedStream
from tests.conftest import LoopFactory

MARKER = b"REEEBOOT-MARKER!" * 32  # one 512-byte sector


def fill_with_marker(disk: Disk) -> None:
    with open(disk.path, "r+b") as device:
        device.write(MARKER * (disk.size_bytes // len(MARKER)))


def marker_count(disk: Disk) -> int:
    with open(disk.path, "rb") as device:
        return device.read().count(MARKER[:16])


def test_pass_overwrites_everything_and_verifies(loop_disk: LoopFactory) -> None:
    disk = loop_disk(32 << 20)
    fill_with_marker(disk)
    [result] = wipe_disks([disk])
    assert result.result == "erased" and result.verified
    assert result.bytes_written == disk.size_bytes
    assert marker_count(disk) == 0


def test_verification_catches_a_planted_unerased_block(loop_disk: LoopFactory) -> None:
    disk = loop_disk(16 << 20)
    stream = KeyedStream()
    write_pass(disk.path, stream)
    planted_at = 9 * (1 << 20) + 4096
    with open(disk.path, "r+b") as device:
        device.seek(planted_at)
        device.write(MARKER)
        device.flush()
        os.fsync(device.fileno())
    outcome = verify_pass(disk.path, stream)
    assert not outcome.ok
    assert outcome.mismatched_offsets == [planted_at]


def test_odd_sized_device_is_erased_to_the_last_byte(loop_disk: LoopFactory) -> None:
    size = (5 << 20) + 7 * 512  # not a multiple of the 4 MiB chunk nor of 4 KiB
    disk = loop_disk(size)
    fill_with_marker(disk)
    with open(disk.path, "r+b") as device:
        device.seek(size - 512)
        device.write(MARKER)
    [result] = wipe_disks([disk])
    assert result.result == "erased" and result.bytes_written == size
    assert marker_count(disk) == 0


def test_failing_disk_fails_alone(loop_disk: LoopFactory, tmp_path: Path) -> None:
    # A loop device on a 4 MiB tmpfs that claims 64 MiB: writes past 4 MiB fail with an I/O
    # error, as a dying or unplugged disk would, while its neighbours are healthy.
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(small)], check=True)
    try:
        healthy = [loop_disk(16 << 20), loop_disk(24 << 20)]
        failing = loop_disk(64 << 20, backing=small / "disk.img")
        for disk in healthy:
            fill_with_marker(disk)
        results = wipe_disks([healthy[0], failing, healthy[1]])
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)
    assert [result.result for result in results] == ["erased", "failed", "erased"]
    assert results[1].error
    assert all(marker_count(disk) == 0 for disk in healthy)


def test_cli_contract_prints_one_json_object_per_disk(
    loop_disk: LoopFactory, data_dir: Path, capsys: object
) -> None:
    import json

    disks = [loop_disk(8 << 20), loop_disk(8 << 20)]
    code = main(["--data", str(data_dir), "wipe", *(d.path for d in disks), "--yes", "--json"])
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert {r["device"] for r in records} == {d.path for d in disks}
    assert all(r["result"] == "erased" and r["level"] == "clear" for r in records)


def test_cli_refuses_a_disk_with_a_mounted_partition(
    loop_disk: LoopFactory, data_dir: Path, tmp_path: Path, capsys: object
) -> None:
    import json

    disk = loop_disk(32 << 20)
    subprocess.run(["mkfs.ext4", "-q", disk.path], check=True, capture_output=True)
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    subprocess.run(["mount", disk.path, str(mountpoint)], check=True)
    try:
        (mountpoint / "precious.txt").write_text("keep me")
        code = main(["--data", str(data_dir), "wipe", disk.path, "--yes", "--json"])
        assert (mountpoint / "precious.txt").read_text() == "keep me"
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)
    [record] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]  # type: ignore[attr-defined]
    assert code == 1
    assert record["result"] == "skipped" and record["code"] == "mounted"
