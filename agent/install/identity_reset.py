"""Making the written image this computer's own system: a new machine id at first boot, new SSH
host keys, the hostname from the asset id, the first boot's questions for the new owner, and an
fstab with this disk's file system UUIDs."""

from __future__ import annotations

import datetime
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from agent.fsutil import write_durably

FIRSTBOOT_UNIT = "usr/lib/systemd/system/reeeboot-os-firstboot.service"
FIRSTBOOT_PENDING = "etc/reeeboot-os/firstboot-pending"
INSTALL_RECORD = "etc/reeeboot-os/installed.json"
# systemd treats "uninitialized" as "first boot": it makes the machine id then, and runs the
# first-boot units.
MACHINE_ID_FIRST_BOOT = "uninitialized\n"
# Per-machine secrets and state that must not be shared by every computer installed from one image.
PER_MACHINE_FILES = ("var/lib/systemd/random-seed", "var/lib/systemd/credential.secret")
# Where reeeboot's OS images keep /boot (kernel, initrd): systemd-repart leaves /boot out of an
# image's root file system, as the ESP's mount point.
BOOT_STASH = "var/lib/reeeboot-os/boot"


@dataclass(frozen=True)
class IdentityReset:
    hostname: str
    ssh_host_keys_removed: tuple[str, ...]
    firstboot_questions: bool  # the image has the first boot's questions, and they will run

    def to_json(self) -> dict[str, object]:
        return {"hostname": self.hostname, "machine_id": "uninitialized",
                "ssh_host_keys_removed": list(self.ssh_host_keys_removed),
                "firstboot_questions": self.firstboot_questions}


def restore_boot(root: Path) -> bool:
    """The image's kernel and initrd back into /boot, where Debian's updates expect them."""
    stash = root / BOOT_STASH
    if not stash.is_dir():
        return False
    for item in stash.iterdir():
        target = root / "boot" / item.name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(item, target)
    stash.rmdir()
    return True


def reset_identity(root: Path, hostname: str, record: dict[str, object]) -> IdentityReset:
    write_durably(root / "etc/machine-id", MACHINE_ID_FIRST_BOOT.encode())
    dbus_id = root / "var/lib/dbus/machine-id"
    if dbus_id.is_file() and not dbus_id.is_symlink():
        dbus_id.unlink()
    for name in PER_MACHINE_FILES:
        (root / name).unlink(missing_ok=True)
    removed = []
    for key in sorted((root / "etc/ssh").glob("ssh_host_*")):
        key.unlink()
        removed.append(key.name)

    write_durably(root / "etc/hostname", f"{hostname}\n".encode())
    _set_hosts_name(root / "etc/hosts", hostname)

    firstboot = (root / FIRSTBOOT_UNIT).exists()
    if firstboot:
        write_durably(root / FIRSTBOOT_PENDING, b"")
    stamped = {**record, "hostname": hostname,
               "installed_at": datetime.datetime.now(datetime.UTC).isoformat()}
    write_durably(root / INSTALL_RECORD, json.dumps(stamped, indent=1).encode())
    return IdentityReset(hostname, tuple(removed), firstboot)


def _set_hosts_name(hosts: Path, hostname: str) -> None:
    """127.0.1.1 names the machine, as Debian's installer writes it."""
    lines = hosts.read_text().splitlines() if hosts.exists() else ["127.0.0.1\tlocalhost"]
    lines = [line for line in lines if not line.startswith("127.0.1.1")]
    lines.insert(1 if lines else 0, f"127.0.1.1\t{hostname}")
    write_durably(hosts, ("\n".join(lines) + "\n").encode())


def write_fstab(root: Path, root_uuid: str, root_type: str, esp_uuid: str | None) -> None:
    lines = [
        "# Written by reeeboot's install step: this disk's file systems, by UUID.",
        f"UUID={root_uuid}\t/\t{root_type}\terrors=remount-ro\t0\t1",
    ]
    if esp_uuid is not None:
        lines.append(f"UUID={esp_uuid}\t/boot/efi\tvfat\tumask=0077\t0\t1")
    write_durably(root / "etc/fstab", ("\n".join(lines) + "\n").encode())
