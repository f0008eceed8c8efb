"""A workshop's PCs boot from the network (docs/netboot.md), on a LAN the test builds in network
namespaces (lan.py): the router's DHCP gives the addresses, the boot service's proxy DHCP and
TFTP start iPXE, its HTTP side the kernel, initrd and root. One boot of each machine proves:

- SeaBIOS (the card's iPXE ROM), OVMF (the firmware's own PXE, then the service's iPXE over
  TFTP) and OVMF running the card's iPXE of 2019 (which the service replaces with its own) load
  the live system from the network at the same time, the root checked against its sha256 in
  the initrd;
- each enrolls with its boot credential as a station of the boot service's workshop, and takes
  the workshop's settings from the service (here: English);
- network-booted without being armed, each stays on its attended screen and writes nothing to
  its disks;
- a device on the LAN cannot take a machine's station: a credential it signed itself, or one
  the service gave it altered, are refused; and a credential enrolls one key only.
"""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from harness import DiskSpec, flat, marker_sectors
from lan import (
    BOOT_SERVICE,
    BOOT_URL,
    HUB_URL,
    ROGUE,
    WORKSHOP,
    NetMachine,
    WorkshopLan,
    require_netboot_files,
    start_workshop,
)

from agent.report import dsse
from agent.report.bootcredential import mint, new_claims, read_claims
from hub.store import Store

BOOT_TIMEOUT = 900  # three machines under TCG on two cores, each loading 360 MB over HTTP
ROGUE_MAC = "02-00-00-00-00-66"


def public_key_text(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(dsse.public_key_bytes(key.public_key())).decode()


def enroll(lan: WorkshopLan, credential: str, key: Ed25519PrivateKey,
           mac: str) -> tuple[int, str]:
    """An enrollment sent to the hub from the rogue device."""
    return lan.http("rogue", "POST", f"{HUB_URL}/api/v1/netboot/enroll", {
        "credential": credential, "public_key": public_key_text(key), "macs": [mac],
        "uuid": ""})


def test_workshop_machines_boot_from_the_network(artifacts: Path) -> None:
    require_netboot_files()
    lan = WorkshopLan(artifacts)
    database = artifacts / "hub.sqlite3"
    # dnsmasq reads the TFTP files as its own unprivileged user: the service's folder must be
    # open to it, which pytest's own folders are not.
    service_state = Path(tempfile.mkdtemp(prefix="reeeboot-netboot-"))
    service_state.chmod(0o755)
    lan.up()
    try:
        start_workshop(lan, database, service_state, 'language = "en"\nunattended = true\n'
                       '\n[station]\noperator = "Camille"\n')

        machines = [
            NetMachine("bios-pc", "bios", "52:54:00:00:00:11",
                       "4c4c4544-0031-3010-8000-000000000011",
                       (DiskSpec("disk", "virtio", 64, "NET-BIOS-1"),),
                       artifacts / "bios-pc", lan),
            NetMachine("uefi-pc", "uefi", "52:54:00:00:00:12",
                       "4c4c4544-0031-3010-8000-000000000012",
                       (DiskSpec("disk", "sata", 64, "NET-UEFI-1"),),
                       artifacts / "uefi-pc", lan),
            NetMachine("old-ipxe-pc", "uefi", "52:54:00:00:00:13",
                       "4c4c4544-0031-3010-8000-000000000013",
                       (DiskSpec("disk", "nvme", 64, "NET-UEFI-2"),),
                       artifacts / "old-ipxe-pc", lan, card_rom=True),
        ]
        for machine in machines:
            machine.start()
        for machine in machines:
            machine.wait_for("screen", BOOT_TIMEOUT,
                             where=lambda event: event.get("name") == "MachineScreen")
            assert "checked (sha256" in machine.serial_text(), machine.name
        # The card's old iPXE was handed the service's own before the system.
        assert "this iPXE is too old" in machines[2].serial_text()
        # The workshop's settings came from the service: English, and although they ask for
        # unattended mode, the screen is attended. (SeaBIOS's machine: its screen is VGA text,
        # which the test reads; OVMF's is a frame buffer.)
        screen = flat(machines[0].wait_for_screen("reeeboot - step 1", "NET-BIOS-1",
                                                  timeout=300))
        assert "could not join" not in screen, screen

        store = Store(database)
        try:
            stations = {row["name"]: row for row in store.stations()}
            # Their first progress, signed with the enrolled keys, is accepted (it is sent
            # after the first screen: a loaded machine may take a while).
            expected = {f"{BOOT_SERVICE}-{machine.station}" for machine in machines}
            deadline = time.monotonic() + 300
            live = {row["station"] for row in store.live_states()}
            while not expected <= live and time.monotonic() < deadline:
                time.sleep(2)
                live = {row["station"] for row in store.live_states()}
        finally:
            store.close()
        for machine in machines:
            name = f"{BOOT_SERVICE}-{machine.station}"
            assert name in stations, sorted(stations)
            assert stations[name]["kind"] == "netbooted"
            assert stations[name]["workshop"] == WORKSHOP
            assert name in live, sorted(live)

        # A device on the LAN: it can ask the service for a boot script as any PC can, and
        # then cannot take a machine's station with it, nor enroll twice.
        status, script = lan.http("rogue", "GET", f"{BOOT_URL}/boot.ipxe?mac={ROGUE_MAC}&uuid=")
        assert status == 200, script
        own = script.split("reeeboot.boot=", 1)[1].split()[0]
        claims = read_claims(own)
        assert claims.ip == ROGUE and claims.mac == ROGUE_MAC.replace("-", ":")
        rogue_key, second_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
        bios_pc = machines[0]
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

        # Not armed: nothing was written to any disk.
        for machine in machines:
            machine.stop()
            for spec in machine.disks:
                assert marker_sectors(machine.disk_paths[spec.id]) == spec.size_mib * 2048, \
                    f"{machine.name}'s disk {spec.id} was written"
    finally:
        lan.down()
        shutil.rmtree(service_state, ignore_errors=True)
