"""GPT partition names read from the disk itself (what tells another reeeboot stick); a disk of
4096-byte sectors is in tests/loop/test_blockdev_loop.py."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from agent.inventory.exclusions import partition_names_in_time
from agent.inventory.gpt import partition_names

STICK_LAYOUT = ("label: gpt\n"
                "size=2MiB, type=uefi, name=ESP\n"
                "size=2MiB, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name=REEEBOOT\n"
                "size=2MiB, type=linux, name=reeeboot-state\n"
                "size=2MiB, type=linux, name=\"Données é\"\n")


def test_the_names_come_from_the_table_on_the_disk(tmp_path: Path) -> None:
    image = tmp_path / "disk.img"
    image.write_bytes(bytes(16 << 20))
    subprocess.run(["sfdisk", "--quiet", str(image)], input=STICK_LAYOUT, text=True, check=True)
    assert partition_names(str(image)) == ["ESP", "REEEBOOT", "reeeboot-state", "Données é"]


def test_no_table_or_a_damaged_one_gives_no_names(tmp_path: Path) -> None:
    image = tmp_path / "disk.img"
    image.write_bytes(bytes(16 << 20))
    assert partition_names(str(image)) == []
    subprocess.run(["sfdisk", "--quiet", str(image)], input=STICK_LAYOUT, text=True, check=True)
    with open(image, "r+b") as disk:  # an entry count no partitioning tool writes
        disk.seek(512 + 80)
        disk.write((1 << 20).to_bytes(4, "little"))
    assert partition_names(str(image)) == []
    assert partition_names(str(tmp_path / "missing.img")) == []


def test_a_disk_that_does_not_answer_is_not_waited_for(tmp_path: Path) -> None:
    """A read that blocks (here a pipe nobody writes to, as a dying disk in its retries) gives no
    names after the time allowed, and the inventory goes on."""
    pipe = tmp_path / "silent"
    os.mkfifo(pipe)
    assert partition_names_in_time(str(pipe), seconds=0.2) == []
    os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))  # let the reader go
