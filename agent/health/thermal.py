"""What the kernel says about the processor's heat: temperatures and thermal throttle counters.

Everything is read from sysfs under a root ("/sys" on the machine; a fixture tree in the tests):

- hwmon chips, `class/hwmon/hwmon*/`: `name`, and per sensor `temp*_input` (millidegrees
  Celsius), `temp*_label`, `temp*_max`, `temp*_crit` (Documentation/hwmon/sysfs-interface.rst);
- thermal zones, `class/thermal/thermal_zone*/`: `type`, `temp` (millidegrees) and its trip points
  `trip_point_*_type` / `trip_point_*_temp` (Documentation/driver-api/thermal/sysfs-api.rst);
- thermal throttle counters, `devices/system/cpu/cpu*/thermal_throttle/core_throttle_count` and
  `package_throttle_count` (arch/x86/kernel/cpu/mce/therm_throt.c).

Each reading says where it comes from and whether it is the processor's (`PROCESSOR`), a stand-in
used only when the processor has no sensor of its own (`FALLBACK`: the ACPI thermal zone), or
some other part's (`OTHER`: a chipset, a drive, a graphics card, a Wi-Fi card).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROCESSOR, FALLBACK, OTHER = "processor", "fallback", "other"

# hwmon chips that measure the processor itself (their `name` file):
# coretemp: Intel's per-core and per-package digital sensors (Documentation/hwmon/coretemp.rst);
# k10temp, k8temp: AMD's (Documentation/hwmon/k10temp.rst, k8temp.rst); zenpower: the
# out-of-tree AMD Zen driver (ocerman/zenpower); via_cputemp: VIA's; cpu_thermal: the hwmon a
# "cpu-thermal" thermal zone registers (the kernel turns '-' into '_' in hwmon names).
PROCESSOR_HWMON_NAMES = frozenset({"coretemp", "k10temp", "k8temp", "zenpower", "via_cputemp",
                                   "cpu_thermal"})
# Thermal zones that measure the processor: x86_pkg_temp (Intel's package sensor,
# drivers/thermal/intel/x86_pkg_temp_thermal.c), cpu-thermal / cpu_thermal (device-tree boards).
PROCESSOR_ZONE_TYPES = frozenset({"x86_pkg_temp", "cpu-thermal", "cpu_thermal"})
# The ACPI thermal zone: the firmware's view of the machine's heat, often the processor's
# neighbourhood on a laptop. Used only when nothing measures the processor itself. It shows up
# twice on most machines, as a thermal zone and as the "acpitz" hwmon chip that mirrors it.
FALLBACK_HWMON_NAMES = frozenset({"acpitz"})
FALLBACK_ZONE_TYPES = frozenset({"acpitz"})
# Trip points that are a limit, not a cooling step: "critical" (the kernel shuts the machine
# down) and "hot"; "passive" and "active" trips are where cooling starts.
LIMIT_TRIP_TYPES = frozenset({"critical", "hot"})
# A reading or a limit at or below 0 °C is not a processor's temperature: a sensor that does not
# measure (prometheus/procfs's fixture holds an acpitz zone at -44 °C) or a limit left unset
# (thermald's logs in intel/thermal_daemon issues 201 and 266 show trip points at 0 and -273.25).
NOT_A_TEMPERATURE_AT_OR_BELOW = 0

_TEMP_INPUT = re.compile(r"^temp(\d+)_input$")
_TRIP_TYPE = re.compile(r"^trip_point_(\d+)_type$")


@dataclass(frozen=True)
class Reading:
    """One temperature, in °C, with the sensor it came from."""

    sensor: str  # stable within one machine: "hwmon3/temp1", "thermal_zone0"
    kind: str  # "hwmon" or "thermal_zone"
    chip: str  # the hwmon chip's name or the zone's type: "coretemp", "x86_pkg_temp"
    label: str | None  # "Package id 0", "Core 1", "Tctl"; None when the sensor has none
    celsius: float
    max_celsius: float | None  # hwmon temp*_max
    crit_celsius: float | None  # hwmon temp*_crit, or a zone's lowest critical/hot trip point
    role: str  # PROCESSOR, FALLBACK or OTHER

    @property
    def name(self) -> str:
        """How a person recognises the sensor: "coretemp Package id 0", "acpitz"."""
        return f"{self.chip} {self.label}" if self.label else self.chip

    @property
    def limit(self) -> tuple[float, str] | None:
        """The sensor's own limit and which it is: its critical temperature, or its maximum when
        it gives no critical one."""
        if self.crit_celsius is not None:
            return self.crit_celsius, "crit"
        if self.max_celsius is not None:
            return self.max_celsius, "max"
        return None

    def to_json(self) -> dict[str, Any]:
        return {"sensor": self.sensor, "kind": self.kind, "chip": self.chip, "label": self.label,
                "celsius": self.celsius, "max_celsius": self.max_celsius,
                "crit_celsius": self.crit_celsius, "role": self.role}


def read_temperatures(sysfs_root: str | Path = "/sys") -> list[Reading]:
    """Every temperature the machine exposes, hwmon chips first, then thermal zones."""
    root = Path(sysfs_root)
    return [*read_hwmon(root), *read_thermal_zones(root)]


def read_hwmon(sysfs_root: str | Path = "/sys") -> list[Reading]:
    readings = []
    for chip_dir in _numbered_dirs(Path(sysfs_root) / "class" / "hwmon", "hwmon"):
        name = _text(chip_dir / "name") or chip_dir.name
        role = (PROCESSOR if name in PROCESSOR_HWMON_NAMES
                else FALLBACK if name in FALLBACK_HWMON_NAMES else OTHER)
        for index in _indices(chip_dir, _TEMP_INPUT):
            celsius = _celsius(chip_dir / f"temp{index}_input")
            if celsius is None:
                continue
            readings.append(Reading(
                f"{chip_dir.name}/temp{index}", "hwmon", name,
                _text(chip_dir / f"temp{index}_label"), celsius,
                _limit(chip_dir / f"temp{index}_max"), _limit(chip_dir / f"temp{index}_crit"),
                role))
    return readings


def read_thermal_zones(sysfs_root: str | Path = "/sys") -> list[Reading]:
    readings = []
    for zone in _numbered_dirs(Path(sysfs_root) / "class" / "thermal", "thermal_zone"):
        zone_type = _text(zone / "type") or zone.name
        celsius = _celsius(zone / "temp")
        if celsius is None:
            continue
        limits = [limit for index in _indices(zone, _TRIP_TYPE)
                  if _text(zone / f"trip_point_{index}_type") in LIMIT_TRIP_TYPES
                  and (limit := _limit(zone / f"trip_point_{index}_temp")) is not None]
        role = (PROCESSOR if zone_type in PROCESSOR_ZONE_TYPES
                else FALLBACK if zone_type in FALLBACK_ZONE_TYPES else OTHER)
        readings.append(Reading(zone.name, "thermal_zone", zone_type, None, celsius, None,
                                min(limits) if limits else None, role))
    return readings


def judged(readings: list[Reading]) -> list[Reading]:
    """The readings the cooling is judged on: the processor's own sensors, or the fallback ones
    when the processor has none.

    On an AMD processor whose k10temp chip shows a "Tdie" sensor, its "Tctl" is left out: the
    driver shows Tdie only on the models whose Tctl carries an offset of 10 to 27 °C
    (drivers/hwmon/k10temp.c, `tctl_offset_table`: Ryzen 1600X, 1700X, 1800X, 2700X,
    Threadripper 19xx and 29xx), and Tdie is the die's temperature.
    """
    own = [reading for reading in readings if reading.role == PROCESSOR]
    with_tdie = {reading.sensor.split("/")[0] for reading in own
                 if reading.chip == "k10temp" and reading.label == "Tdie"}
    own = [reading for reading in own
           if not (reading.chip == "k10temp" and reading.label == "Tctl"
                   and reading.sensor.split("/")[0] in with_tdie)]
    if own:
        return own
    return [reading for reading in readings if reading.role == FALLBACK]


@dataclass(frozen=True)
class ThrottleCounts:
    """The processor's thermal throttle events since boot, summed over its logical CPUs.

    Each logical CPU shows its core's count and its package's count, so the package count is
    summed once per logical CPU: only whether the sums rise means anything.
    """

    core: int
    package: int
    cpus: int  # how many logical CPUs had the counters

    def to_json(self) -> dict[str, int]:
        return {"core": self.core, "package": self.package, "cpus": self.cpus}


def read_throttle(sysfs_root: str | Path = "/sys") -> ThrottleCounts | None:
    """The throttle counters, or None when the machine has none.

    Only Intel processors have them: the kernel creates `thermal_throttle/` when its Intel thermal
    interrupt is set up (arch/x86/kernel/cpu/mce/therm_throt.c). No equivalent was found for AMD
    processors (k10temp gives temperatures only), nor in a virtual machine.
    """
    core = package = cpus = 0
    for cpu in _numbered_dirs(Path(sysfs_root) / "devices" / "system" / "cpu", "cpu"):
        directory = cpu / "thermal_throttle"
        counts = [_integer(directory / "core_throttle_count"),
                  _integer(directory / "package_throttle_count")]
        if counts == [None, None]:
            continue
        cpus += 1
        core += counts[0] or 0
        package += counts[1] or 0
    return ThrottleCounts(core, package, cpus) if cpus else None


def throttle_rise(before: ThrottleCounts | None,
                  after: ThrottleCounts | None) -> tuple[int, int] | None:
    """How much the core and package counters rose between two readings; None without both."""
    if before is None or after is None:
        return None
    return max(0, after.core - before.core), max(0, after.package - before.package)


def _numbered_dirs(parent: Path, prefix: str) -> list[Path]:
    """hwmon0, hwmon1 ... hwmon10 in numeric order (each may be a link to the device)."""
    try:
        entries = [entry for entry in parent.iterdir()
                   if entry.name.startswith(prefix) and entry.name[len(prefix):].isdigit()
                   and entry.is_dir()]
    except OSError:
        return []
    return sorted(entries, key=lambda entry: int(entry.name[len(prefix):]))


def _indices(directory: Path, pattern: re.Pattern[str]) -> list[int]:
    try:
        names = [entry.name for entry in directory.iterdir()]
    except OSError:
        return []
    return sorted(int(match.group(1)) for name in names if (match := pattern.match(name)))


def _text(path: Path) -> str | None:
    try:
        value = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:  # absent, or a sensor that fails to answer (EIO, ENODATA)
        return None
    return value or None


def _integer(path: Path) -> int | None:
    value = _text(path)
    try:
        return None if value is None else int(value)
    except ValueError:
        return None


def _celsius(path: Path) -> float | None:
    millidegrees = _integer(path)
    if millidegrees is None or millidegrees <= NOT_A_TEMPERATURE_AT_OR_BELOW:
        return None
    return millidegrees / 1000


def _limit(path: Path) -> float | None:
    return _celsius(path)
