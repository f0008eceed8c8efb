"""One disk's overwrite: the passes of a method, then verification of the last one, journaled.

A run that finds an unfinished journal for the same disk resumes the pass where the journal's
last checkpoint left it, after checking that the disk really holds that pass just below it. The
random passes use the keystream generator this processor runs fastest (`preferred_generator`),
chosen when the journal is made; a resumed pass keeps the journal's generator and key.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from agent.blockdev.device import BlockDevice, VerifyOutcome
from agent.events import EventSink, ProgressEvent, ignore_events
from agent.wipe.badsectors import BadSectors
from agent.wipe.engine import (
    CHUNK_BYTES,
    DEPTH,
    SAMPLE_SECTORS,
    PassData,
    region_holds,
    verify,
    write_pass,
)
from agent.wipe.journal import Journals, WipeJournal
from agent.wipe.passes import OverwritePass, compose
from agent.wipe.stream import GENERATORS, KeyedStream, new_key, preferred_generator

VERIFY_MODES = ("full", "sample", "off")


@dataclass(frozen=True)
class OverwriteOptions:
    method: str = "random"
    rounds: int = 1
    blank: bool = False  # a final zero pass
    verify: str = "full"  # of the last pass: "full", "sample" or "off"
    sample_sectors: int = SAMPLE_SECTORS
    resume: bool = True
    depth: int = DEPTH
    chunk: int = CHUNK_BYTES
    checkpoint_seconds: float = 5.0
    progress_seconds: float = 0.5


@dataclass
class OverwriteOutcome:
    passes: list[str]
    bytes_written: int = 0
    write_seconds: float = 0.0
    verification: VerifyOutcome | None = None
    bad_ranges: list[list[int]] = field(default_factory=list)
    interrupted: bool = False  # an earlier run on this disk was cut off
    resumed_from: dict[str, int] | None = None  # {"pass": index, "offset": bytes}
    interruptions: list[str] = field(default_factory=list)  # when runs found it unfinished
    generator: str | None = None  # of the random passes; None: the method has none
    stream: str | None = None  # that keystream in words

    @property
    def write_bytes_per_second(self) -> float:
        return self.bytes_written / self.write_seconds if self.write_seconds else 0.0

    def evidence(self) -> dict[str, Any]:
        verification = self.verification
        return {
            "engine": "overwrite",
            "stream": self.stream,
            "generator": self.generator,
            "passes": self.passes,
            "verification": None if verification is None else {
                "mode": verification.mode,
                "bytes_read": verification.bytes_read,
                "seconds": round(verification.seconds, 3),
                "mismatched": verification.mismatched,
                # Chunks whose digest matched were not compared byte by byte: say with what.
                "digest": verification.digest,
                "bytes_by_digest": verification.bytes_by_digest,
            },
            "interrupted": self.interrupted,
            "resumed_from": self.resumed_from,
            "interruptions": self.interruptions,
        }


def new_journal(device: str, serial: str | None, size: int, method: str,
                passes: tuple[OverwritePass, ...]) -> WipeJournal:
    # Chosen only when there is a random pass: a zero pass has no reason to measure anything.
    generator = preferred_generator() if any(item.is_random for item in passes) else None
    return WipeJournal(
        device=device, serial=serial, size_bytes=size, method=method,
        passes=[{"name": item.name, "byte": item.byte,
                 "key": new_key(generator).hex() if generator and item.is_random else None,
                 "generator": generator if item.is_random else None}
                for item in passes],
    )


def overwrite_disk(
    disk: BlockDevice,
    serial: str | None,
    options: OverwriteOptions,
    *,
    journals: Journals | None = None,
    cancel: threading.Event | None = None,
    sink: EventSink = ignore_events,
) -> OverwriteOutcome:
    """Raises OSError (vanished, stalled, too many bad sectors) and Cancelled; the caller turns
    them into the disk's result."""
    cancel = cancel or threading.Event()
    journal = journals.load(serial, disk.size_bytes, disk.path) if journals else None
    interrupted = journal is not None and journal.unfinished
    if journal is None or not _continues(journal, options):
        journal = new_journal(disk.path, serial, disk.size_bytes, _method_label(options),
                              compose(options.method, rounds=options.rounds, blank=options.blank))
    else:
        journal.interruptions.append(time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    passes = journal.overwrite_passes()
    outcome = OverwriteOutcome([item.name for item in passes], interrupted=interrupted)
    random_passes = [index for index, item in enumerate(passes) if item.is_random]
    if random_passes:
        stream = KeyedStream(journal.key(random_passes[0]), journal.generator(random_passes[0]))
        outcome.generator, outcome.stream = stream.generator, stream.description
    bad = BadSectors(disk.sector)
    for first, last in journal.bad_ranges:
        bad.add(first * disk.sector, (last - first + 1) * disk.sector)
    save = (lambda: journals.save(journal)) if journals else (lambda: None)

    def checkpoint(offset: int) -> None:
        journal.written_up_to = offset
        journal.bad_ranges = bad.lba_ranges()
        save()

    last = len(passes) - 1
    # The last pass's data stays open for the verification: it holds the digests of the chunks
    # it wrote. After a cut during the verification there is none, and a new one compares all.
    last_data: PassData | None = None
    try:
        if journal.state == "writing":
            start = _resume_offset(disk, journal, options) if interrupted else 0
            if interrupted:
                journal.resumed_from = {"pass": journal.pass_index, "offset": start}
            save()
            for index in range(journal.pass_index, len(passes)):
                if index != journal.pass_index:
                    journal.pass_index, journal.written_up_to = index, 0
                    save()
                data = PassData(passes[index], journal.key(index), options.chunk,
                                journal.generator(index))
                if index == last:
                    last_data = data
                detail = (index + 1, len(passes), passes[index].name)
                try:
                    written = write_pass(
                        disk, data, bad, start=start, cancel=cancel, on_checkpoint=checkpoint,
                        checkpoint_seconds=options.checkpoint_seconds,
                        progress_seconds=options.progress_seconds, chunk=options.chunk,
                        depth=options.depth, sink=_with_detail(sink, detail),
                        keep_digests=index == last and options.verify == "full")
                finally:
                    if index != last:
                        data.close()
                outcome.bytes_written += written.bytes_written
                outcome.write_seconds += written.seconds
                start = 0
            journal.pass_index = last
            journal.state = "verifying"
            journal.bad_ranges = bad.lba_ranges()
            save()
        if options.verify != "off":
            if last_data is None:
                last_data = PassData(passes[last], journal.key(last), options.chunk,
                                     journal.generator(last))
            outcome.verification = verify(
                disk, last_data, bad, mode=options.verify, cancel=cancel, sink=sink,
                chunk=options.chunk, depth=options.depth, sample_sectors=options.sample_sectors)
    finally:
        if last_data is not None:
            last_data.close()
    outcome.bad_ranges = bad.lba_ranges()
    outcome.resumed_from, outcome.interruptions = journal.resumed_from, journal.interruptions
    journal.bad_ranges = outcome.bad_ranges
    journal.state = "done" if outcome.verification is None or outcome.verification.ok else "failed"
    save()
    return outcome


def resumable(journals: Journals | None, disk: BlockDevice, serial: str | None,
              options: OverwriteOptions) -> bool:
    """Whether `overwrite_disk` would resume an interrupted overwrite of this disk."""
    if journals is None:
        return False
    journal = journals.load(serial, disk.size_bytes, disk.path)
    return journal is not None and _continues(journal, options)


def _continues(journal: WipeJournal, options: OverwriteOptions) -> bool:
    """An unfinished overwrite with the same method, and the caller allows resuming it.

    A journal naming a generator this version does not have (written by a newer one) cannot be
    continued: its pass starts over with a generator of ours.
    """
    known = all(journal.generator(index) in GENERATORS for index in range(len(journal.passes)))
    return (options.resume and journal.unfinished and known
            and journal.method == _method_label(options))


def _method_label(options: OverwriteOptions) -> str:
    label = options.method if options.rounds == 1 else f"{options.method} x{options.rounds}"
    return f"{label} + zero blanking" if options.blank else label


def _resume_offset(disk: BlockDevice, journal: WipeJournal, options: OverwriteOptions) -> int:
    """Where to go on: the journal's checkpoint, if the chunk just below it holds the pass."""
    offset = journal.written_up_to
    if offset <= 0:
        return 0
    data = PassData(journal.overwrite_passes()[journal.pass_index],
                    journal.key(journal.pass_index), options.chunk,
                    journal.generator(journal.pass_index))
    probe_start = max(0, offset - options.chunk)
    try:
        holds = region_holds(disk, data, probe_start, offset - probe_start)
    finally:
        data.close()
    return offset if holds else 0


def _with_detail(sink: EventSink, detail: tuple[int, int, str]) -> EventSink:
    """The pass being written, for people (`detail`) and for estimates (its number and count)."""
    number, count, name = detail

    def forward(event: ProgressEvent) -> None:
        sink(ProgressEvent(event.job, event.phase, event.done_bytes, event.total_bytes,
                           event.bytes_per_second, event.error, f"{number}/{count} {name}",
                           pass_number=number, pass_count=count))

    return forward
