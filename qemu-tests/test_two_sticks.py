"""Two reeeboot sticks plugged in: the system uses the configuration, key and outbox of the stick
whose root file system it mounted, and erases neither stick.

Every copy of the image has the same partition UUIDs and labels, so the initrd may mount the root
of a stick other than the one the firmware booted. The test makes that happen on purpose: the
volunteer's stick ("mine", booted first by the firmware) has its root partition renamed and
given another UUID, so the boot menu's `root=PARTUUID=` finds only the other station's copy. Before
the data and state partitions were found through the mounted root, this machine read its
configuration from either stick by label and erased the one it was booted from.

The machine boots through UEFI and the stick's own boot menu, as a donated PC does: BIOS and
32-bit UEFI read the same menu with the same command line (image/README.md, "Boot"). QEMU's
direct kernel boot, which names the root by its label, is only the other tests' shortcut.

Both sticks are larger than the image, as real ones are: the stick whose root runs grows its
state partition over the rest (reeeboot-grow-state.service, then systemd-growfs); the other one
is not changed at all.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import uuid
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from harness import (
    IMAGE,
    SCENARIOS,
    Boot,
    DiskSpec,
    Scenario,
    Stick,
    make_disk,
    marker_sectors,
    require_image,
    station_config,
)

from agent.report import dsse
from tests.hubserver import RunningHub

OTHER_SERIAL = "REEEBOOT-STICK-0002"
ROOT_PARTITION = "reeeboot-root"
ROOM = 512 << 20  # free space after the image on each stick
BACKUP_TABLE = 33 * 512  # GPT's backup header and entries, at the end of a stick
ACTIVE_FLAG_OFFSET = 446 + 16  # the boot flag of the MBR's second slot (image/build.sh)


def file_digest(path: Path) -> str:
    with open(path, "rb") as image:
        return hashlib.file_digest(image, "sha256").hexdigest()


def hide_root(stick: Stick) -> None:
    """Rename the stick's root partition and change its UUID: neither `root=PARTLABEL=` nor the
    menu's `root=PARTUUID=` can find it any more. Its ESP still boots."""
    table = json.loads(subprocess.run(["sfdisk", "--json", str(stick.path)], check=True,
                                      capture_output=True, text=True).stdout)["partitiontable"]
    [number] = [index for index, partition in enumerate(table["partitions"], start=1)
                if partition.get("name") == ROOT_PARTITION]
    subprocess.run(["sfdisk", "--quiet", "--part-label", str(stick.path), str(number),
                    "reeeboot-root-elsewhere"], check=True)
    subprocess.run(["sfdisk", "--quiet", "--part-uuid", str(stick.path), str(number),
                    str(uuid.uuid4())], check=True)


def test_with_two_sticks_the_system_keeps_to_the_stick_it_runs_from(
        hub: RunningHub, artifacts: Path) -> None:
    require_image()
    firmware = "uefi"
    base = Scenario.load(SCENARIOS / "three-buses.toml")
    serial = f"QEMU-TWO-STICKS-{firmware.upper()}"
    scenario = dataclasses.replace(
        base, firmware=firmware, system={**base.system, "serial": serial},
        disks=(DiskSpec("disk-virtio", "virtio", 24, f"RB-TWO-{firmware.upper()}"),))
    mine = Stick.copy_of(IMAGE, artifacts, "mine.img", room=ROOM)
    other = Stick.copy_of(IMAGE, artifacts, "other.img", room=ROOM)
    hide_root(mine)
    guest_hub_url = f"http://10.0.2.2:{hub.port}"
    mine.write_file("reeeboot.toml", station_config(
        guest_hub_url, hub.database.add_station("volunteer-stick"), unattended=True))
    other_token = hub.database.add_station("other-station")
    other.write_file("reeeboot.toml", station_config(guest_hub_url, other_token,
                                                     unattended=True))
    mine_before, other_before = file_digest(mine.path), other.digest_of_other_partitions()
    state_size_before = other.state_end - other.state_start
    disks = {spec.id: make_disk(spec, artifacts) for spec in scenario.disks}

    boot = Boot(scenario, artifacts, mine, disks, other_sticks=((other, OTHER_SERIAL),))
    boot.run_to_end(scenario.timeout_seconds)

    done = [event for event in boot.events() if event["event"] == "done"]
    assert done and done[-1]["ok"], f"serial log tail:\n{boot.serial_text()[-3000:]}"
    assert all(marker_sectors(path) == 0 for path in disks.values())
    # The volunteer's stick: not erased, not mounted, not written, not a byte changed.
    assert file_digest(mine.path) == mine_before, "the stick the firmware booted was changed"
    # The stick whose root ran: its own configuration and key, its own outbox.
    assert other.digest_of_other_partitions() == other_before
    other.check_state()
    # Its state partition took the free space after it, and the file system followed.
    assert other.state_end == other.path.stat().st_size - BACKUP_TABLE
    assert other.state_end - other.state_start >= state_size_before + ROOM - BACKUP_TABLE
    unused = other.state_end - other.state_start - other.state_file_system_bytes()
    assert 0 <= unused < 4096, f"{unused} bytes of the state partition not in its file system"
    verified = subprocess.run(["sfdisk", "--verify", str(other.path)], capture_output=True,
                              text=True)
    assert "No errors detected" in verified.stdout, verified.stdout + verified.stderr
    with open(other.path, "rb") as stick:  # the MBR's active mark, for old BIOSes, is kept
        stick.seek(ACTIVE_FLAG_OFFSET)
        assert stick.read(1) == b"\x80"
    [row] = [row for row in hub.database.reports() if row["system_serial"] == serial]
    report_id = str(row["report_id"])
    assert other.state_dir("sent") == [f"{report_id}.json", f"{report_id}.passport"]
    station = hub.database.station_by_token(other_token)
    assert station is not None and station.public_key is not None
    stored = hub.database.report(report_id)
    assert stored is not None
    report = json.loads(dsse.verify(json.loads(str(stored["envelope"])),
                                    Ed25519PublicKey.from_public_bytes(station.public_key)))
    # Signed with the other station's key (checked just above), and naming its stick.
    assert report["station"]["key_id"] == station.key_id
    assert report["station"]["stick"]["serial"] == OTHER_SERIAL
    paths = {disk["serial"]: disk["path"] for disk in report["machine"]["disks"]}
    excluded = {entry["path"]: entry["code"] for entry in report["excluded"]}
    assert excluded == {paths[OTHER_SERIAL]: "boot_device",
                        paths[scenario.stick_serial]: "reeeboot_stick"}
    assert [entry["serial"] for entry in report["erasure"]] == [scenario.disks[0].serial]
