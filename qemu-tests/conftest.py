"""Fixtures for the QEMU suite: the built image (its absence fails the suite) and a real hub."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hubserver import hub

ARTIFACTS = Path(__file__).parent / "artifacts"
__all__ = ["hub"]  # a real hub on the host


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


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A station's data partition folder, for the tests that run the agent on this machine."""
    directory = tmp_path / "data"
    directory.mkdir()
    return directory
