"""SMART health through pySMART, with smartctl's calls recorded as evidence."""

from __future__ import annotations

import logging

from pySMART import Device
from pySMART.smartctl import Smartctl

from agent.runner import CommandNotFound, run


class RecordedSmartctl(Smartctl):
    """pySMART's smartctl wrapper, executing through the agent's runner."""

    def _exec(self, cmd: list[str]) -> tuple[list[str], int]:
        try:
            record = run(cmd, timeout=60)
        except CommandNotFound:
            return [], 127
        return record.stdout.splitlines(keepends=True), record.returncode


def smart_health(device_path: str) -> str | None:
    """"passed", "failed", or None when the disk reports no SMART health (virtio, some USB)."""
    logging.getLogger("pySMART").setLevel(logging.CRITICAL)
    try:
        device = Device(device_path, smartctl=RecordedSmartctl())
    except Exception:  # pySMART raises bare exceptions on odd devices; no SMART is the answer
        return None
    assessment = getattr(device, "assessment", None)
    if assessment == "PASS":
        return "passed"
    if assessment == "FAIL":
        return "failed"
    return None
