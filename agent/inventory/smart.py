"""SMART health through pySMART, with smartctl's calls recorded as evidence."""

from __future__ import annotations

import logging
from typing import Any

from agent.inventory.source import LiveSource, MachineSource


def _source_smartctl(source: MachineSource) -> Any:
    """pySMART's smartctl wrapper, executing through the machine source (recorded, replayable).
    pySMART is imported here, not with the module: a replayed machine's screen does not wait
    for it."""
    from pySMART.smartctl import Smartctl

    class SourceSmartctl(Smartctl):
        def _exec(self, cmd: list[str]) -> tuple[list[str], int]:
            record = source.run(cmd, timeout=60)
            return record.stdout.splitlines(keepends=True), record.returncode

    return SourceSmartctl()


def smart_health(device_path: str, source: MachineSource | None = None) -> str | None:
    """"passed", "failed", or None when the disk reports no SMART health (virtio, some USB)."""
    from pySMART import Device

    logging.getLogger("pySMART").setLevel(logging.CRITICAL)
    try:
        device = Device(device_path, smartctl=_source_smartctl(source or LiveSource()))
    except Exception:  # pySMART raises bare exceptions on odd devices; no SMART is the answer
        return None
    assessment = getattr(device, "assessment", None)
    if assessment == "PASS":
        return "passed"
    if assessment == "FAIL":
        return "failed"
    return None
