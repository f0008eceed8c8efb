"""Where the last run on this stick stood, on the state partition: a run cut after it filed its
report (a power cut while sending it, say) is finished at the next boot of the same machine by
sending that report, not started again, so the platform holds one report for the run and the
disks are not erased a second time for nothing (docs/state.md)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from agent.fsutil import write_durably

RECORD_NAME = "last-run.json"


@dataclass(frozen=True)
class RunRecord:
    machine_id: str  # the machine's identity id (agent/inventory/identity.py)
    report_id: str
    finished: bool = False  # the run reached its end (sent or not, the report was dealt with)


def load_record(state_dir: Path) -> RunRecord | None:
    try:
        data = json.loads((state_dir / RECORD_NAME).read_text())
        return RunRecord(str(data["machine_id"]), str(data["report_id"]),
                         bool(data.get("finished", False)))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # none yet, or not ours: nothing to finish


def save_record(state_dir: Path, record: RunRecord) -> None:
    write_durably(state_dir / RECORD_NAME, json.dumps(asdict(record)).encode())
