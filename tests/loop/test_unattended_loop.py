"""The unattended flow end to end on the host: loop disks, a real hub, status lines."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

from agent import flow
from agent.inventory import take_inventory
from agent.inventory.exclusions import find_exclusions
from agent.inventory.model import Machine
from agent.report import dsse
from agent.unattended import STATUS_PREFIX, StatusLine, is_unattended, run_unattended
from tests.conftest import LoopFactory
from tests.hubserver import RunningHub
from tests.loop.test_wipe_loop import fill_with_marker, marker_count


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
    for disk in targets:
        fill_with_marker(disk)
    subprocess.run(["mkfs.ext4", "-q", kept.path], check=True)
    mountpoint = tmp_path / "kept"
    mountpoint.mkdir()
    subprocess.run(["mount", kept.path, str(mountpoint)], check=True)

    def inventory_of_our_loops(_station: flow.Station) -> Machine:
        ours = {disk.path for disk in [*targets, kept]}
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
    assert [(e["path"], e["code"]) for e in report["excluded"]] == [(kept.path, "mounted")]
    # Benchmarks after the erasure: the erased disks read, the mounted one never touched.
    measured = {entry["path"]: entry for entry in report["benchmarks"]["disks"]}
    assert set(measured) == {disk.path for disk in targets}
    assert all(entry["result"] == "measured" and entry["bytes_read"] > 0
               for entry in measured.values())
    assert report["benchmarks"]["cpu"]["single_core_bytes_per_second"] > 0
    assert set(report["timings"]) == {"inventory", "erase", "bench"}
    assert report["outcome"]["value"] in ("reuse", "recycle")
