"""The sound check's screen through Pilot: a fake sound card (the device lists of a real desktop,
tests/fixtures/sound/), a player that only notes what it was asked and a scripted microphone.
Each answer's result is checked, and each question's screen against its snapshot at 80x25."""

from __future__ import annotations

import asyncio
import math
import struct
import threading
from pathlib import Path

import pytest
from textual.pilot import Pilot

from agent.health.model import FAIL, NOT_PRESENT, PASS, SKIPPED, CheckResult
from agent.health.sound import BLOCK_BYTES, PcmDevice, SoundHardware, parse_device_list
from agent.runner import CommandRecord
from agent.tui.screens.guided_sound import SoundScreen
from tests.guided_host import SIZE, FakeClock, GuidedHost, compare_snapshot, context
from tests.screens import flat, screen_text

FIXTURES = Path(__file__).parent / "fixtures" / "sound"
DESKTOP = SoundHardware(
    tuple(parse_device_list((FIXTURES / "alc1200-desktop.aplay-l.txt").read_text())),
    tuple(parse_device_list((FIXTURES / "alc1200-desktop.arecord-l.txt").read_text())))
NO_MICROPHONE = SoundHardware(DESKTOP.playback, ())
NO_CARD = SoundHardware()


class FakePlayer:
    def __init__(self, returncode: int = 0, stderr: str = "") -> None:
        self.played: list[tuple[str, str]] = []
        self.returncode, self.stderr = returncode, stderr

    def __call__(self, device: PcmDevice, side: str) -> CommandRecord:
        self.played.append((device.alsa_name, side))
        return CommandRecord(("aplay",), self.returncode, "", self.stderr, 0.0)


class FakeMicrophone:
    """Gives its blocks, then waits until it is stopped."""

    def __init__(self, amplitudes: list[int]) -> None:
        count = BLOCK_BYTES // 2
        self.blocks = [struct.pack(f"<{count}h", *(round(amplitude * math.sin(index / 3))
                                                   for index in range(count)))
                       for amplitude in amplitudes]
        self.drained = threading.Event()
        self.stopped = threading.Event()
        self.opened: list[str] = []

    def __call__(self, device: PcmDevice) -> FakeMicrophone:
        self.opened.append(device.alsa_name)
        return self

    def read(self, size: int) -> bytes:
        if self.blocks:
            return self.blocks.pop(0)
        self.drained.set()
        self.stopped.wait(5)
        return b""

    def stop(self) -> CommandRecord | None:
        self.stopped.set()
        return None


def host(hardware: SoundHardware, *, language: str = "fr", player: FakePlayer | None = None,
         microphone: FakeMicrophone | None = None,
         clock: FakeClock | None = None) -> tuple[GuidedHost, FakePlayer, FakeMicrophone,
                                                  list[int]]:
    player = player or FakePlayer()
    microphone = microphone or FakeMicrophone([40, 9000, 600])
    mixed: list[int] = []

    def mixer(card: int) -> list[CommandRecord]:
        mixed.append(card)
        return []

    app = GuidedHost(lambda: SoundScreen(context(clock=clock), 3, 7, find=lambda: hardware,
                                         mixer=mixer, player=player, recorder=microphone),
                     language)
    return app, player, microphone, mixed


async def played(pilot: Pilot[None], app: GuidedHost, count: int) -> None:
    """Until `count` tones have been played and shown."""
    screen = app.screen
    assert isinstance(screen, SoundScreen)
    for _attempt in range(100):
        await pilot.pause()
        if screen.plays >= count:
            break
        await asyncio.sleep(0.02)
    assert screen.plays >= count
    await pilot.pause()


async def heard(pilot: Pilot[None], app: GuidedHost, microphone: FakeMicrophone) -> None:
    """Until the meter has read every block and shown the last one."""
    assert await asyncio.to_thread(microphone.drained.wait, 5)
    screen = app.screen
    assert isinstance(screen, SoundScreen)
    screen.show_level()
    await pilot.pause()


def only(results: list[CheckResult]) -> CheckResult:
    assert len(results) == 1
    return results[0]


# --- the answers ---------------------------------------------------------------------------


async def test_both_speakers_and_the_microphone_heard_is_a_pass() -> None:
    clock = FakeClock()
    app, player, microphone, mixed = host(DESKTOP, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await played(pilot, app, 1)
        await pilot.press("r")
        await played(pilot, app, 2)
        await pilot.press("enter")
        await played(pilot, app, 3)
        await pilot.press("enter")
        await heard(pilot, app, microphone)
        clock.now += 42
        await pilot.press("enter")
        await pilot.pause()
    result = only(app.results)
    assert (result.check, result.subject, result.verdict) == ("sound", "sound", PASS)
    assert result.findings == ()
    assert result.operator == "Atelier Lyon" and result.seconds == 42
    assert player.played == [("plughw:0,0", "left"), ("plughw:0,0", "left"),
                             ("plughw:0,0", "right")]
    assert mixed == [0] and microphone.opened == ["plughw:0,0"]
    assert microphone.stopped.is_set()
    assert result.measured["card"] == "HDA Intel"
    assert (result.measured["left"], result.measured["right"]) == ("heard", "heard")
    assert result.measured["microphone_peak_dbfs"] == pytest.approx(-11.2, abs=0.2)


async def test_a_silent_side_and_a_silent_microphone_fail() -> None:
    app, _player, microphone, _mixed = host(DESKTOP, microphone=FakeMicrophone([20, 30]))
    async with app.run_test(size=SIZE) as pilot:
        await played(pilot, app, 1)
        await pilot.press("n")
        await played(pilot, app, 2)
        await pilot.press("enter")
        await heard(pilot, app, microphone)
        await pilot.press("n")
        await pilot.pause()
    result = only(app.results)
    assert result.verdict == FAIL
    assert [finding.code for finding in result.findings] == ["sound_left_silent",
                                                            "microphone_silent"]
    assert (result.measured["left"], result.measured["right"]) == ("not_heard", "heard")
    assert result.measured["microphone_peak_dbfs"] < -30


async def test_no_microphone_is_recorded_beside_working_speakers() -> None:
    app, _player, microphone, _mixed = host(NO_MICROPHONE)
    async with app.run_test(size=SIZE) as pilot:
        await played(pilot, app, 1)
        await pilot.press("enter")
        await played(pilot, app, 2)
        await pilot.press("enter")
        await pilot.pause()
        assert "micro" in flat(screen_text(app))
        await pilot.press("enter")
        await pilot.pause()
    result = only(app.results)
    assert result.verdict == PASS
    assert [(finding.code, finding.verdict) for finding in result.findings] == [
        ("microphone_not_present", NOT_PRESENT)]
    assert result.measured["microphone_peak_dbfs"] is None
    assert microphone.opened == []


async def test_a_microphone_that_is_not_found_fails() -> None:
    app, _player, _microphone, _mixed = host(NO_MICROPHONE)
    async with app.run_test(size=SIZE) as pilot:
        await played(pilot, app, 1)
        await pilot.press("enter", "enter")
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause()
    result = only(app.results)
    assert result.verdict == FAIL
    assert [finding.code for finding in result.findings] == ["microphone_not_found"]


async def test_no_sound_card_confirmed_is_not_present() -> None:
    app, player, _microphone, _mixed = host(NO_CARD)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("r", "enter")
        await pilot.pause()
    result = only(app.results)
    assert result.verdict == NOT_PRESENT
    assert [finding.code for finding in result.findings] == ["sound_not_present"]
    assert player.played == []


async def test_a_sound_card_that_is_not_found_fails() -> None:
    app, _player, _microphone, _mixed = host(NO_CARD)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause()
    result = only(app.results)
    assert result.verdict == FAIL
    assert [finding.code for finding in result.findings] == ["sound_not_found"]


async def test_escape_skips_the_whole_check() -> None:
    app, _player, microphone, _mixed = host(DESKTOP)
    async with app.run_test(size=SIZE) as pilot:
        await played(pilot, app, 1)
        await pilot.press("enter")
        await played(pilot, app, 2)
        await pilot.press("enter")
        await heard(pilot, app, microphone)
        await pilot.press("escape")
        await pilot.pause()
    result = only(app.results)
    assert result.verdict == SKIPPED
    assert microphone.stopped.is_set()


async def test_without_alsa_utils_only_escape_answers() -> None:
    app, _player, _microphone, _mixed = host(SoundHardware(tools_missing=True), language="en")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("enter", "n")
        await pilot.pause()
        assert app.results == []
        assert "alsa-utils" in flat(screen_text(app))
        await pilot.press("escape")
        await pilot.pause()
    assert only(app.results).verdict == SKIPPED


async def test_a_tone_that_cannot_play_says_why() -> None:
    player = FakePlayer(1, "aplay: main:831: audio open error: Device or resource busy\n")
    app, _player, _microphone, _mixed = host(DESKTOP, language="en", player=player)
    async with app.run_test(size=SIZE) as pilot:
        await played(pilot, app, 1)
        assert "Device or resource busy" in flat(screen_text(app))


async def test_outside_names_are_shown_as_they_are() -> None:
    hostile = SoundHardware((PcmDevice(0, "X", "[b]Card[/b] \u00c0", 0, "[red]Out"),), ())
    app, _player, _microphone, _mixed = host(hostile, language="en")
    async with app.run_test(size=SIZE) as pilot:
        await played(pilot, app, 1)
        text = screen_text(app)
    assert "[b]Card[/b] ?" in text


# --- the snapshots -------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["fr", "en"])
async def test_snapshots(language: str) -> None:
    app, _player, microphone, _mixed = host(DESKTOP, language=language)
    async with app.run_test(size=SIZE) as pilot:
        await played(pilot, app, 1)
        compare_snapshot("5i-sound-left", language, app)
        await pilot.press("enter")
        await played(pilot, app, 2)
        compare_snapshot("5i-sound-right", language, app)
        await pilot.press("enter")
        await heard(pilot, app, microphone)
        compare_snapshot("5i-sound-microphone", language, app)

    app, _player, _microphone, _mixed = host(NO_MICROPHONE, language=language)
    async with app.run_test(size=SIZE) as pilot:
        await played(pilot, app, 1)
        await pilot.press("enter")
        await played(pilot, app, 2)
        await pilot.press("enter")
        await pilot.pause()
        compare_snapshot("5i-sound-no-microphone", language, app)

    undriven = SoundHardware(undriven_chips=("0000:00:1f.3",))
    app, _player, _microphone, _mixed = host(undriven, language=language)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        compare_snapshot("5i-sound-absent", language, app)
