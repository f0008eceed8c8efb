"""What a recorded WAV file carried, channel by channel: for a QEMU test whose guest plays the
sound check's tones into QEMU's `wav` audio backend (-audiodev wav,id=snd0,path=out.wav), to
check that the left tone came out on the left, then the right one on the right.

QEMU writes the WAV header's sizes when it closes the file; a file read while the guest still
runs (or after QEMU was killed) has them at zero, so the data is read up to the file's end.
"""

from __future__ import annotations

import itertools
import math
import struct
from dataclasses import dataclass
from pathlib import Path

CHANNEL_NAMES = ("left", "right")


@dataclass(frozen=True)
class ToneSegment:
    channel: str  # "left" or "right"
    start_seconds: float
    end_seconds: float
    hz: float  # from the zero crossings: near enough to tell 440 from 660


@dataclass(frozen=True)
class Pcm:
    rate: int
    channels: int
    samples: tuple[tuple[int, ...], ...]  # per channel


def read_pcm(wav: bytes) -> Pcm:
    """The 16-bit samples of a PCM WAV file, per channel."""
    if wav[:4] != b"RIFF" or wav[8:12] != b"WAVE":
        raise ValueError("not a WAV file")
    offset, rate, channels, bits = 12, 0, 0, 0
    while offset + 8 <= len(wav):
        name, size = struct.unpack_from("<4sI", wav, offset)
        body = offset + 8
        if name == b"fmt ":
            _format, channels, rate, _rate_bytes, _align, bits = struct.unpack_from(
                "<HHIIHH", wav, body)
        elif name == b"data":
            end = len(wav) if size == 0 or body + size > len(wav) else body + size
            if bits != 16 or channels < 1:
                raise ValueError(f"only 16-bit PCM is read, not {bits}-bit")
            data = wav[body:end]
            count = len(data) // (2 * channels) * channels
            values = struct.unpack(f"<{count}h", data[:count * 2])
            return Pcm(rate, channels, tuple(tuple(values[index::channels])
                                             for index in range(channels)))
        offset = body + size + (size & 1)
    raise ValueError("no data chunk")


def tone_segments(wav: bytes, *, window_seconds: float = 0.05,
                  threshold: float = 0.02) -> list[ToneSegment]:
    """Every stretch where a channel carried sound (its RMS over `window_seconds` above
    `threshold` of full scale), in the order they started."""
    pcm = read_pcm(wav)
    window = max(1, int(pcm.rate * window_seconds))
    segments = []
    for index, samples in enumerate(pcm.samples[:2]):
        start: int | None = None
        for position in range(0, len(samples) + window, window):
            block = samples[position:position + window]
            loud = bool(block) and _rms(block) >= threshold
            if loud and start is None:
                start = position
            elif not loud and start is not None:
                segments.append(_segment(CHANNEL_NAMES[index], samples, start,
                                         min(position, len(samples)), pcm.rate))
                start = None
    return sorted(segments, key=lambda segment: segment.start_seconds)


def channels_with_tone(path: str | Path, *, min_seconds: float = 0.5) -> list[str]:
    """The channels that carried a tone of at least `min_seconds`, in the order they played:
    ["left", "right"] for the sound check's two tones."""
    return [segment.channel for segment in tone_segments(Path(path).read_bytes())
            if segment.end_seconds - segment.start_seconds >= min_seconds]


def _rms(block: tuple[int, ...]) -> float:
    return math.sqrt(sum(value * value for value in block) / len(block)) / 32768


def _segment(channel: str, samples: tuple[int, ...], start: int, end: int,
             rate: int) -> ToneSegment:
    part = samples[start:end]
    crossings = sum(1 for before, after in itertools.pairwise(part)
                    if (before < 0) != (after < 0))
    seconds = len(part) / rate
    return ToneSegment(channel, start / rate, end / rate,
                       crossings / 2 / seconds if seconds else 0.0)
