"""Between a QEMU guest and the real hub: relays every request, and cuts the power (kills QEMU)
right after the hub answered a chosen request, before the answer reaches the guest. So the hub
has done its part (enrolled the key, stored the report) and the agent never heard of it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class CuttingProxy:
    def __init__(self, hub_url: str) -> None:
        self.hub_url = hub_url.rstrip("/")
        self.answered: list[tuple[str, int]] = []  # (path, the hub's status), in order
        self.cut = threading.Event()  # set once the cut was made
        self._cut_path: str | None = None
        self._cut_power: Callable[[], None] | None = None
        self._lock = threading.Lock()
        proxy = self

        class Relay(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                proxy._relay(self)

            def do_POST(self) -> None:
                proxy._relay(self)

            def log_message(self, format: str, *args: Any) -> None:
                del format, args

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Relay)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def cut_after(self, path: str, power: Callable[[], None]) -> None:
        """The next request to `path`: the hub answers it, then `power()` is called (it kills
        QEMU) and the guest gets no answer."""
        with self._lock:
            self._cut_path, self._cut_power = path, power
            self.cut.clear()

    def _relay(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        headers = {name: value for name, value in handler.headers.items()
                   if name.lower() not in HOP_BY_HOP}
        answer = requests.request(handler.command, self.hub_url + handler.path, data=body,
                                  headers=headers, timeout=60)
        path = handler.path.split("?", 1)[0]
        with self._lock:
            self.answered.append((path, answer.status_code))
            cutting = self._cut_power if path == self._cut_path else None
            if cutting is not None:
                self._cut_path, self._cut_power = None, None
        if cutting is not None:
            cutting()
            self.cut.set()
            handler.close_connection = True
            return
        handler.send_response(answer.status_code)
        for name, value in answer.headers.items():
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-encoding":
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(answer.content)))
        handler.end_headers()
        handler.wfile.write(answer.content)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
