"""Everything around the mainboard that a refurbished PC is judged on: graphics, network,
battery, screen, sound and camera. Each part is read through the machine source, so a recorded
machine profile answers exactly as the live machine did."""

from __future__ import annotations

from dataclasses import dataclass

from agent.inventory.battery import Battery, read_batteries
from agent.inventory.display import Display, read_displays
from agent.inventory.gpu import Gpu, read_gpus
from agent.inventory.media import Camera, SoundCard, read_cameras, read_sound_cards
from agent.inventory.network import NetworkInterface, read_network_interfaces
from agent.inventory.source import MachineSource


@dataclass(frozen=True)
class Peripherals:
    gpus: tuple[Gpu, ...]
    network: tuple[NetworkInterface, ...]
    batteries: tuple[Battery, ...]  # laptops with a second (bay or external) battery have two
    displays: tuple[Display, ...]  # built-in panel first
    audio: tuple[SoundCard, ...]
    cameras: tuple[Camera, ...]


def read_peripherals(source: MachineSource) -> Peripherals:
    return Peripherals(
        gpus=tuple(read_gpus(source)),
        network=tuple(read_network_interfaces(source)),
        batteries=tuple(read_batteries(source)),
        displays=tuple(read_displays(source)),
        audio=tuple(read_sound_cards(source)),
        cameras=tuple(read_cameras(source)),
    )
