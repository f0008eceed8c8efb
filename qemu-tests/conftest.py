"""Fixtures for the QEMU suite: the built image (its absence fails the suite) and a real hub."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.inventory.model import Disk
from tests.hubserver import hub

ARTIFACTS = Path(__file__).parent / "artifacts"
__all__ = ["hub"]  # a real hub on the host
DiskFactory = Callable[[int], Disk]


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


@pytest.fixture
def partitioned_loop(tmp_path: Path) -> Iterator[DiskFactory]:
    """Loop devices with partition scanning (the kernel shows /dev/loopNpM), backed by RAM."""
    if os.geteuid() != 0 or shutil.which("losetup") is None:
        pytest.fail("loop-device tests need root and losetup (run them through tests/run)")
    devices: list[str] = []
    files: list[Path] = []

    def make(size: int) -> Disk:
        backing = Path("/dev/shm") / f"reeeboot-install-{os.getpid()}-{len(files)}.img"
        with open(backing, "wb") as handle:
            handle.truncate(size)
        files.append(backing)
        device = subprocess.run(["losetup", "--find", "--show", "--partscan", str(backing)],
                                check=True, capture_output=True, text=True).stdout.strip()
        devices.append(device)
        return Disk(name=Path(device).name, path=device, bus="loop", model="test disk",
                    serial=f"loop-{len(files)}", size_bytes=size, logical_sector_size=512,
                    rotational=False, removable=False)

    yield make
    for device in devices:
        subprocess.run(["umount", "--recursive", "--lazy", f"{device}p3"], check=False,
                       capture_output=True)
        subprocess.run(["losetup", "-d", device], check=False)
    for backing in files:
        backing.unlink(missing_ok=True)


# tests/run runs the suite on two workers (pytest-xdist, --dist load): each QEMU machine emulates
# on one host thread, so two keep both cores busy, and a worker takes the next test when it is
# done with one. The longest tests go first, so that none is left to run alone at the end while
# the other worker idles (measured here: power cut 640 to 1,235 s, install 580, the attended
# walk-through 500, unattended runs and the attended crash about 260 each, two sticks 240, the
# untouched boot menu 220, the other firmware tests and the loop-device files under 40 each; the
# desktop test's image is built in CI only). A file not named here comes after those named.
# The network boot test starts several machines itself: tests/run runs it alone, before.
LONGEST_FIRST = ("test_power_cut.py", "test_install_flow.py", "test_desktop_os.py",
                 "test_attended.py", "test_unattended_flow.py", "test_two_sticks.py",
                 "test_firmware_boots.py", "test_walkthrough_loop.py", "test_os_install_loop.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: a file's own tests keep their order
