"""The hub's orders on the screen (agent/tui/app.py): a network-booted machine the workshop armed
counts down on its first screen, where any key stops it, then leaves for the unattended run; a
finished run whose report went out counts down to switching off when the workshop asked.

The orders come from a hub that answers the run's real live progress (agent/report/progress.py)
as the contract says, or, for the end of a run, in the message the live progress's thread posts.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from agent import flow
from agent.report.outbox import FlushOutcome
from agent.report.progress import ArmedErasure, HubOrders
from agent.report.sender import SenderState
from agent.tui.app import ReeebootApp
from agent.tui.messages import HubOrdersHeard, OutboxChanged, ReportDone
from agent.tui.screens.armed import ArmedErasureScreen
from agent.tui.screens.end import EndScreen, SwitchOffCountdown
from agent.tui.screens.machine import MachineScreen
from agent.tui.screens.result import ResultScreen
from agent.unattended import STATUS_PREFIX, StatusLine
from tests.guided_host import compare_snapshot
from tests.receiver import Receiver
from tests.screens import flat, screen_text, settle
from tests.scripted_run import ScriptedRun, workshop_machine
from tests.test_netboot_screens import BOOT
from tests.test_screens import FakePower

ARMING = 7
# A second lasts an hour: the countdown stays where the test looks at it.
FROZEN = 3600.0
# A second lasts nothing: the countdown runs out at once.
AT_ONCE = 0.01


class BoardHub:
    """The hub's side of the live progress: it keeps every message and answers with its orders,
    offering the arming until it hears what the machine did with it."""

    def __init__(self, receiver: Receiver, *, expires_in_seconds: int = 600) -> None:
        self.messages: list[dict[str, Any]] = []
        self.expires_in_seconds = expires_in_seconds
        receiver.routes["/api/v1/progress"] = self.answer

    def answer(self, envelope: Any) -> tuple[int, dict[str, Any]]:
        message = json.loads(base64.b64decode(envelope["payload"]))
        self.messages.append(message)
        heard = any(earlier.get("arming", {}).get("id") == ARMING for earlier in self.messages)
        offered = None if heard else {"arming": ARMING,
                                      "expires_in_seconds": self.expires_in_seconds}
        return 202, {"status": "accepted",
                     "orders": {"unattended": offered, "power_off_at_end": False}}

    def arming_states(self) -> list[str]:
        return [message["arming"]["state"] for message in self.messages if "arming" in message]


class Walkthrough:
    """The app on a scripted machine, with what it wrote on its serial port."""

    def __init__(self, data_dir: Path, hub_url: str, *, from_network: bool,
                 language: str = "en", tick: float = FROZEN, live_progress: bool = True) -> None:
        (data_dir / "reeeboot.toml").write_text(
            f'language = "{language}"\n[station]\nname = "lyon-boot-525400abcdef"\n'
            f'[hub]\nurl = "{hub_url}"\n')
        self.station = flow.open_station(data_dir)
        if from_network:
            self.station.network_boot = BOOT
        self.run = ScriptedRun(self.station, workshop_machine(), failing_self_test=None,
                               vanishes=None, admin_password=False,
                               live_progress=live_progress)
        self.serial = io.StringIO()
        self.power = FakePower()
        self.app = ReeebootApp(self.station, make_run=lambda _station: self.run,
                               watch_disks=None, guided=[], start_sender=None,
                               power=self.power, status=StatusLine(self.serial),
                               countdown_tick=tick)

    def status_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line[len(STATUS_PREFIX):])
                for line in self.serial.getvalue().splitlines()]

    def events(self) -> list[str]:
        return [line["event"] for line in self.status_lines()]


def armed_lines(walk: Walkthrough) -> list[dict[str, Any]]:
    """The status lines of the arming (the first screen's line may come before or after)."""
    return [line for line in walk.status_lines() if line["event"] != "screen"]


async def until(pilot: Pilot[None], condition: Any, seconds: float = 10.0) -> None:
    for _wait in range(int(seconds / 0.02)):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("condition not reached")


@pytest.mark.parametrize("language", ["fr", "en"])
async def test_an_armed_machine_counts_down_and_a_key_stops_it(
        receiver: Receiver, data_dir: Path, language: str) -> None:
    hub = BoardHub(receiver)
    walk = Walkthrough(data_dir, receiver.url, from_network=True, language=language)
    app = walk.app
    async with app.run_test(size=(80, 25)) as pilot:
        await settle(pilot, app)
        await until(pilot, lambda: isinstance(app.screen, ArmedErasureScreen))
        await pilot.pause()
        compare_snapshot("armed-countdown", language, app)
        await until(pilot, lambda: hub.arming_states() == ["countdown"])
        await pilot.press("x")  # any key
        await pilot.pause()
        assert isinstance(app.screen, MachineScreen)
        await until(pilot, lambda: hub.arming_states() == ["countdown", "stopped"])
        # Stopped: never shown again in this boot, though a hub may offer it again.
        app.post_message(HubOrdersHeard(HubOrders(ArmedErasure(ARMING, 600))))
        await pilot.pause()
        assert isinstance(app.screen, MachineScreen)
        # The walk-through goes on with the person, and nothing was started.
        await pilot.press("enter")
        await pilot.pause()
        assert type(app.screen).__name__ == "WhoScreen"
    assert app.armed_for is None and walk.run.erasures == []
    assert armed_lines(walk) == [{"event": "armed", "arming": ARMING, "seconds": 30},
                                 {"event": "arming_stopped", "arming": ARMING}]


async def test_a_countdown_nobody_stops_leaves_for_the_unattended_run(
        receiver: Receiver, data_dir: Path) -> None:
    hub = BoardHub(receiver)
    walk = Walkthrough(data_dir, receiver.url, from_network=True, tick=AT_ONCE)
    app = walk.app
    async with app.run_test(size=(80, 25)) as pilot:
        await until(pilot, lambda: app.armed_for is not None, seconds=30)
    assert app.armed_for == ARMING
    assert armed_lines(walk) == [{"event": "armed", "arming": ARMING, "seconds": 30},
                                 {"event": "arming_started", "arming": ARMING}]
    # The screen wrote nothing: the unattended run does it all (agent/tui/start.py).
    assert walk.run.erasures == [] and walk.station.outbox.count() == 0
    # Told before the screen handed the machine over, and the hub never heard "done". (A
    # countdown this short may end before "countdown" went out: the hub hears the latest.)
    assert hub.arming_states() in (["countdown", "started"], ["started"])
    assert {message["step"] for message in hub.messages} == {"inventory"}


async def test_another_arming_is_shown_after_one_was_stopped(
        receiver: Receiver, data_dir: Path) -> None:
    BoardHub(receiver)
    walk = Walkthrough(data_dir, receiver.url, from_network=True)
    app = walk.app
    async with app.run_test(size=(80, 25)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ArmedErasureScreen))
        await pilot.press("tab")
        await pilot.pause()
        assert isinstance(app.screen, MachineScreen)
        app.post_message(HubOrdersHeard(HubOrders(ArmedErasure(ARMING + 1, 600))))
        await pilot.pause()
        assert isinstance(app.screen, ArmedErasureScreen)


async def test_a_stick_station_ignores_an_arming(receiver: Receiver, data_dir: Path) -> None:
    hub = BoardHub(receiver)
    walk = Walkthrough(data_dir, receiver.url, from_network=False, tick=AT_ONCE)
    app = walk.app
    async with app.run_test(size=(80, 25)) as pilot:
        await settle(pilot, app)
        await until(pilot, lambda: app.hub_orders is not None)
        await pilot.pause(0.2)
        assert isinstance(app.screen, MachineScreen)
        assert app.hub_orders is not None and app.hub_orders.unattended == ArmedErasure(
            ARMING, 600)
    assert app.armed_for is None and hub.arming_states() == []
    assert walk.events() == ["screen"]


async def test_an_expired_arming_is_ignored(receiver: Receiver, data_dir: Path) -> None:
    hub = BoardHub(receiver, expires_in_seconds=0)
    walk = Walkthrough(data_dir, receiver.url, from_network=True, tick=AT_ONCE)
    app = walk.app
    async with app.run_test(size=(80, 25)) as pilot:
        await settle(pilot, app)
        await until(pilot, lambda: app.hub_orders is not None)
        await pilot.pause(0.2)
        assert isinstance(app.screen, MachineScreen)
    assert app.armed_for is None and hub.arming_states() == []


async def test_an_arming_is_ignored_once_a_person_went_on(data_dir: Path) -> None:
    walk = Walkthrough(data_dir, "http://127.0.0.1:9", from_network=True, tick=AT_ONCE,
                       live_progress=False)
    app = walk.app
    async with app.run_test(size=(80, 25)) as pilot:
        await settle(pilot, app)
        await pilot.press("enter")  # to the asset number
        await pilot.pause()
        app.post_message(HubOrdersHeard(HubOrders(ArmedErasure(ARMING, 600))))
        await pilot.pause(0.2)
        assert type(app.screen).__name__ == "WhoScreen"
        await pilot.press("escape")  # back to the first screen: still the person's
        await pilot.pause()
        assert isinstance(app.screen, MachineScreen)
        app.post_message(HubOrdersHeard(HubOrders(ArmedErasure(ARMING, 600))))
        await pilot.pause(0.2)
        assert isinstance(app.screen, MachineScreen)
    assert app.armed_for is None


# --- switching off at the end ------------------------------------------------------------------

SWITCH_OFF = HubOrders(power_off_at_end=True)


async def finish_run(pilot: Pilot[None], walk: Walkthrough) -> str:
    """The run files its report (for real, in the outbox) and a first attempt to send it
    failed, as the report step's worker tells the app. The report's id."""
    app = walk.app
    await settle(pilot, app)
    report_id = await asyncio.to_thread(walk.run.file_report)
    app.post_message(ReportDone(FlushOutcome(waiting=[report_id], last_error="no network")))
    await pilot.pause()
    assert isinstance(app.screen, ResultScreen)
    return report_id


def report_sent(walk: Walkthrough, report_id: str) -> None:
    """What the background sender does once the hub stored the report."""
    filed = walk.station.outbox.filed(report_id)
    assert filed is not None
    walk.station.outbox.mark_sent(filed)
    walk.app.post_message(OutboxChanged(SenderState(0, None)))


@pytest.mark.parametrize("language", ["fr", "en"])
async def test_a_finished_run_switches_off_once_its_report_is_sent(
        data_dir: Path, language: str) -> None:
    walk = Walkthrough(data_dir, "http://127.0.0.1:9", from_network=True, language=language,
                       live_progress=False)
    app = walk.app
    async with app.run_test(size=(80, 25)) as pilot:
        app.post_message(HubOrdersHeard(SWITCH_OFF))
        report_id = await finish_run(pilot, walk)
        await pilot.pause(0.2)
        # The report waits in RAM: switched off now, it would be lost.
        assert isinstance(app.screen, ResultScreen) and walk.power.calls == []
        report_sent(walk, report_id)
        await until(pilot, lambda: isinstance(app.screen, SwitchOffCountdown))
        await pilot.pause()
        compare_snapshot("switch-off-countdown", language, app)
        assert walk.power.calls == []
    assert walk.events() == ["screen", "power_off_countdown"]


async def test_the_switch_off_countdown_runs_out_and_switches_off(data_dir: Path) -> None:
    walk = Walkthrough(data_dir, "http://127.0.0.1:9", from_network=True, tick=AT_ONCE,
                       live_progress=False)
    app = walk.app
    async with app.run_test(size=(80, 25)) as pilot:
        report_id = await finish_run(pilot, walk)
        report_sent(walk, report_id)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, EndScreen)
        await pilot.pause(0.2)
        assert walk.power.calls == []  # not asked yet
        # The order arrives while the end screen shows.
        app.post_message(HubOrdersHeard(SWITCH_OFF))
        await until(pilot, lambda: walk.power.calls == [("power_off", None)])
        await pilot.pause(0.2)
        assert walk.power.calls == [("power_off", None)]  # once


async def test_a_key_keeps_the_machine_on(data_dir: Path) -> None:
    walk = Walkthrough(data_dir, "http://127.0.0.1:9", from_network=True,
                       live_progress=False)
    app = walk.app
    async with app.run_test(size=(80, 25)) as pilot:
        app.post_message(HubOrdersHeard(SWITCH_OFF))
        report_id = await finish_run(pilot, walk)
        report_sent(walk, report_id)
        await until(pilot, lambda: isinstance(app.screen, SwitchOffCountdown))
        await pilot.press("space")
        await pilot.pause()
        assert isinstance(app.screen, ResultScreen)
        app.post_message(HubOrdersHeard(SWITCH_OFF))  # the hub says it again
        await pilot.pause(0.2)
        assert isinstance(app.screen, ResultScreen)
        await pilot.press("enter")
        await pilot.pause()
        assert "Switch this computer off" in flat(screen_text(app))
    assert walk.power.calls == []
    assert walk.events() == ["screen", "power_off_countdown", "power_off_stopped"]


async def test_no_switching_off_before_the_run_is_over(data_dir: Path) -> None:
    walk = Walkthrough(data_dir, "http://127.0.0.1:9", from_network=True, tick=AT_ONCE,
                       live_progress=False)
    app = walk.app
    async with app.run_test(size=(80, 25)) as pilot:
        await settle(pilot, app)
        app.post_message(HubOrdersHeard(SWITCH_OFF))
        await pilot.press("f10")  # to the end screen, nothing done
        await pilot.pause(0.3)
        assert isinstance(app.screen, EndScreen)
        app.post_message(HubOrdersHeard(SWITCH_OFF))
        await pilot.pause(0.3)
    assert walk.power.calls == []
