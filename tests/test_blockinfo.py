"""Partitions through blkinfo: lsblk runs through the runner, its tree becomes Partitions."""

from __future__ import annotations

from agent.inventory.blockinfo import disk_tree, partitions_of
from agent.inventory.model import Partition
from agent.runner import default_recorder


def test_lsblk_is_run_through_the_recorder_and_finds_the_root_disk() -> None:
    before = len(default_recorder().records)
    tree = disk_tree()
    commands = [record.argv[0] for record in default_recorder().records[before:]]
    assert commands and set(commands) == {"lsblk"}
    mounted = {node["mountpoint"] for node in tree.values()} | {
        child["mountpoint"] for node in tree.values() for child in node["children"]}
    assert "/" in mounted


def test_partitions_of_a_blkinfo_node() -> None:
    node = {
        "kname": "sda", "type": "disk", "children": [
            {"kname": "sda1", "type": "part", "fstype": "vfat", "label": "SYSTEM",
             "size": "104857600", "mountpoint": "", "children": []},
            {"kname": "sda2", "type": "part", "fstype": "ntfs", "label": "Windows",
             "size": "255000000000", "mountpoint": "/mnt/win", "children": []},
            {"kname": "dm-0", "type": "crypt", "fstype": "", "label": "", "size": "1",
             "mountpoint": "", "children": []},
        ],
    }
    assert partitions_of(node) == (
        Partition("sda1", "vfat", "SYSTEM", 104857600, None),
        Partition("sda2", "ntfs", "Windows", 255000000000, "/mnt/win"),
    )
