"""The sound check's hardware side: which sound card, the tones for each speaker, and the
microphone's level. The screen (agent/tui/screens/guided_sound.py) asks the volunteer.

The cards come from `aplay -l` and `arecord -l` (alsa-utils): one line per playback or capture
device, "card 0: Intel [HDA Intel], device 0: ALC1200 Analog [ALC1200 Analog]". The speakers are
tested on the first analog playback device (HDMI and S/PDIF outputs go to a screen or an
amplifier, not to the machine's speakers), the microphone on the first analog capture device,
the speaker's card first.

The tone is a WAV made here and played with aplay rather than `speaker-test -s 1 -t sine`: its
length, level and frequency are exactly known (a QEMU test reads them back from the guest's
audio output, tests/sound_wav.py), the left tone and the right tone have different pitches so a
swapped channel shows, and the same short command plays it again on a key.
"""

from __future__ import annotations

import contextlib
import math
import re
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from agent import runner
from agent.runner import CommandNotFound, CommandRecord, Runner, default_recorder

LEFT, RIGHT = "left", "right"
CHANNELS = (LEFT, RIGHT)

# The mixer controls a card's output goes through, set to 80 % and unmuted before the tones, as
# WizardKit does before its audio test; a control the card does not have is left alone (amixer
# then exits 1: "Unable to find simple control").
PLAYBACK_CONTROLS = ("Master", "Speaker", "Headphone", "PCM")
MIXER_LEVEL = "80%"
# A fresh ALSA state often has the capture switch off: the microphone would record silence.
CAPTURE_CONTROL = "Capture"

# The tones: a sine at half of full scale (-6 dBFS: loud enough in a workshop, not harsh), 440 Hz
# on the left and 660 Hz on the right, 1.5 s each with 20 ms fades so the speaker does not click.
TONE_RATE = 48000
TONE_SECONDS = 1.5
TONE_AMPLITUDE = 0.5
TONE_HZ = {LEFT: 440.0, RIGHT: 660.0}
FADE_SECONDS = 0.02
PLAY_TIMEOUT_SECONDS = 10

# The microphone: mono 16-bit at 16 kHz (what every codec and USB microphone records), read in
# blocks of 100 ms; the level of a block is its peak in dBFS (a clap is short: a peak shows it,
# an average over the block may not).
RECORD_RATE = 16000
BLOCK_SECONDS = 0.1
BLOCK_BYTES = int(RECORD_RATE * BLOCK_SECONDS) * 2
# Speech at arm's length or a clap reaches well above this; the hiss of an open input with
# nothing connected stays well below (about -60 to -50 dBFS on laptop codecs).
HEARD_DBFS = -30.0
SILENCE_DBFS = -90.0  # the level given to a block of digital silence (log of zero)

_DEVICE_LINE = re.compile(
    r"^card (?P<card>\d+): (?P<card_id>\S+) \[(?P<card_name>.*?)\], "
    r"device (?P<device>\d+): (?P<name>.*?)(?: \[(?P<long_name>.*)\])?\s*$")
# Outputs and inputs that are not the machine's speakers or microphone.
_DIGITAL = re.compile(r"HDMI|DisplayPort|\bDP\b|Digital|IEC958|S/?PDIF", re.IGNORECASE)


@dataclass(frozen=True)
class PcmDevice:
    """One playback or capture device of a card, as `aplay -l` or `arecord -l` lists it."""

    card: int
    card_id: str  # ALSA's short id: "Intel"
    card_name: str  # "HDA Intel"
    device: int
    name: str  # "ALC1200 Analog"

    @property
    def alsa_name(self) -> str:
        """The device through ALSA's plug layer, which converts rate and channels as needed."""
        return f"plughw:{self.card},{self.device}"

    @property
    def digital(self) -> bool:
        return bool(_DIGITAL.search(self.name))


def parse_device_list(text: str) -> list[PcmDevice]:
    """The devices of `aplay -l` or `arecord -l` (their header and subdevice lines skipped)."""
    devices = []
    for line in text.splitlines():
        match = _DEVICE_LINE.match(line.strip())
        if match:
            devices.append(PcmDevice(int(match["card"]), match["card_id"], match["card_name"],
                                     int(match["device"]), match["long_name"] or match["name"]))
    return devices


def _first_analog(devices: Sequence[PcmDevice], card: int | None = None) -> PcmDevice | None:
    ordered = sorted(devices, key=lambda device: (device.digital, device.card != card,
                                                   device.card, device.device))
    return ordered[0] if ordered else None


@dataclass(frozen=True)
class SoundHardware:
    """What the machine shows of its sound, and the commands that said so."""

    playback: tuple[PcmDevice, ...] = ()
    capture: tuple[PcmDevice, ...] = ()
    tools_missing: bool = False  # alsa-utils is not installed: nothing can be tested
    # Sound chips on the PCI bus that no driver took (a recent laptop whose audio needs Intel's
    # SOF driver, which this system does not carry): the machine has sound, unseen here.
    undriven_chips: tuple[str, ...] = ()
    evidence: tuple[CommandRecord, ...] = field(default=())

    @property
    def speaker(self) -> PcmDevice | None:
        return _first_analog(self.playback)

    @property
    def microphone(self) -> PcmDevice | None:
        speaker = self.speaker
        return _first_analog(self.capture, None if speaker is None else speaker.card)

    @property
    def card_name(self) -> str | None:
        device = self.speaker or self.microphone
        return None if device is None else device.card_name

    @property
    def present(self) -> bool:
        return bool(self.playback or self.capture)


# PCI classes of sound chips (pci.ids): 04 01 multimedia audio controller (a DSP), 04 03 audio
# device (HD Audio).
_AUDIO_CLASSES = ("0x0401", "0x0403")


def undriven_sound_chips(sysfs_root: str | Path = "/sys") -> tuple[str, ...]:
    """The PCI addresses of sound chips that no driver is bound to."""
    found = []
    for device in sorted((Path(sysfs_root) / "bus" / "pci" / "devices").glob("*")):
        try:
            pci_class = (device / "class").read_text().strip()
        except OSError:
            continue
        if pci_class.startswith(_AUDIO_CLASSES) and not (device / "driver").exists():
            found.append(device.name)
    return tuple(found)


def find_sound(run: Runner = runner.run, sysfs_root: str | Path = "/sys") -> SoundHardware:
    """The machine's playback and capture devices (`aplay -l`, `arecord -l`)."""
    records = []
    lists: list[list[PcmDevice]] = []
    try:
        for program in ("aplay", "arecord"):
            record = run([program, "-l"], timeout=15)
            records.append(record)
            # "no soundcards found..." goes to standard error with exit status 1: an empty list.
            lists.append(parse_device_list(record.stdout))
    except CommandNotFound:
        return SoundHardware(tools_missing=True, evidence=tuple(records))
    return SoundHardware(tuple(lists[0]), tuple(lists[1]),
                         undriven_chips=undriven_sound_chips(sysfs_root),
                         evidence=tuple(records))


def set_mixer(card: int, run: Runner = runner.run) -> list[CommandRecord]:
    """Playback controls at 80 % and unmuted, the capture control at 80 % and recording."""
    commands = [["amixer", "-q", "-c", str(card), "sset", control, MIXER_LEVEL, "unmute"]
                for control in PLAYBACK_CONTROLS]
    commands.append(["amixer", "-q", "-c", str(card), "sset", CAPTURE_CONTROL, MIXER_LEVEL,
                     "cap"])
    records = []
    for argv in commands:
        try:
            records.append(run(argv, timeout=10))
        except CommandNotFound:
            break
    return records


# --- The tones -----------------------------------------------------------------------------


def tone_wav(channel: str, *, seconds: float = TONE_SECONDS, rate: int = TONE_RATE) -> bytes:
    """A stereo 16-bit WAV with a sine in `channel` ("left" or "right") and silence in the
    other."""
    if channel not in CHANNELS:
        raise ValueError(f"not a channel: {channel}")
    frames = int(seconds * rate)
    fade = max(1, int(FADE_SECONDS * rate))
    step = 2 * math.pi * TONE_HZ[channel] / rate
    samples = bytearray()
    for index in range(frames):
        envelope = min(1.0, index / fade, (frames - 1 - index) / fade)
        value = round(32767 * TONE_AMPLITUDE * envelope * math.sin(step * index))
        left, right = (value, 0) if channel == LEFT else (0, value)
        samples += struct.pack("<hh", left, right)
    header = struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + len(samples), b"WAVE", b"fmt ", 16,
                         1, 2, rate, rate * 4, 4, 16, b"data", len(samples))
    return header + bytes(samples)


Player = Callable[[PcmDevice, str], CommandRecord]


def play_tone(device: PcmDevice, channel: str, run: Runner = runner.run) -> CommandRecord:
    """Plays the tone of `channel` on `device` with aplay, and waits for its end."""
    with tempfile.TemporaryDirectory(prefix="reeeboot-sound-") as folder:
        path = Path(folder) / f"tone-{channel}.wav"
        path.write_bytes(tone_wav(channel))
        return run(["aplay", "-q", "-D", device.alsa_name, str(path)],
                   timeout=PLAY_TIMEOUT_SECONDS)


# --- The microphone ------------------------------------------------------------------------


def peak_dbfs(block: bytes) -> float:
    """The peak of signed 16-bit little-endian samples, in dB below full scale."""
    count = len(block) // 2
    if count == 0:
        return SILENCE_DBFS
    samples = struct.unpack(f"<{count}h", block[:count * 2])
    peak = max(abs(sample) for sample in samples)
    if peak == 0:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 20 * math.log10(min(peak, 32767) / 32767))


class Recording(Protocol):
    """A microphone being recorded: raw mono S16_LE at RECORD_RATE."""

    def read(self, size: int) -> bytes:
        """Up to `size` bytes; waits for them; b"" when the recording has ended."""
        ...

    def stop(self) -> CommandRecord | None:
        """Ends it; its record, if it ran a command."""
        ...


Recorder = Callable[[PcmDevice], Recording]


class Arecord:
    """`arecord` writing raw samples to a pipe that the meter reads."""

    def __init__(self, device: PcmDevice) -> None:
        self.argv = ("arecord", "-q", "-D", device.alsa_name, "-t", "raw", "-f", "S16_LE",
                     "-c", "1", "-r", str(RECORD_RATE))
        self.started = time.monotonic()
        self.errors: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        try:
            self.process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                            stdout=subprocess.PIPE, stderr=self.errors)
        except FileNotFoundError as error:
            self.errors.close()
            raise CommandNotFound("arecord") from error
        self.record: CommandRecord | None = None

    def read(self, size: int) -> bytes:
        assert self.process.stdout is not None
        return self.process.stdout.read(size)

    def stop(self) -> CommandRecord | None:
        if self.record is None:
            if self.process.poll() is None:
                self.process.terminate()
            try:
                returncode = self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                returncode = self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.errors.seek(0)
            stderr = self.errors.read().decode("utf-8", errors="replace")
            self.errors.close()
            self.record = CommandRecord(self.argv, returncode, "", stderr,
                                        time.monotonic() - self.started)
            default_recorder().records.append(self.record)
        return self.record


class MicrophoneMeter:
    """Reads the recording in a thread, one block at a time, and keeps its levels: the last
    block's (for the bar) and the highest (for the report)."""

    def __init__(self, recorder: Recorder, device: PcmDevice) -> None:
        self._recorder, self._device = recorder, device
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._recording: Recording | None = None
        self.level_dbfs: float | None = None
        self.peak_dbfs: float | None = None
        self.error: str | None = None  # why it does not record: the command's own words
        self.record: CommandRecord | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="microphone-meter", daemon=True)
        self._thread.start()

    @property
    def heard(self) -> bool:
        return self.peak_dbfs is not None and self.peak_dbfs >= HEARD_DBFS

    def _run(self) -> None:
        try:
            recording = self._recorder(self._device)
        except CommandNotFound as missing:
            self.error = f"{missing.program}: not installed"
            return
        with self._lock:
            self._recording = recording
        if self._stopping.is_set():
            self.stop()
            return
        while not self._stopping.is_set():
            try:
                block = recording.read(BLOCK_BYTES)
            except (OSError, ValueError):  # the pipe was closed by stop()
                break
            if not block:
                break
            level = peak_dbfs(block)
            with self._lock:
                self.level_dbfs = level
                self.peak_dbfs = level if self.peak_dbfs is None else max(self.peak_dbfs, level)
        if not self._stopping.is_set():  # the recorder ended by itself: it failed
            record = self.stop()
            if record is not None and record.returncode != 0:
                self.error = last_line(record.stderr) or f"exit status {record.returncode}"

    def stop(self) -> CommandRecord | None:
        self._stopping.set()
        with self._lock:
            recording = self._recording
        if recording is not None and self.record is None:
            with contextlib.suppress(OSError, ValueError):
                self.record = recording.stop()
        return self.record


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def bar(level_dbfs: float | None, width: int, floor_dbfs: float = -60.0) -> int:
    """How many of `width` cells a level fills, from `floor_dbfs` (none) to 0 dBFS (all)."""
    if level_dbfs is None or level_dbfs <= floor_dbfs:
        return 0
    return min(width, round(width * (level_dbfs - floor_dbfs) / -floor_dbfs))
