"""Benchmarks on real loop devices: they read, never write, and never touch excluded disks."""

from __future__ import annotations

import datetime
import hashlib
import os
from pathlib import Path

from agent import flow
from agent.bench.cpu import measure_cpu
from agent.bench.disk import BLOCK, measure_disk
from agent.bench.memory import measure_memory
from agent.events import ProgressEvent
from agent.inventory.model import Disk, Exclusion
from tests.conftest import LoopFactory
from tests.helpers import sample_disk, sample_machine


def fill_random(disk: Disk) -> str:
    data = os.urandom(disk.size_bytes)
    with open(disk.path, "r+b") as device:
        device.write(data)
        device.flush()
        os.fsync(device.fileno())
    return hashlib.sha256(data).hexdigest()


def digest(disk: Disk) -> str:
    with open(disk.path, "rb") as device:
        return hashlib.sha256(device.read()).hexdigest()


def test_disk_read_is_bounded_direct_and_read_only(loop_disk: LoopFactory) -> None:
    disk = loop_disk(48 << 20)
    before = fill_random(disk)
    events: list[ProgressEvent] = []
    result = measure_disk(disk, limit_bytes=40 << 20, sink=events.append)
    assert result.result == "measured" and result.error is None
    assert result.direct_io is True
    assert result.bytes_read == 40 << 20  # the bound, not the whole disk
    assert result.read_bytes_per_second > 0 and result.seconds > 0
    assert events[-1].phase == "done" and events[-1].done_bytes == 40 << 20
    assert digest(disk) == before


def test_a_disk_smaller_than_the_bound_is_read_once(loop_disk: LoopFactory) -> None:
    disk = loop_disk(3 * BLOCK + 4096)
    result = measure_disk(disk)
    assert result.bytes_read == 3 * BLOCK


def test_a_missing_disk_is_a_failed_measure_not_an_exception() -> None:
    disk = sample_disk("/dev/reeeboot-no-such-disk")
    result = measure_disk(disk)
    assert result.result == "failed" and "reeeboot-no-such-disk" in (result.error or "")


def test_flow_benchmarks_only_the_disks_not_excluded(
    loop_disk: LoopFactory, data_dir: Path,
) -> None:
    target, excluded = loop_disk(16 << 20), loop_disk(16 << 20)
    fill_random(target)
    kept_digest = fill_random(excluded)
    machine = sample_machine(disks=(target, excluded),
                             exclusions=(Exclusion(excluded.path, "mounted", "in use"),))
    station = flow.open_station(data_dir)
    opened: list[str] = []
    benchmarks = flow.benchmark(station, machine, lambda event: opened.append(event.job))
    assert benchmarks is not None
    assert [entry["path"] for entry in benchmarks["disks"]] == [target.path]
    assert excluded.path not in opened
    assert digest(excluded) == kept_digest
    # And the report built with them is valid against the schema.
    _report_id, path = flow.file_report(station, machine, [], station_start(),
                                        benchmarks=benchmarks)
    assert path.exists()


def test_cpu_and_memory_measures_are_real() -> None:
    cpu = measure_cpu(0.1, workers=2)
    memory = measure_memory(0.1, buffer_bytes=8 << 20)
    assert cpu.algorithm == "sha256" and cpu.workers == 2
    assert cpu.single_core_bytes_per_second > 0 and cpu.all_cores_bytes_per_second > 0
    assert memory.copy_bytes_per_second > 0 and memory.buffer_bytes == 8 << 20


def station_start() -> datetime.datetime:
    return datetime.datetime(2026, 11, 28, 9, 0, tzinfo=datetime.UTC)
