"""Tells when the network may have appeared: a link, an address or a route changed.

The kernel announces these changes on rtnetlink multicast groups; listening needs no privilege
and no external program. A cable plugged in, a Wi-Fi association and the DHCP lease that follows
each send a few messages; the listener only says "something changed", and the outbox sender
then simply tries.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

# linux/rtnetlink.h
RTMGRP_LINK = 0x1
RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV4_ROUTE = 0x40
RTMGRP_IPV6_IFADDR = 0x100
RTMGRP_IPV6_ROUTE = 0x400
GROUPS = (RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_IFADDR
          | RTMGRP_IPV6_ROUTE)


class NetworkWatch:
    """Calls `changed()` from its own thread after each burst of network changes."""

    def __init__(self, changed: Callable[[], None], *, settle_seconds: float = 1.0) -> None:
        self._changed = changed
        self._settle = settle_seconds
        self._socket = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self._socket.bind((0, GROUPS))
        self._wakeup_read, self._wakeup_write = os.pipe()
        self._thread = threading.Thread(target=self._run, name="netwatch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        watched = [self._socket.fileno(), self._wakeup_read]
        try:
            while True:
                ready, _w, _x = select.select(watched, [], [])
                if self._wakeup_read in ready:
                    return
                self._drain()
                # A link coming up sends a burst (link, address, routes): wait for the lease's
                # route to settle, then say it once.
                while ready := select.select(watched, [], [], self._settle)[0]:
                    if self._wakeup_read in ready:
                        return
                    self._drain()
                try:
                    self._changed()
                except Exception:
                    log.exception("network change listener failed")
        finally:
            self._socket.close()

    def _drain(self) -> None:
        try:
            while True:
                self._socket.recv(65536, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return

    def stop(self) -> None:
        os.write(self._wakeup_write, b"x")
        self._thread.join(timeout=5)
        os.close(self._wakeup_write)
        os.close(self._wakeup_read)


def watch_network(changed: Callable[[], None]) -> NetworkWatch | None:
    """A watch, or None where netlink is unavailable (then backoff alone drives the retries)."""
    try:
        return NetworkWatch(changed)
    except OSError as error:
        log.warning("network changes cannot be watched: %s", error)
        return None
