"""The sweep's coordinator: a disk that hangs, a worker that fails, cancellation."""

from __future__ import annotations

import threading

import pytest

from agent.blockdev.sweep import Cancelled, DiskStalled, Tick, Workspace, chunks, sweep

CHUNK = 4096


def no_ticks(tick: Tick) -> None:
    del tick


def test_every_region_is_visited_once_and_the_low_water_mark_reaches_the_end() -> None:
    seen: list[int] = []
    lock = threading.Lock()

    def work(offset: int, length: int, workspace: Workspace) -> None:
        del length, workspace
        with lock:
            seen.append(offset)

    done = sweep(chunks(0, 10 * CHUNK + 512, CHUNK), work, chunk=CHUNK, depth=3,
                 cancel=threading.Event(), on_tick=no_ticks)
    assert sorted(seen) == [n * CHUNK for n in range(11)]
    assert done.done_bytes == done.low_water == 10 * CHUNK + 512


def test_a_hanging_disk_is_given_up_instead_of_blocking_forever() -> None:
    release = threading.Event()

    def work(offset: int, length: int, workspace: Workspace) -> None:
        del length, workspace
        if offset == 2 * CHUNK:
            release.wait(30)  # a request the disk never answers

    try:
        with pytest.raises(DiskStalled):
            sweep(chunks(0, 4 * CHUNK, CHUNK), work, chunk=CHUNK, depth=1,
                  cancel=threading.Event(), on_tick=no_ticks, tick_seconds=0.05,
                  stall_seconds=0.3)
    finally:
        release.set()


def test_the_first_worker_error_stops_the_sweep_and_is_raised() -> None:
    def work(offset: int, length: int, workspace: Workspace) -> None:
        del length, workspace
        if offset == 3 * CHUNK:
            raise OSError(5, "I/O error")

    with pytest.raises(OSError, match="I/O error"):
        sweep(chunks(0, 64 * CHUNK, CHUNK), work, chunk=CHUNK, depth=2,
              cancel=threading.Event(), on_tick=no_ticks)


def test_cancellation_ends_the_sweep_between_chunks() -> None:
    cancel = threading.Event()
    visited: list[int] = []

    def work(offset: int, length: int, workspace: Workspace) -> None:
        del length, workspace
        visited.append(offset)
        if offset == 5 * CHUNK:
            cancel.set()

    with pytest.raises(Cancelled):
        sweep(chunks(0, 100 * CHUNK, CHUNK), work, chunk=CHUNK, depth=1, cancel=cancel,
              on_tick=no_ticks)
    assert len(visited) == 6
