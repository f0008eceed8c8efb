"""The agent's log: on the stick's state partition when there is one (it travels with the stick
to whoever looks into a problem: `logs/reeeboot.log`, read on tty2 or from any Linux computer),
else in RAM for this boot only."""

from __future__ import annotations

import logging
import os
from pathlib import Path

LOG_NAME = "reeeboot.log"
RAM_LOG_DIR = Path("/run/reeeboot")


def start_log(state_dir: Path) -> Path | None:
    """Send the agent's log records to a file; its path, or None when nowhere is writable."""
    for directory in ((state_dir / "logs") if os.path.ismount(state_dir) else None, RAM_LOG_DIR):
        if directory is None:
            continue
        path = directory / LOG_NAME
        try:
            directory.mkdir(parents=True, exist_ok=True)
            handler = logging.FileHandler(path, encoding="utf-8")
        except OSError:
            continue
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        return path
    return None
