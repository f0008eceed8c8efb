"""Sound cards and cameras: what a person receiving the computer will use for video calls."""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.inventory.device_names import bus_of, hardware_ids, nearest_driver, vendor_and_model
from agent.inventory.source import MachineSource, UdevDevice

SOUND_CARD = re.compile(r"^card\d+$")
VIDEO_INDEX = re.compile(r"-video-index(\d+)(?:\s|$)")


@dataclass(frozen=True)
class SoundCard:
    card: str  # "card0"
    card_id: str | None  # ALSA's id for it, "PCH"
    driver: str | None
    bus: str | None
    vendor: str | None
    model: str | None
    device_id: str | None  # PCI or USB "vendor:device"


@dataclass(frozen=True)
class Camera:
    device: str  # "video0"
    name: str | None  # as the driver names it, "Integrated_Webcam_HD: Integrate"
    bus: str | None
    vendor: str | None
    model: str | None
    device_id: str | None
    driver: str | None


def read_sound_cards(source: MachineSource) -> list[SoundCard]:
    cards = []
    for device in source.udev_devices("sound"):
        if not SOUND_CARD.match(device.sys_name) or not device.parents:
            continue  # PCM and control nodes, and cards with no hardware (snd-dummy, loopback)
        vendor, model = vendor_and_model(device)
        cards.append(SoundCard(
            card=device.sys_name,
            card_id=device.attribute("id"),
            driver=nearest_driver(device),
            bus=bus_of(device),
            vendor=vendor,
            model=model,
            device_id=hardware_ids(device),
        ))
    return sorted(cards, key=lambda card: int(card.card.removeprefix("card")))


def read_cameras(source: MachineSource) -> list[Camera]:
    cameras = []
    for device in source.udev_devices("video4linux"):
        if not _is_camera(device):
            continue
        vendor, model = vendor_and_model(device)
        cameras.append(Camera(
            device=device.sys_name,
            name=device.attribute("name") or device.properties.get("ID_V4L_PRODUCT"),
            bus=bus_of(device),
            vendor=vendor,
            model=model,
            device_id=hardware_ids(device),
            driver=nearest_driver(device),
        ))
    return sorted(cameras, key=lambda camera: camera.device)


def _is_camera(device: UdevDevice) -> bool:
    if not device.parents:  # v4l2loopback and other virtual devices
        return False
    capabilities = device.properties.get("ID_V4L_CAPABILITIES")
    if capabilities is not None and (":capture:" not in capabilities or ":tuner:" in capabilities):
        return False  # output-only devices, codecs, TV tuner cards
    # A webcam shows up as several nodes (video, then metadata): index 0 is the camera itself.
    return _video_index(device) == 0


def _video_index(device: UdevDevice) -> int:
    index = device.attribute("index")
    if index is not None and index.isdigit():
        return int(index)
    # Without the sysfs attribute (a udev database export), udev's own by-path link names it.
    match = VIDEO_INDEX.search(device.properties.get("DEVLINKS", ""))
    return int(match[1]) if match else 0
