"""Network interfaces that are hardware: wired and wireless adapters, not loopback or bridges."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from agent.inventory.device_names import bus_of, hardware_ids, nearest_driver, vendor_and_model
from agent.inventory.source import MachineSource, UdevDevice

InterfaceKind = Literal["wired", "wireless", "other"]

ARPHRD_ETHER = "1"  # the link type Ethernet and Wi-Fi interfaces both report
# Kernel DEVTYPEs of software interfaces that can still sit on top of a physical device.
VIRTUAL_DEVTYPES = {"bridge", "bond", "vlan", "macvlan", "ipvlan", "vxlan", "wireguard",
                    "team", "tun", "veth"}
VIRTUAL_NAME_PREFIXES = ("veth", "docker", "virbr", "br-", "tun", "tap", "vnet")
# PCI class 0x0280 ("network controller, other") is how Wi-Fi cards identify themselves;
# wired Ethernet controllers are 0x0200.
WIRELESS_PCI_CLASS = 0x0280


@dataclass(frozen=True)
class NetworkInterface:
    name: str
    mac: str | None
    kind: InterfaceKind
    driver: str | None
    bus: str | None  # "pci", "usb", "sdio"
    vendor: str | None
    model: str | None
    device_id: str | None  # PCI or USB "vendor:device"
    hardware_path: str  # sysfs path of the adapter: stable across boots, unlike the name


def read_network_interfaces(source: MachineSource) -> list[NetworkInterface]:
    interfaces = []
    for device in source.udev_devices("net"):
        if _is_virtual(device):
            continue
        vendor, model = vendor_and_model(device)
        interfaces.append(NetworkInterface(
            name=device.sys_name,
            mac=_mac(device),
            kind=_kind(device),
            driver=device.properties.get("ID_NET_DRIVER") or nearest_driver(device),
            bus=bus_of(device),
            vendor=vendor,
            model=model,
            device_id=hardware_ids(device),
            hardware_path=device.sys_path.rsplit("/net/", 1)[0],
        ))
    return sorted(interfaces, key=lambda interface: interface.hardware_path)


def first_wired_mac(interfaces: Iterable[NetworkInterface]) -> str | None:
    """The MAC address that identifies the machine: its first built-in wired adapter.

    Ordered by place on the bus, not by name: names change between the live system and the
    installed one (eth0 / enp0s25), the slot does not. USB adapters are left out because a
    workshop moves the same dongle from machine to machine.
    """
    candidates = [interface for interface in interfaces
                  if interface.kind == "wired" and interface.mac and interface.bus != "usb"]
    if not candidates:
        return None
    return min(candidates, key=lambda interface: interface.hardware_path).mac


def _is_virtual(device: UdevDevice) -> bool:
    if device.sys_name == "lo" or "/devices/virtual/" in device.sys_path:
        return True
    if not device.parents:  # a software interface: no hardware under it
        return True
    if device.properties.get("DEVTYPE") in VIRTUAL_DEVTYPES:
        return True
    return device.sys_name.startswith(VIRTUAL_NAME_PREFIXES)


def _kind(device: UdevDevice) -> InterfaceKind:
    devtype = device.properties.get("DEVTYPE")
    if devtype == "wlan" or device.attribute("phy80211/name"):
        return "wireless"
    if devtype:  # wwan, bluetooth, ...: a link, but not a network socket
        return "other"
    link_type = device.attribute("type")
    if link_type is not None and link_type != ARPHRD_ETHER:
        return "other"
    if _parent_pci_class(device) == WIRELESS_PCI_CLASS:
        return "wireless"  # older kernels did not mark Wi-Fi interfaces with DEVTYPE=wlan
    return "wired"


def _parent_pci_class(device: UdevDevice) -> int | None:
    for parent in device.parents:
        if parent.subsystem == "pci":
            raw = parent.properties.get("PCI_CLASS")
            try:
                return int(raw, 16) >> 8 if raw else None
            except ValueError:
                return None
    return None


def _mac(device: UdevDevice) -> str | None:
    address = (device.attribute("address") or "").strip().lower()
    if not address or set(address) <= {"0", ":"}:
        return None
    return address
