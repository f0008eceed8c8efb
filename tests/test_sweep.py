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


def test_the_sweep_ends_when_its_workers_do_not_at_the_next_tick(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The coordinator wakes when the last worker ends. It once asked the threads instead, and
    a thread is still alive for a moment after its last word: finding it so, the coordinator
    slept a whole tick, which added half a second to a disk's pass now and then. Here every
    thread looks alive for ever, and the tick is an hour: the sweep must end all the same."""
    monkeypatch.setattr(threading.Thread, "is_alive", lambda self: True)
    ended = threading.Event()

    def one_sweep() -> None:
        sweep(chunks(0, 8 * CHUNK, CHUNK), lambda *_: None, chunk=CHUNK, depth=4,
              cancel=threading.Event(), on_tick=no_ticks, tick_seconds=3600)
        ended.set()

    threading.Thread(target=one_sweep, daemon=True).start()
    assert ended.wait(30), "the sweep waited for its tick after its workers had ended"
