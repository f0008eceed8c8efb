"""What the install steps share: a failed command becomes an `InstallStepFailed` that says which
step failed, with the command's own message, in the user's language."""

from __future__ import annotations

from collections.abc import Sequence

from agent.i18n import _
from agent.runner import CommandRecord, Runner


class InstallStepFailed(Exception):
    """A step after the image was written failed; the disk is not reported as installed."""


def checked(record: CommandRecord, step: str) -> CommandRecord:
    if record.returncode != 0:
        output = (record.stderr.strip() or record.stdout.strip())[-400:]
        raise InstallStepFailed(
            _("{step}: '{command}' failed (exit {code}): {output}").format(
                step=step, command=" ".join(record.argv), code=record.returncode, output=output)
        )
    return record


def run_checked(run: Runner, argv: Sequence[str], step: str, timeout: float = 300.0) -> str:
    return checked(run(argv, timeout=timeout), step).stdout
