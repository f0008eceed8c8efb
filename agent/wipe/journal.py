"""The erasure journal on the stick's data partition: where each overwrite stands.

Written durably (fsync) at every checkpoint, so after a power cut the next boot knows which disks
were interrupted, with which passes, keys and keystream generators, and up to which offset
everything was on the disk. A resumed overwrite regenerates the same stream from the generator
and key kept here; the report says it was interrupted. The keys only make the random pattern
reproducible for verification; they protect nothing, so keeping them next to the report is safe.
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agent.fsutil import write_durably
from agent.wipe.passes import OverwritePass
from agent.wipe.stream import AES

JOURNAL_DIR = "journal"
UNFINISHED = ("writing", "verifying")


@dataclass
class WipeJournal:
    device: str
    serial: str | None
    size_bytes: int
    method: str
    # {"name", "byte", "key", "generator"}: enough to rebuild each pass exactly
    passes: list[dict[str, Any]]
    pass_index: int = 0
    written_up_to: int = 0  # every byte below this, in pass `pass_index`, is on the disk
    state: str = "writing"  # "writing", "verifying", "done", "failed"
    started_at: str = field(default_factory=lambda: _now())
    updated_at: str = field(default_factory=lambda: _now())
    interruptions: list[str] = field(default_factory=list)  # when a run found this unfinished
    # Where a cut pass was taken up again ({"pass", "offset"}): kept for the report, which a
    # later cut (during the verification, say) must not make forget it.
    resumed_from: dict[str, int] | None = None
    bad_ranges: list[list[int]] = field(default_factory=list)  # [first LBA, last LBA]

    @property
    def unfinished(self) -> bool:
        return self.state in UNFINISHED

    def overwrite_passes(self) -> list[OverwritePass]:
        return [OverwritePass(item["name"], item["byte"]) for item in self.passes]

    def key(self, index: int) -> bytes | None:
        key = self.passes[index].get("key")
        return bytes.fromhex(key) if key else None

    def generator(self, index: int) -> str:
        """The keystream generator of pass `index`: the one it was started with, never what
        this processor would choose now. Journals written before it was recorded used AES."""
        return self.passes[index].get("generator") or AES

    def matches(self, serial: str | None, size_bytes: int, device: str) -> bool:
        """Same disk: same serial and size (a disk without serial: same path and size)."""
        if self.size_bytes != size_bytes:
            return False
        return self.serial == serial if serial else self.device == device


class Journals:
    def __init__(self, data_dir: Path) -> None:
        self.directory = data_dir / JOURNAL_DIR

    def path_for(self, serial: str | None, device: str) -> Path:
        identity = serial or f"device-{Path(device).name}"
        return self.directory / f"{re.sub(r'[^A-Za-z0-9._-]', '_', identity)}.json"

    def load(self, serial: str | None, size_bytes: int, device: str) -> WipeJournal | None:
        path = self.path_for(serial, device)
        journal = _read(path)
        if journal is None or not journal.matches(serial, size_bytes, device):
            return None
        return journal

    def save(self, journal: WipeJournal) -> None:
        journal.updated_at = _now()
        content = json.dumps(asdict(journal), indent=1, sort_keys=True).encode()
        write_durably(self.path_for(journal.serial, journal.device), content)

    def unfinished(self) -> list[WipeJournal]:
        if not self.directory.is_dir():
            return []
        found = [_read(path) for path in sorted(self.directory.glob("*.json"))]
        return [journal for journal in found if journal is not None and journal.unfinished]


def _read(path: Path) -> WipeJournal | None:
    try:
        return WipeJournal(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None  # no journal, or one a power cut or a person damaged: start afresh


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
