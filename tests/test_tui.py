"""The walk-through's behaviour, driven by Textual's Pilot: what the first screen tells, disks
plugged in while it shows, reports left from earlier runs, the choices on the disks screen, and
the health checks (the drives' self-tests start with the machine and show on the disks screen; a
disk that failed one is erased, but gets no system). Snapshots of every screen are in
test_screens.py, whole walk-throughs in test_walkthrough.py."""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path

from agent import flow
from agent.inventory.exclusions import OTHER_STICK
from agent.inventory.hotplug import DiskEvent, DiskEventSink
from agent.inventory.model import Disk, Exclusion, Machine
from agent.run.engine import Run
from agent.tui.app import ReeebootApp
from agent.tui.screens.disks import HEALTH_SECONDS as DISKS_HEALTH_SECONDS
from agent.tui.screens.disks import DisksScreen
from agent.tui.screens.machine import MachineScreen
from agent.wipe.firmware.capabilities import DiskCapabilities
from agent.wipe.firmware.parsers import parse_hdparm_identify
from agent.wipe.firmware.probe import DiskProbe
from tests.helpers import sample_disk, sample_machine
from tests.hubserver import RunningHub
from tests.receiver import Receiver
from tests.replay import fixture
from tests.screens import flat, screen_text, settle
from tests.scripted_run import fixture_probe as frozen_drive_probe
from tests.test_screens import os_images, station_for

__all__ = ["os_images"]  # a fixture: a stick's images/ folder with one small OS image


def probe(disk: Disk) -> DiskCapabilities:
    """A SATA hard disk whose hdparm answered (not frozen); the stick answers nothing."""
    if disk.bus != "sata":
        return DiskCapabilities(disk.path, disk.bus)
    return DiskCapabilities(disk.path, "sata", ata=parse_hdparm_identify(
        fixture("drives/sata-hdd-wd2500aaks/hdparm-I.txt")), ata_passthrough=True)


def machine() -> Machine:
    return sample_machine(
        disks=(sample_disk("/dev/sda", "WD-1"), sample_disk("/dev/sdb", "STICK", bus="usb")),
        exclusions=(Exclusion("/dev/sdb", "boot_device", "started from it"),),
    )


def app_for(station: flow.Station, inventories: list[Machine] | None = None,
            disk_probe: DiskProbe = probe, **options: object) -> ReeebootApp:
    machines = inventories or [machine()]

    def make_run(station: flow.Station) -> Run:
        return Run(station, take_inventory=lambda _s: machines.pop(0) if len(machines) > 1
                   else machines[0], probe=disk_probe, live_progress=False)

    options.setdefault("watch_disks", None)
    options.setdefault("start_sender", None)
    options.setdefault("guided", [])  # tests/test_guided_flow.py follows the guided checks
    return ReeebootApp(station, make_run=make_run, **options)  # type: ignore[arg-type]


async def test_the_first_screen_shows_the_machine_its_disks_and_their_plan(
        data_dir: Path) -> None:
    (data_dir / "reeeboot.toml").write_text('language = "fr"\n')
    app = app_for(flow.open_station(data_dir))
    async with app.run_test(size=(80, 25)) as pilot:
        await settle(pilot, app)
        assert isinstance(app.screen, MachineScreen)
        shown = flat(screen_text(app))
    assert "Dell Inc. OptiPlex 7010, numéro de série : 5XK2L3J" in shown
    assert "4 coeurs, 4 fils" in shown and "8,0 Gio" in shown
    # The SATA disk answered hdparm: its own erase is planned; the stick is kept, with why.
    assert "/dev/sda SATA 537 Go WDC WD5000AAKX" in shown
    assert "effacer : effacement de sécurité ATA renforcé, niveau purge" in shown
    assert "conservé : started from it" in shown


async def test_the_first_screen_is_announced_on_the_status_lines(data_dir: Path) -> None:
    """Firmware with only a frame buffer (UEFI) leaves no text to read: the status line is how a
    serial console, and the QEMU tests, know that the walk-through came up."""
    import io
    import json

    from agent.unattended import STATUS_PREFIX, StatusLine

    stream = io.StringIO()
    app = app_for(flow.open_station(data_dir), status=StatusLine(stream))
    async with app.run_test(size=(80, 25)) as pilot:
        await settle(pilot, app)
        lines = stream.getvalue().splitlines()
    assert [json.loads(line.removeprefix(STATUS_PREFIX)) for line in lines] == [
        {"event": "screen", "name": "MachineScreen"}]


async def test_interrupted_erasures_are_shown(data_dir: Path) -> None:
    from agent.wipe.journal import Journals
    from agent.wipe.overwrite_job import new_journal
    from agent.wipe.passes import compose

    (data_dir / "reeeboot.toml").write_text('language = "en"\n')
    disk = sample_disk("/dev/sda", "WD-1")
    journal = new_journal(disk.path, disk.serial, disk.size_bytes, "dodshort",
                          compose("dodshort"))
    journal.pass_index, journal.written_up_to = 1, disk.size_bytes // 4
    Journals(data_dir).save(journal)
    app = app_for(flow.open_station(data_dir))
    async with app.run_test(size=(100, 37)) as pilot:
        await settle(pilot, app)
        shown = flat(screen_text(app))
    assert ("Erasure interrupted on /dev/sda (serial WD-1): pass 2 of 3 at 25 %. It resumes "
            "from there when this disk is erased.") in shown
    assert "resumes at 25 %" in shown  # the disk's own line says it too


async def test_a_station_that_lost_its_key_says_so_and_goes_no_further(data_dir: Path) -> None:
    (data_dir / "reeeboot.toml").write_text('language = "fr"\n[station]\nname = "lyon-3"\n'
                                            '[hub]\nurl = "http://127.0.0.1:9"\n')
    (data_dir / "station.key").write_bytes(b"")  # a stick copied badly
    app = app_for(flow.open_station(data_dir))
    async with app.run_test(size=(100, 37)) as pilot:
        await settle(pilot, app)
        await pilot.press("enter")
        await settle(pilot, app)
        assert isinstance(app.screen, MachineScreen)  # Enter leads nowhere
        shown = flat(screen_text(app))
    assert "La clé de la station sur cette clé USB est abîmée" in shown
    assert "Rien ne sera effacé tant que la station n'est pas inscrite de nouveau" in shown
    assert "Continuer" not in shown  # the key is not offered


class FakeWatcher:
    """Hands the test the app's event sink, as a udev monitor thread would call it."""

    def __init__(self) -> None:
        self.sink: DiskEventSink | None = None
        self.stopped = False

    def __call__(self, sink: DiskEventSink) -> FakeWatcher:
        self.sink = sink
        return self

    def stop(self) -> None:
        self.stopped = True


async def test_a_disk_plugged_in_is_announced_and_the_machine_looked_at_again(
    data_dir: Path,
) -> None:
    (data_dir / "reeeboot.toml").write_text('language = "en"\n')
    bigger = sample_machine(disks=(
        sample_disk("/dev/sda", "WD-1"), sample_disk("/dev/sdb", "STICK", bus="usb"),
        sample_disk("/dev/sdc", "NEW-USB-DISK", bus="usb")),
        exclusions=(Exclusion("/dev/sdb", "boot_device", "started from it"),))
    watcher = FakeWatcher()
    app = app_for(flow.open_station(data_dir), [machine(), bigger], watch_disks=watcher)
    async with app.run_test(size=(80, 25)) as pilot:
        await settle(pilot, app)
        await pilot.press("enter", "enter", "enter")  # to the disks screen
        await settle(pilot, app)
        assert isinstance(app.screen, DisksScreen)
        await pilot.press("space")  # the first disk is kept by choice
        assert watcher.sink is not None
        sink = watcher.sink
        # From another thread, as the udev monitor calls it; awaited, so the app's loop runs.
        await asyncio.to_thread(sink, DiskEvent("appeared", "sdc", "/dev/sdc"))
        await settle(pilot, app)
        shown = screen_text(app)
        assert "/dev/sdc" in shown and "NEW-USB-DISK" in shown
        assert any("New disk: /dev/sdc" in str(n.message) for n in app._notifications)
        # What the volunteer chose for the disks already there stays chosen.
        assert app.current_run.disks["/dev/sda"].keep
    assert watcher.stopped


async def test_config_problems_are_shown(data_dir: Path) -> None:
    (data_dir / "reeeboot.toml").write_text('language = "en"\nunattended = "yes"\n')
    app = app_for(flow.open_station(data_dir))
    async with app.run_test(size=(80, 25)) as pilot:
        await settle(pilot, app)
        assert "key 'unattended': must be true or false" in flat(screen_text(app))


async def test_the_disks_the_system_keeps_cannot_be_chosen(data_dir: Path) -> None:
    (data_dir / "reeeboot.toml").write_text('language = "en"\n')
    app = app_for(flow.open_station(data_dir))
    async with app.run_test(size=(80, 25)) as pilot:
        await settle(pilot, app)
        await pilot.press("enter", "enter", "enter")
        await settle(pilot, app)
        # Down past the last choosable disk: the cursor skips the stick, which stays excluded.
        await pilot.press("down", "down", "space")
        await pilot.pause()
        run = app.current_run
        assert run.disks["/dev/sda"].keep and not run.disks["/dev/sdb"].erase
        await pilot.press("space")
        assert [plan.path for plan in run.to_erase()] == ["/dev/sda"]


async def test_a_method_can_be_changed_where_the_policy_allows(data_dir: Path) -> None:
    (data_dir / "reeeboot.toml").write_text('language = "en"\n')
    app = app_for(flow.open_station(data_dir))
    async with app.run_test(size=(80, 25)) as pilot:
        await settle(pilot, app)
        await pilot.press("enter", "enter", "enter")
        await settle(pilot, app)
        await pilot.press("m")
        await pilot.pause()
        assert ("Automatic, the strongest for this disk: ATA enhanced security erase (Purge)"
                in flat(screen_text(app)))
        await pilot.press("down", "down", "enter")  # the second overwrite method: zeros
        await pilot.pause()
        plan = app.current_run.disks["/dev/sda"]
        assert plan.method == "zero" and plan.plan is not None
        assert plan.plan.methods == ("overwrite",) and plan.plan.overwrite.method == "zero"
        assert "erase: overwrite (zero pass) (Clear)" in screen_text(app)


async def test_a_frozen_drive_asks_before_the_computer_sleeps(data_dir: Path) -> None:
    (data_dir / "reeeboot.toml").write_text('language = "en"\n')
    app = app_for(flow.open_station(data_dir), disk_probe=frozen_drive_probe)
    async with app.run_test(size=(80, 25)) as pilot:
        await settle(pilot, app)
        await pilot.press("enter", "enter", "enter")
        await settle(pilot, app)
        asked = flat(screen_text(app))
        assert "the computer sleeps for a few seconds and wakes up by itself" in asked
        await pilot.press("down", "enter")  # no
        await pilot.pause()
        plan = app.current_run.disks["/dev/sda"].plan
        assert plan is not None and plan.methods == ("overwrite",) and not plan.needs_unfreeze
        assert "ata-sanitize-block" in [item.method for item in plan.ruled_out]
        # The screen says why the drive's own erase is not used, in plain words.
        assert "frozen" in flat(screen_text(app))


async def test_the_configuration_answers_the_frozen_question_in_advance(data_dir: Path) -> None:
    (data_dir / "reeeboot.toml").write_text('language = "en"\n[erase]\nallow_unfreeze = true\n')
    app = app_for(flow.open_station(data_dir), disk_probe=frozen_drive_probe)
    async with app.run_test(size=(80, 25)) as pilot:
        await settle(pilot, app)
        await pilot.press("enter", "enter", "enter")
        await settle(pilot, app)
        assert isinstance(app.screen, DisksScreen)  # nothing asked
        plan = app.current_run.disks["/dev/sda"].plan
        assert plan is not None and plan.needs_unfreeze
        assert plan.methods[0] == "ata-sanitize-block"
        shown = flat(screen_text(app))
        assert "the computer sleeps for a few seconds to unfreeze it first" in shown


async def test_reports_left_from_an_earlier_run_are_sent(data_dir: Path, hub: RunningHub) -> None:
    token = hub.database.add_station("lyon-3")
    (data_dir / "reeeboot.toml").write_text(
        f'[station]\nname = "lyon-3"\n[hub]\nurl = "{hub.url}"\nenrollment_token = "{token}"\n')
    station = flow.open_station(data_dir)
    report_id, _path = flow.file_report(
        station, machine(), [], datetime.datetime(2026, 11, 28, tzinfo=datetime.UTC))
    app = app_for(station, start_sender=flow.start_sender)
    async with app.run_test(size=(80, 25)) as pilot:
        assert app.sender is not None
        state = await asyncio.to_thread(app.sender.wait_until_empty, 30)
        await settle(pilot, app)
        assert state.waiting == 0
        assert "0 rapport en attente d'envoi" in screen_text(app)
    assert station.outbox.waiting() == []
    assert [row["report_id"] for row in hub.database.reports()] == [report_id]


async def test_a_revoked_station_is_told_on_screen(data_dir: Path, receiver: Receiver) -> None:
    receiver.routes["/api/v1/stations/enroll"] = lambda body: (201, {"station": "lyon-3"})
    receiver.routes["/api/v1/reports"] = lambda body: (403, {"detail": "station key revoked"})
    (data_dir / "reeeboot.toml").write_text(
        f'[station]\nname = "lyon-3"\n[hub]\nurl = "{receiver.url}"\nenrollment_token = "t"\n')
    station = flow.open_station(data_dir)
    flow.file_report(station, machine(), [], datetime.datetime(2026, 11, 28, tzinfo=datetime.UTC))
    app = app_for(station, start_sender=flow.start_sender)
    async with app.run_test(size=(100, 37)) as pilot:
        assert app.sender is not None
        for _round in range(1000):  # the first attempt starts at once; 20 s at most
            if app.sender.attempts:
                break
            await asyncio.sleep(0.02)
        await settle(pilot, app)
        text = flat(screen_text(app))
        assert "1 rapport en attente d'envoi" in text
        assert "nouveau jeton d'inscription" in text
    assert station.outbox.count() == 1


def test_sizes_read_as_on_the_disk_label() -> None:
    from agent.i18n import set_language
    from agent.units import human_size, memory_size

    set_language("en")
    try:
        assert [human_size(n) for n in (500_107_862_016, 25_165_824, 2_000_398_934_016,
                                        512)] == ["500 GB", "25.2 MB", "2 TB", "512 B"]
        assert memory_size(8 << 30) == "8.0 GiB"
        set_language("fr")
        assert [human_size(n) for n in (500_107_862_016, 25_165_824)] == ["500 Go", "25,2 Mo"]
        assert memory_size(8 << 30) == "8,0 Gio"
    finally:
        set_language("fr")


async def test_a_bug_in_a_screen_lands_on_the_error_screen(data_dir: Path) -> None:
    """The app that met the bug ends with it; the next one (reeeboot start makes it) opens on
    the error screen, whose choices work."""
    import pytest

    from agent.tui.screens.end import CrashScreen

    def broken(self: MachineScreen) -> None:
        raise RuntimeError("a bug [/b] in a screen")

    (data_dir / "reeeboot.toml").write_text('language = "en"\n')
    station = flow.open_station(data_dir)
    log = Path("/srv/reeeboot/logs/reeeboot.log")
    app = app_for(station, log_path=log)
    original = MachineScreen.action_forward
    MachineScreen.action_forward = broken  # type: ignore[method-assign]
    try:
        with pytest.raises(RuntimeError, match="a bug"):
            async with app.run_test(size=(80, 25)) as pilot:
                await settle(pilot, app)
                await pilot.press("enter")
                await pilot.pause()
    finally:
        MachineScreen.action_forward = original  # type: ignore[method-assign]
    assert isinstance(app.crash, RuntimeError)
    again = app_for(station, log_path=log, crashed=app.crash)
    async with again.run_test(size=(80, 25)) as pilot:
        await settle(pilot, again)
        assert isinstance(again.screen, CrashScreen)
        shown = flat(screen_text(again))
        assert "Something unexpected stopped the run: a bug [/b] in a screen" in shown
        assert "/srv/reeeboot/logs/reeeboot.log" in shown
        await pilot.press("down", "enter")  # start again: the next machine's first screen
        await settle(pilot, again)
        assert isinstance(again.screen, MachineScreen)


async def test_an_os_image_that_cannot_be_had_says_why(data_dir: Path) -> None:
    from agent.tui.screens.install import InstallScreen
    from tests.scripted_run import ScriptedRun

    (data_dir / "reeeboot.toml").write_text('language = "en"\n[install]\nimage = "nowhere-os"\n')
    station = flow.open_station(data_dir)
    app = ReeebootApp(station, make_run=ScriptedRun, watch_disks=None, start_sender=None,
                      guided=[])
    async with app.run_test(size=(80, 25)) as pilot:
        await settle(pilot, app)
        app._prepare_install()  # what follows the erasure and the health checks
        await settle(pilot, app)
        assert isinstance(app.screen, InstallScreen)
        shown = flat(screen_text(app))
    assert "No OS image called nowhere-os on the stick or on the hub." in shown
    assert "No system will be installed" in shown  # the cursor is on "install no system"


async def test_the_stop_question_may_be_open_when_the_erasure_ends(data_dir: Path) -> None:
    """The erasure ends (or the app closes) while the volunteer reads "stop the erasure?": the
    screens go on without an error, and the next machine's erasure asks again."""
    import asyncio

    from agent.tui.screens.dialogs import Question
    from agent.tui.screens.install import InstallScreen
    from tests.scripted_run import ScriptedRun

    (data_dir / "reeeboot.toml").write_text('language = "en"\n')
    station = flow.open_station(data_dir)
    runs: list[ScriptedRun] = []

    def make_run(station: flow.Station) -> ScriptedRun:
        runs.append(ScriptedRun(station))
        return runs[-1]

    app = ReeebootApp(station, make_run=make_run, watch_disks=None, start_sender=None,
                      guided=[])
    async with app.run_test(size=(80, 25)) as pilot:
        await settle(pilot, app)
        run = runs[-1]
        run.allow_unfreeze(False)
        app.start_erasure()
        await asyncio.to_thread(run.reached.wait, 10)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, Question)
        run.release.set()  # the erasure ends with the question open
        await settle(pilot, app)
        assert isinstance(app.screen, InstallScreen)
        app.end_with("again")
        await settle(pilot, app)
        runs[-1].allow_unfreeze(False)
        app.start_erasure()
        await asyncio.to_thread(runs[-1].reached.wait, 10)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, Question)  # asked again; the app closes meanwhile
        runs[-1].release.set()


async def test_another_reeeboot_stick_is_erased_only_after_a_question(data_dir: Path) -> None:
    (data_dir / "reeeboot.toml").write_text('language = "en"\n')
    with_other_stick = sample_machine(
        disks=(sample_disk("/dev/sda", "WD-1"), sample_disk("/dev/sdb", "STICK", bus="usb"),
               sample_disk("/dev/sdc", "OTHER-STICK", bus="usb")),
        exclusions=(Exclusion("/dev/sdb", "boot_device", "started from it"),
                    Exclusion("/dev/sdc", OTHER_STICK, "another reeeboot stick")))
    app = app_for(flow.open_station(data_dir), [with_other_stick])
    async with app.run_test(size=(80, 25)) as pilot:
        await settle(pilot, app)
        await pilot.press("enter", "enter", "enter")
        await settle(pilot, app)
        run = app.current_run
        # The cursor goes past the running stick to the other one, and says what Space does.
        await pilot.press("down")
        await pilot.pause()
        assert "Press Space to erase it after all" in flat(screen_text(app))
        await pilot.press("space")
        await pilot.pause()
        assert "Erase another reeeboot stick?" in flat(screen_text(app))
        assert "OTHER-STICK" in flat(screen_text(app))
        await pilot.press("enter")  # the cursor starts on "No"
        await pilot.pause()
        assert not run.disks["/dev/sdc"].erase
        await pilot.press("space")
        await pilot.pause()
        await pilot.press("up", "enter")  # "Yes"
        await pilot.pause()
        assert [plan.path for plan in run.to_erase()] == ["/dev/sda", "/dev/sdc"]
        assert "[X] /dev/sdc" in screen_text(app)
        assert [item.path for item in run.reported_machine().exclusions] == ["/dev/sdb"]


async def test_the_drives_test_themselves_while_the_volunteer_reads_the_screens(
        data_dir: Path) -> None:
    """The self-tests start as soon as the machine is known, and the disks screen follows them:
    the percentage while they run, then their verdict. A disk that failed is still erased."""
    from tests.scripted_run import ScriptedRun

    (data_dir / "reeeboot.toml").write_text('language = "en"\n')
    station = flow.open_station(data_dir)
    run = ScriptedRun(station, hold_checks=True)
    app = ReeebootApp(station, make_run=lambda _station: run, watch_disks=None, guided=[],
                      start_sender=None)
    async with app.run_test(size=(80, 25)) as pilot:
        await settle(pilot, app)
        assert await asyncio.to_thread(run.checks.self_tests.reached, 2, 5), \
            "the app did not start the drives' self-tests after looking at the machine"
        await pilot.press("enter", "enter", "enter")
        await settle(pilot, app)
        await pilot.press("enter")  # the frozen drive: yes, the short sleep is allowed
        await pilot.pause()
        assert isinstance(app.screen, DisksScreen)
        shown = flat(screen_text(app))
        assert "self-test running: 40 %" in shown and "self-test running: 70 %" in shown
        run.checks.self_tests.open()
        await asyncio.to_thread(run.health.wait_self_tests, 10)
        await pilot.pause(DISKS_HEALTH_SECONDS + 0.3)
        shown = flat(screen_text(app))
        assert "self-test passed" in shown
        assert "FAILED its self-test: it will be erased, but replace it" in shown
        assert "[X] /dev/sda" in shown and run.disks["/dev/sda"].erase
        await pilot.press("down")  # the failing disk: "Why" says what it means
        await pilot.pause()
        why = flat(screen_text(app))
        assert "This disk failed a health check: it is erased all the same" in why
        assert "/dev/sda: the drive failed its self-test: Completed: read failure" in why


async def install_screen_after_a_failed_self_test(data_dir: Path, os_images: Path,
                                                  extra: str = "") -> str:
    """What the install screen shows once the NVMe drive (the larger disk) failed its self-test
    and both disks were erased."""
    from agent.tui.screens.install import InstallScreen
    from tests.scripted_run import ScriptedRun

    station = station_for(data_dir, os_images, "en", extra)
    run = ScriptedRun(station, failing_self_test="/dev/nvme0n1", vanishes=None)
    app = ReeebootApp(station, make_run=lambda _station: run, watch_disks=None, guided=[],
                      start_sender=None)
    async with app.run_test(size=(80, 25)) as pilot:
        await settle(pilot, app)
        run.allow_unfreeze(False)
        app.start_erasure()
        await asyncio.to_thread(run.reached.wait, 10)
        run.release.set()
        await settle(pilot, app)
        assert isinstance(app.screen, InstallScreen)
        assert [result.result for result in run.erasures] == ["erased", "erased"]
        return flat(screen_text(app))


async def test_a_disk_that_failed_its_self_test_gets_no_system(
        data_dir: Path, os_images: Path) -> None:
    """The larger disk would get the system, but it failed its self-test: it is erased, and the
    system goes to the other one, with the reason on the screen."""
    shown = await install_screen_after_a_failed_self_test(data_dir, os_images)
    assert "On /dev/sda" in shown and "On /dev/nvme0n1" not in shown
    assert ("Not on /dev/nvme0n1: it failed a health check (the drive failed its self-test: "
            "Completed: read failure).") in shown
    assert "Other disk" not in shown  # no other disk to choose


async def test_a_failing_disk_chosen_in_the_configuration_is_flagged(
        data_dir: Path, os_images: Path) -> None:
    shown = await install_screen_after_a_failed_self_test(
        data_dir, os_images, '[install]\ntarget = "/dev/nvme0n1"\n')
    assert "On /dev/nvme0n1" in shown and "Why: chosen in reeeboot.toml" in shown
    assert ("Careful: /dev/nvme0n1 failed a health check (the drive failed its self-test: "
            "Completed: read failure).") in shown


async def test_the_result_names_the_health_checks_when_all_passed(data_dir: Path) -> None:
    """A healthy machine: drives with good SMART data that pass their self-tests, a battery
    that holds its charge, no firmware password. The result says so, naming what was checked."""
    import dataclasses

    from agent.tui.screens.install import InstallScreen
    from agent.tui.screens.result import ResultScreen
    from tests.scripted_run import ScriptedRun, with_smart, workshop_machine

    laptop = workshop_machine()
    [battery] = laptop.peripherals.batteries
    healthy = with_smart(dataclasses.replace(laptop, peripherals=dataclasses.replace(
        laptop.peripherals, batteries=(dataclasses.replace(battery, health_percent=96.0),))), {
        "/dev/nvme0n1": "health/smart/nvme-corsair-mp510.json",
        "/dev/sda": "health/smart/sata-ssd-samsung-860evo.json"})
    (data_dir / "reeeboot.toml").write_text('language = "en"\n')
    station = flow.open_station(data_dir)
    run = ScriptedRun(station, healthy, failing_self_test=None, vanishes=None,
                      admin_password=False)
    app = ReeebootApp(station, make_run=lambda _station: run, watch_disks=None, guided=[],
                      start_sender=None)
    async with app.run_test(size=(80, 25)) as pilot:
        await settle(pilot, app)
        assert "password" not in flat(screen_text(app))  # no firmware lock to tell
        run.allow_unfreeze(False)
        app.start_erasure()
        await asyncio.to_thread(run.reached.wait, 10)
        run.release.set()
        await settle(pilot, app)
        assert isinstance(app.screen, InstallScreen)
        await pilot.press("end", "enter")  # install no system
        await settle(pilot, app)
        assert isinstance(app.screen, ResultScreen)
        shown = flat(screen_text(app))
    assert ("All health checks passed: SMART data, disk self-test, firmware locks, processor "
            "under load, memory test, battery.") in shown
    assert "Health checks:" not in shown and "warning" not in shown
