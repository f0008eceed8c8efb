"""Which software made the report: reeeboot, the kernel, Python, and the tools it ran."""

from __future__ import annotations

import platform
import re
from importlib import metadata

from agent import __version__
from agent.runner import CommandNotFound, Recorder, default_recorder

# How each tool the agent may run tells its version; asked only for tools this session ran.
VERSION_COMMANDS: dict[str, tuple[str, ...]] = {
    "smartctl": ("smartctl", "--version"),
    "nvme": ("nvme", "version"),
    "hdparm": ("hdparm", "-V"),
    "sg_sanitize": ("sg_sanitize", "--version"),
    "mmc": ("mmc", "--version"),
    "dmidecode": ("dmidecode", "--version"),
}
_VERSION = re.compile(r"\d+(?:\.\d+)+[\w.+-]*|\d+")


def software_versions(recorder: Recorder | None = None) -> dict[str, object]:
    versions: dict[str, object] = {
        "reeeboot": __version__,
        "kernel": platform.release(),
        "python": platform.python_version(),
    }
    for package in ("cryptography", "pyudev", "textual"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    versions["tools"] = tool_versions(recorder or default_recorder())
    return versions


def tool_versions(recorder: Recorder) -> dict[str, str]:
    """One short call per tool the session used (a few milliseconds each), none for the rest."""
    used = {record.argv[0].rsplit("/", 1)[-1] for record in recorder.records if record.argv}
    versions: dict[str, str] = {}
    for tool in sorted(used & VERSION_COMMANDS.keys()):
        try:
            record = Recorder().run(VERSION_COMMANDS[tool], timeout=10)
        except CommandNotFound:
            continue
        found = _VERSION.search(record.stdout or record.stderr)
        if found:
            versions[tool] = found.group(0)
    return versions
