"""`reeeboot start` on a screen: the walk-through, and what happens if the walk-through itself
fails (a bug in a screen, a broken terminal). Then a plain text menu with the same choices as
the error screen takes over, so the console is never left dead; if even that fails, systemd
starts the agent again (reeeboot.service, Restart=always).

A network-booted machine the hub armed, whose countdown nobody stopped, leaves the walk-through
for the unattended run, as a stick's unattended boot would run it."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from agent import flow
from agent.i18n import _
from agent.logfile import start_log
from agent.power import SystemPower
from agent.unattended import (
    STARTED_MARK,
    StatusLine,
    first_unattended_start,
    open_status_port,
    open_status_stream,
    run_unattended,
)
from agent.unattended_screen import unattended_screen

log = logging.getLogger(__name__)


def run_screen(station: flow.Station, *, accept_arming: bool = True,
               started_mark: Path = STARTED_MARK) -> int:
    """`accept_arming`: whether the hub may arm this machine for an unattended erasure (a
    network-booted machine whose unattended run has not started yet in this boot);
    `started_mark`: where the unattended run of this boot is remembered (agent/unattended.py)."""
    log_path = start_log(station.state_dir)
    port = open_status_port()  # never stdout: the walk-through draws there
    status = StatusLine(port) if port is not None else None
    crashed: BaseException | None = None
    while True:
        try:
            from agent.tui.app import ReeebootApp

            app = ReeebootApp(station, log_path=log_path, crashed=crashed, status=status,
                              accept_arming=accept_arming)
            app.run()
            if app.armed_for is not None:
                # The mark makes a crash of that run bring the screen back, not run it again.
                if first_unattended_start(started_mark):
                    # The screen is gone: the console says in words what the status lines
                    # say on the serial port (or in a file, without one).
                    stream = port if port is not None else open_status_stream()
                    run_status = StatusLine(stream, unattended_screen(station, stream,
                                                                      switches_off=True))
                    return run_unattended(station, run_status, power_off=True,
                                          arming=app.armed_for, failure_mark=started_mark)
                accept_arming = False
                continue
            if app.crash is None and app.return_code in (None, 0):
                return 0
            log.error("the screen stopped with status %s", app.return_code)
            if crashed is None and app.crash is not None:
                crashed = app.crash  # once more, opening on the error screen
                continue
        except Exception:
            log.exception("the screen failed")
        if station.profile is not None:
            return 1  # a recorded machine on a developer's terminal: nothing to switch off
        if not _plain_menu(str(log_path) if log_path else _("no log file")):
            return 1
        crashed = None


def _plain_menu(log_path: str) -> bool:
    """The error screen's choices on a plain console; True to start the walk-through again."""
    print("\n" + _("Something unexpected stopped the screen. The details are in the log: "
                    "{path}").format(path=log_path), flush=True)
    print(_("No disk was erased without your confirmation."), flush=True)
    while True:
        print(_("1: start again   2: switch this computer off"), flush=True)
        try:
            answer = input("> ").strip()
        except EOFError:
            return False
        if answer == "1":
            return True
        if answer == "2":
            SystemPower().power_off()
            return False
        print(_("Type 1 or 2, then Enter."), file=sys.stdout, flush=True)
