"""The overwrite engine against real loop devices (root): real O_DIRECT writes and reads."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from pathlib import Path

import pytest

from agent.blockdev.device import BlockDevice
from agent.cli import main
from agent.events import ProgressEvent
from agent.inventory.hotplug import DiskEvent, DiskEventSink
from agent.inventory.model import Disk
from agent.wipe import overwrite_job
from agent.wipe.badsectors import BadSectors
from agent.wipe.engine import PassData, verify, write_pass
from agent.wipe.jobs import WipeOptions, wipe_disks
from agent.wipe.journal import Journals, WipeJournal
from agent.wipe.passes import RANDOM, ZERO
from agent.wipe.stream import AES, CHACHA20, new_key
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
    checked = result.evidence["verification"]
    assert checked["bytes_by_digest"] == disk.size_bytes and "4 MiB chunk" in checked["digest"]
    assert result.bytes_written == disk.size_bytes
    assert marker_count(disk) == 0


def plant(disk: Disk, offset: int, data: bytes = MARKER) -> None:
    with open(disk.path, "r+b") as device:
        device.seek(offset)
        device.write(data)
        device.flush()
        os.fsync(device.fileno())


def test_verification_catches_a_planted_unerased_block(loop_disk: LoopFactory) -> None:
    disk = loop_disk(16 << 20)
    target = BlockDevice(disk.path, disk.size_bytes)
    data = PassData(RANDOM, os.urandom(16), 4 << 20)
    write_pass(target, data, BadSectors(512))
    planted_at = 9 * (1 << 20) + 4096
    plant(disk, planted_at, MARKER * 2)
    outcome = verify(target, data, BadSectors(512))
    assert not outcome.ok
    first = planted_at // 512
    assert outcome.mismatched == [[first, first + 1]]
    data.close()


@pytest.mark.parametrize("generator", [AES, CHACHA20])
def test_verification_by_digest_catches_stale_and_misplaced_chunks(
    loop_disk: LoopFactory, monkeypatch: pytest.MonkeyPatch, generator: str,
) -> None:
    """A drive that kept a chunk's old data, or returns another chunk's data in its place, is
    caught by the digests and located to the sector by the full comparison behind them."""
    disk = loop_disk(24 << 20)
    fill_with_marker(disk)
    with open(disk.path, "rb") as device:
        old = device.read(1 << 20)  # what the first MiB held before the pass
    target = BlockDevice(disk.path, disk.size_bytes)
    data = PassData(RANDOM, new_key(generator), 4 << 20, generator)
    write_pass(target, data, BadSectors(512))
    assert data.digests is not None

    # With every digest matching, the stream is never made again: the read and the digest are
    # the whole cost of the verification.
    def no_regeneration(*args: object) -> None:
        raise AssertionError("the stream was made again although every digest matched")

    with monkeypatch.context() as patch:
        patch.setattr(PassData, "mismatches", no_regeneration)
        clean = verify(target, data, BadSectors(512))
    assert clean.ok and clean.bytes_by_digest == disk.size_bytes
    assert clean.digest is not None and ("GHASH" if generator == AES else "CRC-32") in clean.digest

    plant(disk, 8 << 20, old[: 64 << 10])  # stale: 64 KiB of the old content, inside chunk 2
    with open(disk.path, "rb") as device:
        device.seek(20 << 20)
        misplaced = device.read(4096)
    plant(disk, (16 << 20) + 8192, misplaced)  # data from another place of the same pass
    outcome = verify(target, data, BadSectors(512))
    assert not outcome.ok
    stale = (8 << 20) // 512
    moved = ((16 << 20) + 8192) // 512
    assert outcome.mismatched == [[stale, stale + 127], [moved, moved + 7]]
    assert outcome.bytes_by_digest == disk.size_bytes - 2 * (4 << 20)  # two chunks compared
    data.close()


def test_sampled_verification_reads_the_edges_and_random_sectors(loop_disk: LoopFactory) -> None:
    disk = loop_disk(64 << 20)
    target = BlockDevice(disk.path, disk.size_bytes)
    data = PassData(ZERO, None, 4 << 20)
    write_pass(target, data, BadSectors(512))
    assert verify(target, data, BadSectors(512), mode="sample").ok
    plant(disk, disk.size_bytes - 512)  # the last sector is always in the sample
    outcome = verify(target, data, BadSectors(512), mode="sample")
    last = disk.size_bytes // 512 - 1
    assert outcome.mismatched == [[last, last]] and outcome.bytes_read < disk.size_bytes // 8
    data.close()


def test_each_pass_of_a_method_reaches_the_disk(loop_disk: LoopFactory) -> None:
    disk = loop_disk(12 << 20)
    fill_with_marker(disk)
    [result] = wipe_disks([disk], WipeOptions(method="one", verify="full"))
    assert result.result == "erased" and result.verified and result.method == "one"
    with open(disk.path, "rb") as device:
        assert device.read() == b"\xff" * disk.size_bytes
    [result] = wipe_disks([disk], WipeOptions(method="dodshort", blank=True))
    assert result.evidence["passes"][-1] == "zero" and len(result.evidence["passes"]) == 4
    assert result.bytes_written == 4 * disk.size_bytes and result.verified
    with open(disk.path, "rb") as device:
        assert device.read() == bytes(disk.size_bytes)


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


CONTRACT = {"device", "serial", "method", "level", "result", "bytes_written", "seconds",
            "bad_ranges", "evidence"}


def test_cli_contract_prints_one_json_object_per_disk(
    loop_disk: LoopFactory, data_dir: Path, capsys: object
) -> None:
    import json

    disks = [loop_disk(8 << 20), loop_disk((8 << 20) + 4096)]
    code = main(["--data", str(data_dir), "wipe", *(d.path for d in disks), "--method", "zero",
                 "--verify", "sample", "--yes", "--json"])
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert {r["device"] for r in records} == {d.path for d in disks}
    assert all(set(r) >= CONTRACT for r in records)
    assert all(r["result"] == "erased" and r["level"] == "clear" for r in records)
    assert all(r["method"] == "zero" and r["bad_ranges"] == [] for r in records)
    assert sorted(r["bytes_written"] for r in records) == sorted(d.size_bytes for d in disks)
    assert all(r["evidence"]["verification"]["mode"] == "sample" for r in records)


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


KILLER = """
import os, signal, sys
from agent.blockdev.device import BlockDevice
from agent.wipe.journal import Journals
from agent.wipe.overwrite_job import OverwriteOptions, overwrite_disk

path, size, data_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
journals = Journals(__import__("pathlib").Path(data_dir))

def die_halfway(event):
    saved = journals.load("KILLED-1", size, path)
    if saved and saved.pass_index == 1 and 0 < saved.written_up_to < size:
        os.kill(os.getpid(), signal.SIGKILL)  # a power cut, as far as the journal can tell

overwrite_disk(BlockDevice(path, size), "KILLED-1",
               OverwriteOptions(method="is5enh", checkpoint_seconds=0.0, progress_seconds=0.001,
                                chunk=1 << 20, depth=2),
               journals=journals, sink=die_halfway)
"""


def test_overwrite_resumes_after_the_process_is_killed(
    loop_disk: LoopFactory, data_dir: Path
) -> None:
    import dataclasses
    import sys

    disk = dataclasses.replace(loop_disk(48 << 20), serial="KILLED-1")
    fill_with_marker(disk)
    killed = subprocess.run([sys.executable, "-c", KILLER, disk.path, str(disk.size_bytes),
                             str(data_dir)], cwd=Path(__file__).parents[2])
    assert killed.returncode == -9
    journal_file = data_dir / "journal" / "KILLED-1.json"
    assert '"state": "writing"' in journal_file.read_text()

    [result] = wipe_disks([disk], WipeOptions(method="is5enh"), data_dir=data_dir)
    assert result.result == "erased" and result.verified
    assert result.interrupted
    resumed = result.evidence["resumed_from"]
    assert resumed["pass"] == 1 and 0 < resumed["offset"] < disk.size_bytes
    # Only the rest of pass 2 and pass 3 were written again.
    assert result.bytes_written == 2 * disk.size_bytes - resumed["offset"]
    assert marker_count(disk) == 0
    assert '"state": "done"' in journal_file.read_text()


class UnplugOnFirstProgress:
    """A watcher that reports `victim` gone as soon as its erasure makes progress."""

    def __init__(self, victim: str) -> None:
        self.victim = victim
        self.sink: DiskEventSink | None = None
        self.stopped = False

    def __call__(self, sink: DiskEventSink) -> UnplugOnFirstProgress:
        self.sink = sink
        return self

    def progress(self, event: ProgressEvent) -> None:
        if event.job == self.victim and event.phase == "write" and self.sink is not None:
            self.sink(DiskEvent("disappeared", self.victim.rsplit("/", 1)[-1], self.victim))

    def stop(self) -> None:
        self.stopped = True


def test_a_disk_reported_unplugged_stops_its_own_job_only(loop_disk: LoopFactory) -> None:
    victim, neighbour = loop_disk(64 << 20), loop_disk(16 << 20)
    fill_with_marker(neighbour)
    watcher = UnplugOnFirstProgress(victim.path)
    results = wipe_disks([victim, neighbour], WipeOptions(method="dod"), watch=watcher,
                         sink=watcher.progress)
    assert results[0].result == "failed" and "removed" in str(results[0].error)
    assert results[1].result == "erased" and marker_count(neighbour) == 0
    assert watcher.stopped


def journal_half_written_pass(disk: Disk, data_dir: Path, generator: str | None) -> int:
    """Write the first half of a random pass with `generator` and journal it as a power cut
    would have left it; `None` writes AES and a journal of the versions before the generator
    was recorded. Returns the offset the pass stopped at."""
    half = disk.size_bytes // 2
    key = new_key(generator or AES)
    data = PassData(RANDOM, key, 1 << 20, generator or AES)
    write_pass(BlockDevice(disk.path, half), data, BadSectors(512))
    data.close()
    entry: dict[str, object] = {"name": "random", "byte": None, "key": key.hex()}
    if generator is not None:
        entry["generator"] = generator
    Journals(data_dir).save(WipeJournal(device=disk.path, serial=disk.serial,
                                        size_bytes=disk.size_bytes, method="random",
                                        passes=[entry], written_up_to=half))
    return half


@pytest.mark.parametrize(("journaled", "detected", "expected"), [
    (CHACHA20, AES, CHACHA20),
    (AES, CHACHA20, AES),
    (None, CHACHA20, AES),  # a journal from before the generator was recorded: AES
])
def test_a_resumed_pass_keeps_the_generator_of_its_journal(
    loop_disk: LoopFactory, data_dir: Path, monkeypatch: pytest.MonkeyPatch,
    journaled: str | None, detected: str, expected: str,
) -> None:
    disk = dataclasses.replace(loop_disk(24 << 20), serial="CUT-1")
    fill_with_marker(disk)
    half = journal_half_written_pass(disk, data_dir, journaled)
    # This processor would now choose otherwise: the journal's generator must win.
    monkeypatch.setattr(overwrite_job, "preferred_generator", lambda: detected)
    [result] = wipe_disks([disk], WipeOptions(method="random"), data_dir=data_dir)
    assert result.result == "erased" and result.verified and result.interrupted
    # Resumed where the journal stopped (the probe below it found the journal's stream there).
    assert result.evidence["resumed_from"] == {"pass": 0, "offset": half}
    assert result.bytes_written == disk.size_bytes - half
    assert result.evidence["generator"] == expected
    assert marker_count(disk) == 0


def test_a_new_erasure_records_its_generator_in_the_journal_and_the_evidence(
    loop_disk: LoopFactory, data_dir: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    disk = dataclasses.replace(loop_disk(8 << 20), serial="NEW-1")
    fill_with_marker(disk)
    monkeypatch.setattr(overwrite_job, "preferred_generator", lambda: CHACHA20)
    [result] = wipe_disks([disk], WipeOptions(method="is5enh"), data_dir=data_dir)
    assert result.result == "erased" and result.verified
    assert result.evidence["generator"] == CHACHA20
    assert result.evidence["stream"].startswith("ChaCha20")
    journal = json.loads((data_dir / "journal" / "NEW-1.json").read_text())
    assert [item["generator"] for item in journal["passes"]] == [None, None, CHACHA20]
    assert len(bytes.fromhex(journal["passes"][2]["key"])) == 32

    monkeypatch.setattr(overwrite_job, "preferred_generator", lambda: AES)
    [result] = wipe_disks([disk], WipeOptions(method="random"), data_dir=data_dir)
    assert result.evidence["generator"] == AES
    assert result.evidence["stream"].startswith("AES-128")
    [result] = wipe_disks([disk], WipeOptions(method="zero"), data_dir=data_dir)
    assert result.evidence["generator"] is None and result.evidence["stream"] is None
