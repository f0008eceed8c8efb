"""Shared fixtures: real loop devices, a real hub served over HTTP, a station data folder."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn

from agent.inventory.disks import list_disks
from agent.inventory.model import Disk
from hub.app import create_app
from hub.db import Database

LoopFactory = Callable[..., Disk]


@pytest.fixture
def loop_disk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopFactory]:
    """Make loop devices backed by files in RAM; they need root, and their absence is a failure."""
    if os.geteuid() != 0 or shutil.which("losetup") is None:
        pytest.fail("loop-device tests need root and losetup (run them through tests/run)")
    backing_dir = Path(os.environ.get("REEEBOOT_LOOP_DIR", "/dev/shm"))
    created: list[str] = []
    files: list[Path] = []

    def make(size: int, *, backing: Path | None = None, sector_size: int = 512) -> Disk:
        path = backing or backing_dir / f"reeeboot-test-{os.getpid()}-{len(files)}.img"
        with open(path, "wb") as handle:
            handle.truncate(size)
        files.append(path)
        device = subprocess.run(
            ["losetup", "--find", "--show", f"--sector-size={sector_size}", str(path)],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
        created.append(device)
        for disk in list_disks(with_smart=False, include_loop=True):
            if disk.path == device:
                return disk
        raise AssertionError(f"udev does not list {device}")

    yield make
    for device in created:
        subprocess.run(["losetup", "-d", device], check=False)
    for path in files:
        path.unlink(missing_ok=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RunningHub:
    def __init__(self, database_path: Path, port: int) -> None:
        self.database = Database(database_path)
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            create_app(database_path), host="127.0.0.1", port=port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise TimeoutError("the hub did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[RunningHub]:
    running = RunningHub(tmp_path / "hub.sqlite3", free_port())
    running.start()
    yield running
    running.stop()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "data"
    directory.mkdir()
    return directory
