"""One disk's firmware path: probe, plan, open the hidden area, unfreeze, then each firmware step
of the plan until one succeeds with evidence and passes the read-back sample.

If none does, the plan's last step, the host overwrite, is the caller's (agent/wipe/jobs.py).
Everything tried is kept, in order, for the report: the probe's commands, the plan with its
reasons, each attempt's commands and drive states, and the samples.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent.blockdev.device import BlockDevice
from agent.events import EventSink, ProgressEvent, ignore_events
from agent.inventory.model import Disk
from agent.runner import CommandRecord, Recorder, Runner
from agent.wipe.firmware import ata, hidden, mmc, nvme, scsi, unfreeze
from agent.wipe.firmware.capabilities import DiskCapabilities
from agent.wipe.firmware.levels import LEVEL_OF
from agent.wipe.firmware.model import (
    ATA_SANITIZE_BLOCK,
    ATA_SANITIZE_CRYPTO,
    ATA_SECURITY_ERASE,
    ATA_SECURITY_ERASE_ENHANCED,
    MMC_SANITIZE,
    NVME_FORMAT_CRYPTO,
    NVME_FORMAT_USER_DATA,
    NVME_SANITIZE_BLOCK,
    NVME_SANITIZE_CRYPTO,
    SCSI_SANITIZE_BLOCK,
    SCSI_SANITIZE_CRYPTO,
    FirmwareOutcome,
    FirmwareTarget,
)
from agent.wipe.firmware.probe import probe_capabilities
from agent.wipe.policy import ErasureOptions, ErasurePlan, PlannedStep, plan_erasure
from agent.wipe.sample import SampleCheck, compare, fingerprint

Probe = Callable[[Disk, Runner], DiskCapabilities]


@dataclass
class FirmwarePath:
    plan: ErasurePlan
    size_bytes: int  # after the hidden area was opened, the size the erase must cover
    succeeded: PlannedStep | None = None
    sample: SampleCheck | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


def erase_with_firmware(
    disk: Disk,
    options: ErasureOptions,
    *,
    sample_sectors: int,
    run: Runner,
    sink: EventSink = ignore_events,
    probe: Probe = probe_capabilities,
) -> FirmwarePath:
    capabilities = probe(disk, run)
    plan = plan_erasure(disk, capabilities, options)
    path = FirmwarePath(plan, disk.size_bytes)
    path.evidence["capabilities"] = capabilities.to_json()
    if plan.hidden_area is not None:
        area = plan.hidden_area
        opened = hidden.restore_native_max(disk.path, area.current_max_sectors,
                                           area.real_max_sectors, run,
                                           logical_sector_size=disk.logical_sector_size)
        path.evidence["hidden_area"] = _plain(opened)
        if opened.restored:
            path.size_bytes = BlockDevice.at(disk.path).size_bytes
    if plan.needs_unfreeze:
        # Said before the screen goes dark, and after: whether the drive thawed (a message id).
        sink(ProgressEvent(disk.path, "unfreeze", 0, path.size_bytes))
        thawed = unfreeze.unfreeze_by_suspend(disk.path, run)
        sink(ProgressEvent(disk.path, "unfreeze", 0, path.size_bytes, detail=thawed.reason))
        path.evidence["unfreeze"] = _plain(thawed)
        # Planned again from a fresh identify; without consent this time, so a drive still
        # frozen has its ATA steps ruled out instead of being suspended over and over.
        capabilities = probe(disk, run)
        plan = plan_erasure(disk, capabilities, dataclasses.replace(options, allow_unfreeze=False))
        path.plan = plan
    target = FirmwareTarget(disk.path, capabilities.nvme_controller,
                            capabilities.nvme_namespace_id, path.size_bytes,
                            disk.logical_sector_size)
    sampled = BlockDevice(disk.path, path.size_bytes, disk.logical_sector_size)
    attempts: list[dict[str, Any]] = []
    path.evidence["attempts"] = attempts
    for step in plan.firmware_steps:
        before = fingerprint(sampled, sample_sectors)
        outcome = execute(step.method, target, run, sink)
        attempt = outcome.to_json()
        attempt["level"] = step.level  # the plan's level: it knows the medium, the command not
        attempts.append(attempt)
        if not outcome.ok:
            continue
        check = compare(before, sampled)
        attempt["sample"] = check.to_json()
        if check.ok:
            path.succeeded, path.sample = step, check
            break
    return path


def execute(method: str, target: FirmwareTarget, run: Runner,
            sink: EventSink = ignore_events) -> FirmwareOutcome:
    """Run one firmware method; a missing tool is a failed attempt, not a crash."""
    started = time.monotonic()
    try:
        return _dispatch(method, target, run, sink)
    except (OSError, RuntimeError) as error:
        return FirmwareOutcome(method, LEVEL_OF.get(method, "purge"), False,
                               f"{type(error).__name__}: {error}",
                               seconds=time.monotonic() - started)


def _dispatch(method: str, target: FirmwareTarget, run: Runner,
              sink: EventSink) -> FirmwareOutcome:
    if method == NVME_SANITIZE_CRYPTO:
        return nvme.sanitize(target, "crypto", run, sink)
    if method == NVME_SANITIZE_BLOCK:
        return nvme.sanitize(target, "block", run, sink)
    if method == NVME_FORMAT_CRYPTO:
        return nvme.format_nvm(target, 2, run, sink)
    if method == NVME_FORMAT_USER_DATA:
        return nvme.format_nvm(target, 1, run, sink)
    if method == ATA_SANITIZE_CRYPTO:
        return ata.sanitize(target, "crypto", run, sink)
    if method == ATA_SANITIZE_BLOCK:
        return ata.sanitize(target, "block", run, sink)
    if method in (ATA_SECURITY_ERASE_ENHANCED, ATA_SECURITY_ERASE):
        # Its own recorder: the temporary password must not reach the session's records,
        # which the report may carry; the outcome keeps a redacted copy.
        private = Recorder()
        return ata.security_erase(target, method == ATA_SECURITY_ERASE_ENHANCED,
                                  private.run, sink)
    if method == SCSI_SANITIZE_CRYPTO:
        return scsi.sanitize(target, "crypto", run, sink)
    if method == SCSI_SANITIZE_BLOCK:
        return scsi.sanitize(target, "block", run, sink)
    if method == MMC_SANITIZE:
        return mmc.sanitize(target, run, sink)
    raise RuntimeError(f"no executor for {method}")


def _plain(outcome: Any) -> dict[str, Any]:
    """A dataclass with CommandRecords inside, as JSON-ready data."""
    data = dataclasses.asdict(outcome)
    commands: list[CommandRecord] = getattr(outcome, "commands", [])
    data["commands"] = [command.to_json() for command in commands]
    document: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return document
