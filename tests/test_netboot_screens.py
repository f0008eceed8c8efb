"""What the last screens say on a machine started from the network (agent/netboot.py): it has no
stick, so a report not sent yet is only in its memory, and "next machine" is this one again."""

from __future__ import annotations

from pathlib import Path

from agent import flow
from agent.netboot import NetworkBoot
from agent.report.outbox import FlushOutcome
from agent.report.sender import SenderState
from agent.tui.app import ReeebootApp
from agent.tui.messages import OutboxChanged
from agent.tui.screens.end import EndScreen
from agent.tui.screens.result import ResultScreen
from tests.screens import flat, screen_text, settle
from tests.scripted_run import ScriptedRun, workshop_machine
from tests.test_screens import FakePower

BOOT = NetworkBoot("http://192.168.1.2:8070", "http://192.168.1.2:8080", "credential",
                   "lyon-boot-525400abcdef")


def app_for(data_dir: Path, *, from_network: bool) -> ReeebootApp:
    (data_dir / "reeeboot.toml").write_text(
        'language = "en"\n[hub]\nurl = "http://192.168.1.2:8080"\n')
    station = flow.open_station(data_dir)
    if from_network:
        station.network_boot = BOOT
    run = ScriptedRun(station, workshop_machine(), failing_self_test=None, vanishes=None,
                      admin_password=False)
    return ReeebootApp(station, make_run=lambda _station: run, watch_disks=None, guided=[],
                       start_sender=None, power=FakePower())


async def test_unsent_reports_keep_a_network_booted_machine_on(data_dir: Path) -> None:
    app = app_for(data_dir, from_network=True)
    async with app.run_test(size=(100, 37)) as pilot:
        await settle(pilot, app)
        waiting = ResultScreen(FlushOutcome(waiting=["r1"], last_error="no network")
                               ).delivery_lines()
        assert "only in its memory" in " ".join(waiting) and "stick" not in " ".join(waiting)
        app.outbox_state = SenderState(1, "no network")
        app.show_end()
        await settle(pilot, app)
        assert isinstance(app.screen, EndScreen)
        shown = flat(screen_text(app))
        assert "1 report is not sent yet and is only in this computer's memory" in shown
        assert "Start again on this computer" in shown and "next machine" not in shown
        app.post_message(OutboxChanged(SenderState(0, None)))  # it went out
        await settle(pilot, app)
        assert "not sent yet" not in flat(screen_text(app))


async def test_a_stick_run_says_the_stick_keeps_them(data_dir: Path) -> None:
    app = app_for(data_dir, from_network=False)
    async with app.run_test(size=(100, 37)) as pilot:
        await settle(pilot, app)
        waiting = ResultScreen(FlushOutcome(waiting=["r1"], last_error="no network")
                               ).delivery_lines()
        assert "the stick keeps it meanwhile" in " ".join(waiting)
        app.outbox_state = SenderState(1, "no network")
        app.show_end()
        await settle(pilot, app)
        shown = flat(screen_text(app))
        assert "not sent yet" not in shown and "next machine, the stick stays in" in shown
