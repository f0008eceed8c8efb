"""The whole walk-through over every recorded machine, as a volunteer goes through it: asset
number typed, one disk kept, the confirmation typed, then to the end. A recorded machine is
never erased and its report is a rehearsal (signed, kept apart, never sent): the report still
carries what the volunteer chose."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.i18n import _
from agent.inventory.model import KEPT_BY_CHOICE
from agent.report import dsse
from agent.tui.app import ReeebootApp
from agent.tui.screens.confirm import CONFIRMATION_WORD
from agent.tui.screens.end import EndScreen
from agent.tui.screens.install import InstallScreen
from agent.tui.screens.result import ResultScreen
from tests.screens import (
    flat,
    outside_cp437,
    profile_paths,
    profile_station,
    screen_text,
    settle,
    type_text,
)
from tests.test_screens import FakePower

PROFILES = profile_paths()
LAYOUTS = [((80, 25), "fr"), ((100, 37), "en")]


@pytest.mark.parametrize(("size", "language"), LAYOUTS, ids=["80x25-fr", "100x37-en"])
@pytest.mark.parametrize("profile", PROFILES, ids=[path.stem for path in PROFILES])
async def test_a_volunteer_walks_through_a_recorded_machine(
        profile: Path, size: tuple[int, int], language: str, data_dir: Path) -> None:
    station = profile_station(data_dir, profile, f'language = "{language}"\n'
                                                 '[station]\noperator = "Atelier Lyon"\n')
    power = FakePower()
    app = ReeebootApp(station, watch_disks=None, start_sender=None, power=power)
    seen: list[str] = []

    def look() -> str:
        text = screen_text(app)
        assert not outside_cp437(text), outside_cp437(text)
        seen.append(text)
        return flat(text)

    async with app.run_test(size=size) as pilot:
        await settle(pilot, app)
        run = app.current_run
        assert run.machine is not None
        first = look()
        for plan in run.disks.values():
            assert plan.path in first
        await pilot.press("enter")
        await pilot.pause()
        look()
        await type_text(pilot, "WS-2026-0042")
        await pilot.press("enter", "enter")  # the operator comes from reeeboot.toml
        await settle(pilot, app)
        look()
        kept = next((plan for plan in run.disks.values() if plan.selectable), None)
        if kept is not None:
            await pilot.press("space")  # the disk under the cursor is kept as it is
            await pilot.pause()
            assert kept.keep
        await pilot.press("enter")
        await pilot.pause()
        confirm = look()
        if kept is not None:
            assert kept.path in confirm
        await type_text(pilot, _(CONFIRMATION_WORD))
        await pilot.press("enter")
        await settle(pilot, app)
        assert isinstance(app.screen, InstallScreen)
        look()
        await pilot.press("end", "enter")  # "install no system", the list's last entry
        await settle(pilot, app)
        assert isinstance(app.screen, ResultScreen)
        result = look()
        assert run.report_id is not None and run.report_id in result.replace(" ", "")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, EndScreen)
        look()
        await pilot.press("end", "enter")  # leave: a recorded machine is not switched off
        await pilot.pause()
    assert power.calls == []
    assert station.outbox.count() == 0, "a rehearsal is never queued for the hub"
    [path] = (data_dir / "rehearsals").glob("*.json")
    report = json.loads(dsse.verify(json.loads(path.read_text()), station.key.public_key()))
    assert report["asset_id"] == "WS-2026-0042" and report["operator"] == "Atelier Lyon"
    assert all(entry["result"] == "skipped" for entry in report["erasure"])
    if kept is not None:
        assert {"path": kept.path, "code": KEPT_BY_CHOICE} in [
            {"path": item["path"], "code": item["code"]} for item in report["excluded"]]
        assert kept.path not in [entry["device"] for entry in report["erasure"]]
