"""Graphics adapters: the PCI functions whose class is "display controller" (0x03xxxx).

Base class 0x03 covers the three kinds found in donated PCs: 0x0300 VGA-compatible (most
integrated and discrete GPUs), 0x0302 3D controller (the discrete half of a hybrid laptop, which
drives no connector of its own) and 0x0380 other display controller (some recent Intel IGDs).
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.inventory.device_names import hardware_ids, vendor_and_model
from agent.inventory.source import MachineSource, UdevDevice

DISPLAY_CLASS = 0x03


@dataclass(frozen=True)
class Gpu:
    slot: str  # PCI address, "0000:00:02.0"
    pci_id: str | None  # "8086:0116"
    subsystem_id: str | None  # the board maker's ids: tells apart the variants of one chip
    pci_class: int  # 0x030000 VGA, 0x030200 3D controller, 0x038000 other
    vendor: str | None
    model: str | None  # None when udev's database does not know the chip: pci_id still says it
    driver: str | None  # None: no driver bound (not supported, or blacklisted)
    boot_vga: bool | None  # the adapter the firmware showed its screens on


def read_gpus(source: MachineSource) -> list[Gpu]:
    gpus = []
    for device in source.udev_devices("pci"):
        pci_class = _pci_class(device)
        if pci_class is None or pci_class >> 16 != DISPLAY_CLASS:
            continue
        vendor, model = vendor_and_model(device)
        boot_vga = device.attribute("boot_vga")
        gpus.append(Gpu(
            slot=device.properties.get("PCI_SLOT_NAME") or device.sys_name,
            pci_id=hardware_ids(device),
            subsystem_id=_subsystem_id(device),
            pci_class=pci_class,
            vendor=vendor,
            model=model,
            driver=device.driver or device.properties.get("DRIVER") or None,
            boot_vga=None if boot_vga is None else boot_vga == "1",
        ))
    return sorted(gpus, key=lambda gpu: gpu.slot)


def _pci_class(device: UdevDevice) -> int | None:
    # The sysfs attribute reads "0x030000"; udev's PCI_CLASS property is the same number
    # without the prefix and leading zeros ("30000").
    for raw in (device.attribute("class"), device.properties.get("PCI_CLASS")):
        if raw:
            try:
                return int(raw, 16)
            except ValueError:
                continue
    return None


def _subsystem_id(device: UdevDevice) -> str | None:
    subsys = device.properties.get("PCI_SUBSYS_ID")
    if subsys and ":" in subsys:
        return subsys.lower()
    vendor, board = device.attribute("subsystem_vendor"), device.attribute("subsystem_device")
    if vendor and board:
        return f"{vendor.lower().removeprefix('0x')}:{board.lower().removeprefix('0x')}"
    return None
