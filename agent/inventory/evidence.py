"""The raw outputs behind the inventory, kept as files next to the report.

The signed report lists each file with its sha256, so anyone holding the files can check they
are the ones the station saw; the files themselves stay readable (dmidecode text, smartctl JSON,
EDID bytes) for whoever needs more than the parsed summary.
"""

from __future__ import annotations

import re

from agent.inventory.disks import UDEV_DATA
from agent.inventory.model import EvidenceFile
from agent.inventory.source import LiveSource, MachineSource, ProfileSource, decode_recorded


def collect_evidence(source: MachineSource) -> list[EvidenceFile]:
    files: dict[str, bytes] = {}
    for argv, stdout, returncode in _commands(source):
        if returncode == 127 or not stdout:
            continue  # the tool is missing: nothing to keep
        name = _file_name(argv)
        if name and name not in files:
            files[name] = stdout.encode()
    for path, content in _files(source):
        if path.startswith(UDEV_DATA + "/b") and content:
            devnum = path.rsplit("/b", 1)[-1].replace(":", "-")  # FAT forbids ':' in names
            files[f"udev-db-{devnum}.txt"] = content
    for connector in source.udev_devices("drm"):
        edid = connector.binary_attribute("edid")
        if edid:
            files[f"edid-{connector.sys_name}.bin"] = edid
    return [EvidenceFile.of(name, content) for name, content in sorted(files.items())]


def _files(source: MachineSource) -> list[tuple[str, bytes]]:
    if isinstance(source, LiveSource):
        recorded = source.files
    elif isinstance(source, ProfileSource):
        recorded = source.profile.get("files", {})
    else:
        return []
    return [(path, decode_recorded(value)) for path, value in recorded.items()
            if value is not None]


def _commands(source: MachineSource) -> list[tuple[list[str], str, int]]:
    if isinstance(source, LiveSource):
        return [(c["argv"], c["stdout"], c["returncode"]) for c in source.commands]
    if isinstance(source, ProfileSource):
        return [(c["argv"], c.get("stdout", ""), c["returncode"])
                for c in source.profile.get("commands", [])]
    return []


def _file_name(argv: list[str]) -> str | None:
    """A file name that says which command and which device, or None for commands not kept."""
    program = argv[0].rsplit("/", 1)[-1]
    device = next((arg.rsplit("/", 1)[-1] for arg in argv[1:] if arg.startswith("/dev/")), None)
    if program == "dmidecode":
        return "dmidecode.txt"
    if program == "smartctl" and "--json=c" in argv and device:
        return f"smartctl-{device}.json"
    if program == "nvme" and device:
        return f"nvme-{re.sub(r'[^a-z-]', '', argv[1])}-{device}.json"
    return None
