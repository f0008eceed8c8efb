"""Failed sign-ins slow down whoever makes them, per account and per address (OWASP ASVS 2.2.1):
a few mistakes cost nothing, then each further attempt waits twice as long as the one before,
up to a minute. A minute is all an attacker can lock a real person out for at a time, while
guessing even a weak password takes days. A right password resets the account's count.

Counts live in the process's memory: a hub serving with several workers multiplies the free
attempts by their number, and a restart forgets them (docs/hub.md)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

FREE_PER_ACCOUNT = 5
FREE_PER_ADDRESS = 20  # a workshop behind one address: several people mistyping
LONGEST_WAIT_SECONDS = 60.0
FORGET_AFTER_SECONDS = 15 * 60.0  # failures this old no longer count


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0
    blocked_until: float = 0.0


class LoginThrottle:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._failures: dict[tuple[str, str], _Failures] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, account: str, address: str) -> float:
        """How long this sign-in must wait before it is even checked; 0 to go ahead."""
        now = self.clock()
        with self._lock:
            waits = [entry.blocked_until - now for entry in self._entries(account, address, now)]
        return max([0.0, *waits])

    def failed(self, account: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            for (kind, _key), entry in zip(self._keys(account, address),
                                           self._entries(account, address, now), strict=True):
                entry.count += 1
                entry.last = now
                free = FREE_PER_ACCOUNT if kind == "account" else FREE_PER_ADDRESS
                if entry.count > free:
                    wait = min(LONGEST_WAIT_SECONDS, 2.0 ** (entry.count - free - 1))
                    entry.blocked_until = now + wait

    def succeeded(self, account: str) -> None:
        with self._lock:
            self._failures.pop(("account", account), None)

    def _keys(self, account: str, address: str) -> list[tuple[str, str]]:
        return [("account", account), ("address", address)]

    def _entries(self, account: str, address: str, now: float) -> list[_Failures]:
        entries = []
        for key in self._keys(account, address):
            entry = self._failures.get(key)
            if entry is None or now - entry.last > FORGET_AFTER_SECONDS:
                entry = self._failures[key] = _Failures()
            entries.append(entry)
        if len(self._failures) > 100_000:  # many addresses: drop the forgotten ones
            self._failures = {key: value for key, value in self._failures.items()
                              if now - value.last <= FORGET_AFTER_SECONDS}
        return entries
