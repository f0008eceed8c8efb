"""Reports waiting for the hub, on the data partition; written (fsync) before any network call.

`outbox/<report_id>.json` holds a signed envelope until the hub acknowledges it, then it moves to
`sent/`. Sending is idempotent on the hub's side (by report id), so a report sent twice after a
lost acknowledgement is stored once. The hub's answer may carry the machine's public passport
link (the one a new owner opens without an account): it is kept as `sent/<report_id>.passport`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from agent.fsutil import sync_directory, write_durably
from agent.report.dsse import signer_key_ids

OUTBOX = "outbox"
SENT = "sent"
PASSPORT_SUFFIX = ".passport"
LONGEST_PASSPORT_URL = 512


@dataclass
class FlushOutcome:
    sent: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    last_error: str | None = None
    revoked: bool = False  # the hub revoked the station's key: a person must act


class Outbox:
    def __init__(self, data_dir: Path) -> None:
        self.directory = data_dir / OUTBOX
        self.sent_directory = data_dir / SENT

    def put(self, report_id: str, envelope: dict) -> Path:
        path = self.directory / f"{report_id}.json"
        write_durably(path, json.dumps(envelope, indent=1).encode())
        return path

    def waiting(self) -> list[Path]:
        return sorted(self.directory.glob("*.json")) if self.directory.exists() else []

    def filed(self, report_id: str) -> Path | None:
        """The report's envelope, waiting or sent; None when it was never filed here."""
        for folder in (self.directory, self.sent_directory):
            path = folder / f"{report_id}.json"
            if path.is_file():
                return path
        return None

    def count(self) -> int:
        return len(self.waiting())

    def signer_key_ids(self) -> set[str]:
        """The keys the waiting reports were signed with (a retired key is kept for them)."""
        found: set[str] = set()
        for path in self.waiting():
            try:
                found.update(signer_key_ids(json.loads(path.read_text())))
            except (OSError, ValueError):
                continue
        return found

    def passport(self, report_id: str) -> str | None:
        """The public passport link the hub gave for this report, if it gave one."""
        try:
            return passport_url({"passport_url": (
                self.sent_directory / f"{report_id}{PASSPORT_SUFFIX}").read_text()})
        except OSError:
            return None

    def _remember_passport(self, report_id: str, answer: Any) -> None:
        url = passport_url(answer)
        if url is not None:
            write_durably(self.sent_directory / f"{report_id}{PASSPORT_SUFFIX}", url.encode())

    def mark_sent(self, path: Path) -> None:
        self.sent_directory.mkdir(parents=True, exist_ok=True)
        path.replace(self.sent_directory / path.name)
        sync_directory(self.sent_directory)
        sync_directory(self.directory)

    def flush(
        self,
        send: Callable[[dict], Any],
        *,
        deadline_seconds: float = 0.0,
        first_delay: float = 1.0,
        max_delay: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> FlushOutcome:
        """Send every waiting report, retrying with exponential backoff until the deadline.

        `send` raises on any failure; a report counts as sent only when it returns. What it
        returns is the hub's answer, read for the machine's public passport link.
        """
        outcome = FlushOutcome()
        started = time.monotonic()
        delay = first_delay
        while True:
            remaining = []
            for path in self.waiting():
                try:
                    answer = send(json.loads(path.read_text()))
                except Exception as error:  # network down, hub error: keep it for later
                    from agent.network_errors import describe_failure

                    outcome.last_error = describe_failure(error)
                    remaining.append(path.stem)
                    continue
                self.mark_sent(path)
                self._remember_passport(path.stem, answer)
                outcome.sent.append(path.stem)
            outcome.waiting = remaining
            if not remaining or time.monotonic() - started + delay > deadline_seconds:
                return outcome
            sleep(delay)
            delay = min(delay * 2, max_delay)


def passport_url(answer: Any) -> str | None:
    """The hub's `passport_url` when it is a plain web address: it is shown on the screen and
    drawn as a QR code, so anything else (another scheme, control characters, a novel) is
    dropped rather than shown."""
    url = answer.get("passport_url") if isinstance(answer, dict) else None
    if not isinstance(url, str) or not url or len(url) > LONGEST_PASSPORT_URL \
            or not url.isprintable() or " " in url:
        return None
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else None
