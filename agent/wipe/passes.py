"""Overwrite passes and the methods composed of them (nwipe's names where they exist).

A pass is either the keyed random stream or one fixed byte; a method is a sequence of passes.
Only the last pass is verified, as nwipe's default `--verify=last` does: earlier passes are
overwritten anyway, and the last one is what stays on the disk.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class OverwritePass:
    name: str  # "random", "zero", "one" or "byte 0xNN"
    byte: int | None = None  # None: the keyed random stream

    @property
    def is_random(self) -> bool:
        return self.byte is None


RANDOM = OverwritePass("random")
ZERO = OverwritePass("zero", 0x00)
ONE = OverwritePass("one", 0xFF)


def fixed(byte: int) -> OverwritePass:
    return OverwritePass(f"byte 0x{byte:02x}", byte)


def _dod_short() -> tuple[OverwritePass, ...]:
    # DoD 5220.22-M short: a random character, its complement, then the random stream.
    char = secrets.randbelow(256)
    return (fixed(char), fixed(char ^ 0xFF), RANDOM)


def _dod_full() -> tuple[OverwritePass, ...]:
    first, second = secrets.randbelow(256), secrets.randbelow(256)
    return (fixed(first), fixed(first ^ 0xFF), RANDOM, fixed(second), fixed(second),
            fixed(second ^ 0xFF), RANDOM)


METHODS: dict[str, Callable[[], tuple[OverwritePass, ...]]] = {
    "random": lambda: (RANDOM,),
    "zero": lambda: (ZERO,),
    "one": lambda: (ONE,),
    "dodshort": _dod_short,
    "dod": _dod_full,
    "is5enh": lambda: (ZERO, ONE, RANDOM),  # HMG IS5 Enhanced
}


def compose(method: str, *, rounds: int = 1, blank: bool = False) -> tuple[OverwritePass, ...]:
    """The passes for `method`, repeated `rounds` times, then a zero blanking pass if asked."""
    if method not in METHODS:
        raise ValueError(f"unknown overwrite method {method!r}")
    if rounds < 1:
        raise ValueError("rounds must be at least 1")
    passes: list[OverwritePass] = []
    for _ in range(rounds):
        passes.extend(METHODS[method]())
    if blank and passes[-1] != ZERO:
        passes.append(ZERO)
    return tuple(passes)
