"""Shared fixtures: real loop devices, a real hub served over HTTP, a station data folder."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.i18n import set_language
from agent.inventory.disks import list_disks
from agent.inventory.model import Disk
from tests.hubserver import hub
from tests.receiver import receiver

LoopFactory = Callable[..., Disk]
__all__ = ["hub", "receiver"]  # the real hub fixture, shared with the QEMU suite


@pytest.fixture
def loop_disk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopFactory]:
    """Make loop devices backed by files in RAM; they need root, and their absence is a failure."""
    if os.geteuid() != 0 or shutil.which("losetup") is None:
        pytest.fail("loop-device tests need root and losetup (run them through tests/run)")
    backing_dir = Path(os.environ.get("REEEBOOT_LOOP_DIR", "/dev/shm"))
    created: list[str] = []
    files: list[Path] = []

    def make(size: int, *, backing: Path | None = None, sector_size: int = 512,
             partscan: bool = False) -> Disk:
        """`partscan`: the kernel reads a partition table written on it later (sfdisk)."""
        path = backing or backing_dir / f"reeeboot-test-{os.getpid()}-{len(files)}.img"
        with open(path, "wb") as handle:
            handle.truncate(size)
        files.append(path)
        device = subprocess.run(
            ["losetup", "--find", "--show", f"--sector-size={sector_size}",
             *(["--partscan"] if partscan else []), str(path)],
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


@pytest.fixture(autouse=True)
def default_language() -> Iterator[None]:
    """Each test starts in the agent's default language, French, whatever the one before it
    set (opening a station sets its settings' language for the whole process): on two workers
    the order of the tests changes from run to run."""
    set_language("fr")
    yield


@pytest.fixture(autouse=True, scope="session")
def status_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where an unattended run without a serial port keeps its status lines: a folder of the
    test session, never the host's /run/reeeboot (set once, not for each test)."""
    path = tmp_path_factory.mktemp("run") / "status.jsonl"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REEEBOOT_STATUS_FILE", str(path))
        yield path


@pytest.fixture
def english() -> Iterator[None]:
    """Messages matched in English; the agent's default language is French. Use with
    `pytestmark = pytest.mark.usefixtures("english")`."""
    set_language("en")
    yield
    set_language("fr")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "data"
    directory.mkdir()
    return directory
