"""A command that runs in the background while a check watches the machine (a processor load,
a memory tester): started in its own session, stopped on demand, and kept as evidence.

`agent.runner.run` waits for its command; a load has to run while the check samples sensors or
polls the clock, and has to stop at once on cancel or at a temperature limit.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import IO, Protocol

from agent.runner import CommandNotFound, CommandRecord, default_recorder


class LoadProcess(Protocol):
    """A command running in the background."""

    def poll(self) -> int | None:
        """Its exit status once it has ended; None while it runs."""
        ...

    def stop(self) -> None:
        """Ends it now."""
        ...

    def finish(self) -> CommandRecord:
        """Waits for its end, and gives its record: command line, status, full output."""
        ...


LoadStarter = Callable[[Sequence[str]], LoadProcess]


def at_idle_priority(start: LoadStarter) -> LoadStarter:
    """`start`, with the command under the SCHED_IDLE policy (chrt(1), util-linux): it only gets
    a processor no other work wants. Beside an erasure, the load and the memory tester then take
    what the erasure leaves, so every core stays busy (the cooling is still tested) and the
    erasure is not slowed; alone, they get the whole machine as before. A missing program is
    still `CommandNotFound`: chrt would only say so in its exit status."""

    def started(argv: Sequence[str]) -> LoadProcess:
        if shutil.which(argv[0]) is None:
            raise CommandNotFound(argv[0])
        return start(["chrt", "--idle", "0", *argv])

    return started


class BackgroundCommand:
    """A command on this machine, its output in files (a pipe nobody reads could block it).

    `merge_output`: its standard error goes into the same file as its output, so that lines a
    program writes to each stay in the order it wrote them. `render`: what is kept of the output
    (for instance as a terminal would show it). `grace_seconds`: how long `stop` waits after
    SIGINT, which lets the program end its workers and clean up, before it kills the session.
    """

    def __init__(self, argv: Sequence[str], *, merge_output: bool = False,
                 render: Callable[[str], str] | None = None,
                 grace_seconds: float = 5) -> None:
        self.argv = tuple(argv)
        self.render = render
        self.grace_seconds = grace_seconds
        self.started = time.monotonic()
        self.stdout: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed by finish()
        self.stderr: IO[bytes] | None = None if merge_output else tempfile.TemporaryFile()  # noqa: SIM115
        try:
            # Its own session: the workers it forks can be killed with it, and nothing else.
            self.popen = subprocess.Popen(
                list(argv), stdin=subprocess.DEVNULL, stdout=self.stdout,
                stderr=subprocess.STDOUT if self.stderr is None else self.stderr,
                start_new_session=True)
        except FileNotFoundError as error:
            self._close()
            raise CommandNotFound(argv[0]) from error
        self.record: CommandRecord | None = None

    def poll(self) -> int | None:
        return self.popen.poll()

    def stop(self) -> None:
        if self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGINT)
        try:
            self.popen.wait(timeout=self.grace_seconds)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()

    def finish(self) -> CommandRecord:
        if self.record is None:
            returncode = self.popen.wait()
            stdout = _read(self.stdout)
            stderr = _read(self.stderr) if self.stderr is not None else ""
            if self.render is not None:
                stdout = self.render(stdout)
            self.record = CommandRecord(self.argv, returncode, stdout, stderr,
                                        time.monotonic() - self.started)
            # Kept with the session's other commands, as `agent.runner.run` keeps them.
            default_recorder().records.append(self.record)
        return self.record

    def _close(self) -> None:
        self.stdout.close()
        if self.stderr is not None:
            self.stderr.close()


def _read(handle: IO[bytes]) -> str:
    handle.seek(0)
    text = handle.read().decode("utf-8", errors="replace")
    handle.close()
    return text
