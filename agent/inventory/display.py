"""Screens: the laptop's built-in panel, and any monitor plugged in while the inventory runs.

Each DRM connector ("card0-eDP-1") carries the EDID of what is attached to it. The panel of a
laptop sits on an embedded connector type (eDP, LVDS, DSI); everything else is a port a monitor
was plugged into, listed too but flagged external so it is not counted as part of the machine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.inventory.edid import Edid, parse_edid
from agent.inventory.source import MachineSource

BUILT_IN_CONNECTORS = {"eDP", "LVDS", "DSI"}
CONNECTOR_NAME = re.compile(r"^(?P<card>card\d+)-(?P<connector>(?P<type>.+)-\d+)$")


@dataclass(frozen=True)
class Display:
    card: str  # "card0"
    connector: str  # "eDP-1", "HDMI-A-1"
    connector_type: str  # "eDP", "HDMI-A", "DP", "VGA"
    built_in: bool
    connected: bool | None  # None when the kernel did not say
    edid: Edid | None  # None: no EDID read, or one that failed its checksum


def read_displays(source: MachineSource) -> list[Display]:
    displays = []
    for device in source.udev_devices("drm"):
        match = CONNECTOR_NAME.match(device.sys_name)
        if not match or match["type"] == "Writeback":  # writeback: a render target, no screen
            continue
        status = device.attribute("status")
        connected = None if status is None else status == "connected"
        edid = parse_edid(device.binary_attribute("edid"))
        if not connected and edid is None:
            continue  # an empty port
        displays.append(Display(
            card=match["card"],
            connector=match["connector"],
            connector_type=match["type"],
            built_in=match["type"] in BUILT_IN_CONNECTORS,
            connected=connected,
            edid=edid,
        ))
    return sorted(displays, key=lambda display: (not display.built_in, display.card,
                                                  display.connector))
