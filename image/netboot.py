#!/usr/bin/env python3
"""Makes the network boot files from the live image just built (image/build.sh calls it).

The same build serves sticks and network boot: out/netboot/ gets the stick's kernel, its initrd
with image/netboot/ appended (a cpio archive: the unit that checks and attaches the root that
came over the network), the stick's root partition as a file, the programs that PXE firmware
loads first (Debian's iPXE; for UEFI, Secure Boot on or off, shim and Debian's signed network
GRUB, named as shim looks for it), and netboot.json, which the boot service
(`reeeboot-hub netboot`, docs/netboot.md) reads: each file's size and sha256, and the kernel
command line.

Shim and GRUB are read from the image's own root (a read-only loop mount, hence root): the
stick's shim, and the network GRUB of the same `grub-efi-amd64-signed`, which that shim trusts.

    image/netboot.py IMAGE KERNEL INITRD MKOSI_GRUB_CFG IPXE_DIR OUT_DIR
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT_TYPE = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709"  # GPT "Linux root (x86-64)"
IPXE_FILES = ("undionly.kpxe", "snponly.efi", "ipxe.efi")
# In the image's root, and the names hub/netboot/dnsmasq.py serves them under (shim loads
# "grubx64.efi" from beside itself).
SIGNED_LOADERS = {"usr/lib/shim/shimx64.efi.signed": "shimx64.efi",
                  "usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed": "grubx64.efi"}
TREE = Path(__file__).resolve().parent / "netboot"
# root=/dev/loop0: the initrd attaches the file that came over the network there
# (image/netboot/usr/lib/reeeboot/netroot); no stick partition is ever named.
NETBOOT_ROOT = "root=/dev/loop0 rootfstype=erofs"


def newc_entry(name: str, mode: int, data: bytes, inode: int) -> bytes:
    fields = [inode, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0]
    header = b"070701" + b"".join(b"%08X" % value for value in fields)
    entry = header + name.encode() + b"\0"
    entry += b"\0" * (-len(entry) % 4) + data
    return entry + b"\0" * (-len(entry) % 4)


def cpio_of(tree: Path) -> bytes:
    """An uncompressed newc archive of `tree`, owned by root: the kernel unpacks it after (and
    over) the compressed archive before it."""
    archive = b""
    paths = sorted(tree.rglob("*"))
    for inode, path in enumerate(paths, start=1):
        name = path.relative_to(tree).as_posix()
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            archive += newc_entry(name, stat.S_IFLNK | 0o777, os.readlink(path).encode(), inode)
        elif stat.S_ISDIR(info.st_mode):
            archive += newc_entry(name, stat.S_IFDIR | 0o755, b"", inode)
        else:
            mode = 0o755 if info.st_mode & 0o111 else 0o644
            archive += newc_entry(name, stat.S_IFREG | mode, path.read_bytes(), inode)
    return archive + newc_entry("TRAILER!!!", 0, b"", 0)


def root_partition(image: Path) -> tuple[int, int]:
    """(offset, size) in bytes of the image's root partition."""
    table = json.loads(subprocess.run(["sfdisk", "--json", str(image)], check=True,
                                      capture_output=True, text=True).stdout)["partitiontable"]
    sector = table.get("sectorsize", 512)
    roots = [part for part in table["partitions"] if part["type"].upper() == ROOT_TYPE]
    if len(roots) != 1:
        sys.exit(f"netboot.py: expected one root partition in {image}, found {len(roots)}")
    return roots[0]["start"] * sector, roots[0]["size"] * sector


def erofs_length(head: bytes) -> int:
    """The erofs file system's own length (its superblock's block count), at most the
    partition: the partition's tail after it is padding no machine needs to download."""
    superblock = head[1024:1024 + 128]
    if int.from_bytes(superblock[0:4], "little") != 0xE0F5E1E2:
        sys.exit("netboot.py: the root partition is not erofs")
    block_size = 1 << superblock[12]
    blocks = int.from_bytes(superblock[36:40], "little")
    return blocks * block_size


def copy_range(source: Path, target: Path, offset: int, length: int) -> None:
    with source.open("rb") as reading, target.open("wb") as writing:
        reading.seek(offset)
        left = length
        while left:
            chunk = reading.read(min(left, 8 << 20))
            if not chunk:
                sys.exit(f"netboot.py: {source} ends inside its root partition")
            writing.write(chunk)
            left -= len(chunk)


def kernel_options(mkosi_grub_cfg: str) -> str:
    """The stick's command line (mkosi's entry) with the network's root in place of the
    partition's."""
    lines = re.findall(r"^\s*linux\s+\S+\s+(.*)$", mkosi_grub_cfg, re.MULTILINE)
    if len(lines) != 1:
        sys.exit("netboot.py: expected one kernel entry in mkosi's grub.cfg")
    options = [word for word in lines[0].split() if not word.startswith("root=")]
    return " ".join([NETBOOT_ROOT, *options])


def copy_from_root(root: Path, files: dict[str, str], target: Path) -> None:
    """Files of the image's root file system (`root`, erofs) into `target` under new names."""
    with tempfile.TemporaryDirectory(prefix="reeeboot-netboot-root-") as mountpoint:
        subprocess.run(["mount", "-o", "loop,ro", "-t", "erofs", str(root), mountpoint],
                       check=True)
        try:
            for inside, name in files.items():
                source = Path(mountpoint) / inside
                if not source.is_file():
                    sys.exit(f"netboot.py: the image has no /{inside}")
                shutil.copyfile(source, target / name)
        finally:
            subprocess.run(["umount", mountpoint], check=True)


def described(path: Path) -> dict[str, object]:
    digest = hashlib.sha256()
    with path.open("rb") as reading:
        while chunk := reading.read(8 << 20):
            digest.update(chunk)
    return {"size": path.stat().st_size, "sha256": digest.hexdigest()}


def main(argv: list[str]) -> None:
    image, kernel, initrd, grub_cfg, ipxe_dir, out = map(Path, argv)
    missing = [name for name in IPXE_FILES if not (ipxe_dir / name).is_file()]
    if missing:
        sys.exit(f"netboot.py: {ipxe_dir} lacks {', '.join(missing)}")
    staging = out.with_name(out.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    shutil.copyfile(kernel, staging / "vmlinuz")
    with (staging / "initrd").open("wb") as writing:
        writing.write(initrd.read_bytes())
        writing.write(cpio_of(TREE))
    offset, size = root_partition(image)
    with image.open("rb") as reading:
        reading.seek(offset)
        length = erofs_length(reading.read(4096))
    if length > size:
        sys.exit("netboot.py: the erofs file system is longer than its partition")
    copy_range(image, staging / "root.erofs", offset, length)
    for name in IPXE_FILES:
        shutil.copyfile(ipxe_dir / name, staging / name)
    copy_from_root(staging / "root.erofs", SIGNED_LOADERS, staging)
    manifest = {
        "version": datetime.datetime.now(datetime.UTC).strftime("%Y%m%d%H%M%S"),
        "cmdline": kernel_options(grub_cfg.read_text(encoding="utf-8")),
        "files": {name: described(staging / name) for name in ("vmlinuz", "initrd", "root.erofs")},
    }
    (staging / "netboot.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)


if __name__ == "__main__":
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    main(sys.argv[1:])
