"""SMART health through pySMART, with smartctl's calls recorded as evidence."""

from __future__ import annotations

import logging

from pySMART import Device
from pySMART.smartctl import Smartctl

from agent.inventory.source import LiveSource, MachineSource


class SourceSmartctl(Smartctl):
    """pySMART's smartctl wrapper, executing through the machine source (recorded, replayable)."""

    def __init__(self, source: MachineSource) -> None:
        super().__init__()
        self._source = source

    def _exec(self, cmd: list[str]) -> tuple[list[str], int]:
        record = self._source.run(cmd, timeout=60)
        return record.stdout.splitlines(keepends=True), record.returncode


def smart_health(device_path: str, source: MachineSource | None = None) -> str | None:
    """"passed", "failed", or None when the disk reports no SMART health (virtio, some USB)."""
    logging.getLogger("pySMART").setLevel(logging.CRITICAL)
    try:
        device = Device(device_path, smartctl=SourceSmartctl(source or LiveSource()))
    except Exception:  # pySMART raises bare exceptions on odd devices; no SMART is the answer
        return None
    assessment = getattr(device, "assessment", None)
    if assessment == "PASS":
        return "passed"
    if assessment == "FAIL":
        return "failed"
    return None
