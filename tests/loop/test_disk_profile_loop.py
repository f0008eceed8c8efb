"""Disks read through the machine source: a recorded machine lists the same disks on replay."""

from __future__ import annotations

import json
import subprocess

from agent.inventory.disks import list_disks
from agent.inventory.source import LiveSource, ProfileSource
from tests.conftest import LoopFactory


def test_disks_recorded_live_are_listed_identically_from_the_profile(
    loop_disk: LoopFactory,
) -> None:
    disk = loop_disk(24 << 20, sector_size=4096)
    subprocess.run(["mkfs.ext4", "-q", "-L", "DONATED", disk.path], check=True)
    live = LiveSource(record=True)
    recorded = list_disks(live, with_smart=True, include_loop=True)
    profile = json.loads(json.dumps(live.profile("loop devices", "recorded by a test")))

    replayed = list_disks(ProfileSource(profile), with_smart=True, include_loop=True)
    assert replayed == recorded
    [again] = [d for d in replayed if d.path == disk.path]
    assert (again.size_bytes, again.logical_sector_size, again.bus) == (24 << 20, 4096, "loop")
    assert [argv[0] for argv in (c["argv"] for c in profile["commands"])].count("lsblk") >= 1
    assert any(c["argv"][0].endswith("smartctl") for c in profile["commands"])


def test_an_empty_profile_has_no_disks() -> None:
    assert list_disks(ProfileSource({"format": "reeeboot.profile/1"}), include_loop=True) == []
