"""The shipped machine profiles, replayed: each must read as the machine its sources describe.

Every profile in tests/fixtures/profiles is run through the platform, peripheral and disk
collectors; the key facts are compared with <name>.expected.json, written by hand from the
profile's source data (dmidecode, cpuinfo, smartctl JSON, udev exports, EDID decodes).
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from agent.inventory.disks import list_disks
from agent.inventory.network import first_wired_mac
from agent.inventory.peripherals import read_peripherals
from agent.inventory.platform import collect_platform
from agent.inventory.smartinfo import smartctl_command
from agent.inventory.source import PROFILE_FORMAT, ProfileSource

ROOT = Path(__file__).resolve().parent.parent
PROFILES = ROOT / "tests" / "fixtures" / "profiles"
NAMES = sorted(path.name.removesuffix(".expected.json")
               for path in PROFILES.glob("*.expected.json"))
RECORDED = "ci-vm"


def facts(source: ProfileSource) -> dict[str, Any]:
    """What the golden files hold, from the collectors' answers."""
    platform = collect_platform(source)
    peripherals = read_peripherals(source)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pySMART warns of disks its own calls cannot see
        disks = list_disks(source, with_smart=True)
    mac = first_wired_mac(peripherals.network)
    identity = platform.identity((mac,) if mac else ())
    cpu = platform.cpu
    return {
        "system": {"vendor": platform.system.vendor, "product": platform.system.product,
                   "serial": platform.system.serial, "chassis_type": platform.chassis.type,
                   "firmware_version": platform.firmware.version,
                   "dmi_source": platform.dmi_source},
        "boot": {"mode": platform.boot.mode, "secure_boot": platform.boot.secure_boot},
        "tpm": platform.tpm.version,
        "cpu": None if cpu is None else {"model": cpu.model, "cores": cpu.cores,
                                         "threads": cpu.threads,
                                         "level": cpu.microarchitecture_level},
        "memory": {"total_bytes": platform.memory.total_bytes,
                   "modules": len(platform.memory.modules),
                   "types": [module.type for module in platform.memory.modules],
                   "empty_slots": platform.memory.empty_slots},
        "disks": [{"name": disk.name, "bus": disk.bus, "model": disk.model,
                   "serial": disk.serial, "size_bytes": disk.size_bytes,
                   "logical_sector_size": disk.logical_sector_size,
                   "power_on_hours": disk.power_on_hours, "smart_health": disk.smart_health}
                  for disk in disks],
        "network": [{"name": interface.name, "mac": interface.mac, "kind": interface.kind,
                     "bus": interface.bus} for interface in peripherals.network],
        "batteries": [{"name": battery.name, "health_percent": battery.health_percent}
                      for battery in peripherals.batteries],
        "displays": [{"connector": display.connector, "built_in": display.built_in,
                      "diagonal_inches": display.edid.diagonal_inches if display.edid else None,
                      "native": [display.edid.native.width, display.edid.native.height]
                      if display.edid and display.edid.native else None}
                     for display in peripherals.displays],
        "identity": {"basis": list(identity.basis), "id": identity.id},
    }


def expected(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        (PROFILES / f"{name}.expected.json").read_text(encoding="utf-8"))
    return document


def load(name: str) -> ProfileSource:
    return ProfileSource.load(PROFILES / f"{name}.json")


def test_the_shipped_profiles_cover_the_machines_a_workshop_meets() -> None:
    assert len(NAMES) >= 9 and RECORDED in NAMES
    machines = {name: expected(name) for name in NAMES}
    chassis = {name: facts_["system"]["chassis_type"] for name, facts_ in machines.items()}
    vendors = {facts_["system"]["vendor"] for facts_ in machines.values()
               if facts_["system"]["chassis_type"] in ("Notebook", "Laptop")}
    assert {"LENOVO", "Dell Inc.", "HP"} <= vendors
    assert {"Desktop", "Mini Tower"} <= set(chassis.values())
    assert machines["dell-optiplex-755"]["boot"]["mode"] == "bios"  # 2007, over 12 years old
    buses = {name: {disk["bus"] for disk in facts_["disks"]} for name, facts_ in machines.items()}
    assert {"nvme", "sata"} <= buses["asrock-b450m-pro4-desktop"]
    assert buses["hp-stream-11-emmc"] == {"mmc"}
    assert "system_serial" not in machines["asrock-b450m-pro4-desktop"]["identity"]["basis"]


@pytest.mark.parametrize("name", NAMES)
def test_profile_reads_as_its_machine(name: str) -> None:
    assert facts(load(name)) == expected(name)


@pytest.mark.parametrize("name", NAMES)
def test_profile_says_where_its_data_comes_from(name: str) -> None:
    profile = load(name).profile
    assert profile["format"] == PROFILE_FORMAT
    assert profile["description"] and profile["provenance"]
    if name == RECORDED:
        assert profile["provenance"] == "recorded on the CI virtual machine"
    else:
        assert profile["provenance"].startswith("Composed from published outputs")
        assert (PROFILES / f"{name}.SOURCE.md").exists()


@pytest.mark.parametrize("name", NAMES)
def test_profile_answers_what_the_inventory_asks(name: str) -> None:
    source = load(name)
    assert source.read_text("/proc/cpuinfo") and source.read_text("/proc/meminfo")
    assert source.udev_devices("net") and source.udev_devices("block")
    machine = expected(name)
    for disk in machine["disks"]:
        if disk["power_on_hours"] is not None:  # SATA and NVMe: smartctl's JSON is answered
            record = source.run(smartctl_command(f"/dev/{disk['name']}"))
            assert json.loads(record.stdout)["serial_number"] == disk["serial"]
    if machine["batteries"]:  # laptops: the built-in screen's EDID and a wireless interface
        assert [display["built_in"] for display in machine["displays"]] == [True]
        assert any(interface["kind"] == "wireless" for interface in machine["network"])


def test_emmc_boot_partitions_are_not_listed_as_disks() -> None:
    source = load("hp-stream-11-emmc")
    names = {device.sys_name for device in source.udev_devices("block")}
    assert {"mmcblk0", "mmcblk0boot0", "mmcblk0boot1"} <= names
    assert [disk.name for disk in list_disks(source, with_smart=False)] == ["mmcblk0"]


def test_composed_profiles_are_what_the_builder_makes() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "build-profiles"), "--check"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
