"""The first screen, driven by Textual's Pilot with a machine given to it."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Static

from agent import flow
from agent.inventory.hotplug import DiskEvent, DiskEventSink
from agent.inventory.model import Exclusion, Machine
from agent.tui.app import ReeebootApp
from agent.wipe.firmware.capabilities import DiskCapabilities
from agent.wipe.firmware.parsers import parse_hdparm_identify
from agent.wipe.policy import ErasurePlan, plan_erasure
from tests.helpers import sample_disk, sample_machine
from tests.hubserver import RunningHub
from tests.receiver import Receiver
from tests.replay import fixture


def plans(station: flow.Station, machine: Machine) -> dict[str, ErasurePlan]:
    """The policy's real answer for a SATA hard disk whose hdparm answered, without hdparm."""
    del station
    capabilities = DiskCapabilities("/dev/sda", "sata", ata=parse_hdparm_identify(
        fixture("drives/sata-hdd-wd2500aaks/hdparm-I.txt")), ata_passthrough=True)
    return {disk.path: plan_erasure(disk, capabilities) for disk in machine.targets()}


def machine() -> Machine:
    return sample_machine(
        disks=(sample_disk("/dev/sda", "WD-1"), sample_disk("/dev/sdb", "STICK", bus="usb")),
        exclusions=(Exclusion("/dev/sdb", "boot_device", "started from it"),),
    )


async def test_screen_shows_disks_and_plan_in_french(data_dir: Path) -> None:
    (data_dir / "reeeboot.toml").write_text('language = "fr"\n')
    app = ReeebootApp(flow.open_station(data_dir), take_inventory=lambda _station: machine(),
                      plan_erasures=plans, watch_disks=None)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.screen.query_one("#disks", DataTable)
        rows = [table.get_row_at(index) for index in range(table.row_count)]
        assert [row[0] for row in rows] == ["/dev/sda", "/dev/sdb"]
        assert rows[0][-1] == "effacer : effacement de sécurité ATA renforcé (Purge)"
        assert rows[1][-1] == "conservé : started from it"
        plan = app.screen.query_one("#plan", Static)
        shown = str(plan.render())
        assert "1 disque(s) seront effacés, 1 conservé(s)." in shown
        assert "/dev/sda: Le disque" in shown  # why this method, in plain French


async def test_interrupted_erasures_are_shown(data_dir: Path) -> None:
    from agent.wipe.journal import Journals
    from agent.wipe.overwrite_job import new_journal
    from agent.wipe.passes import compose

    (data_dir / "reeeboot.toml").write_text('language = "en"\n')
    journal = new_journal("/dev/sda", "WD-1", 1000 << 20, "dodshort", compose("dodshort"))
    journal.pass_index, journal.written_up_to = 1, 250 << 20
    Journals(data_dir).save(journal)
    app = ReeebootApp(flow.open_station(data_dir), take_inventory=lambda _station: machine(),
                      plan_erasures=plans, watch_disks=None)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        shown = app.screen.query_one("#interrupted", Static)
        assert "visible" in shown.classes
        assert ("Erasure interrupted on /dev/sda (serial WD-1): pass 2 of 3 at 25 %"
                in str(shown.render()))


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
    import asyncio

    (data_dir / "reeeboot.toml").write_text('language = "en"\n')
    inventories = [machine(), sample_machine(disks=(
        sample_disk("/dev/sda", "WD-1"), sample_disk("/dev/sdb", "STICK", bus="usb"),
        sample_disk("/dev/sdc", "NEW-USB-DISK", bus="usb")),
        exclusions=(Exclusion("/dev/sdb", "boot_device", "started from it"),))]
    watcher = FakeWatcher()
    app = ReeebootApp(flow.open_station(data_dir), take_inventory=lambda _s: inventories.pop(0),
                      plan_erasures=plans, watch_disks=watcher)
    async with app.run_test(size=(120, 30)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert watcher.sink is not None
        sink = watcher.sink
        # From another thread, as the udev monitor calls it; awaited, so the app's loop runs.
        await asyncio.to_thread(sink, DiskEvent("appeared", "sdc", "/dev/sdc"))
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.screen.query_one("#disks", DataTable)
        assert [table.get_row_at(i)[0] for i in range(table.row_count)] == [
            "/dev/sda", "/dev/sdb", "/dev/sdc"]
        assert any("New disk: /dev/sdc" in str(n.message) for n in app._notifications)
    assert watcher.stopped


async def test_config_problems_are_shown(data_dir: Path) -> None:
    (data_dir / "reeeboot.toml").write_text('language = "en"\nunattended = "yes"\n')
    app = ReeebootApp(flow.open_station(data_dir), take_inventory=lambda _station: machine(),
                      plan_erasures=plans, watch_disks=None)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        problems = app.screen.query_one("#problems", Static)
        assert "visible" in problems.classes
        assert "key 'unattended': must be true or false" in str(problems.render())


async def test_reports_left_from_an_earlier_run_are_sent(data_dir: Path, hub: RunningHub) -> None:
    import asyncio
    import datetime

    token = hub.database.add_station("lyon-3")
    (data_dir / "reeeboot.toml").write_text(
        f'[station]\nname = "lyon-3"\n[hub]\nurl = "{hub.url}"\nenrollment_token = "{token}"\n')
    station = flow.open_station(data_dir)
    report_id, _path = flow.file_report(
        station, machine(), [], datetime.datetime(2026, 11, 28, tzinfo=datetime.UTC))
    app = ReeebootApp(station, take_inventory=lambda _station: machine(),
                      plan_erasures=plans, watch_disks=None)
    async with app.run_test(size=(120, 30)) as pilot:
        assert app.sender is not None
        state = await asyncio.to_thread(app.sender.wait_until_empty, 30)
        await pilot.pause()
        assert state.waiting == 0
        label = app.screen.query_one("#outbox", Static)
        assert "Rapports en attente d'envoi : 0" in str(label.render())
    assert station.outbox.waiting() == []
    assert [row["report_id"] for row in hub.database.reports()] == [report_id]


async def test_a_revoked_station_is_told_on_screen(data_dir: Path, receiver: Receiver) -> None:
    import asyncio
    import datetime

    receiver.routes["/api/v1/stations/enroll"] = lambda body: (201, {"station": "lyon-3"})
    receiver.routes["/api/v1/reports"] = lambda body: (403, {"detail": "station key revoked"})
    (data_dir / "reeeboot.toml").write_text(
        f'[station]\nname = "lyon-3"\n[hub]\nurl = "{receiver.url}"\nenrollment_token = "t"\n')
    station = flow.open_station(data_dir)
    flow.file_report(station, machine(), [], datetime.datetime(2026, 11, 28, tzinfo=datetime.UTC))
    app = ReeebootApp(station, take_inventory=lambda _station: machine(),
                      plan_erasures=plans, watch_disks=None)
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.sender is not None
        for _ in range(1000):  # the first attempt starts at once; 20 s at most
            if app.sender.attempts:
                break
            await asyncio.sleep(0.02)
        await pilot.pause()
        label = app.screen.query_one("#outbox", Static)
        text = str(label.render())
        assert "Rapports en attente d'envoi : 1" in text
        assert "nouveau jeton d'inscription" in text and "revoked" in label.classes
    assert station.outbox.count() == 1


def test_sizes_read_as_on_the_disk_label() -> None:
    from agent.units import human_size

    assert [human_size(n) for n in (500_107_862_016, 25_165_824, 2_000_398_934_016, 512)] == [
        "500 GB", "25.2 MB", "2 TB", "512 B"]


async def test_the_os_to_install_and_its_disk_are_shown(data_dir: Path) -> None:
    (data_dir / "reeeboot.toml").write_text('language = "en"\n[install]\nimage = "nowhere-os"\n')
    app = ReeebootApp(flow.open_station(data_dir), take_inventory=lambda _station: machine(),
                      plan_erasures=plans, watch_disks=None, start_sender=None)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        shown = str(app.screen.query_one("#install", Static).render())
    assert "OS to install: nowhere-os: No OS image called nowhere-os" in shown


def test_the_install_plan_names_image_disk_and_reason(data_dir: Path, tmp_path: Path) -> None:
    from agent.install.pack import pack_image
    from agent.tui.screens.inventory import describe_install
    from tests.disk_images import fill_tree, make_disk_image

    tree = tmp_path / "tree"
    fill_tree(tree, files=2)
    raw = tmp_path / "os.raw"
    make_disk_image(raw, 16 << 20, tree)
    pack_image(raw, "reeeboot-os-test", "7", data_dir / "images")
    (data_dir / "reeeboot.toml").write_text('language = "en"\n')
    station = flow.open_station(data_dir)
    assert describe_install(station, machine()) == (
        "No OS will be installed ([install] image in reeeboot.toml). On the stick: "
        "reeeboot-os-test_7")
    (data_dir / "reeeboot.toml").write_text('language = "en"\n[install]\n'
                                            'image = "reeeboot-os-test"\n')
    station = flow.open_station(data_dir)
    assert describe_install(station, machine()) == (
        "OS to install: reeeboot-os-test_7 on /dev/sda (the largest healthy HDD).")
