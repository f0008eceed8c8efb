"""Mounting the installed system to finish it: its root, and for commands run inside it
(grub-install) the kernel's /dev, /proc and /sys."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from agent.install.steps import run_checked
from agent.runner import Runner

API_FILE_SYSTEMS = ("dev", "proc", "sys")


@contextlib.contextmanager
def mounted(node: str, target: Path, run: Runner, *, read_only: bool = False) -> Iterator[Path]:
    target.mkdir(parents=True, exist_ok=True)
    options = ["-o", "ro"] if read_only else []
    run_checked(run, ["mount", *options, node, str(target)], "mount")
    try:
        yield target
    finally:
        if run(["umount", str(target)]).returncode != 0:
            # Something still holds it (a process started in a chroot): detach it all the same,
            # so that nothing later mistakes the installed system for an empty folder.
            run(["umount", "--lazy", str(target)])


@contextlib.contextmanager
def installed_root(root_node: str, run: Runner, *, read_only: bool = False) -> Iterator[Path]:
    """The installed root at a temporary mount point (its ESP is read and written with
    mtools, not mounted). The mount point is removed with rmdir, never recursively: were the
    unmount to fail, a recursive removal would delete the installed system."""
    directory = Path(tempfile.mkdtemp(prefix="reeeboot-install-"))
    try:
        with mounted(root_node, directory, run, read_only=read_only) as root:
            yield root
    finally:
        with contextlib.suppress(OSError):
            directory.rmdir()


@contextlib.contextmanager
def api_file_systems(root: Path, run: Runner) -> Iterator[None]:
    """/dev, /proc and /sys inside `root`, for commands that run chrooted there.

    Each copy is made a slave before anything else: the live system's mounts are shared (systemd
    makes / shared), so without it unmounting the copies recursively would unmount, through
    propagation, the live system's own /dev/pts, /sys/fs/cgroup and the like, and systemd could
    then neither unmount the stick's partitions nor power the machine off."""
    with contextlib.ExitStack() as stack:
        for name in API_FILE_SYSTEMS:
            target = root / name
            target.mkdir(exist_ok=True)
            run_checked(run, ["mount", "--rbind", f"/{name}", str(target)], "mount")
            stack.callback(run, ["umount", "--recursive", "--lazy", str(target)])
            run_checked(run, ["mount", "--make-rslave", str(target)], "mount")
        yield
