"""Machine profiles from published `udevadm info` text, so collectors run on real machines' udev.

`udevadm info --export-db` (and `udevadm info -p`) print one block per device: "P:" its path
under /sys, "N:" its node under /dev, "E:" its properties. A block's parents are the blocks
whose path is a prefix of its own, nearest first, as libudev walks them. What such an export
does not hold, sysfs attributes (a MAC address, an EDID), is added per device path by the test.
"""

from __future__ import annotations

import re
from typing import Any

from agent.inventory.source import PROFILE_FORMAT

PCI_ADDRESS = re.compile(r"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$")


def udev_blocks(text: str) -> list[dict[str, Any]]:
    blocks = []
    for chunk in re.split(r"\n\s*\n", text.strip()):
        block: dict[str, Any] = {"path": None, "node": None, "properties": {}}
        for line in chunk.splitlines():
            kind, _sep, value = line.partition(": ")
            if kind == "P":
                block["path"] = value
            elif kind == "N":
                block["node"] = "/dev/" + value
            elif kind == "E":
                key, _eq, prop = value.partition("=")
                block["properties"][key] = prop
        if block["path"]:
            blocks.append(block)
    return blocks


def profile_from_udev_export(
    text: str,
    attributes: dict[str, dict[str, str]] | None = None,
    *,
    parents_from_path: bool = False,
) -> dict[str, Any]:
    """A reeeboot.profile/1 machine profile holding the export's devices, by subsystem.

    `attributes` adds sysfs attributes by device path (the "P:" value). With
    `parents_from_path`, a device whose parents are not in the text (a single `udevadm info`
    block) gets the PCI functions named in its path as parents, and nothing else about them.
    """
    blocks = udev_blocks(text)
    by_path = {block["path"]: block for block in blocks}
    udev: dict[str, list[dict[str, Any]]] = {}
    for block in blocks:
        properties = block["properties"]
        subsystem = properties.get("SUBSYSTEM")
        if subsystem is None:  # a `grep -A` excerpt of a net device omits the line
            subsystem = "net" if "/net/" in block["path"] else None
        if subsystem is None:
            continue
        udev.setdefault(subsystem, []).append({
            "sys_path": "/sys" + block["path"],
            "sys_name": block["path"].rsplit("/", 1)[-1],
            "subsystem": subsystem,
            "device_type": properties.get("DEVTYPE"),
            "driver": properties.get("DRIVER"),
            "device_node": block["node"],
            "properties": dict(properties),
            "attributes": dict((attributes or {}).get(block["path"], {})),
            "parents": _parents(block["path"], by_path, parents_from_path),
        })
    return {"format": PROFILE_FORMAT, "description": "udevadm export", "udev": udev}


def _parents(
    path: str, by_path: dict[str, dict[str, Any]], from_path: bool
) -> list[dict[str, Any]]:
    parents = []
    ancestor = path.rsplit("/", 1)[0]
    while ancestor.count("/") >= 2:  # stop above "/devices"
        block = by_path.get(ancestor)
        name = ancestor.rsplit("/", 1)[-1]
        if block is not None:
            properties = block["properties"]
            parents.append({"subsystem": properties.get("SUBSYSTEM"), "sys_name": name,
                            "driver": properties.get("DRIVER"), "properties": dict(properties)})
        elif from_path and PCI_ADDRESS.match(name):
            parents.append({"subsystem": "pci", "sys_name": name, "driver": None,
                            "properties": {}})
        ancestor = ancestor.rsplit("/", 1)[0]
    return parents
