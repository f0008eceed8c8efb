"""Attended mode on the real image: the first screen on tty1, and nothing erased."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from harness import (
    IMAGE,
    Boot,
    Scenario,
    Stick,
    all_scenarios,
    make_disk,
    marker_sectors,
    require_image,
    station_config,
)

ATTENDED = [path for path in all_scenarios() if Scenario.load(path).mode == "attended"]


@pytest.mark.parametrize("scenario_path", ATTENDED, ids=[path.stem for path in ATTENDED])
def test_screen_shows_inventory_and_plan(scenario_path: Path, artifacts: Path) -> None:
    require_image()
    scenario = Scenario.load(scenario_path)
    stick = Stick.copy_of(IMAGE, artifacts)
    stick.write_file("reeeboot.toml", station_config(
        "http://10.0.2.2:9", "unused", unattended=scenario.config_unattended))
    disks = {spec.id: make_disk(spec, artifacts) for spec in scenario.disks}
    markers_before = {spec.id: marker_sectors(path) for spec, path in zip(
        scenario.disks, disks.values(), strict=True)}

    boot = Boot(scenario, artifacts, stick, disks)
    boot.start()
    wanted = [spec.serial for spec in scenario.disks] + [scenario.stick_serial]
    screen = ""
    try:
        deadline = time.monotonic() + scenario.timeout_seconds
        while time.monotonic() < deadline:
            time.sleep(5)
            assert boot.process is not None and boot.process.poll() is None, boot.serial_text()
            screen = boot.screen_text()
            if all(serial in screen for serial in wanted) and "seront" in screen:
                break
        (artifacts / "screen.log").write_text(screen)
        boot.hmp(f"screendump {artifacts / 'screen.ppm'}")
    finally:
        boot.stop()

    for serial in wanted:
        assert serial in screen, f"{serial} not on tty1:\n{screen}"
    assert "Disque" in screen and "Numéro de série" in screen  # French by default
    assert "introuvable" not in screen and "pas montée" not in screen, "stick's config not read"
    assert f"{len(scenario.disks)} disque(s) seront effacés, 1 conservé(s)." in screen
    assert "conservé" in screen  # the stick, with its reason
    assert not any(event["event"] == "start" for event in boot.events()), "ran unattended"
    for spec in scenario.disks:
        assert marker_sectors(disks[spec.id]) == markers_before[spec.id], f"{spec.id} touched"
