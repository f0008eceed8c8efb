"""Real, small, sparse disk images for the install tests and bench: a GPT (or MBR) with an ESP
(FAT) and a root (ext4) filled from a folder, made without mounting anything."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from agent.install.bmap import create_bmap, render_bmap

MIB = 1 << 20
COMPRESSORS = {"zst": ["zstd", "-q", "-f", "-T0"], "xz": ["xz", "-k", "-f", "-T0", "-1"],
               "gz": ["gzip", "-k", "-f", "-1"]}


def _run(argv: list[str]) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def make_disk_image(path: Path, size: int, root_tree: Path, *, esp_mib: int = 8,
                    esp_files: dict[str, bytes] | None = None, table: str = "gpt") -> None:
    """A sparse `size`-byte disk image: partition 1 a FAT ESP, partition 2 an ext4 root holding
    `root_tree`. Only what the file systems wrote is allocated."""
    path.unlink(missing_ok=True)
    with open(path, "wb") as handle:
        handle.truncate(size)
    if table == "gpt":
        script = (f"label: gpt\nstart=1MiB, size={esp_mib}MiB, type=uefi, name=ESP\n"
                  "start=, size=, type=linux, name=root\n")
    else:
        script = f"label: dos\nstart=1MiB, size={esp_mib}MiB, type=ef\nstart=, size=, type=83\n"
    subprocess.run(["sfdisk", "--quiet", str(path)], input=script, check=True, text=True,
                   capture_output=True)
    layout = json.loads(_run(["sfdisk", "--json", str(path)]))["partitiontable"]
    sector = int(layout.get("sectorsize", 512))
    esp, root = layout["partitions"]
    esp_offset, root_offset = esp["start"] * sector, root["start"] * sector
    fat = [] if esp_mib < 32 else ["-F", "16" if esp_mib < 256 else "32"]
    _run(["mkfs.vfat", *fat, "-n", "ESP", f"--offset={esp['start']}", str(path),
          str(esp["size"] * sector // 1024)])
    for name, data in (esp_files or {"EFI/BOOT/BOOTX64.EFI": b"not really an EFI binary\n"}
                       ).items():
        staged = path.with_name(path.name + ".esp-file")
        staged.write_bytes(data)
        parts = name.split("/")
        for depth in range(1, len(parts)):
            subprocess.run(["mmd", "-D", "s", "-i", f"{path}@@{esp_offset}",
                            "::" + "/".join(parts[:depth])], check=False, capture_output=True)
        _run(["mcopy", "-o", "-i", f"{path}@@{esp_offset}", str(staged), "::" + name])
        staged.unlink()
    _run(["mkfs.ext4", "-q", "-F", "-L", "root", "-E", f"offset={root_offset}", "-d",
          str(root_tree), str(path), f"{root['size'] * sector // 1024}k"])


def fill_tree(tree: Path, *, seed: int = 1, files: int = 20, size: int = 96 << 10) -> None:
    """Some files of varied, compressible but not trivial content."""
    tree.mkdir(parents=True, exist_ok=True)
    (tree / "etc").mkdir(exist_ok=True)
    (tree / "etc" / "os-release").write_text('NAME="reeeboot test OS"\nVERSION_ID="1"\n')
    for n in range(files):
        words = " ".join(f"word{(seed * 7919 + n * 31 + i * i) % 5003}" for i in range(size // 9))
        (tree / f"file{n:03d}.txt").write_text(words[:size])


def copy_host_files(tree: Path, budget: int,
                    sources: tuple[str, ...] = ("/usr/lib", "/usr/share")) -> int:
    """Copy real files from the host into `tree` until `budget` bytes; returns bytes copied."""
    copied = 0
    for source in sources:
        for file in sorted(Path(source).rglob("*")):
            if copied >= budget:
                return copied
            if not file.is_file() or file.is_symlink():
                continue
            try:
                size = file.stat().st_size
                destination = tree / file.relative_to("/")
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(file, destination)
            except OSError:
                continue
            copied += size
    return copied


def compress(path: Path, kind: str) -> Path:
    """`path`.`kind`, the original kept."""
    _run([*COMPRESSORS[kind], str(path)])
    return path.with_name(f"{path.name}.{kind}")


def write_bmap(path: Path) -> Path:
    bmap_path = path.with_suffix(".bmap")
    bmap_path.write_text(render_bmap(create_bmap(path)))
    return bmap_path
