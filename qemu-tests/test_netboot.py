"""A workshop's PCs boot from the network (docs/netboot.md), on a LAN the test builds in network
namespaces (lan.py): the router's DHCP gives the addresses, the boot service's proxy DHCP and
TFTP start iPXE, its HTTP side the kernel, initrd and root. One boot of each of four machines
proves:

- SeaBIOS (the card's iPXE ROM), OVMF with Microsoft's keys and Secure Boot on (the firmware's
  own PXE loads shim over TFTP, shim Debian's signed network GRUB, GRUB the signed kernel over
  HTTP: the kernel then locks itself down) and OVMF running the card's iPXE of 2019 (which the
  service replaces with its own) load the live system from the network at the same time, the
  root checked against its sha256 in the initrd;
- each enrolls with its boot credential as a station of the boot service's workshop, and takes
  the workshop's settings from the service (here: English, and unattended, which alone does
  not make a network-booted machine unattended);
- the three machines of the batch the workshop armed count down on their screen, erase their
  disks without a person (every marker gone), send their signed reports, which the hub holds
  and which verify against their stations' keys, and switch off;
- the fourth, whose arming expired before it started, stays on its attended screen and
  writes nothing to its disk, until the coordinator arms it on the live board; killed while it
  erases, the board says it went silent;
- the live board, open in chromium through the whole test and never reloaded, showed each
  machine's state as it changed: waiting for a person, running, finished, silent;
- a device on the LAN cannot take a machine's station: a credential it signed itself, or one
  the service gave it altered, are refused; and a credential enrolls one key only.
"""

from __future__ import annotations

import base64
import datetime
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from harness import (
    EXPECTED_BOOT,
    HEALTH_OFF,
    MARKER,
    DiskSpec,
    first_and_last_sector,
    flat,
    marker_sectors,
)
from lan import (
    BOOT_SERVICE,
    BOOT_URL,
    HUB_URL,
    ROGUE,
    WORKSHOP,
    NetMachine,
    WorkshopLan,
    hub_command,
    require_netboot_files,
    start_workshop,
)

from agent.report import dsse
from agent.report.bootcredential import mint, new_claims, read_claims
from hub.store import Store

BOOT_TIMEOUT = 900  # four machines under TCG on two cores, each loading 360 MB over HTTP
RUN_TIMEOUT = 900  # from the countdown to the switch-off: erase, report, send
SILENT_SECONDS = 45  # the hub's "silent" threshold here (machines send news every 15 s)
ROGUE_MAC = "02-00-00-00-00-66"
COORDINATOR = "atelier@lyon.example"
SETTINGS = ('language = "en"\nunattended = true\n\n[station]\noperator = "Camille"\n'
            + HEALTH_OFF)


def public_key_text(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(dsse.public_key_bytes(key.public_key())).decode()


def enroll(lan: WorkshopLan, credential: str, key: Ed25519PrivateKey,
           mac: str) -> tuple[int, str]:
    """An enrollment sent to the hub from the rogue device."""
    return lan.http("rogue", "POST", f"{HUB_URL}/api/v1/netboot/enroll", {
        "credential": credential, "public_key": public_key_text(key), "macs": [mac],
        "uuid": ""})


class BoardWatcher:
    """The coordinator's browser on the live board (board_browser.py), in the hub's namespace."""

    def __init__(self, lan: WorkshopLan, database: Path, workdir: Path) -> None:
        self.out = workdir / "board"
        self.out.mkdir()
        password = workdir / "coordinator.password"
        password.write_text("Ecran-vert-de-Lyon-2026\n")
        hub_command("user", "add", COORDINATOR, "--role", "workshop", "--workshop", WORKSHOP,
                    "--password-file", str(password), database=database)
        self.process = lan.start("hub", [sys.executable, str(Path(__file__).parent /
                                                              "board_browser.py"),
                                         HUB_URL, COORDINATOR, str(password), str(self.out)],
                                 "board-browser.log")

    def states(self) -> list[dict]:
        path = self.out / "board.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def history(self, station: str) -> list[str]:
        """The states the board showed for `station`, in order, each once per change."""
        return [entry["state"] for entry in self.states() if entry["station"] == station]

    def wait_state(self, station: str, state: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.history(station)[-1:] == [state]:
                return
            assert self.process.poll() is None, "the board's browser stopped"
            time.sleep(1)
        raise TimeoutError(f"the board did not show {station} {state}: {self.history(station)}")

    def arm(self, station: str, timeout: float = 120) -> str:
        """Ticks the machine on the board and presses "Arm unattended erasure"."""
        (self.out / "arm").write_text(station)
        deadline = time.monotonic() + timeout
        while not (self.out / "armed").exists():
            assert time.monotonic() < deadline, "the board's browser did not arm the machine"
            assert self.process.poll() is None, "the board's browser stopped"
            time.sleep(0.5)
        return (self.out / "armed").read_text()

    def stop(self) -> None:
        (self.out / "stop").touch()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()


def assert_erased_and_reported(machine: NetMachine, store: Store) -> None:
    """Every marker gone from the machine's disks, and its one report at the hub, signed by
    its station's key, saying each disk was erased and verified."""
    for spec in machine.disks:
        path = machine.disk_paths[spec.id]
        assert marker_sectors(path) == 0, f"{machine.name}'s disk {spec.id}: marker left"
        first, last = first_and_last_sector(path)
        assert MARKER not in (first, last), f"{machine.name}: first or last sector not erased"
    station = f"{BOOT_SERVICE}-{machine.station}"
    rows = [row for row in store.reports() if row["station"] == station]
    assert len(rows) == 1, f"{machine.name}: {len(rows)} reports"
    stored = store.report(str(rows[0]["report_id"]))
    assert stored is not None
    report = json.loads(dsse.verify(json.loads(str(stored["envelope"])),
                                    Ed25519PublicKey.from_public_bytes(stored["public_key"])))
    results = {entry["serial"]: entry for entry in report["erasure"]}
    for spec in machine.disks:
        assert results[spec.serial]["result"] == "erased", results[spec.serial]
        assert results[spec.serial]["verified"], results[spec.serial]
    firmware = report["machine"]["firmware"]
    if machine.firmware == "uefi-secure":
        # Booted through shim and GRUB under Secure Boot, the kernel in lockdown.
        expected = EXPECTED_BOOT[machine.firmware]
        assert {key: firmware[key] for key in expected} == expected, (machine.name, firmware)
    else:
        assert firmware["mode"] == ("bios" if machine.firmware == "bios" else "uefi"), firmware


def test_workshop_machines_boot_from_the_network(artifacts: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    require_netboot_files()
    monkeypatch.setenv("REEEBOOT_HUB_SILENT_SECONDS", str(SILENT_SECONDS))  # the hub's
    lan = WorkshopLan(artifacts)
    database = artifacts / "hub.sqlite3"
    # dnsmasq reads the TFTP files as its own unprivileged user: the service's folder must be
    # open to it, which pytest's own folders are not.
    service_state = Path(tempfile.mkdtemp(prefix="reeeboot-netboot-"))
    service_state.chmod(0o755)
    board: BoardWatcher | None = None
    machines: list[NetMachine] = []
    lan.up()
    try:
        start_workshop(lan, database, service_state, SETTINGS)
        board = BoardWatcher(lan, database, artifacts)
        batch = [
            NetMachine("bios-pc", "bios", "52:54:00:00:00:11",
                       "4c4c4544-0031-3010-8000-000000000011",
                       (DiskSpec("disk", "virtio", 64, "NET-BIOS-1"),),
                       artifacts / "bios-pc", lan),
            NetMachine("uefi-pc", "uefi-secure", "52:54:00:00:00:12",
                       "4c4c4544-0031-3010-8000-000000000012",
                       (DiskSpec("disk", "sata", 64, "NET-UEFI-1"),),
                       artifacts / "uefi-pc", lan),
            NetMachine("old-ipxe-pc", "uefi", "52:54:00:00:00:13",
                       "4c4c4544-0031-3010-8000-000000000013",
                       (DiskSpec("disk", "nvme", 64, "NET-UEFI-2"),),
                       artifacts / "old-ipxe-pc", lan, card_rom=True),
        ]
        # The office PC: its disk is large enough to be still erasing when it is killed.
        office = NetMachine("office-pc", "bios", "52:54:00:00:00:14",
                            "4c4c4544-0031-3010-8000-000000000014",
                            (DiskSpec("disk", "virtio", 512, "NET-OFFICE-1"),),
                            artifacts / "office-pc", lan)
        machines += [*batch, office]
        hub_command("arm", "--workshop", WORKSHOP,
                    *[f"--mac={machine.mac}" for machine in batch], "--minutes", "30",
                    database=database)
        store = Store(database)
        try:
            # Armed for a batch that was over before the office PC started.
            workshop_id = store.workshop_id(WORKSHOP)
            assert workshop_id is not None
            store.arm_machines(workshop_id, [office.mac],
                               datetime.datetime.now(datetime.UTC)
                               - datetime.timedelta(minutes=1), "test")
        finally:
            store.close()
        for machine in machines:
            machine.start()

        # The office PC first, while the batch boots (its run then keeps the core that the
        # slowest machine's boot leaves free busy): armed too late, it stays on its attended
        # screen until the coordinator arms it on the board. SeaBIOS's screen is VGA text,
        # which the test reads. The workshop's settings came from the service: English.
        office.wait_for("screen", BOOT_TIMEOUT,
                        where=lambda event: event.get("name") == "MachineScreen")
        screen = flat(office.wait_for_screen("reeeboot - step 1", "NET-OFFICE-1", timeout=300))
        assert "could not join" not in screen, screen
        office_station = f"{BOOT_SERVICE}-{office.station}"
        board.wait_state(office_station, "waiting", 300)
        assert not [event for event in office.events() if event["event"] == "armed"]
        [office_disk] = office.disks
        assert marker_sectors(office.disk_paths[office_disk.id]) == office_disk.size_mib * 2048, \
            "the office PC's disk was written before it was armed"

        # The coordinator arms it on the board: its screen counts down, then it erases.
        answer = board.arm(office_station)
        assert "1 machine armed for unattended erasure" in answer, answer
        office.wait_for("armed", 300)
        office.wait_for("progress", RUN_TIMEOUT, lambda event: event["phase"] == "write"
                        and event["done_bytes"] > 0)
        office.stop()  # switched off in the middle of its erasure
        board.wait_state(office_station, "silent", SILENT_SECONDS + 120)

        # The batch counts down on the screen, then erases by itself.
        for machine in batch:
            machine.wait_for("armed", BOOT_TIMEOUT)
        for machine in machines:
            assert "checked (sha256" in machine.serial_text(), machine.name
        # The card's old iPXE was handed the service's own before the system.
        assert "this iPXE is too old" in batch[2].serial_text()
        # Secure Boot: shim and GRUB over TFTP, then GRUB fetched the system over HTTP.
        assert "Fetching Netboot Image grubx64.efi" in batch[1].serial_text()
        assert "reeeboot: loading the system from" in batch[1].serial_text()

        for machine in batch:
            assert machine.wait_exit(RUN_TIMEOUT) == 0, machine.name
            done = [event for event in machine.events() if event["event"] == "done"]
            assert done and done[-1]["ok"], machine.serial_text()[-3000:]
        store = Store(database)
        try:
            stations = {row["name"]: row for row in store.stations()}
            for machine in machines:
                name = f"{BOOT_SERVICE}-{machine.station}"
                assert name in stations, sorted(stations)
                assert stations[name]["kind"] == "netbooted"
                assert stations[name]["workshop"] == WORKSHOP
            for machine in batch:
                assert_erased_and_reported(machine, store)
            assert not [row for row in store.reports() if row["station"] == office_station]
        finally:
            store.close()

        # The board, never reloaded, followed each machine: the batch from running to
        # finished, the office PC from waiting for a person to running to silent.
        for machine in batch:
            station = f"{BOOT_SERVICE}-{machine.station}"
            board.wait_state(station, "finished", 60)
            history = board.history(station)
            assert "running" in history and history.index("running") < len(history) - 1, \
                (station, history)
        history = board.history(office_station)
        assert history.index("waiting") < history.index("running") < history.index("silent"), \
            history
        assert {entry["loads"] for entry in board.states()} == {1}, board.states()

        # A device on the LAN: it can ask the service for a boot script as any PC can, and
        # then cannot take a machine's station with it, nor enroll twice.
        status, script = lan.http("rogue", "GET", f"{BOOT_URL}/boot.ipxe?mac={ROGUE_MAC}&uuid=")
        assert status == 200, script
        own = script.split("reeeboot.boot=", 1)[1].split()[0]
        claims = read_claims(own)
        assert claims.ip == ROGUE and claims.mac == ROGUE_MAC.replace("-", ":")
        rogue_key, second_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
        bios_pc = batch[0]
        forged = mint(new_claims(boot_service=BOOT_SERVICE, key_id=claims.key_id,
                                 station=f"{BOOT_SERVICE}-{bios_pc.station}", mac=bios_pc.mac,
                                 uuid="", ip=ROGUE), rogue_key)
        payload, signature = own.split(".")
        taken_over = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        taken_over.update(station=f"{BOOT_SERVICE}-{bios_pc.station}", mac=bios_pc.mac)
        altered = base64.urlsafe_b64encode(dsse.canonical_json(taken_over)).rstrip(
            b"=").decode() + "." + signature
        for credential in (forged, altered):
            status, answer = enroll(lan, credential, rogue_key, bios_pc.mac)
            assert status == 403, (status, answer)
        # Its own credential enrolls it once (automatic enrollment trusts the LAN,
        # docs/netboot.md); a second key with the same credential is refused.
        assert enroll(lan, own, rogue_key, claims.mac)[0] == 201
        status, answer = enroll(lan, own, second_key, claims.mac)
        assert status == 403 and "used" in answer, (status, answer)
    finally:
        if board is not None:
            board.stop()
        for machine in machines:
            machine.stop()
        lan.down()
        shutil.rmtree(service_state, ignore_errors=True)
