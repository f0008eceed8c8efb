"""A real hub served over HTTP from a thread, for tests on the host and in QEMU."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from hub.app import create_app
from hub.store import Store


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServedApp:
    """An ASGI app served by uvicorn from a thread of the test process."""

    def __init__(self, app: Any, port: int, host: str = "127.0.0.1") -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise TimeoutError("the server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class RunningHub:
    """`database` is the hub's Store: add_station(name) -> token, reports(), report(id),
    station_by_token(token) -> a row with the station's current public_key."""

    def __init__(self, database_path: Path | str, port: int, host: str = "127.0.0.1",
                 images: Path | None = None, public_url: str | None = None) -> None:
        self.database = Store(database_path)
        self.port = port
        self.url = f"http://{host}:{port}"
        self.public_url = public_url
        self.served = ServedApp(create_app(self.database, images, public_url), port, host)

    def start(self) -> None:
        self.served.start()

    def stop(self) -> None:
        self.served.stop()
        self.database.close()


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[RunningHub]:
    """A hub on the host's loopback. QEMU guests reach it as 10.0.2.2 through user networking,
    which is therefore its public address (in the passport links it gives stations)."""
    port = free_port()
    running = RunningHub(tmp_path / "hub.sqlite3", port, public_url=f"http://10.0.2.2:{port}")
    running.start()
    yield running
    running.stop()
