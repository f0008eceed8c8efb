"""The USB ports check's hardware side: which port of the machine a device was plugged into, at
what speed, and a udev watcher that reports devices as they come and go.

The kernel names a USB device after the ports on its way from the controller: "3-1" is port 1
of bus 3's root hub, "3-1.4" is port 4 of a hub plugged into "3-1". The machine's own port is
the first one outside the machine: for a device behind a hub the volunteer plugged in, the
root port ("3-1"). Intel chipsets of 2011-2013 put a hub inside the machine between the
controller and every port (the "rate matching hub", 8087:0024 on a Samsung 90X3A): its children
are the machine's ports ("1-1.4"), so hubs built into the machine are looked through.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

# The hubs Intel chipsets build in front of their EHCI ports (vendor:product): Cougar Point and
# Patsburg (0024), Panther Point (0020), Lynx Point and Wildcat Point (8000, 8008).
RATE_MATCHING_HUBS = frozenset({"8087:0020", "8087:0024", "8087:8000", "8087:8008"})
HUB_CLASS = "09"
# "bus-port[.port...]": a device; root hubs ("usb3") and interfaces ("3-1:1.0") do not match.
DEVICE_NAME = re.compile(r"^(\d+)-(\d+(?:\.\d+)*)$")
# A product name is shown and kept in a signed report: long enough for any real one.
PRODUCT_LENGTH = 64
# The sysfs attributes read from a device (all text).
ATTRIBUTES = ("product", "manufacturer", "idVendor", "idProduct", "speed", "removable",
              "bDeviceClass")


@dataclass(frozen=True)
class UsbDevice:
    sys_name: str  # the kernel's name: "3-1.4"
    port: str  # the machine's port it is plugged into: "3-1"
    speed_mbps: float | None  # the link's speed, from sysfs: 1.5, 12, 480, 5000...
    product: str  # what the device calls itself ("Cruzer Blade"), or its ids


@dataclass(frozen=True)
class UsbEvent:
    action: str  # "plugged" or "unplugged"
    sys_name: str
    device: UsbDevice | None = None  # what was plugged; None when unplugged (sysfs is gone)


UsbEventSink = Callable[[UsbEvent], None]


class UsbWatch(Protocol):
    """A started watcher; `present` is what was plugged in before it started."""

    present: list[UsbDevice]

    def stop(self) -> None: ...


WatchUsb = Callable[[UsbEventSink], UsbWatch]


# --- naming ----------------------------------------------------------------------------------


def is_device_name(sys_name: str) -> bool:
    return DEVICE_NAME.match(sys_name) is not None


def port_chain(sys_name: str) -> list[str]:
    """The ports on the way to a device, the controller's first: "3-1.4.2" gives
    ["3-1", "3-1.4", "3-1.4.2"]."""
    match = DEVICE_NAME.match(sys_name)
    if match is None:
        raise ValueError(f"not a USB device's name: {sys_name!r}")
    bus, ports = match.groups()
    steps = ports.split(".")
    return [f"{bus}-{'.'.join(steps[:depth])}" for depth in range(1, len(steps) + 1)]


def machine_port(sys_name: str, built_in_hubs: Collection[str] = ()) -> str:
    """The machine's port a device is plugged into: its root port, or, behind a hub built into
    the machine (`built_in_hubs`, by name), the port of that hub."""
    chain = port_chain(sys_name)
    depth = 0
    while chain[depth] in built_in_hubs and depth + 1 < len(chain):
        depth += 1
    return chain[depth]


def is_built_in_hub(attributes: Mapping[str, str]) -> bool:
    """A hub inside the machine: a chipset's rate matching hub, or one the firmware says is
    wired in (sysfs "removable" is "fixed", read from ACPI)."""
    if attributes.get("bDeviceClass", HUB_CLASS) != HUB_CLASS:
        return False
    ids = f"{attributes.get('idVendor', '')}:{attributes.get('idProduct', '')}".lower()
    return ids in RATE_MATCHING_HUBS or attributes.get("removable") == "fixed"


def speed_mbps(text: str | None) -> float | None:
    """sysfs "speed" in Mbit/s ("1.5", "480", "5000"), None when unknown."""
    try:
        value = float((text or "").strip())
    except ValueError:
        return None
    if value <= 0:
        return None
    return int(value) if value.is_integer() else value


def usb_generation(speed: float | None) -> str:
    """The USB version a speed belongs to, as people name it: "USB 2"."""
    if speed is None:
        return "USB"
    if speed <= 12:
        return "USB 1"
    if speed <= 480:
        return "USB 2"
    return "USB 3"


def product_name(attributes: Mapping[str, str]) -> str:
    """What the device calls itself; its vendor and product ids when it gives no name."""
    words = " ".join(part for part in (attributes.get("manufacturer", "").strip(),
                                       attributes.get("product", "").strip()) if part)
    if not attributes.get("product", "").strip():
        ids = f"{attributes.get('idVendor', '?')}:{attributes.get('idProduct', '?')}"
        words = f"{words} {ids}".strip()
    words = " ".join(words.split())  # no line breaks or tabs from a device's strings
    return words[:PRODUCT_LENGTH]


def usb_device(sys_name: str, attributes: Mapping[str, str],
               built_in_hubs: Collection[str] = ()) -> UsbDevice:
    return UsbDevice(sys_name, machine_port(sys_name, built_in_hubs),
                     speed_mbps(attributes.get("speed")), product_name(attributes))


def counts_as_a_port(sys_name: str, attributes: Mapping[str, str]) -> bool:
    """A device that says something about the machine's ports: not a root hub, not a hub or
    device wired inside the machine (a built-in webcam, a rate matching hub)."""
    return (is_device_name(sys_name) and attributes.get("removable") != "fixed"
            and not is_built_in_hub(attributes))


# --- what the screen shows -------------------------------------------------------------------


@dataclass
class PortSeen:
    port: str
    speed_mbps: float | None
    product: str
    in_use_at_start: bool  # a device was there before the test (the stick, the keyboard)
    plugged: set[str] = field(default_factory=set)  # the devices in it now, by name

    def to_json(self) -> dict[str, Any]:
        return {"port": self.port, "speed_mbps": self.speed_mbps, "product": self.product,
                "in_use_at_start": self.in_use_at_start}


class PortTally:
    """Every port that answered, in the order they did. A port that answered once stays
    answered when its device is pulled out: it works."""

    def __init__(self, present: Iterable[UsbDevice] = ()) -> None:
        self._ports: dict[str, PortSeen] = {}
        self._port_of: dict[str, str] = {}
        for device in present:
            self._add(device, at_start=True)

    def seen(self, event: UsbEvent) -> bool:
        """Takes an event in; True when the screen has something new to show."""
        if event.action == "plugged" and event.device is not None:
            return self._add(event.device, at_start=False)
        port = self._port_of.pop(event.sys_name, None)
        if port is None:
            return False
        self._ports[port].plugged.discard(event.sys_name)
        return True

    def _add(self, device: UsbDevice, *, at_start: bool) -> bool:
        if self._port_of.get(device.sys_name) == device.port:
            return False
        self._port_of[device.sys_name] = device.port
        known = self._ports.get(device.port)
        if known is None:
            self._ports[device.port] = PortSeen(device.port, device.speed_mbps, device.product,
                                                at_start, {device.sys_name})
            return True
        known.plugged.add(device.sys_name)
        if not at_start:  # the newest device names the port; its fastest link says its speed
            known.product = device.product
        if device.speed_mbps is not None and (known.speed_mbps or 0) < device.speed_mbps:
            known.speed_mbps = device.speed_mbps
        return True

    def ports(self) -> list[PortSeen]:
        return list(self._ports.values())

    def new_ports(self) -> list[PortSeen]:
        return [port for port in self._ports.values() if not port.in_use_at_start]

    def measured(self) -> dict[str, Any]:
        return {"ports": [port.to_json() for port in self._ports.values()]}


# --- udev ------------------------------------------------------------------------------------


def watch_usb_ports(sink: UsbEventSink) -> UsbWatch:
    """The live watcher, started: what the screen uses by default."""
    return UsbWatcher(sink).start()


class UsbWatcher:
    """USB devices from udev: plugged and unplugged ones, reported to `sink` from udev's
    thread; the devices already there are listed once the monitor runs, so none falls between
    the list and the first event."""

    def __init__(self, sink: UsbEventSink) -> None:
        import pyudev

        self._sink = sink
        self._context = pyudev.Context()
        source = "udev" if Path("/run/udev/control").exists() else "kernel"
        monitor = pyudev.Monitor.from_netlink(self._context, source=source)
        monitor.filter_by(subsystem="usb", device_type="usb_device")
        self._observer = pyudev.MonitorObserver(monitor, callback=self._seen,
                                                name="usb port watcher")
        self.present: list[UsbDevice] = []

    def start(self) -> UsbWatcher:
        self._observer.start()
        found = self._context.list_devices(subsystem="usb", DEVTYPE="usb_device")
        self.present = [device for device in map(device_of, found) if device is not None]
        return self

    def stop(self) -> None:
        self._observer.stop()

    def _seen(self, device: Any) -> None:
        if device.action == "add":
            plugged = device_of(device)
            if plugged is not None:
                self._sink(UsbEvent("plugged", plugged.sys_name, plugged))
        elif device.action == "remove" and is_device_name(device.sys_name):
            self._sink(UsbEvent("unplugged", device.sys_name))


def device_of(device: Any) -> UsbDevice | None:
    """A pyudev device as the check sees it; None for what is not one of the machine's ports."""
    attributes = attributes_of(device)
    if not counts_as_a_port(device.sys_name, attributes):
        return None
    built_in = set()
    parent = device.parent
    while parent is not None and parent.subsystem == "usb":
        if parent.device_type == "usb_device" and is_built_in_hub(attributes_of(parent)):
            built_in.add(parent.sys_name)
        parent = parent.parent
    return usb_device(device.sys_name, attributes, built_in)


def attributes_of(device: Any) -> dict[str, str]:
    attributes = {}
    for name in ATTRIBUTES:
        try:
            raw = device.attributes.get(name)
        except (OSError, KeyError):
            raw = None
        if raw is not None:
            attributes[name] = raw.decode("utf-8", "replace").strip()
    return attributes
