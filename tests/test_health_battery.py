"""The battery check: gauge readers on real laptops' batteries, the wear rules, and the discharge
measured through a replayed sampler and clock (real sequences where one was published).

tests/fixtures/health/battery/SOURCE.md says where every log and tree comes from. A battery that
disappears mid-run, a cancel, and the limits of the rules have no published example: those tests
build their values from the real ones and say so where they do.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from agent.health.battery import (
    CYCLES_WARN_ABOVE,
    HEALTH_FAIL_BELOW_PERCENT,
    HEALTH_WARN_BELOW_PERCENT,
    RUNTIME_FAIL_BELOW_MINUTES,
    SupplySample,
    judge_wear,
    light_load_command,
    on_battery,
    parse_uevent,
    read_supply,
    run_battery_check,
    sample_from_values,
    stress_ng_load,
    sysfs_sampler,
)
from agent.health.model import FAIL, NOT_PRESENT, PASS, SKIPPED, WARN, CheckResult, Finding
from agent.inventory.battery import Battery, read_batteries
from agent.inventory.source import PROFILE_FORMAT, LiveSource, ProfileSource
from agent.runner import CommandNotFound, CommandRecord
from tests.udev_export import profile_from_udev_export

FIXTURES = Path(__file__).parent / "fixtures"
BATTERY = FIXTURES / "health" / "battery"
PERIPHERALS = FIXTURES / "peripherals"
X270 = BATTERY / "lenovo-x270-batterylogd" / "sys"
SIMPLE_LOG = BATTERY / "thinkpad-simple-battery-log" / "BAT0.log"


def codes(result: CheckResult) -> list[str]:
    return [finding.code for finding in result.findings]


def by_code(result: CheckResult, code: str) -> Finding:
    return next(finding for finding in result.findings if finding.code == code)


# --- Real gauges ---------------------------------------------------------------------------------


def log_rows(first: int, last: int) -> list[tuple[float, SupplySample]]:
    """Lines `first` to `last` (1-based) of the ThinkPad's BAT0.log: (unix time, BAT0's gauge)."""
    rows = []
    for line in SIMPLE_LOG.read_text().splitlines()[first - 1:last]:
        stamp, status, full, now = line.split(",")
        sample = sample_from_values("BAT0", {"status": status, "energy_full": full,
                                             "energy_now": now})
        assert sample is not None
        rows.append((float(stamp), sample))
    return rows


def log_battery() -> Battery:
    """The ThinkPad's battery as the inventory would see it: the log gives energy_full only."""
    return Battery("BAT0", None, None, None, None, "Discharging", None, 45.09, None, None)


def e495_values() -> dict[str, str]:
    """BAT0 of the ThinkPad E495 from `tlp-stat -b`, which prints sysfs values / 1000."""
    values = {"type": "Battery"}
    text = (PERIPHERALS / "thinkpad-e495-battery" / "tlp-stat-b.txt").read_text()
    for line in text.splitlines():
        if "=" not in line or "/BAT0/" not in line:
            continue
        name, _, value = line.partition("=")
        name, value = name.strip().rsplit("/", 1)[1], value.strip()
        number = value.split(" [", 1)[0]
        values[name] = str(int(number) * 1000) if "[m" in value else value
    return values


def udev_machine(name: str) -> ProfileSource:
    return ProfileSource(profile_from_udev_export((PERIPHERALS / name / "udev-db.txt").read_text()))


def udev_properties(source: ProfileSource, battery: str) -> dict[str, str]:
    device = next(item for item in source.udev_devices("power_supply") if item.sys_name == battery)
    return device.properties


def test_a_two_battery_thinkpad_read_from_its_sysfs_files() -> None:
    bat0, bat1 = read_supply(X270, "BAT0"), read_supply(X270, "BAT1")
    assert bat0 == SupplySample("BAT0", "Discharging", energy_now_uwh=18_980_000,
                                power_now_uw=3_871_000, voltage_now_uv=12_136_000,
                                energy_full_uwh=21_810_000, voltage_min_design_uv=11_400_000)
    assert bat1 is not None and (bat1.status, bat1.power_w(), bat1.energy_wh()) == (
        "Unknown", 0.0, 1.15)
    assert (bat0.energy_wh(), bat0.power_w(), bat0.full_wh()) == (18.98, 3.871, 21.81)
    # The internal battery drains while the empty removable one says "Unknown": on battery.
    assert on_battery([bat0, bat1]) and not on_battery([bat1])
    assert sysfs_sampler(["BAT0", "BAT1", "BAT2"], X270)() == [bat0, bat1]  # BAT2 is not there
    assert read_supply(X270, "AC") is None


def test_the_inventory_reads_the_same_two_batteries() -> None:
    udev = [{"sys_path": f"/sys/class/power_supply/{name}", "sys_name": name,
             "subsystem": "power_supply",
             "attributes": {path.name: path.read_text().strip()
                            for path in (X270 / "class" / "power_supply" / name).iterdir()}}
            for name in ("BAT0", "BAT1")]
    batteries = read_batteries(ProfileSource({"format": PROFILE_FORMAT,
                                              "udev": {"power_supply": udev}}))
    assert [(b.name, b.health_percent, b.cycle_count) for b in batteries] == [
        ("BAT0", 92.9, 183), ("BAT1", 91.1, 341)]


def test_a_charge_gauge_is_turned_into_watts_with_its_voltage_now() -> None:
    source = udev_machine("samsung-90x3a")
    sample = sample_from_values("BAT1", udev_properties(source, "BAT1"))
    assert sample is not None
    assert (sample.charge_now_uah, sample.current_now_ua, sample.voltage_now_uv) == (
        1_638_000, 1_825_000, 7_435_000)
    assert sample.power_w() == pytest.approx(1.825 * 7.435)
    assert sample.energy_wh() == pytest.approx(1.638 * 7.435)
    assert sample.full_wh() == pytest.approx(6.3 * 7.435)


def test_a_uevent_and_a_gauge_that_says_its_bay_is_empty() -> None:
    uevent = (PERIPHERALS / "logitech-mx-anywhere-3-battery" / "uevent").read_text()
    assert parse_uevent(uevent)["POWER_SUPPLY_STATUS"] == "Discharging"
    assert sample_from_values("BAT1", {"POWER_SUPPLY_PRESENT": "0"}) is None
    # A discharge reported as a negative current (the ABI allows it) counts by its size.
    negative = sample_from_values("BAT0", {"status": "Discharging", "current_now": "-1825000",
                                           "voltage_now": "7435000"})
    assert negative is not None and negative.power_w() == pytest.approx(13.569, abs=1e-3)


# --- The wear rules ----------------------------------------------------------------------------


def e495() -> Battery:
    batteries = read_batteries(ProfileSource({"format": PROFILE_FORMAT, "udev": {"power_supply": [
        {"sys_path": "/sys/class/power_supply/BAT0", "sys_name": "BAT0",
         "subsystem": "power_supply", "attributes": e495_values()}]}}))
    return batteries[0]


def test_a_battery_at_94_percent_with_205_cycles_says_nothing() -> None:
    battery = e495()
    assert (battery.health_percent, battery.cycle_count) == (94.4, 205)
    assert judge_wear([battery]) == []


@pytest.mark.parametrize(("health", "verdict", "code"), [
    (HEALTH_WARN_BELOW_PERCENT, None, None),
    (HEALTH_WARN_BELOW_PERCENT - 0.1, WARN, "battery_worn"),
    (HEALTH_FAIL_BELOW_PERCENT, WARN, "battery_worn"),
    (HEALTH_FAIL_BELOW_PERCENT - 0.1, FAIL, "battery_worn_out"),
])
def test_health_limits(health: float, verdict: str | None, code: str | None) -> None:
    # The E495's battery with its health set at the limits: scripted values.
    findings = judge_wear([replace(e495(), health_percent=health)])
    assert [(f.code, f.verdict) for f in findings] == ([] if code is None else [(code, verdict)])


@pytest.mark.parametrize(("cycles", "code", "verdict"), [
    (CYCLES_WARN_ABOVE, None, None),
    (CYCLES_WARN_ABOVE + 1, "battery_cycles_high", WARN),
    (None, None, None),
])
def test_cycle_limits(cycles: int | None, code: str | None, verdict: str | None) -> None:
    findings = judge_wear([replace(e495(), cycle_count=cycles)])  # scripted cycle counts
    assert [(f.code, f.verdict) for f in findings] == ([] if code is None else [(code, verdict)])
    if code:
        assert findings[0].threshold == "battery_cycles_warn_above_750"
        assert findings[0].text == "BAT0: 751 charge cycles (warning above 750)"


def test_zero_cycles_are_not_counted_and_not_judged() -> None:
    samsung = read_batteries(udev_machine("samsung-90x3a"))[0]
    assert (samsung.cycle_count, samsung.health_percent) == (0, 100.0)
    findings = judge_wear([samsung])
    assert [(f.code, f.verdict, f.threshold) for f in findings] == [
        ("battery_cycles_not_counted", SKIPPED, None)]


def test_a_battery_without_capacities_is_not_judged_on_wear() -> None:
    findings = judge_wear([log_battery()])
    assert [(f.code, f.verdict) for f in findings] == [("battery_health_unknown", SKIPPED)]


# --- The discharge, replayed -------------------------------------------------------------------


class Replay:
    """A sampler and a clock that play recorded moments: each reading of the gauges moves the
    clock to the next moment's time; `sleep` only notes what was asked."""

    def __init__(self, moments: Sequence[tuple[float, Sequence[SupplySample]]]) -> None:
        self.moments = list(moments)
        self.index = -1
        self.slept: list[float] = []

    def sampler(self) -> list[SupplySample]:
        self.index += 1
        return list(self.moments[self.index][1])

    def clock(self) -> float:
        return self.moments[max(self.index, 0)][0]

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


class FakeLoad:
    def __init__(self, *, missing: bool = False) -> None:
        self.missing = missing
        self.started: list[int] = []
        self.stopped = 0

    def __call__(self, seconds: int) -> FakeLoad:
        if self.missing:
            raise CommandNotFound("stress-ng")
        self.started.append(seconds)
        return self

    def stop(self) -> None:
        self.stopped += 1


def replay_run(batteries: Sequence[Battery], replay: Replay, **kwargs: object) -> CheckResult:
    options: dict[str, object] = {"seconds": 180, "sample_seconds": 60.0}
    options.update(kwargs)
    return run_battery_check(batteries, sampler=replay.sampler, clock=replay.clock,
                             sleep=replay.sleep, **options)  # type: ignore[arg-type]


def test_a_gauge_without_power_is_measured_by_the_fall_of_its_energy() -> None:
    # BAT0.log lines 1-4: at rest, one reading a minute; the run reads line 1, starts the load,
    # then lines 2-4 at 60, 120 and 180 s.
    replay = Replay([(t, [s]) for t, s in log_rows(1, 4)])
    load = FakeLoad()
    result = replay_run([log_battery()], replay, load=load)
    runtime = result.measured["runtime"]
    assert runtime["method"] == "energy_drop"
    # 34.61 -> 34.48 Wh over 120 s is 3.9 W; 45.09 Wh / 3.9 W = 693.7 min; 34.48 / 3.9 = 530.5.
    assert runtime["average_power_w"] == pytest.approx(3.9)
    assert (runtime["runtime_full_minutes"], runtime["runtime_now_minutes"]) == (694, 530)
    assert [sample["seconds"] for sample in runtime["samples"]] == [60.0, 120.0, 180.0]
    assert replay.slept == [60.0, 60.0, 60.0]
    assert (load.started, load.stopped) == ([180], 1)
    assert codes(result) == ["battery_health_unknown", "battery_runtime"]
    assert result.verdict == PASS
    assert by_code(result, "battery_runtime").text == (
        "On a full charge the battery would last about 694 min at 3.9 W")
    json.dumps(result.to_json())


def test_a_reported_power_is_averaged_over_two_batteries() -> None:
    # The X270's tree read three times (the same real moment each time: the log has one).
    replay = Replay([(float(t), sysfs_sampler(["BAT0", "BAT1"], X270)()) for t in (0, 5, 10)])
    batteries = [Battery("BAT0", "SMP", None, None, None, "Discharging", 23.48, 21.81, 92.9, 183),
                 Battery("BAT1", "SMP", None, None, None, "Unknown", 23.48, 21.39, 91.1, 341)]
    result = replay_run(batteries, replay, seconds=10, sample_seconds=5.0)
    runtime = result.measured["runtime"]
    assert runtime["method"] == "reported_power"
    assert runtime["average_power_w"] == pytest.approx(3.871)
    # Both batteries count: 20.13 Wh left, 43.2 Wh full, at 3.871 W.
    assert (runtime["energy_now_wh"], runtime["full_wh"]) == (20.13, 43.2)
    assert (runtime["runtime_now_minutes"], runtime["runtime_full_minutes"]) == (312, 670)
    assert result.subject == "BAT0+BAT1"
    assert (result.verdict, codes(result)) == (PASS, ["battery_runtime"])


def test_a_charge_gauge_on_battery_passes() -> None:
    source = udev_machine("samsung-90x3a")
    sample = sample_from_values("BAT1", udev_properties(source, "BAT1"))
    assert sample is not None
    replay = Replay([(0.0, [sample]), (5.0, [sample])])
    result = replay_run(read_batteries(source), replay, seconds=5, sample_seconds=5.0)
    # 6.3 Ah / 1.825 A = 207.1 min; 1.638 / 1.825 = 53.9 min: the voltage cancels out.
    runtime = result.measured["runtime"]
    assert (runtime["runtime_full_minutes"], runtime["runtime_now_minutes"]) == (207, 54)
    assert codes(result) == ["battery_cycles_not_counted", "battery_runtime"]
    assert result.verdict == PASS


def test_the_e495_under_its_own_draw() -> None:
    sample = sample_from_values("BAT0", e495_values())
    assert sample is not None and sample.power_w() == 6.81
    replay = Replay([(0.0, [sample]), (5.0, [sample])])
    result = replay_run([e495()], replay, seconds=5, sample_seconds=5.0)
    assert result.measured["runtime"]["runtime_full_minutes"] == 377  # 42.75 Wh / 6.81 W
    assert result.verdict == PASS


@pytest.mark.parametrize(("full_mwh", "minutes", "verdict"), [
    (4540, RUNTIME_FAIL_BELOW_MINUTES, PASS), (4430, RUNTIME_FAIL_BELOW_MINUTES - 1, FAIL)])
def test_runtime_limit(full_mwh: int, minutes: int, verdict: str) -> None:
    # The E495's real draw (6.81 W) with a worn battery's full capacity written in: scripted.
    values = e495_values() | {"energy_full": str(full_mwh * 1000)}
    sample = sample_from_values("BAT0", values)
    assert sample is not None
    replay = Replay([(0.0, [sample]), (5.0, [sample])])
    result = replay_run([e495()], replay, seconds=5, sample_seconds=5.0)
    assert result.measured["runtime"]["runtime_full_minutes"] == minutes
    assert result.verdict == verdict
    if verdict == FAIL:
        finding = by_code(result, "battery_runtime_short")
        assert finding.threshold == "battery_runtime_fail_below_40_minutes"
        assert finding.text == ("On a full charge the battery would last about 39 min at 6.8 W "
                                "(fail below 40 min)")


def test_on_the_charger_the_runtime_is_not_measured() -> None:
    # BAT0.log line 606: "Full" on the charger. Nothing else is read, no load starts.
    replay = Replay([(t, [s]) for t, s in log_rows(606, 609)])
    load = FakeLoad()
    result = replay_run([log_battery()], replay, load=load)
    finding = by_code(result, "battery_on_charger")
    assert finding.verdict == SKIPPED and "Unplug the charger" in finding.text
    assert (replay.index, load.started) == (0, [])
    # The Toshiba charging on its adapter says the same.
    toshiba = udev_machine("toshiba-checkbox-2010")
    sample = sample_from_values("BAT1", udev_properties(toshiba, "BAT1"))
    assert sample is not None and sample.status == "Charging"
    result = replay_run(read_batteries(toshiba), Replay([(0.0, [sample])]))
    assert (result.verdict, codes(result)) == (SKIPPED, ["battery_on_charger"])


def test_just_unplugged_at_full_the_gauge_holds_still_then_falls() -> None:
    # Lines 608-611: discharging from the minute the charger was unplugged (line 607 is "Full"),
    # but this gauge keeps saying 45.01 Wh for ten minutes (to line 617) and reports no power:
    # nothing to estimate from.
    replay = Replay([(t, [s]) for t, s in log_rows(608, 611)])
    result = replay_run([log_battery()], replay)
    assert codes(result) == ["battery_health_unknown", "battery_no_draw_reported"]
    assert by_code(result, "battery_no_draw_reported").text == (
        "During 180 s the battery reported neither the power it gives nor a drop in its charge: "
        "its runtime could not be estimated")
    assert result.measured["runtime"]["method"] is None
    # Lines 617-620: the energy starts to fall (45.01 -> 44.88 Wh from 618 to 620, 120 s).
    replay = Replay([(t, [s]) for t, s in log_rows(617, 620)])
    result = replay_run([log_battery()], replay)
    assert result.measured["runtime"]["average_power_w"] == pytest.approx(2.4, abs=0.05)
    assert codes(result)[-1] == "battery_runtime"


def test_the_charger_plugged_in_during_the_run_stops_it() -> None:
    # Lines 471-474: discharging down to 0.35 Wh, then "Charging" (after a gap in the log).
    replay = Replay([(t, [s]) for t, s in log_rows(471, 474)])
    load = FakeLoad()
    result = replay_run([log_battery()], replay, load=load, seconds=3600)
    assert result.measured["runtime"]["stopped"] == "charger_connected"
    assert [f.code for f in result.findings if f.verdict == SKIPPED][-1] == (
        "battery_charger_connected")
    assert load.stopped == 1


def test_a_battery_that_disappears_mid_run() -> None:
    # Real readings (lines 1-2), then nothing: no published example of a battery pulled out.
    rows = log_rows(1, 2)
    replay = Replay([(t, [s]) for t, s in rows] + [(rows[-1][0] + 60, [])])
    load = FakeLoad()
    result = replay_run([log_battery()], replay, load=load)
    assert result.measured["runtime"]["stopped"] == "battery_gone"
    assert codes(result)[-1] == "battery_gone"
    assert result.verdict == SKIPPED and load.stopped == 1
    # Gone before the start: nothing to measure.
    result = replay_run([log_battery()], Replay([(0.0, [])]))
    assert codes(result)[-1] == "battery_gone"


def test_cancel_stops_the_load_and_skips() -> None:
    cancel = threading.Event()
    replay = Replay([(t, [s]) for t, s in log_rows(1, 4)])

    def sleep(seconds: float) -> None:  # the volunteer cancels during the first wait
        replay.sleep(seconds)
        cancel.set()

    load = FakeLoad()
    result = run_battery_check([log_battery()], sampler=replay.sampler, clock=replay.clock,
                               sleep=sleep, cancel=cancel, load=load, seconds=180,
                               sample_seconds=60.0)
    assert codes(result)[-1] == "battery_test_cancelled"
    assert (result.measured["runtime"]["stopped"], load.stopped) == ("cancelled", 1)
    # Cancelled before the start: the load never starts.
    load = FakeLoad()
    result = replay_run([log_battery()], Replay([(t, [s]) for t, s in log_rows(1, 2)]),
                        cancel=cancel, load=load)
    assert codes(result)[-1] == "battery_test_cancelled" and load.started == []


def test_a_load_that_keeps_a_record_gives_it_as_evidence() -> None:
    class RecordedLoad(FakeLoad):
        def finish(self) -> CommandRecord:
            return CommandRecord(tuple(light_load_command(180)), 0, "", "", 180.0)

    load = RecordedLoad()
    result = replay_run([log_battery()], Replay([(t, [s]) for t, s in log_rows(1, 4)]),
                        load=load)
    assert [record.argv[0] for record in result.evidence] == ["stress-ng"]
    assert load.stopped == 1


def test_a_battery_missing_from_the_first_reading_is_not_waited_for() -> None:
    # The inventory lists BAT0 and BAT1; only BAT0 answers (lines 1-4): BAT0 is followed.
    replay = Replay([(t, [s]) for t, s in log_rows(1, 4)])
    result = replay_run([log_battery(), replace(log_battery(), name="BAT1")], replay)
    assert codes(result)[-1] == "battery_runtime"


def test_a_missing_load_program_skips_the_runtime() -> None:
    replay = Replay([(t, [s]) for t, s in log_rows(1, 4)])
    result = replay_run([log_battery()], replay, load=FakeLoad(missing=True))
    finding = by_code(result, "battery_load_missing")
    assert finding.text == ("stress-ng is not installed: the battery could not be measured "
                            "under load")


def test_seconds_zero_judges_the_wear_only() -> None:
    result = run_battery_check([replace(e495(), health_percent=70.0)], seconds=0,
                               sampler=lambda: pytest.fail("no gauge read"))
    assert (result.verdict, codes(result)) == (WARN, ["battery_worn"])
    assert result.measured["runtime"] is None


def test_no_battery_is_not_present() -> None:
    result = run_battery_check([])
    assert (result.verdict, codes(result), result.subject) == (
        NOT_PRESENT, ["battery_not_present"], "battery")


def test_the_light_load_command_is_bounded() -> None:
    assert light_load_command(180) == ["stress-ng", "--cpu", "1", "--cpu-load", "50",
                                       "--timeout", "180s"]


# --- This machine ------------------------------------------------------------------------------


def test_the_light_load_starts_and_stops_on_this_machine() -> None:
    handle = stress_ng_load(1)
    handle.stop()
    record = handle.finish()
    assert record.argv == tuple(light_load_command(1))
    assert handle.poll() is not None


def test_this_machine() -> None:
    batteries = read_batteries(LiveSource())
    result = run_battery_check(batteries, seconds=2, sample_seconds=1.0)
    if not batteries:
        assert (result.verdict, codes(result)) == (NOT_PRESENT, ["battery_not_present"])
        assert not list(Path("/sys/class/power_supply").glob("BAT*/energy_full_design"))
    else:  # a laptop: the wear findings, then what the two seconds allowed
        assert result.measured["runtime"] is not None
        assert result.verdict in (PASS, WARN, FAIL, SKIPPED)
    json.dumps(result.to_json())
