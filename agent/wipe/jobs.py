"""Erasure jobs: one per disk, all at once, each failing on its own.

A disk that errors, hangs or disappears ends its own job with `failed`; the other threads never
see it. Each job follows the policy's chain (firmware erase first where the disk supports it,
overwrite otherwise) and leaves its evidence in the result.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agent.blockdev.device import BlockDevice
from agent.blockdev.sweep import Cancelled
from agent.events import EventSink, ProgressEvent, ignore_events
from agent.inventory.hotplug import DiskEvent, DiskWatch
from agent.inventory.model import Disk
from agent.runner import Runner
from agent.runner import run as run_command
from agent.wipe.engine import SAMPLE_SECTORS
from agent.wipe.firmware.probe import probe_capabilities
from agent.wipe.firmware_job import FirmwarePath, Probe, erase_with_firmware
from agent.wipe.journal import Journals
from agent.wipe.overwrite_job import VERIFY_MODES, OverwriteOptions, overwrite_disk, resumable
from agent.wipe.passes import METHODS
from agent.wipe.policy import ErasureOptions

AUTO = "auto"


@dataclass(frozen=True)
class WipeOptions:
    """What the workshop's config and the operator chose; `auto` lets the policy decide."""

    method: str = AUTO  # or an overwrite method (random, zero, one, dodshort...): forces overwrite
    verify: str = "full"  # after an overwrite: "full", "sample" or "off"
    rounds: int = 1
    blank: bool = False  # a final zero pass after the overwrite
    allow_unfreeze: bool = False  # consent to a suspend/resume cycle for frozen drives
    sample_sectors: int = SAMPLE_SECTORS
    resume: bool = True

    def __post_init__(self) -> None:
        if self.method != AUTO and self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}")
        if self.verify not in VERIFY_MODES:
            raise ValueError(f"unknown verification {self.verify!r}")

    @property
    def overwrite_method(self) -> str:
        return "random" if self.method == AUTO else self.method

    def overwrite(self) -> OverwriteOptions:
        return OverwriteOptions(method=self.overwrite_method, rounds=self.rounds,
                                blank=self.blank, verify=self.verify,
                                sample_sectors=self.sample_sectors, resume=self.resume)

    def policy(self) -> ErasureOptions:
        return ErasureOptions(
            force_overwrite=self.method != AUTO, overwrite_method=self.overwrite_method,
            extra_passes=self.rounds - 1, blank=self.blank,
            verify=self.verify,  # type: ignore[arg-type]  # checked in __post_init__
            allow_unfreeze=self.allow_unfreeze)


@dataclass
class WipeResult:
    device: str
    serial: str | None
    model: str | None
    bus: str
    size_bytes: int
    method: str = "random"
    level: str = "clear"  # NIST SP 800-88 Rev.2: "clear" or "purge"
    result: str = "failed"  # "erased", "erased_with_exceptions", "failed" or "skipped"
    bytes_written: int = 0
    seconds: float = 0.0
    write_bytes_per_second: float = 0.0
    verify_bytes_per_second: float = 0.0
    verification: str = "full"
    verified: bool = False
    bad_ranges: list[list[int]] = field(default_factory=list)  # [first LBA, last LBA]
    mismatched: list[list[int]] = field(default_factory=list)  # verification, [first, last]
    interrupted: bool = False  # an earlier run on this disk was cut off (power, crash)
    plan: list[dict[str, Any]] = field(default_factory=list)  # the chain tried, with reasons
    evidence: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _result_for(disk: Disk) -> WipeResult:
    return WipeResult(disk.path, disk.serial, disk.model, disk.bus, disk.size_bytes)


def wipe_disk(
    disk: Disk,
    options: WipeOptions | None = None,
    *,
    journals: Journals | None = None,
    cancel: threading.Event | None = None,
    sink: EventSink = ignore_events,
    run: Runner = run_command,
    probe: Probe = probe_capabilities,
) -> WipeResult:
    """The policy's chain for one disk: firmware steps while they fail, the overwrite last.

    An overwrite the journal shows as interrupted is resumed at once: the firmware steps were
    already tried (or skipped) by the run that started it.
    """
    options = options or WipeOptions()
    result = _result_for(disk)
    started = time.monotonic()
    try:
        size = disk.size_bytes
        resuming = resumable(journals, BlockDevice(disk.path, size, disk.logical_sector_size),
                             disk.serial, options.overwrite())
        firmware = erase_with_firmware(
            disk, options.policy(), sample_sectors=options.sample_sectors, run=run,
            sink=sink, probe=probe) if not resuming else None
        if firmware is not None:
            _record_plan(result, firmware)
            size = firmware.size_bytes
        if firmware is not None and firmware.succeeded is not None:
            _firmware_done(result, firmware)
        else:
            _overwrite(dataclasses.replace(disk, size_bytes=size), options, result, journals,
                       cancel, sink)
            if firmware is not None:
                result.evidence = {**firmware.evidence, **result.evidence}
    except Cancelled:
        result.result, result.error = "failed", "cancelled"
    except OSError as error:  # DiskVanished, DiskStalled, TooManyBadSectors, any I/O error
        result.result, result.error = "failed", f"{type(error).__name__}: {error}"
    result.seconds = round(time.monotonic() - started, 3)
    final = "done" if result.result.startswith("erased") else "failed"
    sink(ProgressEvent(disk.path, final, result.bytes_written, disk.size_bytes, error=result.error))
    return result


def _record_plan(result: WipeResult, firmware: FirmwarePath) -> None:
    plan = firmware.plan
    result.plan = [{"method": step.method, "level": step.level, "reason": step.reason}
                   for step in plan.chain]
    result.evidence["ruled_out"] = [{"method": item.method, "reason": item.reason}
                                    for item in plan.ruled_out]
    result.evidence["notes"] = list(plan.notes)
    result.size_bytes = firmware.size_bytes


def _firmware_done(result: WipeResult, firmware: FirmwarePath) -> None:
    step, sample = firmware.succeeded, firmware.sample
    assert step is not None and sample is not None
    result.method, result.level = step.method, step.level
    result.result, result.verified, result.verification = "erased", True, "sample"
    result.evidence = {**result.evidence, **firmware.evidence, "engine": "firmware"}


def _overwrite(disk: Disk, options: WipeOptions, result: WipeResult, journals: Journals | None,
               cancel: threading.Event | None, sink: EventSink) -> None:
    engine_disk = BlockDevice(disk.path, disk.size_bytes, disk.logical_sector_size)
    result.method, result.level, result.verification = (
        options.overwrite_method, "clear", options.verify)
    outcome = overwrite_disk(engine_disk, disk.serial, options.overwrite(), journals=journals,
                             cancel=cancel, sink=sink)
    result.bytes_written = outcome.bytes_written
    result.write_bytes_per_second = round(outcome.write_bytes_per_second)
    result.bad_ranges = outcome.bad_ranges
    result.interrupted = outcome.interrupted
    result.evidence.update(outcome.evidence())
    verification = outcome.verification
    if verification is not None:
        result.verified = verification.ok
        result.mismatched = verification.mismatched
        if verification.seconds:
            result.verify_bytes_per_second = round(verification.bytes_read / verification.seconds)
    if verification is not None and not verification.ok:
        result.result = "failed"
        result.error = f"verification found {len(verification.mismatched)} range(s) not erased"
    else:
        result.result = "erased_with_exceptions" if outcome.bad_ranges else "erased"


def wipe_disks(
    disks: Sequence[Disk],
    options: WipeOptions | Mapping[str, WipeOptions] | None = None,
    *,
    data_dir: Path | None = None,
    cancel: threading.Event | None = None,
    sink: EventSink = ignore_events,
    watch: DiskWatch | None = None,
) -> list[WipeResult]:
    """Wipe every disk in its own thread; results come back in the order of `disks`.

    `options` is one set for every disk, or one per disk path (a person changed the method of
    some). With `watch`, a disk that disappears (cable pulled, adapter unplugged) stops its own
    job at once, instead of after the I/O errors and timeouts the kernel would report first.
    """
    per_disk = options if isinstance(options, Mapping) else {disk.path: options for disk in disks}
    journals = Journals(data_dir) if data_dir is not None else None
    cancel = cancel or threading.Event()
    stops = {disk.path: _JobStop(cancel) for disk in disks}
    removed: set[str] = set()
    results: list[WipeResult | None] = [None] * len(disks)

    def disk_event(event: DiskEvent) -> None:
        if event.action == "disappeared" and event.path in stops:
            removed.add(event.path)
            stops[event.path].set()

    def work(index: int, disk: Disk) -> None:
        lower_priority()
        try:
            result = wipe_disk(disk, per_disk.get(disk.path), journals=journals,
                               cancel=stops[disk.path], sink=sink)
            if disk.path in removed and result.result == "failed":
                result.error = "DiskVanished: the disk was removed during the erasure"
            results[index] = result
        except Exception as error:  # a bug in one job must not take the others down
            failed = _result_for(disk)
            failed.error = f"{type(error).__name__}: {error}"
            results[index] = failed

    watcher = watch(disk_event) if watch is not None else None

    threads = [
        threading.Thread(target=work, args=(index, disk), name=f"wipe {disk.path}", daemon=True)
        for index, disk in enumerate(disks)
    ]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except KeyboardInterrupt:
        # Ctrl-C: every job stops at its next chunk, journals keep where each disk stands.
        cancel.set()
        for thread in threads:
            thread.join()
    finally:
        if watcher is not None:
            watcher.stop()
    return [result for result in results if result is not None]


# The erasure yields the processor to the screen: the volunteer's key presses are answered at
# once even when RAM-fast disks keep every core busy. Disks slower than the processor (most of
# them) lose nothing by it.
JOB_NICENESS = 10


def lower_priority() -> None:
    """This thread, and the threads it starts, run after everything else (Linux: per thread)."""
    # Not Linux, or not allowed: the erasure still runs, at the usual priority.
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), JOB_NICENESS)


class _JobStop(threading.Event):
    """One job's stop signal: set for this disk alone, or through the one shared by all jobs."""

    def __init__(self, everyone: threading.Event) -> None:
        super().__init__()
        self._everyone = everyone

    def is_set(self) -> bool:
        return super().is_set() or self._everyone.is_set()
