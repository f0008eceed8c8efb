"""Writing files so that a power cut leaves either the old or the new content, never half."""

from __future__ import annotations

import os
from pathlib import Path

TEMPORARY_SUFFIX = ".tmp"  # write_durably's `.NAME.tmp`, renamed to NAME once synced


def write_durably(path: Path, content: bytes, mode: int = 0o644) -> None:
    """On a journaling file system (the stick's state partition, docs/state.md), a power cut
    at any instant leaves `path` either as it was or with `content`, whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary_for(path)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
    sync_directory(path.parent)


def sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems (vfat on some kernels) refuse fsync on directories
    finally:
        os.close(fd)


def _temporary_for(path: Path) -> Path:
    return path.with_name(f".{path.name}{TEMPORARY_SUFFIX}")


def _is_temporary(name: str) -> bool:
    return name.startswith(".") and name.endswith(TEMPORARY_SUFFIX)


def remove_unfinished_writes(directory: Path) -> list[Path]:
    """Delete the temporary files of writes that a power cut or a crash stopped before their
    rename, anywhere under `directory`: each file's content of record is still under its own
    name, and a stray copy of a key or a report has no business staying. The paths removed."""
    removed = []
    for folder, _subfolders, names in os.walk(directory):
        for name in names:
            if _is_temporary(name):
                path = Path(folder) / name
                path.unlink()
                removed.append(path)
    for parent in {path.parent for path in removed}:
        sync_directory(parent)
    return removed
