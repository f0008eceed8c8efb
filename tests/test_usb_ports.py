"""The USB ports check's hardware side: the machine's port named from the kernel's device names
(hubs plugged in, hubs built into the chipset), speeds and names read from recorded sysfs
attributes (tests/fixtures/usb/SOURCE.md), the tally the screen shows, and the udev watcher's
view of a pyudev device."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from agent.health.usb_ports import (
    PortTally,
    UsbDevice,
    UsbEvent,
    counts_as_a_port,
    device_of,
    is_built_in_hub,
    machine_port,
    port_chain,
    product_name,
    speed_mbps,
    usb_device,
    usb_generation,
)
from tests.udev_export import udev_blocks

FIXTURES = Path(__file__).parent / "fixtures"
USB = FIXTURES / "usb"
SAMSUNG = FIXTURES / "peripherals" / "samsung-90x3a" / "udev-db.txt"


def udevadm_attributes(path: Path) -> tuple[str, dict[str, str]]:
    """The kernel name and ATTR{...} values of the first `looking at device` block."""
    text = path.read_text()
    name = re.search(r'^\s*KERNEL=="([^"]*)"', text, re.MULTILINE)
    assert name is not None
    attributes = {key: value.strip() for key, value in
                  re.findall(r'^\s*ATTR\{([^}]+)\}=="([^"]*)"', text, re.MULTILINE)}
    return name.group(1), attributes


def samsung_usb_devices() -> dict[str, dict[str, str]]:
    """The Samsung 90X3A's USB devices by kernel name, with the attributes udev's properties
    spell (PRODUCT=vendor/product/bcd, TYPE=class/subclass/protocol, both in hex)."""
    devices = {}
    for block in udev_blocks(SAMSUNG.read_text()):
        properties = block["properties"]
        if properties.get("DEVTYPE") != "usb_device":
            continue
        vendor, product, _bcd = properties["PRODUCT"].split("/")
        device_class = properties["TYPE"].split("/")[0]
        devices[block["path"].rsplit("/", 1)[1]] = {
            "idVendor": vendor.zfill(4), "idProduct": product.zfill(4),
            "bDeviceClass": f"{int(device_class, 16):02x}",
            "product": properties.get("ID_MODEL_ENC", "").replace("\\x20", " ")}
    return devices


# --- naming ----------------------------------------------------------------------------------


def test_port_chain_lists_the_ports_from_the_controller() -> None:
    assert port_chain("1-2") == ["1-2"]
    assert port_chain("3-1.4.2") == ["3-1", "3-1.4", "3-1.4.2"]
    assert port_chain("10-12.3") == ["10-12", "10-12.3"]


@pytest.mark.parametrize("name", ["usb1", "1-1:1.0", "1-0:1.0", "sda", "1-", "-1"])
def test_root_hubs_and_interfaces_are_not_device_names(name: str) -> None:
    with pytest.raises(ValueError):
        port_chain(name)
    assert not counts_as_a_port(name, {})


@pytest.mark.parametrize(("name", "built_in", "port"), [
    ("1-2", (), "1-2"),
    ("3-1.4", (), "3-1"),  # behind a hub the volunteer plugged in: the root port
    ("3-1.4.2", (), "3-1"),
    ("1-1.4", ("1-1",), "1-1.4"),  # behind the chipset's own hub: that hub's port
    ("1-1.4.2", ("1-1",), "1-1.4"),
    ("1-1", ("1-1",), "1-1"),
])
def test_machine_port(name: str, built_in: tuple[str, ...], port: str) -> None:
    assert machine_port(name, built_in) == port


def test_a_device_behind_a_hub_is_named_after_the_root_port_with_its_own_speed() -> None:
    name, attributes = udevadm_attributes(USB / "realtek-lan-4-1.2.udevadm-a.txt")
    assert name == "4-1.2"
    device = usb_device(name, attributes)
    assert device == UsbDevice("4-1.2", "4-1", 5000, "Realtek USB 10/100/1000 LAN")
    assert usb_generation(device.speed_mbps) == "USB 3"
    assert counts_as_a_port(name, attributes)  # "removable": the kernel knows it is outside


def test_a_full_speed_device_on_an_intel_ehci_port() -> None:
    name, attributes = udevadm_attributes(USB / "oculus-tracker-1-1.3.udevadm-a.txt")
    device = usb_device(name, attributes)
    assert (device.port, device.speed_mbps, device.product) == (
        "1-1", 12, "Oculus VR, Inc. Tracker DK")
    assert usb_generation(device.speed_mbps) == "USB 1"
    # On such a chipset "1-1" is the built-in rate matching hub: the port is "1-1.3".
    assert usb_device(name, attributes, {"1-1"}).port == "1-1.3"


def test_the_chipsets_rate_matching_hub_is_looked_through() -> None:
    devices = samsung_usb_devices()
    assert sorted(devices) == ["1-1", "1-1.4", "usb1"]
    hub, webcam = devices["1-1"], devices["1-1.4"]
    assert is_built_in_hub(hub)  # 8087:0024
    assert not counts_as_a_port("1-1", hub)
    assert not counts_as_a_port("usb1", devices["usb1"])
    assert not is_built_in_hub(webcam)  # not a hub
    built_in = {name for name, attributes in devices.items() if is_built_in_hub(attributes)}
    assert usb_device("1-1.4", webcam, built_in).port == "1-1.4"


def test_a_hub_wired_into_the_machine_is_built_in_a_plugged_one_is_not() -> None:
    assert is_built_in_hub({"bDeviceClass": "09", "idVendor": "05e3", "idProduct": "0610",
                            "removable": "fixed"})
    assert not is_built_in_hub({"bDeviceClass": "09", "idVendor": "05e3",
                                "idProduct": "0610", "removable": "removable"})
    assert not is_built_in_hub({"bDeviceClass": "09", "idVendor": "05e3",
                                "idProduct": "0610", "removable": "unknown"})
    # A built-in webcam is wired in too: it says nothing about the ports.
    assert not counts_as_a_port("1-1.4", {"bDeviceClass": "ef", "removable": "fixed"})


@pytest.mark.parametrize(("text", "speed", "generation"), [
    ("1.5", 1.5, "USB 1"), ("12", 12, "USB 1"), ("480\n", 480, "USB 2"),
    ("5000", 5000, "USB 3"), ("10000", 10000, "USB 3"), ("20000", 20000, "USB 3"),
    ("", None, "USB"), ("unknown", None, "USB"), (None, None, "USB"), ("0", None, "USB"),
])
def test_speed_from_sysfs(text: str | None, speed: float | None, generation: str) -> None:
    assert speed_mbps(text) == speed
    assert type(speed_mbps(text)) is type(speed)  # whole numbers stay integers in the report
    assert usb_generation(speed_mbps(text)) == generation


def test_a_device_without_a_name_is_named_by_its_ids_and_names_are_one_short_line() -> None:
    assert product_name({"idVendor": "0781", "idProduct": "5567"}) == "0781:5567"
    assert product_name({"manufacturer": "SanDisk", "idVendor": "0781",
                         "idProduct": "5567"}) == "SanDisk 0781:5567"
    assert product_name({"product": "Cruzer\nBlade\t[b]"}) == "Cruzer Blade [b]"
    assert len(product_name({"product": "X" * 500})) == 64


# --- the tally -------------------------------------------------------------------------------

STICK = UsbDevice("2-1", "2-1", 480, "SanDisk Cruzer Blade")
KEYBOARD = UsbDevice("1-3", "1-3", 1.5, "Dell USB Keyboard")
MOUSE = UsbDevice("1-2", "1-2", 12, "Logitech USB Optical Mouse")
KEY3 = UsbDevice("3-2", "3-2", 5000, "Kingston DataTraveler 3.0")


def test_the_tally_lists_ports_in_use_then_each_that_answers() -> None:
    tally = PortTally([STICK, KEYBOARD])
    assert [(port.port, port.in_use_at_start) for port in tally.ports()] == [
        ("2-1", True), ("1-3", True)]
    assert tally.seen(UsbEvent("plugged", "1-2", MOUSE))
    assert not tally.seen(UsbEvent("plugged", "1-2", MOUSE))  # told twice: once
    assert tally.seen(UsbEvent("unplugged", "1-2"))
    assert not tally.seen(UsbEvent("unplugged", "1-2"))
    assert tally.ports()[-1].port == "1-2" and not tally.ports()[-1].plugged  # still answered
    assert tally.seen(UsbEvent("plugged", "3-2", KEY3))
    assert [port.port for port in tally.new_ports()] == ["1-2", "3-2"]
    measured = tally.measured()
    assert measured == {"ports": [
        {"port": "2-1", "speed_mbps": 480, "product": "SanDisk Cruzer Blade",
         "in_use_at_start": True},
        {"port": "1-3", "speed_mbps": 1.5, "product": "Dell USB Keyboard",
         "in_use_at_start": True},
        {"port": "1-2", "speed_mbps": 12, "product": "Logitech USB Optical Mouse",
         "in_use_at_start": False},
        {"port": "3-2", "speed_mbps": 5000, "product": "Kingston DataTraveler 3.0",
         "in_use_at_start": False}]}
    assert json.loads(json.dumps(measured)) == measured


def test_a_hub_and_its_devices_count_as_one_port_with_the_fastest_link() -> None:
    tally = PortTally()
    tally.seen(UsbEvent("plugged", "3-1", UsbDevice("3-1", "3-1", 480, "Genesys hub")))
    tally.seen(UsbEvent("plugged", "3-1.4", UsbDevice("3-1.4", "3-1", 5000, "Realtek LAN")))
    tally.seen(UsbEvent("plugged", "3-1.1", UsbDevice("3-1.1", "3-1", 12, "Mouse")))
    [port] = tally.ports()
    assert (port.port, port.speed_mbps, port.product) == ("3-1", 5000, "Mouse")
    assert port.plugged == {"3-1", "3-1.4", "3-1.1"}


def test_unplugging_what_was_never_seen_changes_nothing() -> None:
    tally = PortTally([STICK])
    assert not tally.seen(UsbEvent("unplugged", "4-4"))
    assert tally.measured()["ports"][0]["port"] == "2-1"


# --- what the watcher reads from a pyudev device ---------------------------------------------


@dataclass
class FakeUdevDevice:
    """The few things of a pyudev.Device that the watcher reads."""

    sys_name: str
    attributes: dict[str, bytes] = field(default_factory=dict)
    parent: FakeUdevDevice | None = None
    subsystem: str = "usb"
    device_type: str = "usb_device"


def chain(*links: tuple[str, dict[str, str]]) -> FakeUdevDevice:
    """The last device of a chain given from the controller down."""
    device = FakeUdevDevice("0000:00:1a.0", subsystem="pci", device_type="")
    for name, attributes in links:
        device = FakeUdevDevice(name, {key: value.encode() for key, value in attributes.items()},
                                device)
    return device


def test_the_watcher_looks_through_a_built_in_hub_and_reads_the_device() -> None:
    devices = samsung_usb_devices()
    webcam = chain(("usb1", devices["usb1"]), ("1-1", devices["1-1"]),
                   ("1-1.4", {**devices["1-1.4"], "speed": "480"}))
    assert device_of(webcam) == UsbDevice("1-1.4", "1-1.4", 480, "WebCam SC-13HDL10931N")
    _name, realtek = udevadm_attributes(USB / "realtek-lan-4-1.2.udevadm-a.txt")
    behind_a_hub = chain(("usb4", {"bDeviceClass": "09"}),
                         ("4-1", {"bDeviceClass": "09", "idVendor": "2109",
                                  "idProduct": "0817", "removable": "removable"}),
                         ("4-1.2", realtek))
    found = device_of(behind_a_hub)
    assert found is not None and (found.port, found.speed_mbps) == ("4-1", 5000)


def test_the_watcher_ignores_root_hubs_and_what_is_wired_inside() -> None:
    devices = samsung_usb_devices()
    assert device_of(chain(("usb1", devices["usb1"]))) is None
    assert device_of(chain(("usb1", devices["usb1"]), ("1-1", devices["1-1"]))) is None
    assert device_of(chain(("usb1", {}), ("1-5", {"bDeviceClass": "e0",
                                                  "removable": "fixed"}))) is None
