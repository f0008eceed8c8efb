"""Leaving the installed system's chroot must not take the live system's mounts with it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Runs in a mount namespace of its own, whose mounts are made shared as systemd makes the live
# system's: were the code wrong, it unmounts that namespace's /sys submounts, not this machine's.
CHROOT_AND_BACK = """
import subprocess, sys
from pathlib import Path
from agent.install.mounts import api_file_systems
from agent.runner import run

subprocess.run(["mount", "--make-rshared", "/"], check=True)

def sys_mounts():
    listed = subprocess.run(["findmnt", "-n", "-R", "-o", "TARGET", "/sys"],
                            capture_output=True, text=True, check=True)
    return sorted(listed.stdout.split())

before = sys_mounts()
root = Path(sys.argv[1])
with api_file_systems(root, run):
    assert (root / "proc/self/status").is_file()
print(len(before), len(sys_mounts()), sorted(set(before) - set(sys_mounts())))
"""


def test_the_live_system_keeps_its_sys_mounts_after_the_chroot(tmp_path: Path) -> None:
    """grub-install runs chrooted in the installed system with /dev, /proc and /sys bound in.
    Unmounting those copies once unmounted, through mount propagation, /sys/fs/cgroup and the
    rest of the live system's /sys: systemd then hung at power off."""
    if os.geteuid() != 0:
        pytest.fail("mount namespaces need root (run through tests/run)")
    root = tmp_path / "installed"
    root.mkdir()
    done = subprocess.run(["unshare", "--mount", sys.executable, "-c", CHROOT_AND_BACK,
                           str(root)], capture_output=True, text=True,
                          cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr
    before, after, lost = done.stdout.split(" ", 2)
    assert int(before) > 1, "no /sys submounts to lose: the test proves nothing here"
    assert (int(after), lost.strip()) == (int(before), "[]")
