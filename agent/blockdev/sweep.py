"""Several workers walking one device in order, chunk by chunk, each with its own buffers.

More than one request in flight keeps a fast disk busy while another worker generates the next
chunk's data (the cipher and libc's memcmp release the GIL, so the work really overlaps). The
coordinator only watches: progress ticks, the low-water mark below which every chunk is done (what
the journal may record), cancellation, and a disk that stops answering.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from agent.blockdev.buffers import AlignedBuffer


class Cancelled(Exception):
    pass


class DiskStalled(OSError):
    """No request finished for too long: the disk hangs. Its threads are left behind, blocked."""


@dataclass
class Workspace:
    """One worker's buffers, made on first use."""

    chunk: int
    _buffers: dict[str, AlignedBuffer] = field(default_factory=dict)

    def buffer(self, name: str, size: int | None = None) -> AlignedBuffer:
        if name not in self._buffers:
            self._buffers[name] = AlignedBuffer(size or self.chunk)
        return self._buffers[name]

    def close(self) -> None:
        for buffer in self._buffers.values():
            buffer.close()


@dataclass(frozen=True)
class Tick:
    done_bytes: int  # finished in this sweep, in any order
    low_water: int  # every byte below this is finished
    seconds: float


ChunkWork = Callable[[int, int, Workspace], None]


class _Cursor:
    def __init__(self, regions: list[tuple[int, int]]) -> None:
        self._regions = regions
        self._next = 0
        self._finished: set[int] = set()
        self._lock = threading.Lock()
        self.done_bytes = 0
        self.low_water = regions[0][0] if regions else 0
        self._low_index = 0

    def claim(self) -> tuple[int, int, int] | None:
        with self._lock:
            if self._next >= len(self._regions):
                return None
            index = self._next
            self._next += 1
            return (index, *self._regions[index])

    def finish(self, index: int) -> None:
        with self._lock:
            self._finished.add(index)
            self.done_bytes += self._regions[index][1]
            while self._low_index in self._finished:
                self._finished.discard(self._low_index)
                start, length = self._regions[self._low_index]
                self.low_water = start + length
                self._low_index += 1


def chunks(start: int, end: int, chunk: int) -> list[tuple[int, int]]:
    return [(offset, min(chunk, end - offset)) for offset in range(start, end, chunk)]


def sweep(
    regions: list[tuple[int, int]],
    work: ChunkWork,
    *,
    chunk: int,
    depth: int,
    cancel: threading.Event,
    on_tick: Callable[[Tick], None],
    tick_seconds: float = 0.5,
    stall_seconds: float = 300.0,
    name: str = "sweep",
) -> Tick:
    """Run `work` over every (offset, length) in `regions` with `depth` workers; re-raise the
    first worker error after the others stopped."""
    cursor = _Cursor(regions)
    errors: list[BaseException] = []
    stop = threading.Event()
    wake = threading.Event()
    # Counted by the workers themselves: a thread is still "alive" for a moment after its last
    # word, and a coordinator that asked `is_alive()` then slept a whole tick for nothing.
    ended = [0]
    ended_lock = threading.Lock()

    def worker() -> None:
        workspace = Workspace(chunk)
        try:
            while not stop.is_set() and not cancel.is_set():
                claimed = cursor.claim()
                if claimed is None:
                    break
                index, offset, length = claimed
                work(offset, length, workspace)
                cursor.finish(index)
        except BaseException as error:
            errors.append(error)
            stop.set()
        finally:
            workspace.close()
            with ended_lock:
                ended[0] += 1
            wake.set()

    threads = [threading.Thread(target=worker, name=f"{name} {n}", daemon=True)
               for n in range(max(1, min(depth, len(regions))))]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    last_done, last_change = -1, started
    while True:
        wake.wait(tick_seconds)
        wake.clear()
        now = time.monotonic()
        tick = Tick(cursor.done_bytes, cursor.low_water, now - started)
        with ended_lock:
            if ended[0] == len(threads):
                break
        on_tick(tick)
        if tick.done_bytes != last_done:
            last_done, last_change = tick.done_bytes, now
        elif now - last_change > stall_seconds:
            stop.set()
            raise DiskStalled(f"no answer from the disk for {stall_seconds:.0f} s")
    if errors:
        raise errors[0]
    if cancel.is_set() and cursor.done_bytes < sum(length for _, length in regions):
        raise Cancelled()
    return Tick(cursor.done_bytes, cursor.low_water, time.monotonic() - started)
