"""Peripheral collectors on real machines' udev data, replayed through machine profiles."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from agent.inventory.battery import read_batteries
from agent.inventory.display import read_displays
from agent.inventory.gpu import read_gpus
from agent.inventory.media import read_cameras, read_sound_cards
from agent.inventory.network import first_wired_mac, read_network_interfaces
from agent.inventory.peripherals import read_peripherals
from agent.inventory.source import PROFILE_FORMAT, LiveSource, ProfileSource
from tests.udev_export import profile_from_udev_export

FIXTURES = Path(__file__).parent / "fixtures" / "peripherals"


def machine(name: str, *, parents_from_path: bool = False) -> ProfileSource:
    folder = FIXTURES / name
    attributes_file = folder / "attributes.json"
    attributes = json.loads(attributes_file.read_text()) if attributes_file.exists() else None
    return ProfileSource(profile_from_udev_export(
        (folder / "udev-db.txt").read_text(), attributes, parents_from_path=parents_from_path))


def profile(udev: dict[str, list[dict[str, Any]]]) -> ProfileSource:
    return ProfileSource({"format": PROFILE_FORMAT, "udev": udev})


# --- Samsung Series 9 90X3A (2011): one whole laptop -------------------------------------------

def test_samsung_laptop_network_wireless_by_devtype_wired_by_elimination() -> None:
    interfaces = read_network_interfaces(machine("samsung-90x3a"))
    assert [(i.name, i.kind, i.driver, i.bus) for i in interfaces] == [
        ("wlan1", "wireless", "iwlagn", "pci"),  # 0000:00:1c.0 comes before 0000:00:1c.3
        ("eth1", "wired", "r8169", "pci"),
    ]  # lo and the VirtualBox host-only vboxnet0 are software, left out
    wifi, ethernet = interfaces
    assert (wifi.vendor, wifi.model, wifi.device_id) == (
        "Intel Corporation", "Centrino Advanced-N 6230", "8086:0091")
    assert (ethernet.vendor, ethernet.model, ethernet.device_id) == (
        "Realtek Semiconductor Co., Ltd.",
        "RTL8111/8168B PCI Express Gigabit Ethernet controller", "10ec:8168")
    assert ethernet.hardware_path == "/sys/devices/pci0000:00/0000:00:1c.3/0000:02:00.0"
    # A udev database export holds no MAC addresses: unknown, not invented.
    assert wifi.mac is None and ethernet.mac is None and first_wired_mac(interfaces) is None


def test_samsung_laptop_gpu_without_database_names_falls_back_to_pci_ids() -> None:
    gpus = read_gpus(machine("samsung-90x3a"))  # the AHCI, USB, audio, bridges are not GPUs
    assert len(gpus) == 1
    gpu = gpus[0]
    assert (gpu.slot, gpu.pci_id, gpu.subsystem_id, gpu.pci_class) == (
        "0000:00:02.0", "8086:0116", "144d:c098", 0x030000)
    assert (gpu.vendor, gpu.model, gpu.driver) == ("Intel Corporation", None, "i915")
    assert gpu.boot_vga is None  # not in a udev export


def test_samsung_laptop_charge_battery_converted_to_watt_hours() -> None:
    batteries = read_batteries(machine("samsung-90x3a"))  # ADP1, the AC adapter, is no battery
    assert len(batteries) == 1
    battery = batteries[0]
    assert (battery.name, battery.manufacturer, battery.technology, battery.status) == (
        "BAT1", "SAMSUNG Electronics", "Li-ion", "Discharging")
    assert battery.design_capacity_wh == 46.62  # 6.3 Ah at 7.4 V
    assert battery.full_capacity_wh == 46.62
    assert battery.health_percent == 100.0
    assert battery.cycle_count == 0
    assert battery.model is None and battery.serial is None


def test_samsung_laptop_sound_card_and_webcam() -> None:
    source = machine("samsung-90x3a")
    cards = read_sound_cards(source)  # controlC0, pcmC0D0p and the virtual seq are not cards
    assert [(c.card, c.driver, c.bus, c.device_id) for c in cards] == [
        ("card0", "HDA Intel", "pci", "8086:1c20")]
    assert (cards[0].vendor, cards[0].model) == (
        "Intel Corporation", "6 Series Chipset Family High Definition Audio Controller")
    cameras = read_cameras(source)
    assert len(cameras) == 1
    camera = cameras[0]
    assert (camera.device, camera.name, camera.bus, camera.driver, camera.device_id) == (
        "video0", "WebCam SC-13HDL10931N", "usb", "uvcvideo", "2232:1009")
    # No database entry for 2232:1009: the names the webcam reports, placeholder vendor and all.
    assert (camera.vendor, camera.model) == ("123", "WebCam SC-13HDL10931N")


def test_samsung_laptop_connectors_without_edid_or_status_are_not_screens() -> None:
    assert read_displays(machine("samsung-90x3a")) == []


# --- Toshiba GM45 laptop (2010) ----------------------------------------------------------------

def test_toshiba_discrete_gpu_with_no_driver_bound() -> None:
    gpus = read_gpus(machine("toshiba-checkbox-2010"))
    assert len(gpus) == 1
    gpu = gpus[0]
    assert (gpu.slot, gpu.pci_id, gpu.subsystem_id) == ("0000:01:00.0", "10de:062a", "1179:ff00")
    # The PCI Express port above it has names of its own; they must not become the GPU's.
    assert (gpu.vendor, gpu.model, gpu.driver) == ("NVIDIA Corporation", None, None)


def test_toshiba_battery_model_trimmed_and_charge_converted() -> None:
    batteries = read_batteries(machine("toshiba-checkbox-2010"))  # ACAD is type Mains
    assert len(batteries) == 1
    battery = batteries[0]
    assert (battery.manufacturer, battery.model, battery.serial, battery.status) == (
        "TOSHIBA", "PA3534U", "3658Q", "Charging")
    assert (battery.design_capacity_wh, battery.full_capacity_wh) == (44.4, 44.4)  # 4 Ah, 11.1 V
    assert battery.health_percent == 100.0
    assert battery.cycle_count is None  # this gauge does not report one at all


def test_toshiba_webcam_vendor_decoded_from_its_usb_strings() -> None:
    cameras = read_cameras(machine("toshiba-checkbox-2010"))
    assert [(c.name, c.vendor, c.model, c.device_id, c.bus) for c in cameras] == [(
        "Chicony USB 2.0 Camera", "Chicony Electronics Co., Ltd.", "Chicony USB 2.0 Camera",
        "04f2:b008", "usb")]


# --- wired NICs, MAC addresses and the identifying MAC -----------------------------------------

def test_server_and_desktop_nics() -> None:
    source = machine("nics-major-io", parents_from_path=True)
    interfaces = read_network_interfaces(source)
    assert [(i.name, i.mac, i.kind, i.driver) for i in interfaces] == [
        ("enp1s0f1", "a0:36:9f:6e:52:27", "wired", "igb"),
        ("eth0", "a0:36:9f:2c:ec:90", "wired", "ixgbe"),
        ("eno1", "e0:3f:49:b1:59:c0", "wired", "e1000e"),
        ("enp2s0", "00:25:90:25:96:3a", "wired", "e1000e"),
    ]  # ordered by place on the bus: 00:01.0, 00:03.2, 00:19.0, 00:1c.4
    eno1 = interfaces[2]
    assert (eno1.bus, eno1.model) == ("pci", "Ethernet Connection I217-V")


def test_first_wired_mac_follows_the_bus_not_the_name() -> None:
    by_name = {i.name: i for i in read_network_interfaces(
        machine("nics-major-io", parents_from_path=True))}
    on_board, in_slot = by_name["eno1"], by_name["enp1s0f1"]
    # "eno1" sorts first by name, but the card at 0000:00:01.0 comes before 0000:00:19.0.
    assert first_wired_mac([on_board, in_slot]) == "a0:36:9f:6e:52:27"
    assert first_wired_mac([in_slot, on_board]) == "a0:36:9f:6e:52:27"


def test_first_wired_mac_skips_usb_adapters_and_wireless() -> None:
    samsung = read_network_interfaces(machine("samsung-90x3a"))
    nics = read_network_interfaces(machine("nics-major-io", parents_from_path=True))
    eno1 = next(i for i in nics if i.name == "eno1")
    # The same record as if the adapter sat behind a USB link: a dongle that travels.
    dongle = replace(eno1, bus="usb", hardware_path="/sys/devices/pci0000:00/0000:00:14.0/usb1")
    assert first_wired_mac([dongle]) is None
    wireless_with_mac = replace(samsung[0], mac="00:25:d3:e5:b1:32")
    assert first_wired_mac([wireless_with_mac, dongle]) is None
    assert first_wired_mac([dongle, wireless_with_mac, eno1]) == "e0:3f:49:b1:59:c0"


# --- batteries: a ThinkPad's wear, a mouse that is not the laptop's battery ---------------------

def thinkpad_e495_battery() -> dict[str, Any]:
    """sysfs attributes back from `tlp-stat -b`, which prints them divided by 1000."""
    attributes = {"type": "Battery"}
    text = (FIXTURES / "thinkpad-e495-battery" / "tlp-stat-b.txt").read_text()
    for match in re.finditer(r"^/sys/class/power_supply/BAT0/(\w+)\s+=\s+(.+?)\s*$", text, re.M):
        name, value = match[1], match[2]
        scaled = re.fullmatch(r"(\d+) \[m(?:Wh|W)\]", value)
        attributes[name] = str(int(scaled[1]) * 1000) if scaled else value
    return {"sys_path": "/sys/class/power_supply/BAT0", "sys_name": "BAT0",
            "subsystem": "power_supply", "attributes": attributes, "parents": []}


def mouse_battery() -> dict[str, Any]:
    uevent = (FIXTURES / "logitech-mx-anywhere-3-battery" / "uevent").read_text()
    properties = dict(line.split("=", 1) for line in uevent.splitlines() if "=" in line)
    return {"sys_path": "/sys/class/power_supply/hidpp_battery_0", "sys_name": "hidpp_battery_0",
            "subsystem": "power_supply", "properties": properties, "parents": []}


def test_thinkpad_battery_wear_and_cycles() -> None:
    batteries = read_batteries(profile({"power_supply": [mouse_battery(),
                                                         thinkpad_e495_battery()]}))
    assert len(batteries) == 1  # the MX Anywhere 3's battery has scope "Device"
    battery = batteries[0]
    assert (battery.name, battery.manufacturer, battery.model, battery.status) == (
        "BAT0", "SMP", "01AV446", "Discharging")
    assert (battery.design_capacity_wh, battery.full_capacity_wh) == (45.28, 42.75)
    assert battery.health_percent == 94.4  # what TLP printed as "Capacity = 94.4 [%]"
    assert battery.cycle_count == 205


def test_a_peripheral_battery_alone_is_no_laptop_battery() -> None:
    assert read_batteries(profile({"power_supply": [mouse_battery()]})) == []


# --- screens: EDIDs of real panels and monitors on DRM connectors ------------------------------

def connector(name: str, status: str, edid_fixture: str | None) -> dict[str, Any]:
    attributes = {"status": status, "enabled": "enabled" if status == "connected" else "disabled"}
    if edid_fixture is not None:
        data = bytes.fromhex((FIXTURES / edid_fixture / "edid.hex").read_text())
        attributes["edid"] = "b64:" + base64.b64encode(data).decode("ascii")
    else:
        attributes["edid"] = ""  # what sysfs gives for a port with nothing plugged in
    return {"sys_path": f"/sys/devices/pci0000:00/0000:00:02.0/drm/card0/{name}",
            "sys_name": name, "subsystem": "drm", "attributes": attributes,
            "parents": [{"subsystem": "pci", "sys_name": "0000:00:02.0", "driver": "i915"}]}


def test_built_in_panel_first_and_external_monitor_flagged() -> None:
    # The connectors are this test's; the EDID bytes are the real panel's and monitor's.
    source = profile({"drm": [
        {"sys_path": "/sys/devices/pci0000:00/0000:00:02.0/drm/card0", "sys_name": "card0",
         "subsystem": "drm", "device_type": "drm_minor"},
        connector("card0-HDMI-A-1", "connected", "edid-dell-u2412m"),
        connector("card0-DP-1", "disconnected", None),
        connector("card0-eDP-1", "connected", "edid-auo-b140han03"),
    ]})
    displays = read_displays(source)
    assert [(d.connector, d.connector_type, d.built_in, d.connected) for d in displays] == [
        ("eDP-1", "eDP", True, True), ("HDMI-A-1", "HDMI-A", False, True)]
    panel, monitor = displays
    assert panel.edid is not None and monitor.edid is not None
    assert (panel.edid.manufacturer, panel.edid.text, panel.edid.diagonal_inches) == (
        "AU Optronics", ("AUO", "B140HAN03.1"), 14.0)
    assert (monitor.edid.name, monitor.edid.diagonal_inches) == ("DELL U2412M", 24.1)


def test_a_connected_screen_with_a_corrupt_edid_is_listed_without_one() -> None:
    damaged = connector("card0-LVDS-1", "connected", "edid-lgd-156-panel")
    raw = bytearray(base64.b64decode(damaged["attributes"]["edid"][4:]))
    raw[20] ^= 0x80  # analog/digital bit flipped: the checksum no longer holds
    damaged["attributes"]["edid"] = "b64:" + base64.b64encode(bytes(raw)).decode("ascii")
    displays = read_displays(profile({"drm": [damaged]}))
    assert [(d.connector, d.built_in, d.connected, d.edid) for d in displays] == [
        ("LVDS-1", True, True, None)]


# --- nothing to read, and the machine this runs on ---------------------------------------------

def test_a_machine_with_nothing_reads_as_empty_lists() -> None:
    peripherals = read_peripherals(ProfileSource({"format": PROFILE_FORMAT}))
    assert peripherals.gpus == peripherals.network == peripherals.batteries == ()
    assert peripherals.displays == peripherals.audio == peripherals.cameras == ()


def test_devices_with_no_attributes_or_properties_do_not_break_the_collectors() -> None:
    bare = {"sys_path": "/sys/devices/x/y", "sys_name": "y", "parents": []}
    subsystems = ("pci", "net", "power_supply", "drm", "sound", "video4linux")
    source = profile({name: [dict(bare, subsystem=name)] for name in subsystems})
    peripherals = read_peripherals(source)
    assert peripherals.gpus == peripherals.network == peripherals.batteries == ()
    assert peripherals.displays == peripherals.audio == peripherals.cameras == ()


def test_this_machine_has_a_network_interface_with_a_mac() -> None:
    peripherals = read_peripherals(LiveSource())
    assert any(interface.mac for interface in peripherals.network)
    assert all(re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", interface.mac)
               for interface in peripherals.network if interface.mac)
