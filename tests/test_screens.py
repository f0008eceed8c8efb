"""Every screen of the walk-through at 80x25, in French and English: what it shows is compared
with a text snapshot (tests/snapshots/), and every glyph must be one the Linux console's font
has (code page 437). Hostile text from outside (DMI strings, disk models, configuration keys,
hub answers) is shown as it is, on every screen, and never breaks one.

Run with REEEBOOT_UPDATE_SNAPSHOTS=1 to write the snapshots again after a deliberate change, and
read the diff before committing it.
"""

from __future__ import annotations

import asyncio
import difflib
import os
import re
import shutil
from pathlib import Path

import pytest
from textual.pilot import Pilot

from agent import flow
from agent.i18n import _
from agent.install.pack import pack_image
from agent.inventory.model import Machine
from agent.tui.app import ReeebootApp
from agent.tui.screens.confirm import CONFIRMATION_WORD
from tests.disk_images import fill_tree, make_disk_image
from tests.guided_host import scripted_guided
from tests.screens import flat, outside_cp437, screen_text, settle, type_text
from tests.scripted_run import ScriptedRun, with_disk_model, workshop_machine

SNAPSHOTS = Path(__file__).parent / "snapshots"
REDRAW_SECONDS = 0.5
SIZE = (80, 25)
LOG = Path("/srv/reeeboot/logs/reeeboot.log")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ASSET_ID = "WS-2026-0042"
# Unreachable on purpose (the discard port on this machine): the report waits in the outbox.
HUB = "http://127.0.0.1:9"


class FakePower:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []

    def power_off(self) -> None:
        self.calls.append(("power_off", None))

    def reboot(self, boot_entry: str | None = None) -> None:
        self.calls.append(("reboot", boot_entry))


@pytest.fixture(scope="module")
def os_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stick's images/ folder holding one small packed OS image."""
    folder = tmp_path_factory.mktemp("stick-images")
    tree = folder / "tree"
    fill_tree(tree, files=2)
    raw = folder / "os.raw"
    make_disk_image(raw, 16 << 20, tree)
    pack_image(raw, "reeeboot-os-test", "7", folder / "images")
    return folder / "images"


def station_for(data_dir: Path, images: Path, language: str, extra: str = "") -> flow.Station:
    shutil.copytree(images, data_dir / "images")
    (data_dir / "reeeboot.toml").write_text(
        f'language = "{language}"\n{extra}[station]\nname = "lyon-3"\n'
        f'operator = "Atelier Lyon"\n[hub]\nurl = "{HUB}"\n')
    return flow.open_station(data_dir)


async def walk(app: ReeebootApp, pilot: Pilot[None], run: ScriptedRun) -> dict[str, str]:
    """Every screen in order, as a volunteer goes through them; what each one showed. The run's
    checks are held (`hold_checks`): the screens are looked at while the drives test themselves
    and while the memory is tested, then the gates are opened."""
    shots: dict[str, str] = {}

    def look(name: str) -> None:
        shots[name] = UUID.sub("00000000-0000-0000-0000-000000000000", screen_text(app))

    async def redrawn() -> None:
        await pilot.pause(REDRAW_SECONDS + 0.2)  # the screen redraws progress twice a second
        await pilot.pause()

    async def until_held() -> None:
        """The scripted step shows its progress and waits for the test."""
        await asyncio.to_thread(run.reached.wait, 10)
        await redrawn()

    await settle(pilot, app)
    assert await asyncio.to_thread(run.checks.self_tests.reached, 2)
    look("1-machine")
    await pilot.press("enter")
    await pilot.pause()
    look("2-who")
    await type_text(pilot, ASSET_ID)
    await pilot.press("enter", "enter")
    await pilot.pause()
    look("3a-frozen-question")
    await pilot.press("enter")  # yes: the short sleep is allowed
    await pilot.pause()
    look("3b-disks")
    await pilot.press("m")
    await pilot.pause()
    look("3c-method")
    await pilot.press("escape", "enter")
    await pilot.pause()
    look("4-confirm")
    await type_text(pilot, _(CONFIRMATION_WORD))
    await pilot.press("enter")
    await redrawn()
    look("5a-self-tests")  # the erasure waits for the drives' own tests
    run.checks.self_tests.open()
    assert await asyncio.to_thread(run.checks.memory_test.reached)
    await until_held()
    look("5b-progress")
    await pilot.press("escape")
    await pilot.pause()
    look("5c-stop-question")
    await pilot.press("enter")  # the cursor is on "go on erasing"
    run.release.set()
    for _wait in range(500):  # the erasure ends; the memory test still runs
        if run.erasures:
            break
        await asyncio.sleep(0.02)
    await redrawn()
    look("5d-checks-finishing")
    run.checks.memory_test.open()
    await settle(pilot, app)
    # The guided checks nobody answered during the erasure come now (each screen has its own
    # snapshots, tests/test_guided_*.py): this one in the walk-through, then each answered.
    look("5e-guided-keyboard")
    await pilot.press("escape", "escape", "escape")  # ends the key map; its question...
    await pilot.pause()
    await pilot.press("enter")  # ...answered "no": the keys not pressed were not tried
    await pilot.pause()
    await pilot.press("escape")  # the screen's colours: skipped
    await pilot.pause()
    await pilot.press("enter", "enter")  # no sound card, no camera: right
    await pilot.pause()
    await pilot.press("enter")  # the USB ports: those in use answered
    await pilot.pause()
    await pilot.press("enter")  # no touchpad: right
    await pilot.pause()
    await pilot.press("down", "enter")  # the appearance: light wear
    await settle(pilot, app)
    look("6a-install")
    await pilot.press("enter")
    await until_held()
    look("6b-installing")
    run.release.set()
    await settle(pilot, app)
    look("6c-installed")
    await pilot.press("enter")
    await settle(pilot, app)
    look("7-result")
    await pilot.press("enter")
    await pilot.pause()
    look("8-end")
    app.show_crash(RuntimeError("the disk answered nonsense"))
    await pilot.pause()
    look("9-crash")
    return shots


@pytest.mark.parametrize("language", ["fr", "en"])
async def test_every_screen_matches_its_snapshot(language: str, data_dir: Path,
                                                 os_images: Path) -> None:
    station = station_for(data_dir, os_images, language)
    run = ScriptedRun(station, hold_checks=True)
    app = ReeebootApp(station, make_run=lambda _station: run, watch_disks=None,
                      start_sender=None, power=FakePower(), log_path=LOG,
                      guided=scripted_guided(), keyboard_layout="fr")
    async with app.run_test(size=SIZE) as pilot:
        shots = await walk(app, pilot, run)
    mismatches = []
    for name, text in shots.items():
        assert not outside_cp437(text), f"{name}: {outside_cp437(text)}"
        path = SNAPSHOTS / f"{name}.{language}.txt"
        if os.environ.get("REEEBOOT_UPDATE_SNAPSHOTS"):
            path.parent.mkdir(exist_ok=True)
            path.write_text(text + "\n")
            continue
        assert path.exists(), f"no snapshot {path}: run with REEEBOOT_UPDATE_SNAPSHOTS=1"
        expected = path.read_text().removesuffix("\n")
        if text != expected:
            mismatches.append("\n".join(difflib.unified_diff(
                expected.splitlines(), text.splitlines(), str(path), "now", lineterm="")))
    assert not mismatches, "\n\n".join(mismatches)
    # The walk-through's choices went down into the report, signed in the outbox, with the
    # guided checks as they were answered.
    assert run.report_id is not None and station.outbox.count() == 1
    answered = {result.check: result.verdict for result in run.health.results()
                if result.operator is not None}
    assert answered == {"keyboard": "skipped", "display": "skipped", "sound": "not_present",
                        "camera": "not_present", "usb_ports": "pass",
                        "touchpad": "not_present", "appearance": "pass"}


HOSTILE = {
    "vendor": "[/b]",
    "product": "[link=http://example.invalid]Click[/link] [bold red]X",
    "serial": "[/]",
    "model": "[b]" + "VERYLONGMODELNAME-" * 12 + "[/b][/]",
}


def hostile_machine() -> Machine:
    machine = workshop_machine(vendor=HOSTILE["vendor"], product=HOSTILE["product"],
                               serial=HOSTILE["serial"])
    return with_disk_model(machine, "/dev/sda", HOSTILE["model"])


@pytest.mark.parametrize("size", [(80, 25), (100, 37)])
async def test_hostile_text_is_shown_as_text_on_every_screen(
        size: tuple[int, int], data_dir: Path, os_images: Path) -> None:
    station = station_for(data_dir, os_images, "en", extra='"[/b]" = 1\n"[link=x]" = 2\n')
    assert any("[/b]" in problem.describe() for problem in station.problems)
    run = ScriptedRun(station, hostile_machine(), hold_checks=True)
    app = ReeebootApp(station, make_run=lambda _station: run, watch_disks=None,
                      start_sender=None, power=FakePower(), log_path=LOG,
                      guided=scripted_guided(), keyboard_layout="fr")
    async with app.run_test(size=size) as pilot:
        shots = await walk(app, pilot, run)
    for name, text in shots.items():
        assert not outside_cp437(text), f"{name}: {outside_cp437(text)}"
    machine_screen = shots["1-machine"]
    assert "[/b]" in machine_screen
    assert "[link=http://example.invalid]Click[/link]" in flat(machine_screen)
    assert "key '[/b]': unknown key, ignored" in flat(machine_screen)
    assert "[b]VERYLONGMODELNAME-" in shots["3b-disks"]
    assert "[b]VERYLONGMODELNAME-" in shots["4-confirm"]
