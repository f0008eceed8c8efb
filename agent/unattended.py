"""Unattended mode: erase every disk that is not excluded, install the configured OS, report,
power off.

It runs only when both switches are on (design.md): `unattended = true` in reeeboot.toml *and*
`reeeboot.unattended=1` on the kernel command line. Progress goes to the serial console as one
JSON object per line behind the `REEEBOOT ` prefix, for test harnesses and workshop scripts.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from agent import flow
from agent.config import StationConfig
from agent.events import EventSink, ProgressEvent, fan_out
from agent.i18n import _
from agent.install.errors import ImageError
from agent.install.job import InstallResult
from agent.inventory.model import Machine
from agent.report.progress import ProgressReporter
from agent.runner import run
from agent.wipe.jobs import WipeResult

STATUS_PREFIX = "REEEBOOT "
KERNEL_SWITCH = "reeeboot.unattended=1"
UPLOAD_DEADLINE_SECONDS = 120.0
PROGRESS_EVERY_SECONDS = 5.0


def is_unattended(config: StationConfig, cmdline: str) -> bool:
    return config.unattended and KERNEL_SWITCH in cmdline.split()


class StatusLine:
    """Writes machine-readable status lines, one JSON object each, flushed at once."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._lock = threading.Lock()
        self._last_progress: dict[str, float] = {}

    def emit(self, event: str, **fields: Any) -> None:
        line = STATUS_PREFIX + json.dumps({"event": event, **fields}, sort_keys=True)
        with self._lock:
            self.stream.write(line + "\r\n")
            self.stream.flush()

    def progress(self, event: ProgressEvent) -> None:
        now = time.monotonic()
        final = event.phase in ("done", "failed")
        if not final and now - self._last_progress.get(event.job, 0.0) < PROGRESS_EVERY_SECONDS:
            return
        self._last_progress[event.job] = now
        self.emit("progress", **event.to_json())


def open_status_stream() -> TextIO:
    path = os.environ.get("REEEBOOT_STATUS_TTY", "/dev/ttyS0")
    try:
        return open(path, "w", encoding="utf-8")  # lives for the whole run
    except OSError:
        return sys.stdout


def run_unattended(
    station: flow.Station,
    status: StatusLine,
    *,
    power_off: bool = True,
    take_inventory: Callable[[flow.Station], Machine] = flow.inventory,
    progress: ProgressReporter | None = None,
) -> int:
    clock = flow.StepClock(on_step=progress.step if progress else None)
    status.emit("start", data_dir=str(station.data_dir))
    with clock.step("inventory"):
        machine = take_inventory(station)
    if progress is not None:
        progress.machine_known(machine, flow.asset_id(station, machine))
    status.emit(
        "inventory",
        disks=[{"path": d.path, "bus": d.bus, "serial": d.serial, "size_bytes": d.size_bytes}
               for d in machine.disks],
        excluded=[{"path": e.path, "code": e.code, "reason": e.reason}
                  for e in machine.exclusions],
    )
    interrupted = flow.interrupted_erasures(station)
    if interrupted:
        status.emit("interrupted", disks=[
            {"device": journal.device, "serial": journal.serial, "pass": journal.pass_index,
             "offset": journal.written_up_to} for journal in interrupted])
    targets = flow.plan_targets(machine)
    status.emit("plan", targets=[disk.path for disk in targets])
    sink = status.progress if progress is None else fan_out(status.progress, progress.event)
    with clock.step("erase"):
        results = flow.erase(station, targets, sink)
    for result in results:
        record = result.to_json()
        status.emit("disk_result", **{key: record[key] for key in (
            "device", "serial", "method", "level", "result", "bytes_written", "seconds",
            "bad_ranges", "error")})
        if progress is not None:
            progress.disk_method(result.device, result.method)
    with clock.step("bench"):
        benchmarks = flow.benchmark(station, machine, sink)
    status.emit("benchmarks", measured=benchmarks is not None)
    installed, install_failed = None, False
    if station.config.install_image:
        with clock.step("install"):
            installed, install_failed = _install(station, machine, results, status, sink)
    with clock.step("report"):
        report_id, path = flow.file_report(
            station, machine, results, clock.started_at, benchmarks=benchmarks,
            install=installed.to_json() if installed is not None else None,
            timings=clock.timings)
    status.emit("report", report_id=report_id, path=str(path))
    # The background sender: it also tries at once when a network appears (a cable plugged in
    # late), not only on its backoff.
    waiting_before = [item.stem for item in station.outbox.waiting()]
    if station.config.hub_url:
        sender = flow.start_sender(station)
        try:
            last_error = sender.wait_until_empty(UPLOAD_DEADLINE_SECONDS).last_error
        finally:
            sender.stop()
    else:
        last_error = flow.deliver_reports(station, deadline_seconds=0).last_error
    waiting = [item.stem for item in station.outbox.waiting()]
    status.emit("upload", sent=[name for name in waiting_before if name not in waiting],
                waiting=waiting, error=last_error)
    if progress is not None:
        progress.step("done")
        progress.stop()
    failed = [result.device for result in results if result.result == "failed"]
    if install_failed:
        failed.append(installed.target.path if installed is not None else "install")
    status.emit("done", ok=not failed, failed=failed, report_waiting=bool(waiting))
    os.sync()
    if power_off:
        run(["systemctl", "poweroff"])
    return 1 if failed else 0


def _install(
    station: flow.Station, machine: Machine, erasures: list[WipeResult], status: StatusLine,
    sink: EventSink,
) -> tuple[InstallResult | None, bool]:
    """Step 5, `[install] image` naming an image: on the configured disk, or the best one
    (the first of equally good disks: nobody is there to ask, and the report says so)."""
    try:
        image = flow.find_image(station, station.config.install_image)
    except ImageError as error:
        status.emit("install_result", result="failed", error=str(error))
        return None, True
    if station.config.install_target != "auto":
        target = next((disk for disk in machine.targets()
                       if disk.path == station.config.install_target), None)
        reason = (_("chosen in reeeboot.toml") if target is not None else
                  _("{path} is not a disk that may be written").format(
                      path=station.config.install_target))
    else:
        choice = flow.install_target(machine, erasures, image)
        target, reason = choice.disk, choice.reason
        if choice.ambiguous and target is not None:
            reason = _("{reason}: took {path}, the first").format(reason=reason,
                                                                  path=target.path)
    if target is None:
        status.emit("install_result", result="failed", error=reason)
        return None, True
    status.emit("install", image=image.label, target=target.path, reason=reason)
    try:
        installed = flow.install(station, machine, image, target, sink,
                                 asset_id=flow.asset_id(station, machine), target_reason=reason)
    except ImageError as error:
        status.emit("install_result", result="failed", error=str(error))
        return None, True
    record = installed.to_json()
    status.emit("install_result", **{key: record[key] for key in (
        "result", "error", "bytes_written", "seconds", "verification", "boot_mode", "hostname",
        "bootloader", "grow", "post_install_check")})
    return installed, installed.result != "installed"


def kernel_cmdline(path: Path = Path("/proc/cmdline")) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
