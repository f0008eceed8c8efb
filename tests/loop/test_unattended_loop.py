"""The unattended flow end to end on the host: loop disks, a real hub, status lines."""

from __future__ import annotations

import io
import json
import os
import subprocess
from pathlib import Path

from agent import flow
from agent.inventory import take_inventory
from agent.inventory.exclusions import Mount, find_exclusions, running_root_disk
from agent.inventory.gpt import partition_names
from agent.inventory.model import Disk, Machine
from agent.report import dsse
from agent.unattended import STATUS_PREFIX, StatusLine, is_unattended, run_unattended
from tests.conftest import LoopFactory
from tests.hubserver import RunningHub
from tests.loop.test_wipe_loop import fill_with_marker, marker_count


def stick_copy(loop_disk: LoopFactory) -> Disk:
    """A disk laid out as a reeeboot stick's data and state partitions (image/repart/)."""
    disk = loop_disk(48 << 20, partscan=True)
    layout = ("label: gpt\n"
              "size=16MiB, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name=REEEBOOT\n"
              "size=16MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=reeeboot-state\n")
    subprocess.run(["sfdisk", "--quiet", disk.path], input=layout, text=True, check=True)
    # sfdisk's re-read does not always reach a loop device: tell the kernel of each partition.
    subprocess.run(["partx", "--add", disk.path], check=False, capture_output=True)
    subprocess.run(["udevadm", "settle"], check=True)
    subprocess.run(["mkfs.vfat", "-n", "REEEBOOT", f"{disk.path}p1"], check=True,
                   capture_output=True)
    subprocess.run(["mkfs.ext4", "-q", "-L", "reeeboot-state", f"{disk.path}p2"], check=True)
    subprocess.run(["udevadm", "settle"], check=True)
    return disk


def file_system_label(partition: str) -> str:
    return subprocess.run(["blkid", "--probe", "--output", "value", "--match-tag", "LABEL",
                           partition], check=True, capture_output=True, text=True).stdout.strip()


def test_unattended_run_erases_reports_and_spares_the_mounted_disk(
    loop_disk: LoopFactory, hub: RunningHub, data_dir: Path, tmp_path: Path
) -> None:
    token = hub.database.add_station("lyon-3")
    (data_dir / "reeeboot.toml").write_text(
        f'language = "en"\nunattended = true\n[station]\nname = "lyon-3"\n'
        f'[hub]\nurl = "{hub.url}"\nenrollment_token = "{token}"\n'
    )
    station = flow.open_station(data_dir)
    assert station.problems == []
    assert is_unattended(station.config, "quiet reeeboot.unattended=1")
    assert not is_unattended(station.config, "quiet")

    targets = [loop_disk(12 << 20), loop_disk(20 << 20)]
    kept = loop_disk(16 << 20)
    other_stick = stick_copy(loop_disk)
    for disk in targets:
        fill_with_marker(disk)
    subprocess.run(["mkfs.ext4", "-q", kept.path], check=True)
    mountpoint = tmp_path / "kept"
    mountpoint.mkdir()
    subprocess.run(["mount", kept.path, str(mountpoint)], check=True)

    def inventory_of_our_loops(_station: flow.Station) -> Machine:
        ours = {disk.path for disk in [*targets, kept, other_stick]}
        machine = take_inventory(data_dir, with_smart=False, include_loop=True)
        disks = tuple(disk for disk in machine.disks if disk.path in ours)
        return Machine(machine.system, machine.cpu, machine.memory, disks,
                       tuple(find_exclusions(disks, data_dir=data_dir)))

    console = io.StringIO()
    try:
        code = run_unattended(station, StatusLine(console), power_off=False,
                              take_inventory=inventory_of_our_loops)
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)

    events = [json.loads(line[len(STATUS_PREFIX):]) for line in console.getvalue().splitlines()]
    assert events[0]["event"] == "start"
    assert events[-1] == {"event": "done", "ok": True, "failed": [], "report_waiting": False}
    assert code == 0
    outcomes = {e["device"]: (e["result"], e["method"], e["level"])
                for e in events if e["event"] == "disk_result"}
    assert outcomes == {disk.path: ("erased", "random", "clear") for disk in targets}
    assert all(marker_count(disk) == 0 for disk in targets)

    [row] = hub.database.reports()
    stored = hub.database.report(str(row["report_id"]))
    assert stored is not None
    report = json.loads(dsse.verify(json.loads(str(stored["envelope"])), station.key.public_key()))
    assert sorted(e["device"] for e in report["erasure"]) == sorted(d.path for d in targets)
    # Another station's stick, plugged in beside this one, is never erased: it carries a
    # reeeboot stick's partitions, though nothing of it is mounted.
    assert sorted((e["path"], e["code"]) for e in report["excluded"]) == sorted(
        [(kept.path, "mounted"), (other_stick.path, "reeeboot_stick")])
    assert partition_names(other_stick.path) == ["REEEBOOT", "reeeboot-state"]
    assert file_system_label(f"{other_stick.path}p1") == "REEEBOOT"
    # Benchmarks after the erasure: the erased disks read, the mounted one never touched.
    measured = {entry["path"]: entry for entry in report["benchmarks"]["disks"]}
    assert set(measured) == {disk.path for disk in targets}
    assert all(entry["result"] == "measured" and entry["bytes_read"] > 0
               for entry in measured.values())
    assert report["benchmarks"]["cpu"]["single_core_bytes_per_second"] > 0
    assert set(report["timings"]) == {"inventory", "erase", "bench"}
    assert report["outcome"]["value"] in ("reuse", "recycle")


def test_the_stick_under_the_overlay_root_is_found_through_erofs(
        loop_disk: LoopFactory, tmp_path: Path) -> None:
    """Under the live system's RAM overlay, mountinfo no longer lists the stick's erofs; the
    file systems erofs has mounted are named in sysfs by their block device."""
    stick = loop_disk(8 << 20)
    overlay_root = [Mount("0:31", "/", "overlay", "overlay", "rw,lowerdir=/sysroot")]
    erofs = tmp_path / "erofs"
    (erofs / "features").mkdir(parents=True)
    assert running_root_disk(overlay_root, erofs) is None
    (erofs / stick.name).mkdir()
    assert running_root_disk(overlay_root, erofs) == stick.name
    (erofs / loop_disk(8 << 20).name).mkdir()  # two: no guess
    assert running_root_disk(overlay_root, erofs) is None
    number = os.stat(stick.path).st_rdev
    plain_root = [Mount(f"{os.major(number)}:{os.minor(number)}", "/", "ext4", stick.path, "rw")]
    assert running_root_disk(plain_root, erofs) == stick.name


def test_the_stick_under_the_root_is_kept_whatever_root_names(
        loop_disk: LoopFactory, tmp_path: Path) -> None:
    """`root=` may name another copy of the stick; the one the system runs from is kept by the
    device under its mounted root, found through erofs under the live overlay."""
    stick, other = loop_disk(8 << 20), loop_disk(8 << 20)
    overlay_root = [Mount("0:31", "/", "overlay", "overlay", "rw,lowerdir=/sysroot")]
    erofs = tmp_path / "erofs"
    (erofs / stick.name).mkdir(parents=True)
    excluded = find_exclusions([stick, other], mounts=overlay_root,
                               cmdline=f"root={other.path} ro", data_dir=None,
                               swaps=tmp_path / "no-swaps", sys_fs_erofs=erofs)
    assert [(item.path, item.code) for item in excluded] == [
        (stick.path, "boot_device"), (other.path, "boot_device")]
    assert "(/)" in excluded[0].reason
