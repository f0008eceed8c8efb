"""Unattended mode: erase every disk that is not excluded, install the configured OS, report,
power off.

It runs only when both switches are on (design.md): `unattended = true` in reeeboot.toml *and*
`reeeboot.unattended=1` on the kernel command line. Progress goes to the serial console as one
JSON object per line behind the `REEEBOOT ` prefix, for test harnesses and workshop scripts.
"""

from __future__ import annotations

import datetime
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
from agent.events import ProgressEvent
from agent.i18n import _
from agent.install.errors import ImageError
from agent.install.job import InstallResult
from agent.inventory.model import Machine
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
) -> int:
    started_at = datetime.datetime.now(datetime.UTC)
    status.emit("start", data_dir=str(station.data_dir))
    machine = take_inventory(station)
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
    results = flow.erase(station, targets, status.progress)
    for result in results:
        record = result.to_json()
        status.emit("disk_result", **{key: record[key] for key in (
            "device", "serial", "method", "level", "result", "bytes_written", "seconds",
            "bad_ranges", "error")})
    installed, install_failed = _install(station, machine, results, status)
    report_id, path = flow.file_report(station, machine, results, started_at,
                                       installed=installed)
    status.emit("report", report_id=report_id, path=str(path))
    delivery = flow.deliver_reports(station, deadline_seconds=UPLOAD_DEADLINE_SECONDS)
    status.emit("upload", sent=delivery.sent, waiting=delivery.waiting, error=delivery.last_error)
    failed = [result.device for result in results if result.result == "failed"]
    if install_failed:
        failed.append(installed.target.path if installed is not None else "install")
    status.emit("done", ok=not failed, failed=failed, report_waiting=bool(delivery.waiting))
    os.sync()
    if power_off:
        run(["systemctl", "poweroff"])
    return 1 if failed else 0


def _install(
    station: flow.Station, machine: Machine, erasures: list[WipeResult], status: StatusLine,
) -> tuple[InstallResult | None, bool]:
    """Step 5 when `[install] image` names an image: on the configured disk, or the best one
    (the first of equally good disks: nobody is there to ask, and the report says so)."""
    wanted = station.config.install_image
    if not wanted:
        return None, False
    try:
        image = flow.find_image(station, wanted)
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
    if target is None:
        status.emit("install_result", result="failed", error=reason)
        return None, True
    status.emit("install", image=image.label, target=target.path, reason=reason)
    try:
        installed = flow.install(station, machine, image, target, status.progress)
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
