"""`reeeboot start` on a screen: where the walk-through's status lines go."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from agent import flow
from agent.tui import app as app_module
from agent.tui.start import run_screen


class FinishedApp:
    """Stands in for the walk-through: records what it was given and ends at once."""

    given: ClassVar[dict[str, Any]] = {}

    def __init__(self, station: flow.Station, **options: Any) -> None:
        FinishedApp.given = options
        self.crash = None
        self.return_code = 0

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
