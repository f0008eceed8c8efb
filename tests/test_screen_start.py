"""`reeeboot start` on a screen: where the walk-through's status lines go."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from agent import flow
from agent.tui import app as app_module
from agent.tui import start as start_module
from agent.tui.start import run_screen


class FinishedApp:
    """Stands in for the walk-through: records what it was given and ends at once."""

    given: ClassVar[dict[str, Any]] = {}

    def __init__(self, station: flow.Station, **options: Any) -> None:
        FinishedApp.given = options
        self.crash = None
        self.return_code = 0
        self.armed_for: int | None = None

    def run(self) -> None:
        pass


@pytest.mark.parametrize("port_exists", [True, False])
def test_status_lines_go_to_the_serial_port_and_never_onto_the_screen(
        data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        port_exists: bool) -> None:
    """Without a serial port (most PCs, or a developer's terminal) the walk-through writes no
    status line: unattended mode's fallback, standard output, is the terminal it draws on."""
    port = tmp_path / ("ttyS0" if port_exists else "missing/ttyS0")
    monkeypatch.setenv("REEEBOOT_STATUS_TTY", str(port))
    monkeypatch.setattr(app_module, "ReeebootApp", FinishedApp)
    assert run_screen(flow.open_station(data_dir)) == 0
    status = FinishedApp.given["status"]
    if port_exists:
        status.emit("screen", name="MachineScreen")
        assert port.read_text().startswith("REEEBOOT ")
    else:
        assert status is None


class ArmedApp(FinishedApp):
    """Stands in for a walk-through whose arming countdown ran out (each one it is given the
    chance to: tests/test_hub_orders_screens.py shows when the real one does)."""

    opened: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, station: flow.Station, **options: Any) -> None:
        super().__init__(station, **options)
        ArmedApp.opened.append(options)
        self.armed_for = 7 if options["accept_arming"] else None


def test_a_countdown_that_ran_out_starts_the_unattended_run_once_in_a_boot(
        data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REEEBOOT_STATUS_TTY", str(tmp_path / "ttyS0"))
    monkeypatch.setattr(app_module, "ReeebootApp", ArmedApp)
    unattended_runs: list[dict[str, Any]] = []

    def unattended_run(station: flow.Station, status: Any, **options: Any) -> int:
        """The unattended run itself needs this computer's disks: tests/test_netboot_unattended.py
        runs it on a made-up machine."""
        unattended_runs.append(options)
        return 3  # it failed: systemd starts the agent again

    monkeypatch.setattr(start_module, "run_unattended", unattended_run)
    mark = tmp_path / "run" / "unattended-started"
    station = flow.open_station(data_dir)
    assert run_screen(station, started_mark=mark) == 3
    assert unattended_runs == [{"power_off": True, "arming": 7, "failure_mark": mark}]
    assert mark.exists()  # the next start of the agent in this boot stays attended
    ArmedApp.opened.clear()
    # Armed again in the same boot (the mark appeared after the screen opened): the screen
    # comes back instead, and takes no arming.
    assert run_screen(station, started_mark=mark) == 0
    assert [options["accept_arming"] for options in ArmedApp.opened] == [True, False]
    assert len(unattended_runs) == 1


@pytest.mark.parametrize("port_exists", [True, False])
def test_the_armed_run_tells_the_screen_what_the_serial_port_hears(
        data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        port_exists: bool) -> None:
    """With a serial port the status lines go there and the screen says the same in words;
    without one they go to a file, and the screen still says them in words."""
    port = tmp_path / ("ttyS0" if port_exists else "missing/ttyS0")
    monkeypatch.setenv("REEEBOOT_STATUS_TTY", str(port))
    monkeypatch.setenv("REEEBOOT_STATUS_FILE", str(tmp_path / "run" / "status.jsonl"))
    monkeypatch.setattr(app_module, "ReeebootApp", ArmedApp)
    asked: list[tuple[Any, bool]] = []
    words = object()

    def screen_for(station: flow.Station, stream: Any, *, switches_off: bool) -> Any:
        asked.append((stream, switches_off))
        return words

    statuses: list[Any] = []

    def unattended_run(station: flow.Station, status: Any, **options: Any) -> int:
        statuses.append(status)
        return 0

    monkeypatch.setattr(start_module, "unattended_screen", screen_for)
    monkeypatch.setattr(start_module, "run_unattended", unattended_run)
    station = flow.open_station(data_dir)
    assert run_screen(station, started_mark=tmp_path / "run" / "unattended-started") == 0
    [status] = statuses
    [(stream, switches_off)] = asked
    assert status.stream is stream and status.screen is words and switches_off
    if port_exists:
        assert stream.name == str(port)
    else:
        assert stream.name == str(tmp_path / "run" / "status.jsonl")
