"""Recorded machines for the platform tests, built from the published dumps in fixtures/machines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.inventory.source import PROFILE_FORMAT, ProfileSource

MACHINES = Path(__file__).parent / "fixtures" / "machines"


def dmidecode_of(name: str) -> str:
    return (MACHINES / name / "dmidecode.txt").read_text()


def cpuinfo_of(name: str) -> str:
    return (MACHINES / name / "cpuinfo.txt").read_text()


def recorded_machine(
    *,
    dmidecode: str | None = None,
    cpuinfo: str | None = None,
    files: dict[str, Any] | None = None,
    udev: dict[str, list[dict[str, Any]]] | None = None,
) -> ProfileSource:
    """A profile as the live source records it: dmidecode's output, /proc/cpuinfo, other files."""
    commands = [] if dmidecode is None else [
        {"argv": ["dmidecode"], "returncode": 0, "stdout": dmidecode, "stderr": ""}]
    recorded_files = dict(files or {})
    if cpuinfo is not None:
        recorded_files["/proc/cpuinfo"] = cpuinfo
    return ProfileSource({"format": PROFILE_FORMAT, "description": "test machine",
                          "files": recorded_files, "udev": udev or {}, "commands": commands})
