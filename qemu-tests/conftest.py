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


# tests/run runs the suite on two workers (pytest-xdist, --dist loadgroup): each QEMU machine
# emulates on one host thread, so two keep both cores busy. The files are split in two groups of
# about the same length, one per worker, from the times the suite prints at its end (the power
# cut's six boots are the longest test by far); a file not named here joins the second group.
# Move a file when the times drift apart. The network boot test starts several machines itself:
# tests/run runs it alone, before the two workers.
FIRST_WORKER = ("test_power_cut.py", "test_two_sticks.py", "test_desktop_os.py",
                "test_walkthrough_loop.py", "test_os_install_loop.py")


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        group = "first" if item.path.name in FIRST_WORKER else "second"
        item.add_marker(pytest.mark.xdist_group(group))
