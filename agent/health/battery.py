"""The laptop's battery: its wear, its charge cycles, and how long it lasts under a known load.

`run_battery_check` judges each system battery the inventory found (`agent.inventory.battery`:
full-charge capacity against design capacity, the cycle count its gauge reports), then, when the
machine runs on its battery, measures its discharge for a bounded time under a caller-supplied
load: the power_supply class's `energy_now`/`power_now` (µWh, µW) or `charge_now`/`current_now`
(µAh, µA, with `voltage_now` in µV), sampled every few seconds
(Documentation/ABI/testing/sysfs-class-power). The average power drawn gives the runtime: the
energy left divided by the power, and the energy of a full charge divided by the power, which is
what the battery can still do for its next owner. The thresholds below judge it; docs/grading.md
says where each one comes from.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from agent.health.background import LoadProcess
from agent.health.cpu_load import start_load
from agent.health.model import (
    FAIL,
    NOT_PRESENT,
    PASS,
    SKIPPED,
    WARN,
    CheckResult,
    Finding,
    verdict_of,
)
from agent.i18n import N_
from agent.inventory.battery import Battery
from agent.runner import CommandNotFound, CommandRecord

# Goes with every result, so a report says which set of rules judged the battery.
RULES_VERSION = "battery/1"
CHECK = "battery"
SUBJECT = "battery"

# --- Thresholds ---------------------------------------------------------------------------------
#
# The next owner takes the laptop away from the socket: a battery that cannot carry a meeting, a
# class or a train journey fails; one that has started to wear warns (the volunteer decides, and
# the report says why).

# Health: the full-charge capacity against the design capacity. Refurbishers replace or flag a
# battery below 80 %: refurbed.at ("mindestens 80% der Originalleistung", its product conditions
# page), MacDaddy Ltd ("condition boundaries ... of 80% design capacity or 750 cycles", its
# battery-life page). Warn below 80 %.
HEALTH_WARN_BELOW_PERCENT = 80
# Free Geek (Portland, a non-profit refurbisher of donated computers), wiki "Laptop Battery
# Testing", Appendix guide A-4: "If the last full capacity is less than 30% of the design capacity,
# the battery may end up being too worn out to function correctly." Fail below 30 %.
HEALTH_FAIL_BELOW_PERCENT = 30
# Charge cycles: MacDaddy Ltd's other boundary, 750 cycles. Warn above it. A gauge that says 0
# usually does not count at all (the Samsung 90X3A's battery reads 0 at 100 % health): 0 is
# reported as not counted, never judged.
CYCLES_WARN_ABOVE = 750
# Runtime on a full charge, under the load: fail below 40 minutes, R2v3's "length of charge:
# minimum 40 minutes" as the project's notes quote it (the standard's text was not at hand to
# check); Just Laptops' published battery grades put "Good" at "upwards of half an hour from a full
# charge" and "Excellent" at "at least 45 minutes under partial load", on either side of it.
RUNTIME_FAIL_BELOW_MINUTES = 40

# How long and how often. 3 minutes is this project's choice: long enough for a gauge that
# updates its energy every minute or so to show a drop (a ThinkPad's energy_now falls by 40 to
# 90 mWh a minute at rest, stgloorious/simple-battery-log's BAT0.log), short enough for a workshop.
DEFAULT_SECONDS = 180
DEFAULT_SAMPLE_SECONDS = 5.0

# Names of the limits, as findings carry them.
T_HEALTH_WARN = f"battery_health_warn_below_{HEALTH_WARN_BELOW_PERCENT}"
T_HEALTH_FAIL = f"battery_health_fail_below_{HEALTH_FAIL_BELOW_PERCENT}"
T_CYCLES_WARN = f"battery_cycles_warn_above_{CYCLES_WARN_ABOVE}"
T_RUNTIME_FAIL = f"battery_runtime_fail_below_{RUNTIME_FAIL_BELOW_MINUTES}_minutes"

# Why the measurement ended before its time.
STOPPED_CANCELLED = "cancelled"
STOPPED_CHARGER = "charger_connected"
STOPPED_BATTERY_GONE = "battery_gone"

# How the power was found: the gauge's own power_now/current_now, or the fall of its energy.
METHOD_REPORTED = "reported_power"
METHOD_ENERGY_DROP = "energy_drop"

DISCHARGING, CHARGING = "Discharging", "Charging"
MICRO = 1_000_000

Clock = Callable[[], float]
Sleep = Callable[[float], None]


# --- One reading of a battery's gauge -----------------------------------------------------------


@dataclass(frozen=True)
class SupplySample:
    """What one battery's gauge says at one moment, in the kernel's micro-units."""

    name: str
    status: str | None  # "Discharging", "Charging", "Full", "Not charging", "Unknown"
    energy_now_uwh: int | None = None
    power_now_uw: int | None = None
    charge_now_uah: int | None = None
    current_now_ua: int | None = None
    voltage_now_uv: int | None = None
    energy_full_uwh: int | None = None
    charge_full_uah: int | None = None
    voltage_min_design_uv: int | None = None

    def _volts(self) -> float | None:
        # A charge is turned into energy with the voltage now, the same for the charge left and
        # the current drawn, so their ratio (the runtime) does not depend on it; the design
        # voltage when the gauge gives no voltage now.
        for value in (self.voltage_now_uv, self.voltage_min_design_uv):
            if value:
                return value / MICRO
        return None

    def energy_wh(self) -> float | None:
        if self.energy_now_uwh is not None:
            return self.energy_now_uwh / MICRO
        volts = self._volts()
        if self.charge_now_uah is not None and volts is not None:
            return self.charge_now_uah / MICRO * volts
        return None

    def full_wh(self) -> float | None:
        if self.energy_full_uwh:
            return self.energy_full_uwh / MICRO
        volts = self._volts()
        if self.charge_full_uah and volts is not None:
            return self.charge_full_uah / MICRO * volts
        return None

    def power_w(self) -> float | None:
        """The power the battery gives now; None when its gauge does not say. The ABI lets a
        driver report a discharge as a negative current: only its size counts."""
        if self.power_now_uw is not None:
            return abs(self.power_now_uw) / MICRO
        volts = self.voltage_now_uv / MICRO if self.voltage_now_uv else None
        if self.current_now_ua is not None and volts is not None:
            return abs(self.current_now_ua) / MICRO * volts
        return None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "energy_wh": _round(self.energy_wh()),
                "power_w": _round(self.power_w()), "full_wh": _round(self.full_wh())}


_FIELDS = {"status": "status", "energy_now": "energy_now_uwh", "power_now": "power_now_uw",
           "charge_now": "charge_now_uah", "current_now": "current_now_ua",
           "voltage_now": "voltage_now_uv", "energy_full": "energy_full_uwh",
           "charge_full": "charge_full_uah", "voltage_min_design": "voltage_min_design_uv"}


def sample_from_values(name: str, values: Mapping[str, str]) -> SupplySample | None:
    """A sample from a power supply's attributes by their sysfs names ("energy_now": "26430000"),
    or from its uevent's properties ("POWER_SUPPLY_ENERGY_NOW"); None when the battery is not
    there (`present` 0: its bay is empty)."""
    def value(attribute: str) -> str | None:
        text = values.get(attribute)
        if text is None:
            text = values.get(f"POWER_SUPPLY_{attribute.upper()}")
        text = (text or "").strip()
        return text or None

    if value("present") == "0":
        return None
    fields: dict[str, Any] = {}
    for attribute, field_name in _FIELDS.items():
        text = value(attribute)
        if field_name == "status":
            fields[field_name] = text
            continue
        try:
            fields[field_name] = int(text) if text is not None else None
        except ValueError:
            fields[field_name] = None
    return SupplySample(name=name, **fields)


def parse_uevent(text: str) -> dict[str, str]:
    """A uevent file's KEY=value lines."""
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {key.strip(): value for key, value in pairs}


def read_supply(sysfs_root: str | Path, name: str) -> SupplySample | None:
    """One battery's gauge from `class/power_supply/NAME/` under the root: its attribute files,
    else its uevent; None when the battery is gone."""
    folder = Path(sysfs_root) / "class" / "power_supply" / name
    values: dict[str, str] = {}
    with contextlib.suppress(OSError):
        values.update(parse_uevent((folder / "uevent").read_text(errors="replace")))
    for attribute in ("present", *_FIELDS):
        try:
            values[attribute] = (folder / attribute).read_text(errors="replace")
        except OSError:
            continue
    if not values:
        return None
    return sample_from_values(name, values)


Sampler = Callable[[], Sequence[SupplySample]]


def sysfs_sampler(names: Sequence[str], sysfs_root: str | Path = "/sys") -> Sampler:
    """Reads the named batteries' gauges; a battery that is gone is left out."""
    def sample() -> list[SupplySample]:
        return [supply for name in names if (supply := read_supply(sysfs_root, name)) is not None]
    return sample


def on_battery(supplies: Sequence[SupplySample]) -> bool:
    """The machine runs on its battery: one battery discharges and none charges (a ThinkPad with
    two batteries drains one while the other says "Unknown")."""
    statuses = {supply.status for supply in supplies}
    return DISCHARGING in statuses and CHARGING not in statuses


# --- The load -----------------------------------------------------------------------------------


class LoadHandle(Protocol):
    """A load running in the background; stopped when the measurement ends. One that also has a
    `finish()` giving a `CommandRecord` (`agent.health.background.LoadProcess`) has it called after
    `stop()`, and its record joins the evidence."""

    def stop(self) -> None: ...


# Starts the load for about that many seconds; raises `CommandNotFound` when its program is not
# there.
Load = Callable[[int], LoadHandle]


def light_load_command(seconds: int) -> list[str]:
    """One stress-ng worker keeping one processor half busy: this project's stand-in for light
    use (a browser, a document), not a source's. stress-ng(1): --cpu-load sets the percentage of
    load per worker; --timeout ends it."""
    return ["stress-ng", "--cpu", "1", "--cpu-load", "50", "--timeout", f"{max(1, seconds)}s"]


def stress_ng_load(seconds: int) -> LoadProcess:
    """`light_load_command` started on this machine (`agent.health.cpu_load.start_load`);
    `CommandNotFound` when stress-ng is not installed."""
    return start_load(light_load_command(seconds))


# --- The check ----------------------------------------------------------------------------------


def judge_wear(batteries: Sequence[Battery]) -> list[Finding]:
    """Each battery's health and cycle count, by the thresholds above."""
    findings: list[Finding] = []
    for battery in batteries:
        health = battery.health_percent
        if health is None:
            findings.append(Finding.of(
                "battery_health_unknown", SKIPPED,
                N_("{battery}: the battery does not report its capacity: its wear could not be "
                   "judged"), battery=battery.name))
        elif health < HEALTH_FAIL_BELOW_PERCENT:
            findings.append(Finding.of(
                "battery_worn_out", FAIL,
                N_("{battery}: a full charge holds only {health:.0f} % of what the battery was "
                   "built for: it is worn out (fail below {limit} %)"),
                threshold=T_HEALTH_FAIL, battery=battery.name, health=health,
                limit=HEALTH_FAIL_BELOW_PERCENT))
        elif health < HEALTH_WARN_BELOW_PERCENT:
            findings.append(Finding.of(
                "battery_worn", WARN,
                N_("{battery}: a full charge holds {health:.0f} % of what the battery was built "
                   "for (warning below {limit} %)"),
                threshold=T_HEALTH_WARN, battery=battery.name, health=health,
                limit=HEALTH_WARN_BELOW_PERCENT))
        cycles = battery.cycle_count
        if cycles == 0:
            findings.append(Finding.of(
                "battery_cycles_not_counted", SKIPPED,
                N_("{battery}: the battery reports 0 charge cycles, which usually means it does "
                   "not count them: not judged"), battery=battery.name))
        elif cycles is not None and cycles > CYCLES_WARN_ABOVE:
            findings.append(Finding.of(
                "battery_cycles_high", WARN,
                N_("{battery}: {cycles} charge cycles (warning above {limit})"),
                threshold=T_CYCLES_WARN, battery=battery.name, cycles=cycles,
                limit=CYCLES_WARN_ABOVE))
    return findings


def run_battery_check(batteries: Sequence[Battery], *, load: Load | None = None,
                      sampler: Sampler | None = None, seconds: int = DEFAULT_SECONDS,
                      sample_seconds: float = DEFAULT_SAMPLE_SECONDS,
                      sysfs_root: str | Path = "/sys", clock: Clock = time.monotonic,
                      sleep: Sleep = time.sleep,
                      cancel: threading.Event | None = None) -> CheckResult:
    """Judges the batteries' wear, then measures their runtime for `seconds` under `load`.

    `batteries` are the inventory's (`read_batteries`); `sampler` reads their gauges (their sysfs
    files under `sysfs_root` when not given); `load` runs while the gauges are read (none: the
    machine as it is). `seconds` 0 judges the wear only. not_present when there is no battery;
    the runtime is skipped, with a finding that says why, when the machine runs on its charger,
    when the charger is plugged in or a battery disappears during the measurement, when the load
    cannot start, or when `cancel` is set (the load is stopped).
    """
    run = _BatteryRun(batteries, seconds, sample_seconds, clock)
    if not batteries:
        return run.result([Finding.of("battery_not_present", NOT_PRESENT,
                                      N_("This machine has no battery"))])
    findings = judge_wear(batteries)
    if seconds > 0:
        if sampler is None:
            sampler = sysfs_sampler([battery.name for battery in batteries], sysfs_root)
        findings += run.measure(sampler, load, sleep, cancel)
    return run.result(findings)


@dataclass(frozen=True)
class _Moment:
    at: float  # seconds since the load started
    supplies: tuple[SupplySample, ...]

    def energy_wh(self) -> float | None:
        values = [supply.energy_wh() for supply in self.supplies]
        return None if any(value is None for value in values) else sum(v or 0.0 for v in values)

    def full_wh(self) -> float | None:
        values = [supply.full_wh() for supply in self.supplies]
        return None if any(value is None for value in values) else sum(v or 0.0 for v in values)

    def power_w(self) -> float | None:
        values = [value for supply in self.supplies if (value := supply.power_w()) is not None]
        return sum(values) if values else None

    def to_json(self) -> dict[str, Any]:
        return {"seconds": round(self.at, 1),
                "supplies": [supply.to_json() for supply in self.supplies]}


class _BatteryRun:
    def __init__(self, batteries: Sequence[Battery], seconds: int, sample_seconds: float,
                 clock: Clock) -> None:
        self.batteries = list(batteries)
        self.seconds = seconds
        self.sample_seconds = sample_seconds
        self.clock = clock
        self.started = clock()
        self.evidence: list[CommandRecord] = []
        self.measured: dict[str, Any] = {
            "rules": RULES_VERSION,
            "batteries": [_battery_json(battery) for battery in self.batteries],
            "runtime": None}

    def measure(self, sampler: Sampler, load: Load | None, sleep: Sleep,
                cancel: threading.Event | None) -> list[Finding]:
        runtime: dict[str, Any] = {"seconds": self.seconds, "sample_seconds": self.sample_seconds,
                                   "load": load is not None, "samples": [], "stopped": None,
                                   "method": None}
        self.measured["runtime"] = runtime
        first = tuple(sampler())
        runtime["before"] = _Moment(0.0, first).to_json()
        if not first:
            runtime["stopped"] = STOPPED_BATTERY_GONE
            return [_battery_gone()]
        if not on_battery(first):
            return [Finding.of(
                "battery_on_charger", SKIPPED,
                N_("The machine runs on its charger: the battery's runtime could not be "
                   "measured. Unplug the charger and run the battery test again."))]
        if cancel is not None and cancel.is_set():
            runtime["stopped"] = STOPPED_CANCELLED
            return [_cancelled()]
        handle: LoadHandle | None = None
        if load is not None:
            try:
                handle = load(self.seconds)
            except CommandNotFound as missing:
                return [Finding.of(
                    "battery_load_missing", SKIPPED,
                    N_("{program} is not installed: the battery could not be measured under "
                       "load"), program=missing.program)]
        load_started = self.clock()
        moments: list[_Moment] = []
        try:
            # The batteries read at the start are the ones followed: one that stops answering
            # ends the measurement.
            stopped = self._sample(sampler, {supply.name for supply in first}, load_started,
                                   moments, sleep, cancel)
        finally:
            if handle is not None:
                self._stop(handle)
        runtime["stopped"] = stopped
        runtime["samples"] = [moment.to_json() for moment in moments]
        if stopped == STOPPED_CANCELLED:
            return [_cancelled()]
        if stopped == STOPPED_CHARGER:
            return [Finding.of(
                "battery_charger_connected", SKIPPED,
                N_("The charger was plugged in during the measurement: the battery's runtime "
                   "could not be measured. Keep the charger unplugged and run the battery test "
                   "again."))]
        if stopped == STOPPED_BATTERY_GONE:
            return [_battery_gone()]
        return self._estimate(moments, runtime)

    def _stop(self, handle: LoadHandle) -> None:
        """Stops the load; a load that keeps a record of its command (`cpu_load.start_load`'s)
        gives it for the evidence, and closes its output files doing so."""
        handle.stop()
        finish = getattr(handle, "finish", None)
        if callable(finish):
            record = finish()
            if isinstance(record, CommandRecord):
                self.evidence.append(record)

    def _sample(self, sampler: Sampler, names: set[str], load_started: float,
                moments: list[_Moment], sleep: Sleep,
                cancel: threading.Event | None) -> str | None:
        """Reads the gauges every `sample_seconds` until `seconds` have passed; why it stopped
        early, if it did."""
        while True:
            if cancel is not None and cancel.is_set():
                return STOPPED_CANCELLED
            elapsed = self.clock() - load_started
            if elapsed >= self.seconds:
                return None
            sleep(min(self.sample_seconds, self.seconds - elapsed))
            supplies = tuple(sampler())
            if {supply.name for supply in supplies} != names:
                return STOPPED_BATTERY_GONE
            if not on_battery(supplies):
                return STOPPED_CHARGER
            moments.append(_Moment(self.clock() - load_started, supplies))

    def _estimate(self, moments: list[_Moment], runtime: dict[str, Any]) -> list[Finding]:
        reported = [power for moment in moments if (power := moment.power_w())]
        watts: float | None = None
        if reported:
            watts = sum(reported) / len(reported)
            runtime["method"] = METHOD_REPORTED
        elif len(moments) >= 2:
            first, last = moments[0], moments[-1]
            before, after = first.energy_wh(), last.energy_wh()
            hours = (last.at - first.at) / 3600
            if before is not None and after is not None and hours > 0 and before > after:
                watts = (before - after) / hours
                runtime["method"] = METHOD_ENERGY_DROP
        if watts is None or not moments:
            return [Finding.of(
                "battery_no_draw_reported", SKIPPED,
                N_("During {seconds} s the battery reported neither the power it gives nor a "
                   "drop in its charge: its runtime could not be estimated"),
                seconds=self.seconds)]
        last = moments[-1]
        energy, full = last.energy_wh(), last.full_wh()
        runtime["average_power_w"] = round(watts, 3)
        runtime["energy_now_wh"] = _round(energy)
        runtime["full_wh"] = _round(full)
        now_minutes = None if energy is None else round(energy / watts * 60)
        full_minutes = None if full is None else round(full / watts * 60)
        runtime["runtime_now_minutes"] = now_minutes
        runtime["runtime_full_minutes"] = full_minutes
        if full_minutes is None:
            return [Finding.of(
                "battery_full_capacity_unknown", SKIPPED,
                N_("The battery does not report what a full charge holds: its runtime could not "
                   "be judged ({watts:.1f} W drawn)"), watts=watts)]
        if full_minutes < RUNTIME_FAIL_BELOW_MINUTES:
            return [Finding.of(
                "battery_runtime_short", FAIL,
                N_("On a full charge the battery would last about {minutes} min at {watts:.1f} W "
                   "(fail below {limit} min)"), threshold=T_RUNTIME_FAIL,
                minutes=full_minutes, watts=watts, limit=RUNTIME_FAIL_BELOW_MINUTES)]
        return [Finding.of(
            "battery_runtime", PASS,
            N_("On a full charge the battery would last about {minutes} min at {watts:.1f} W"),
            minutes=full_minutes, watts=watts)]

    def result(self, findings: list[Finding]) -> CheckResult:
        names = [battery.name for battery in self.batteries]
        subject = "+".join(names) if names else SUBJECT
        return CheckResult(CHECK, subject, verdict_of(findings), tuple(findings), self.measured,
                           self.clock() - self.started, evidence=tuple(self.evidence))


def _battery_gone() -> Finding:
    return Finding.of("battery_gone", SKIPPED,
                      N_("The battery stopped answering during the measurement (removed, or its "
                         "gauge failed): its runtime could not be measured"))


def _cancelled() -> Finding:
    return Finding.of("battery_test_cancelled", SKIPPED, N_("The battery test was cancelled"))


def _battery_json(battery: Battery) -> dict[str, Any]:
    return {"name": battery.name, "manufacturer": battery.manufacturer, "model": battery.model,
            "technology": battery.technology, "status": battery.status,
            "design_capacity_wh": battery.design_capacity_wh,
            "full_capacity_wh": battery.full_capacity_wh,
            "health_percent": battery.health_percent, "cycle_count": battery.cycle_count}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
