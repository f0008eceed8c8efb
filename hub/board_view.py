"""What the live board's tiles show (hub/pages/board.py): one tile per machine with news, its
state in distinct words, its disks, how long ago it was heard of, and its arming.

The state, in order: "failed" (a disk's erasure failed, or the run did: the reasons are shown as
the station sent them), "finished" (the run is done), "silent" (no news for SILENT_AFTER
seconds: switched off or crashed; stations send news every 15 s), "waiting for a person" (on the
inventory step, nothing erasing, no countdown running), "running".
"""

from __future__ import annotations

import datetime
import math
import os
from collections.abc import Callable
from typing import Any, TypeGuard
from urllib.parse import quote

import orjson

from agent.i18n import N_
from hub import views
from hub.models import ARMED_COUNTDOWN, ARMED_STARTED

# A station sends news at least every 15 s; four missed in a row mean it is gone.
SILENT_AFTER_SECONDS = 60
SILENT_ENV = "REEEBOOT_HUB_SILENT_SECONDS"

STATE_RUNNING, STATE_WAITING = "running", "waiting"
STATE_FINISHED, STATE_FAILED, STATE_SILENT = "finished", "failed", "silent"
STATE_LABELS = {
    STATE_RUNNING: N_("running"),
    STATE_WAITING: N_("waiting for a person"),
    STATE_FINISHED: N_("finished"),
    STATE_FAILED: N_("failed"),
    STATE_SILENT: N_("silent"),
}
ARMING_LABELS = {
    "waiting": N_("armed, waiting"),
    "offered": N_("armed, waiting"),
    "countdown": N_("armed: counting down"),
    "stopped": N_("stopped at the machine"),
    "started": N_("erasing unattended"),
}
# A disk in these phases has not started its work yet.
IDLE_PHASES = (None, "", "waiting")

Gettext = Callable[[str], str]


def silent_after() -> datetime.timedelta:
    """SILENT_AFTER_SECONDS, or REEEBOOT_HUB_SILENT_SECONDS when set to a number (tests)."""
    text = os.environ.get(SILENT_ENV, "")
    try:
        seconds = float(text) if text else SILENT_AFTER_SECONDS
    except ValueError:
        seconds = SILENT_AFTER_SECONDS
    return datetime.timedelta(seconds=max(seconds, 0))


def tile(machine: dict[str, Any], now: datetime.datetime, gettext: Gettext,
         silent: datetime.timedelta) -> dict[str, Any]:
    """A board machine (Store.board_machines) as its tile shows it."""
    _ = gettext
    try:
        progress = orjson.loads(machine["payload"])
    except orjson.JSONDecodeError:
        progress = {}
    if not isinstance(progress, dict):
        progress = {}
    found = progress.get("machine")
    hardware: dict[str, Any] = found if isinstance(found, dict) else {}
    disks = [disk for disk in progress.get("disks") or [] if isinstance(disk, dict)]
    step = machine["step"]
    reasons = [f"{_text(disk.get('path')) or '?'}: {_text(disk.get('error'))}"
               for disk in disks if _text(disk.get("error"))]
    if _text(progress.get("error")):
        reasons.insert(0, _text(progress.get("error")))
    failed = step == "failed" or any(disk.get("result") == "failed" for disk in disks)
    age = now - machine["updated_at"]
    arming_state = machine.get("arming_state")
    if failed:
        state = STATE_FAILED
    elif step == "done":
        state = STATE_FINISHED
    elif age > silent:
        state = STATE_SILENT
    elif step == "inventory" and arming_state not in (ARMED_COUNTDOWN, ARMED_STARTED) \
            and not any(_working(disk) for disk in disks):
        state = STATE_WAITING
    else:
        state = STATE_RUNNING
    finished = state in (STATE_FINISHED, STATE_FAILED)
    lines = [disk_line(disk, gettext) for disk in disks]
    if state == STATE_SILENT:  # its last speed says nothing of a machine that went quiet
        lines = [{**line, "rate": "", "remaining": ""} for line in lines]
    return {
        "machine_id": machine["machine_id"],
        "title": _text(progress.get("asset_id")) or machine["machine_id"],
        "station": machine["station"],
        "hardware": " ".join(part for part in (_text(hardware.get("vendor")),
                                               _text(hardware.get("product"))) if part),
        "state": state,
        "state_label": _(STATE_LABELS[state]),
        "step_label": views.label(views.STEP_LABELS, step, _),
        "reasons": reasons if state == STATE_FAILED else [],
        "disks": lines,
        "last_seen": _("last seen {duration} ago").format(
            duration=duration_text(age.total_seconds(), gettext)),
        "arming": _(ARMING_LABELS[arming_state]) if arming_state in ARMING_LABELS else "",
        "power_off_at_end": machine["power_off_at_end"],
        "link": f"/machines/{quote(machine['machine_id'], safe='')}" if finished else None,
    }


def disk_line(disk: dict[str, Any], gettext: Gettext) -> dict[str, Any]:
    done, total = disk.get("bytes_done"), disk.get("bytes_total")
    rate = disk.get("rate_bytes_per_s")
    percent = remaining = None
    # Speed and time left only while the disk is being worked on: before, the station may
    # still carry a rate from its self-test; after, there is nothing left.
    moving = _working(disk) and disk.get("result") is None and _number(rate) and rate > 0
    if _number(done) and _number(total) and total > 0:
        percent = max(0, min(100, round(100 * done / total)))
        if moving and _number(rate) and done < total:
            remaining = duration_text((total - done) / rate, gettext, minutes_at_least=True)
    return {
        "path": _text(disk.get("path")) or "?",
        "model": _text(disk.get("model")) or "",
        "percent": percent,
        "rate": f"{views.size_text(rate)}/s" if moving else "",
        "remaining": remaining or "",
        "result": views.label(views.RESULT_LABELS, disk.get("result"), gettext),
    }


def duration_text(seconds: float, gettext: Gettext, *, minutes_at_least: bool = False) -> str:
    """"12 s", "4 min", "2 h 5 min". A time still to wait is never said in seconds: under a
    minute is "1 min"."""
    _ = gettext
    seconds = max(0.0, seconds)
    if seconds < 60 and not minutes_at_least:
        return _("{seconds} s").format(seconds=int(seconds))
    minutes = max(1, math.ceil(seconds / 60) if minutes_at_least else int(seconds // 60))
    if minutes < 60:
        return _("{minutes} min").format(minutes=minutes)
    return _("{hours} h {minutes} min").format(hours=minutes // 60, minutes=minutes % 60)


def _working(disk: dict[str, Any]) -> bool:
    done = disk.get("bytes_done")
    return disk.get("phase") not in IDLE_PHASES or (_number(done) and done > 0)


def _number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(value: Any) -> str:
    """A station's text, as it came (the template escapes it), cut to what a tile can show."""
    return "" if value is None else str(value)[:300]
