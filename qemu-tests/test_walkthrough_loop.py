"""The walk-through driven by Textual's Pilot over real loop devices and the built OS image: a
volunteer types an asset number, keeps one disk, confirms, watches the erasure, installs the
minimal OS and sends the report to a real hub. The kept disk is byte for byte what it was, the
others hold no trace of their old data, the OS boots files are on the target, and the signed
report carries the asset number, the operator and the disk kept by choice."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import DiskFactory
from os_images import built_os_image
from textual.pilot import Pilot

from agent import flow
from agent.i18n import _
from agent.inventory import take_inventory
from agent.inventory.boot import BootFirmware
from agent.inventory.model import KEPT_BY_CHOICE, Machine
from agent.report import dsse
from agent.run.engine import Run
from agent.tui.app import ReeebootApp
from agent.tui.screens.confirm import CONFIRMATION_WORD
from agent.tui.screens.end import EndScreen
from agent.tui.screens.install import InstallScreen
from agent.tui.screens.progress import ProgressScreen
from agent.tui.screens.result import ResultScreen
from agent.tui.widgets.progress_row import ProgressRow
from tests.hubserver import RunningHub
from tests.screens import flat, outside_cp437, screen_text, settle, type_text
from tests.test_screens import FakePower

MIB, GIB = 1 << 20, 1 << 30
MARKER = b"REEEBOOT-MARKER!" * 32
ASSET_ID = "WS-2026-0077"


@pytest.fixture
def loop_devices(partitioned_loop: DiskFactory) -> list[str]:
    """Three RAM-backed disks full of old data: 4 GiB (room for the OS), 64 MiB and 48 MiB."""
    devices = []
    for size in (4 * GIB, 64 * MIB, 48 * MIB):
        disk = partitioned_loop(size)
        with open(disk.path, "r+b") as device:
            block = MARKER * (MIB // len(MARKER))
            for _ in range(size // MIB):
                device.write(block)
        devices.append(disk.path)
    return devices


def markers(device: str) -> int:
    with open(device, "rb") as disk:
        return sum(block.count(MARKER) for block in iter(lambda: disk.read(8 * MIB), b""))


def digest(device: str) -> str:
    with open(device, "rb") as disk:
        return hashlib.file_digest(disk, "sha256").hexdigest()


async def until(pilot: Pilot[None], app: ReeebootApp, condition: Callable[[], bool],
                seconds: float) -> None:
    """Until `condition()` holds, letting the app run (the run's steps work in threads)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"still waiting after {seconds} s:\n{screen_text(app)}")
        await pilot.pause(0.2)


async def test_a_volunteer_erases_installs_and_reports_over_loop_devices(
        loop_devices: list[str], data_dir: Path, hub: RunningHub) -> None:
    image = built_os_image()
    images = data_dir / "images"
    images.mkdir()
    assert image.path is not None and image.manifest is not None
    for kind in (image.path, image.path.with_name(image.manifest.file.replace(
            ".raw.zst", ".bmap")), image.path.with_name(image.manifest.file.replace(
            ".raw.zst", ".manifest.json"))):
        (images / kind.name).symlink_to(kind)
    token = hub.database.add_station("lyon-7")
    (data_dir / "reeeboot.toml").write_text(
        f'language = "fr"\n[station]\nname = "lyon-7"\noperator = "Atelier Lyon"\n'
        f'[hub]\nurl = "{hub.url}"\nenrollment_token = "{token}"\n'
        f'[install]\nimage = "{image.name}"\n')
    target, kept, erased = loop_devices
    kept_before = digest(kept)
    station = flow.open_station(data_dir)

    def our_loops(_station: flow.Station) -> Machine:
        """This computer, with only the test's disks; booted by BIOS, so that the install
        never asks this computer's own firmware for a boot entry."""
        machine = take_inventory(data_dir, with_smart=False, include_loop=True)
        disks = tuple(disk for disk in machine.disks if disk.path in loop_devices)
        return dataclasses.replace(machine, disks=disks, exclusions=(),
                                   boot=BootFirmware("bios", None, None))

    power = FakePower()
    # The guided checks would test this computer's keyboard and sound: test_attended.py answers
    # them on the image, in QEMU.
    app = ReeebootApp(station, make_run=lambda station: Run(station, take_inventory=our_loops),
                      watch_disks=None, power=power, guided=[])
    phases: set[str] = set()
    async with app.run_test(size=(80, 25)) as pilot:
        await settle(pilot, app)
        run = app.current_run
        assert [plan.path for plan in run.disks.values()] == sorted(loop_devices)
        await pilot.press("enter")
        await pilot.pause()
        await type_text(pilot, ASSET_ID)
        await pilot.press("enter", "enter")
        await settle(pilot, app)
        order = [plan.path for plan in run.disks.values()]
        await pilot.press(*["down"] * order.index(kept), "space", "enter")
        await pilot.pause()
        assert "conservé tel quel (votre choix)" in flat(screen_text(app))
        await type_text(pilot, _(CONFIRMATION_WORD))
        await pilot.press("enter")
        await until(pilot, app, lambda: isinstance(app.screen, ProgressScreen), 10)
        # The volunteer watches: each erased disk's row says what it does and how far it is.
        deadline = asyncio.get_running_loop().time() + 600
        while not isinstance(app.screen, InstallScreen):
            assert asyncio.get_running_loop().time() < deadline, screen_text(app)
            assert isinstance(app.screen, ProgressScreen), screen_text(app)
            if isinstance(app.screen, ProgressScreen):
                text = screen_text(app)
                assert not outside_cp437(text)
                phases.update(row.progress.phase for row in app.screen.query(ProgressRow))
            await pilot.pause(0.3)
            assert run.erasures == [] or all(result.result == "erased"
                                             for result in run.erasures), run.erasures
        assert {"write", "verify"} <= phases or "done" in phases, phases
        # The install screen is pushed by the run's thread: wait until it has drawn itself.
        await until(pilot, app, lambda: image.name in flat(screen_text(app)), 10)
        assert target in flat(screen_text(app))
        await pilot.press("enter")
        await until(pilot, app, lambda: run.installed is not None or run.install_error is not None,
                    900)
        await pilot.pause(0.6)
        assert "est installé sur" in flat(screen_text(app)), run.install_error
        await pilot.press("enter")
        await until(pilot, app, lambda: isinstance(app.screen, ResultScreen), 120)
        result = flat(screen_text(app))
        assert "Envoyé à la plateforme." in result and run.report_id is not None
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, EndScreen)
        await pilot.press("enter")  # switch this computer off
        await pilot.pause()
    assert power.calls == [("power_off", None)]
    assert run.installed is not None and run.installed.result == "installed"
    assert run.installed.target.path == target
    assert markers(erased) == 0 and markers(target) == 0
    assert digest(kept) == kept_before, "the disk kept by choice was written"
    [row] = hub.database.reports()
    stored = hub.database.report(str(row["report_id"]))
    assert stored is not None
    report = json.loads(dsse.verify(json.loads(str(stored["envelope"])),
                                    station.key.public_key()))
    assert report["asset_id"] == ASSET_ID and report["operator"] == "Atelier Lyon"
    assert [(item["path"], item["code"]) for item in report["excluded"]] == [
        (kept, KEPT_BY_CHOICE)]
    assert sorted(entry["device"] for entry in report["erasure"]) == sorted([target, erased])
    assert report["install"]["result"] == "installed"
    assert report["install"]["target"]["path"] == target
