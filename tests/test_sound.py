"""The sound check's hardware side: the device lists of real machines (tests/fixtures/sound/
SOURCE.md), which device is tested, the mixer commands, the tones (read back as a QEMU test
reads the guest's output), the microphone's level and the meter fed by a scripted recording."""

from __future__ import annotations

import math
import struct
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from agent.health import sound
from agent.health.sound import (
    BLOCK_BYTES,
    HEARD_DBFS,
    SILENCE_DBFS,
    MicrophoneMeter,
    PcmDevice,
    bar,
    find_sound,
    parse_device_list,
    peak_dbfs,
    play_tone,
    set_mixer,
    tone_wav,
    undriven_sound_chips,
)
from agent.runner import CommandNotFound, CommandRecord
from tests.sound_wav import channels_with_tone, read_pcm, tone_segments

FIXTURES = Path(__file__).parent / "fixtures" / "sound"

# A Haswell desktop: the processor's HDMI audio is card 0, the board's codec card 1.
HDMI_FIRST = """**** List of PLAYBACK Hardware Devices ****
card 0: HDMI [HDA Intel HDMI], device 3: HDMI 0 [HDMI 0]
  Subdevices: 1/1
  Subdevice #0: subdevice #0
card 1: PCH [HDA Intel PCH], device 0: ALC887-VD Analog [ALC887-VD Analog]
  Subdevices: 1/1
  Subdevice #0: subdevice #0
"""


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


class Commands:
    """A runner answering from fixtures, keeping the command lines it was given."""

    def __init__(self, answers: dict[str, tuple[int, str, str]]) -> None:
        self.answers = answers
        self.argvs: list[tuple[str, ...]] = []

    def __call__(self, argv: Sequence[str], timeout: float = 120.0) -> CommandRecord:
        self.argvs.append(tuple(argv))
        if argv[0] not in self.answers:
            raise CommandNotFound(argv[0])
        returncode, stdout, stderr = self.answers[argv[0]]
        return CommandRecord(tuple(argv), returncode, stdout, stderr, 0.01)


def machine(aplay: str, arecord: str) -> Commands:
    return Commands({"aplay": (0, aplay, ""), "arecord": (0, arecord, "")})


# --- the device lists ------------------------------------------------------------------------


def test_a_desktop_codec_is_read_with_its_analog_and_digital_devices() -> None:
    devices = parse_device_list(fixture("alc1200-desktop.aplay-l.txt"))
    assert devices == [PcmDevice(0, "Intel", "HDA Intel", 0, "ALC1200 Analog"),
                       PcmDevice(0, "Intel", "HDA Intel", 1, "ALC1200 Digital")]
    assert [device.digital for device in devices] == [False, True]
    assert devices[0].alsa_name == "plughw:0,0"


def test_the_speakers_and_microphone_are_the_first_analog_devices(tmp_path: Path) -> None:
    hardware = find_sound(machine(fixture("alc1200-desktop.aplay-l.txt"),
                                  fixture("alc1200-desktop.arecord-l.txt")), tmp_path)
    assert hardware.present and not hardware.tools_missing
    assert hardware.speaker == PcmDevice(0, "Intel", "HDA Intel", 0, "ALC1200 Analog")
    assert hardware.microphone == PcmDevice(0, "Intel", "HDA Intel", 0, "ALC1200 Analog")
    assert hardware.card_name == "HDA Intel"
    assert [record.argv for record in hardware.evidence] == [("aplay", "-l"), ("arecord", "-l")]


def test_a_usb_headset_beside_the_codec_leaves_the_codec_tested(tmp_path: Path) -> None:
    """The header's leading space (as published) does not matter; the built-in codec, card 0,
    comes first."""
    hardware = find_sound(machine(fixture("nvidia-conexant-usb-headset.aplay-l.txt"),
                                  fixture("nvidia-conexant-usb-headset.arecord-l.txt")),
                          tmp_path)
    assert len(hardware.playback) == 3 and len(hardware.capture) == 2
    assert hardware.speaker is not None and hardware.speaker.name == "CONEXANT Analog"
    assert hardware.microphone is not None and hardware.microphone.card == 0
    assert hardware.capture[1].card_name == "Logitech USB Headset"


def test_an_hdmi_card_first_is_passed_over_for_the_codec(tmp_path: Path) -> None:
    hardware = find_sound(machine(HDMI_FIRST, ""), tmp_path)
    assert hardware.speaker is not None
    assert (hardware.speaker.card, hardware.speaker.name) == (1, "ALC887-VD Analog")
    assert hardware.card_name == "HDA Intel PCH"
    assert hardware.microphone is None


def test_only_an_hdmi_output_is_still_tested(tmp_path: Path) -> None:
    only_hdmi = "\n".join(HDMI_FIRST.splitlines()[:4])
    hardware = find_sound(machine(only_hdmi, ""), tmp_path)
    assert hardware.speaker is not None and hardware.speaker.digital


def test_no_card_is_an_empty_list(tmp_path: Path) -> None:
    no_card = fixture("no-card.aplay-l.stderr.txt")
    hardware = find_sound(Commands({"aplay": (1, "", no_card), "arecord": (1, "", no_card)}),
                          tmp_path)
    assert not hardware.present and not hardware.tools_missing
    assert hardware.speaker is None and hardware.microphone is None
    assert hardware.card_name is None


def test_without_alsa_utils_nothing_can_be_tested(tmp_path: Path) -> None:
    hardware = find_sound(Commands({}), tmp_path)
    assert hardware.tools_missing and not hardware.present


def test_a_sound_chip_without_a_driver_is_named(tmp_path: Path) -> None:
    devices = tmp_path / "bus" / "pci" / "devices"
    for address, pci_class, driven in (("0000:00:1f.3", "0x040100", False),
                                       ("0000:01:00.1", "0x040300", True),
                                       ("0000:00:02.0", "0x030000", False)):
        (devices / address).mkdir(parents=True)
        (devices / address / "class").write_text(pci_class + "\n")
        if driven:
            (devices / address / "driver").mkdir()
    assert undriven_sound_chips(tmp_path) == ("0000:00:1f.3",)


# --- the mixer and the tones ---------------------------------------------------------------


def test_the_mixer_unmutes_each_output_control_and_the_capture() -> None:
    commands = Commands({"amixer": (1, "", "amixer: Unable to find simple control 'Speaker',0")})
    set_mixer(1, commands)
    assert commands.argvs == [
        ("amixer", "-q", "-c", "1", "sset", "Master", "80%", "unmute"),
        ("amixer", "-q", "-c", "1", "sset", "Speaker", "80%", "unmute"),
        ("amixer", "-q", "-c", "1", "sset", "Headphone", "80%", "unmute"),
        ("amixer", "-q", "-c", "1", "sset", "PCM", "80%", "unmute"),
        ("amixer", "-q", "-c", "1", "sset", "Capture", "80%", "cap")]


def test_without_amixer_the_mixer_is_left_alone() -> None:
    assert set_mixer(0, Commands({})) == []


def test_each_tone_sounds_on_its_side_only() -> None:
    left = tone_segments(tone_wav("left"))
    right = tone_segments(tone_wav("right"))
    assert [segment.channel for segment in left] == ["left"]
    assert [segment.channel for segment in right] == ["right"]
    assert left[0].hz == pytest.approx(440, abs=5)
    assert right[0].hz == pytest.approx(660, abs=5)
    assert left[0].end_seconds - left[0].start_seconds == pytest.approx(1.5, abs=0.1)


def test_the_tone_is_a_stereo_wav_at_half_scale() -> None:
    pcm = read_pcm(tone_wav("left", seconds=0.2))
    assert (pcm.rate, pcm.channels) == (48000, 2)
    assert max(pcm.samples[0]) == pytest.approx(16384, abs=2)
    assert set(pcm.samples[1]) == {0}
    with pytest.raises(ValueError):
        tone_wav("centre")


def test_a_recording_of_both_tones_says_left_then_right(tmp_path: Path) -> None:
    """As QEMU's wav backend writes the guest's output: one stereo stream, its header's sizes
    still zero (QEMU writes them when it closes the file)."""
    left, right = tone_wav("left"), tone_wav("right")
    gap = b"\0\0\0\0" * 4800
    data = left[44:] + gap + right[44:]
    header = bytearray(left[:44])
    header[4:8] = header[40:44] = b"\0\0\0\0"
    path = tmp_path / "qemu.wav"
    path.write_bytes(bytes(header) + data)
    assert channels_with_tone(path) == ["left", "right"]
    path.write_bytes(bytes(header) + right[44:] + gap + left[44:])
    assert channels_with_tone(path) == ["right", "left"]
    path.write_bytes(bytes(header) + b"\0" * 96000)
    assert channels_with_tone(path) == []


def test_the_tone_is_played_with_aplay_on_the_plug_device() -> None:
    seen: list[bytes] = []

    def run(argv: Sequence[str], timeout: float = 120.0) -> CommandRecord:
        seen.append(Path(argv[-1]).read_bytes())
        return CommandRecord(tuple(argv), 0, "", "", 1.5)

    record = play_tone(PcmDevice(1, "PCH", "HDA Intel PCH", 0, "ALC887-VD Analog"), "right", run)
    assert record.argv[:4] == ("aplay", "-q", "-D", "plughw:1,0")
    assert seen == [tone_wav("right")]


# --- the microphone --------------------------------------------------------------------------


def samples(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}h", *values)


def test_levels_in_dbfs() -> None:
    assert peak_dbfs(samples(0, 0, 0)) == SILENCE_DBFS
    assert peak_dbfs(b"") == SILENCE_DBFS
    assert peak_dbfs(samples(100, -32768, 5)) == pytest.approx(0.0, abs=0.01)
    assert peak_dbfs(samples(1036, -20)) == pytest.approx(-30.0, abs=0.05)
    assert peak_dbfs(samples(-328)) == pytest.approx(-40.0, abs=0.05)


def test_the_bar_fills_from_minus_sixty_to_zero() -> None:
    assert bar(None, 60) == 0
    assert bar(-75.0, 60) == 0
    assert bar(-30.0, 60) == 30
    assert bar(0.0, 60) == 60
    assert bar(6.0, 60) == 60


class ScriptedRecording:
    """A microphone that gives the blocks it was given, then ends (or waits to be stopped)."""

    def __init__(self, blocks: list[bytes], *, ends: bool, returncode: int = 0,
                 stderr: str = "") -> None:
        self.blocks = list(blocks)
        self.ends = ends
        self.returncode, self.stderr = returncode, stderr
        self.stopped = threading.Event()
        self.drained = threading.Event()

    def read(self, size: int) -> bytes:
        if self.blocks:
            return self.blocks.pop(0)
        self.drained.set()
        if not self.ends:
            self.stopped.wait(5)
        return b""

    def stop(self) -> CommandRecord | None:
        self.stopped.set()
        return CommandRecord(("arecord",), self.returncode, "", self.stderr, 1.0)


def block(amplitude: int) -> bytes:
    count = BLOCK_BYTES // 2
    return samples(*(round(amplitude * math.sin(index / 3)) for index in range(count)))


def test_the_meter_keeps_the_last_and_the_loudest_level() -> None:
    recording = ScriptedRecording([block(30), block(8000), block(300)], ends=False)
    meter = MicrophoneMeter(lambda device: recording, PcmDevice(0, "a", "A", 0, "Mic"))
    meter.start()
    assert recording.drained.wait(5)
    assert meter.level_dbfs == pytest.approx(peak_dbfs(block(300)))
    assert meter.peak_dbfs == pytest.approx(peak_dbfs(block(8000)))
    assert meter.heard and (meter.peak_dbfs or 0) > HEARD_DBFS
    meter.stop()
    assert recording.stopped.is_set() and meter.error is None


def test_a_quiet_microphone_is_not_heard() -> None:
    recording = ScriptedRecording([block(200)] * 3, ends=False)
    meter = MicrophoneMeter(lambda device: recording, PcmDevice(0, "a", "A", 0, "Mic"))
    meter.start()
    assert recording.drained.wait(5)
    assert not meter.heard and meter.peak_dbfs is not None and meter.peak_dbfs < HEARD_DBFS
    meter.stop()


def test_a_recorder_that_fails_says_why() -> None:
    recording = ScriptedRecording(
        [], ends=True, returncode=1,
        stderr="arecord: main:850: audio open error: Device or resource busy\n")
    meter = MicrophoneMeter(lambda device: recording, PcmDevice(0, "a", "A", 0, "Mic"))
    meter.start()
    assert meter._thread is not None
    meter._thread.join(5)
    assert meter.error == "arecord: main:850: audio open error: Device or resource busy"
    assert meter.peak_dbfs is None


def test_a_missing_arecord_is_an_error_not_a_crash() -> None:
    def missing(device: PcmDevice) -> sound.Recording:
        raise CommandNotFound("arecord")

    meter = MicrophoneMeter(missing, PcmDevice(0, "a", "A", 0, "Mic"))
    meter.start()
    assert meter._thread is not None
    meter._thread.join(5)
    assert meter.error == "arecord: not installed"
