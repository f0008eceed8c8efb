"""The one way the agent touches the system: every external command goes through `run()`.

Each call leaves a `CommandRecord` (command line, exit code, output). The records are the evidence
that goes into the report, and a `Recorder` can replay them so tests run without the hardware.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class CommandRecord:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["argv"] = list(self.argv)
        return data


class Runner(Protocol):
    """Anything that runs a command and records it: `run` below, a `Recorder`, a test replay."""

    def __call__(self, argv: Sequence[str], timeout: float = 120.0) -> CommandRecord: ...


class Feeder(Protocol):
    """Runs a command with text on its standard input (sfdisk scripts), recorded like `run`."""

    def __call__(
        self, argv: Sequence[str], input_text: str, timeout: float = 120.0
    ) -> CommandRecord: ...


class CommandNotFound(Exception):
    def __init__(self, program: str) -> None:
        super().__init__(program)
        self.program = program


@dataclass
class Recorder:
    """Keeps every command run during one agent session, in order."""

    records: list[CommandRecord] = field(default_factory=list)

    def run(
        self, argv: Sequence[str], timeout: float = 120.0, input_text: str | None = None
    ) -> CommandRecord:
        started = time.monotonic()
        try:
            completed = subprocess.run(
                list(argv), capture_output=True, text=True, errors="replace", timeout=timeout,
                input=input_text,
            )
        except FileNotFoundError as error:
            raise CommandNotFound(argv[0]) from error
        except subprocess.TimeoutExpired as expired:
            record = CommandRecord(
                tuple(argv), -1, _text(expired.stdout), _text(expired.stderr) + "\n[timeout]",
                time.monotonic() - started,
            )
            self.records.append(record)
            return record
        record = CommandRecord(
            tuple(argv), completed.returncode, completed.stdout, completed.stderr,
            time.monotonic() - started,
        )
        self.records.append(record)
        return record


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode(errors="replace")


_default = Recorder()


def default_recorder() -> Recorder:
    return _default


def run(argv: Sequence[str], timeout: float = 120.0) -> CommandRecord:
    """Run a command through the session's recorder."""
    return _default.run(argv, timeout=timeout)


def feed(argv: Sequence[str], input_text: str, timeout: float = 120.0) -> CommandRecord:
    """Run a command with `input_text` on its standard input, through the session's recorder."""
    return _default.run(argv, timeout=timeout, input_text=input_text)
