"""Laptop batteries and their wear: full-charge capacity against the capacity they were built with.

The kernel's power_supply class reports capacity either as energy (µWh, energy_*) or as charge
(µAh, charge_*), depending on what the battery's gauge speaks. Charge is turned into energy with
the design (minimum) voltage, as the battery's own rating does, so every battery reads in Wh.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.inventory.source import MachineSource, UdevDevice

MICRO = 1_000_000


@dataclass(frozen=True)
class Battery:
    name: str  # "BAT0"
    manufacturer: str | None
    model: str | None
    serial: str | None
    technology: str | None  # "Li-ion", "Li-poly"
    status: str | None  # "Charging", "Discharging", "Full", "Not charging"
    design_capacity_wh: float | None
    full_capacity_wh: float | None  # what a full charge holds today
    health_percent: float | None  # full / design: the wear a refurbisher grades on
    # As the gauge reports it: many never count and say 0 whatever the battery's age.
    cycle_count: int | None


def read_batteries(source: MachineSource) -> list[Battery]:
    batteries = []
    for device in source.udev_devices("power_supply"):
        reading = _SupplyReading(device)
        if not reading.is_system_battery():
            continue
        batteries.append(reading.battery())
    return sorted(batteries, key=lambda battery: battery.name)


class _SupplyReading:
    """One power supply's values: the sysfs attribute, else the same value from its uevent."""

    def __init__(self, device: UdevDevice) -> None:
        self.device = device

    def text(self, name: str) -> str | None:
        value = self.device.attribute(name)
        if value is None:
            value = self.device.properties.get(f"POWER_SUPPLY_{name.upper()}")
        value = (value or "").strip()
        return value or None

    def number(self, name: str) -> int | None:
        value = self.text(name)
        try:
            return int(value) if value is not None else None
        except ValueError:
            return None

    def is_system_battery(self) -> bool:
        # Wireless mice, keyboards and headsets are batteries too, with scope "Device".
        if self.text("scope") == "Device" or self.text("present") == "0":
            return False
        supply_type = self.text("type")
        if supply_type is not None:
            return supply_type == "Battery"
        # Older kernels left POWER_SUPPLY_TYPE out of the uevent: a capacity says battery.
        return any(self.number(name) for name in ("energy_full_design", "charge_full_design"))

    def battery(self) -> Battery:
        design, full = self._capacities_wh()
        return Battery(
            name=self.text("name") or self.device.sys_name,
            manufacturer=self.text("manufacturer"),
            model=self.text("model_name"),
            serial=self.text("serial_number"),
            technology=self.text("technology"),
            status=self.text("status"),
            design_capacity_wh=design,
            full_capacity_wh=full,
            health_percent=self._health_percent(),
            cycle_count=self.number("cycle_count"),
        )

    def _capacities_wh(self) -> tuple[float | None, float | None]:
        energy_design, energy_full = self._pair("energy")
        if energy_design or energy_full:
            return _wh(energy_design, 1), _wh(energy_full, 1)
        charge_design, charge_full = self._pair("charge")
        voltage = self.number("voltage_min_design")
        if not voltage:
            return None, None
        return _wh(charge_design, voltage / MICRO), _wh(charge_full, voltage / MICRO)

    def _health_percent(self) -> float | None:
        # Full against design in the gauge's own unit: no voltage needed, nothing rounded yet.
        for family in ("energy", "charge"):
            design, full = self._pair(family)
            if design and full is not None:
                return round(100 * full / design, 1)
        return None

    def _pair(self, family: str) -> tuple[int | None, int | None]:
        design = self.number(f"{family}_full_design")
        full = self.number(f"{family}_full")
        return (design or None), full


def _wh(micro_value: int | None, volts: float) -> float | None:
    if not micro_value:
        return None
    return round(micro_value * volts / MICRO, 2)
