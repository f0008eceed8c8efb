"""Stopping an erasure from the screen: it asks first, files no report, and leaves a journal
from which the next erasure of the disk resumes; the next machine's first screen says so."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agent import flow
from agent.inventory import take_inventory
from agent.inventory.model import Disk, Machine
from agent.run.engine import Run
from agent.tui.app import ReeebootApp
from agent.tui.screens.dialogs import Question
from agent.tui.screens.end import EndScreen
from agent.tui.screens.machine import MachineScreen
from agent.tui.screens.progress import ProgressScreen
from tests.conftest import LoopFactory
from tests.screens import flat, screen_text, settle
from tests.test_screens import FakePower
from tests.throttle import throttled

GIB = 1 << 30


async def test_a_stopped_erasure_asks_first_and_resumes_next_time(
        loop_disk: LoopFactory, data_dir: Path) -> None:
    # Seven passes over 4 GiB (in RAM, written only as far as the erasure gets), at a slow
    # disk's 100 MB/s: minutes, so the erasure is stopped in the middle however slowly the
    # screen answers on a busy machine (in RAM alone, a busy screen once let it finish first).
    (data_dir / "reeeboot.toml").write_text('language = "en"\n[erase]\nmethod = "dod"\n')
    disk = loop_disk(4 * GIB)
    with throttled(disk.path, 100):
        await stop_and_resume(disk, data_dir)


async def stop_and_resume(disk: Disk, data_dir: Path) -> None:
    station = flow.open_station(data_dir)

    def only_ours(_station: flow.Station) -> Machine:
        machine = take_inventory(data_dir, with_smart=False, include_loop=True)
        return Machine(machine.system, machine.cpu, machine.memory,
                       tuple(d for d in machine.disks if d.path == disk.path), ())

    power = FakePower()
    app = ReeebootApp(station, make_run=lambda station: Run(station, take_inventory=only_ours),
                      watch_disks=None, start_sender=None, power=power)
    async with app.run_test(size=(80, 25)) as pilot:
        await settle(pilot, app)
        await pilot.press("enter", "enter", "enter", "enter")  # to the confirmation
        await pilot.pause()
        await pilot.press(*"ERASE", "enter")
        run = app.current_run
        for _round in range(200):
            if any(progress.phase == "write" for progress in run.progress.snapshot()):
                break
            await asyncio.sleep(0.02)
        assert isinstance(app.screen, ProgressScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, Question)
        assert "Stop the erasure?" in flat(screen_text(app))
        await pilot.press("up", "enter")  # "stop the erasure"
        for _round in range(500):
            if isinstance(app.screen, EndScreen):
                break
            await pilot.pause(0.05)
        await pilot.pause()
        shown = flat(screen_text(app))
        assert "The erasure was stopped. Nothing was reported" in shown
        assert run.report_id is None and station.outbox.count() == 0
        [result] = run.erasures
        assert result.result == "failed" and result.error == "cancelled"
        await pilot.press("down", "enter")  # start again, the next machine (here, the same)
        await settle(pilot, app)
        assert isinstance(app.screen, MachineScreen)
        first = flat(screen_text(app))
        assert f"Erasure interrupted on {disk.path}" in first and "resumes at" in first
    assert power.calls == []
    [journal] = flow.interrupted_erasures(station)
    assert journal.device == disk.path and journal.method == "dod"
