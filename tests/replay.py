"""Replays recorded command outputs in place of the real tools, for drives we cannot attach.

Each expected command is matched by its argv (or a prefix of it); answers are consumed in order,
so a sequence such as sanitize-log at 0 %, 30 %, 100 % replays as the drive gave it. An unexpected
command fails the test: the code under test must not do what the recording never showed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agent.runner import CommandRecord

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(relative: str) -> str:
    return (FIXTURES / relative).read_text()


@dataclass
class Answer:
    argv_prefix: tuple[str, ...]
    stdout: str = ""
    returncode: int = 0
    stderr: str = ""


@dataclass
class ScriptedRunner:
    answers: list[Answer] = field(default_factory=list)
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def expect(self, *argv_prefix: str, stdout: str = "", returncode: int = 0,
               stderr: str = "") -> ScriptedRunner:
        self.answers.append(Answer(tuple(argv_prefix), stdout, returncode, stderr))
        return self

    def __call__(self, argv: Sequence[str], timeout: float = 120.0) -> CommandRecord:
        del timeout
        command = tuple(argv)
        self.calls.append(command)
        for index, answer in enumerate(self.answers):
            if command[: len(answer.argv_prefix)] == answer.argv_prefix:
                del self.answers[index]
                return CommandRecord(command, answer.returncode, answer.stdout, answer.stderr, 0.0)
        raise AssertionError(f"unexpected command: {' '.join(command)}")

    def ran(self, *argv_prefix: str) -> bool:
        return any(call[: len(argv_prefix)] == argv_prefix for call in self.calls)
