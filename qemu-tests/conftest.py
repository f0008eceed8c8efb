"""Fixtures for the QEMU suite: the built image (its absence fails the suite) and a real hub."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hubserver import RunningHub, free_port

ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[RunningHub]:
    # QEMU's user networking turns the guest's 10.0.2.2 into the host's loopback.
    running = RunningHub(tmp_path / "hub.sqlite3", free_port())
    running.start()
    yield running
    running.stop()


@pytest.fixture
def artifacts(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """A work folder whose logs are kept under qemu-tests/artifacts/ for a look after a failure."""
    yield tmp_path
    keep = ARTIFACTS / request.node.name.replace("/", "_")
    shutil.rmtree(keep, ignore_errors=True)
    keep.mkdir(parents=True)
    for log in tmp_path.glob("*.log"):
        shutil.copy(log, keep / log.name)
    for picture in tmp_path.glob("*.ppm"):
        shutil.copy(picture, keep / picture.name)
