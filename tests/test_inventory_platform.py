"""Platform collectors against published dmidecode and /proc/cpuinfo dumps of real machines."""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass

import pytest

from agent.inventory.boot import EFI_GLOBAL_VARIABLE, read_boot_firmware
from agent.inventory.cpu import read_processor, x86_64_level
from agent.inventory.dmi import parse_dmidecode
from agent.inventory.dmi_system import Baseboard
from agent.inventory.platform import collect_platform
from agent.inventory.source import PROFILE_FORMAT, ProfileSource
from agent.inventory.tpm import read_tpm
from agent.inventory.windows_licence import read_windows_licence
from tests.machine_profiles import cpuinfo_of, dmidecode_of, recorded_machine

GiB = 1 << 30


@dataclass(frozen=True)
class Expected:
    vendor: str
    product: str
    chassis: str
    portable: bool
    firmware_version: str
    release_date: str
    uefi_capable: bool
    smbios: str
    memory_type: str
    module_sizes: tuple[int, ...]
    speeds: tuple[int | None, int | None]  # rated, configured (first module)
    empty_slots: int
    max_capacity: int


MACHINES = {
    "lenovo-thinkpad-a485": Expected(
        "LENOVO", "20MUCTO1WW", "Notebook", True, "R0WET65W (1.33 )", "2020-06-29", True,
        "3.1.1", "DDR4", (16 * GiB, 16 * GiB), (2667, 2400), 0, 64 * GiB),
    "dell-latitude-e7470": Expected(
        "Dell Inc.", "Latitude E7470", "Laptop", True, "1.31.3", "2021-10-13", True,
        "3.0.0", "DDR4", (8 * GiB,), (2133, 2133), 1, 32 * GiB),
    "hp-elitebook-840-g3": Expected(
        "HP", "HP EliteBook 840 G3", "Notebook", True, "N75 Ver. 01.52", "2021-04-20", True,
        "2.7", "DDR4", (8 * GiB,), (2133, 2133), 1, 32 * GiB),
    "dell-optiplex-755": Expected(
        "Dell Inc.", "OptiPlex 755", "Mini Tower", False, "A22", "2012-06-11", False,
        "2.5", "DDR2", (GiB, GiB), (800, None), 2, 8 * GiB),
    "asrock-b450m-pro4": Expected(
        "To Be Filled By O.E.M.", "To Be Filled By O.E.M.", "Desktop", False, "P5.70",
        "2022-10-20", True, "3.3.0", "DDR4", (8 * GiB,) * 4, (2400, 2400), 0, 128 * GiB),
}


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_each_published_machine_reads_as_its_dump_says(name: str) -> None:
    expected = MACHINES[name]
    platform = collect_platform(recorded_machine(dmidecode=dmidecode_of(name)))

    assert (platform.system.vendor, platform.system.product) == (expected.vendor, expected.product)
    assert platform.chassis.type == expected.chassis
    assert platform.chassis.portable is expected.portable
    assert platform.firmware.version == expected.firmware_version
    assert platform.firmware.release_date == expected.release_date
    assert platform.firmware.uefi_capable is expected.uefi_capable
    assert (platform.dmi_source, platform.smbios_version) == ("dmidecode", expected.smbios)
    memory = platform.memory
    assert tuple(module.size_bytes for module in memory.modules) == expected.module_sizes
    assert {module.type for module in memory.modules} == {expected.memory_type}
    first = memory.modules[0]
    assert (first.speed_mts, first.configured_speed_mts) == expected.speeds
    assert memory.empty_slots == expected.empty_slots
    assert memory.max_capacity_bytes == expected.max_capacity
    assert memory.total_bytes == sum(expected.module_sizes)


def test_thinkpad_modules_keep_slot_bank_and_part_but_not_dmidecode_filler() -> None:
    platform = collect_platform(recorded_machine(dmidecode=dmidecode_of("lenovo-thinkpad-a485")))
    modules = platform.memory.modules
    assert [(m.locator, m.bank) for m in modules] == [("DIMM 0", "P0 CHANNEL A"),
                                                      ("DIMM 0", "P0 CHANNEL B")]
    assert [m.part_number for m in modules] == ["M471A2K43CB1-CTD", "JM2666HSE-16G"]
    assert [m.manufacturer for m in modules] == ["Samsung", None]  # "Unknown" is no maker
    assert {m.form_factor for m in modules} == {"SODIMM"}
    assert platform.system.version == "ThinkPad A485"
    assert platform.system.family == "ThinkPad A485"
    assert platform.system.sku == "LENOVO_MT_20MU_BU_Think_FM_ThinkPad A485"


def test_blank_and_missing_values_read_as_none() -> None:
    platform = collect_platform(recorded_machine(dmidecode=dmidecode_of("hp-elitebook-840-g3")))
    assert platform.system.version is None  # "Version:  " in the dump
    assert platform.system.sku == "L3C65AV"
    assert platform.board == Baseboard("HP", "8079", "KBC Version 85.79", "--")
    # The published dump replaced this module's part number line with a bare hash.
    assert platform.memory.modules[0].part_number is None
    assert platform.memory.modules[0].manufacturer == "Samsung"


def test_a_twelve_year_old_desktop_ddr2_and_bios_only() -> None:
    platform = collect_platform(recorded_machine(dmidecode=dmidecode_of("dell-optiplex-755")))
    assert platform.system.product == "OptiPlex 755"  # padded with blanks in the table
    assert platform.firmware.uefi_capable is False
    assert [m.locator for m in platform.memory.modules] == ["DIMM_1", "DIMM_2"]
    assert platform.memory.modules[0].part_number == "M3 78T2863QZS-CF7"
    assert platform.memory.empty_slots == 2
    assert platform.boot.mode == "bios"
    assert platform.boot.secure_boot is None


def test_firmware_tpm_record_is_kept_apart_from_what_the_kernel_sees() -> None:
    machine = recorded_machine(dmidecode=dmidecode_of("asrock-b450m-pro4"))
    tpm = collect_platform(machine).tpm
    assert (tpm.present, tpm.version, tpm.smbios_version) == (False, None, "2.0")

    with_kernel_tpm = recorded_machine(
        dmidecode=dmidecode_of("asrock-b450m-pro4"),
        files={"/sys/class/tpm/tpm0/tpm_version_major": "2\n"})
    tpm = collect_platform(with_kernel_tpm).tpm
    assert (tpm.present, tpm.version, tpm.evidence, tpm.smbios_version) == (
        True, "2.0", "sysfs", "2.0")


def test_without_dmidecode_the_kernel_dmi_files_answer() -> None:
    # The Latitude E7470's strings as the kernel exposes them; chassis_type is the SMBIOS code.
    dmi_id = {"sys_vendor": "Dell Inc.", "product_name": "Latitude E7470", "product_sku": "06DC",
              "product_family": "Latitude", "board_vendor": "Dell Inc.", "board_name": "0T6HHJ",
              "board_version": "A00", "chassis_type": "9", "chassis_vendor": "Dell Inc.",
              "bios_vendor": "Dell Inc.", "bios_version": "1.31.3", "bios_date": "10/13/2021"}
    files = {f"/sys/class/dmi/id/{name}": f"{value}\n" for name, value in dmi_id.items()}
    files["/proc/meminfo"] = "MemTotal:        8045240 kB\nMemFree:         6000000 kB\n"
    platform = collect_platform(recorded_machine(files=files))

    assert platform.dmi_source == "sysfs"
    assert (platform.system.vendor, platform.system.product) == ("Dell Inc.", "Latitude E7470")
    assert (platform.chassis.type, platform.chassis.portable) == ("Laptop", True)
    assert platform.firmware.release_date == "2021-10-13"
    assert platform.firmware.uefi_capable is None  # sysfs does not carry the characteristics
    assert platform.memory.source == "meminfo"
    assert platform.memory.total_bytes == 8045240 * 1024
    assert platform.memory.modules == ()


def test_failing_dmidecode_falls_back_too() -> None:
    failed = ProfileSource({"format": PROFILE_FORMAT, "commands": [
        {"argv": ["dmidecode"], "returncode": 1, "stdout": "",
         "stderr": "/dev/mem: Permission denied\n"}],
        "files": {"/sys/class/dmi/id/sys_vendor": "LENOVO\n"}})
    platform = collect_platform(failed)
    assert (platform.dmi_source, platform.system.vendor) == ("sysfs", "LENOVO")


def test_a_machine_that_answers_nothing_reads_as_unknown_without_raising() -> None:
    platform = collect_platform(recorded_machine())
    assert platform.dmi_source is None
    assert platform.system.vendor is None and platform.chassis.portable is None
    assert platform.memory.total_bytes is None and platform.memory.source is None
    assert platform.cpu is None
    assert (platform.boot.mode, platform.tpm.present, platform.windows_licence.present) == (
        "bios", False, False)


def test_dmidecode_parser_skips_lines_it_cannot_read() -> None:
    records = parse_dmidecode(dmidecode_of("hp-elitebook-840-g3"))
    board = next(record for record in records if record.type == 2)
    assert "Board is a hosting board" not in str(board.lists)  # under an unreadable line
    assert board.fields["Location In Chassis"] == ""
    assert parse_dmidecode("garbage\n\nHandle nothing\n") == ()


CPUS = {
    # name: (model, vendor, cores, threads, level)
    "cpu-athlon64-3200": ("AMD Athlon(tm) 64 Processor 3200+", "AuthenticAMD", 1, 1, "x86-64"),
    "cpu-core2-t5600": ("Intel(R) Core(TM)2 CPU T5600 @ 1.83GHz", "GenuineIntel", 2, 2, "x86-64"),
    "cpu-xeon-l5520": ("Intel(R) Xeon(R) CPU L5520 @ 2.27GHz", "GenuineIntel", 8, 16, "x86-64-v2"),
    "cpu-epyc-7301": ("AMD EPYC 7301 16-Core Processor", "AuthenticAMD", 2, 2, "x86-64-v3"),
    "cpu-xeon-gold-6132": ("Intel(R) Xeon(R) Gold 6132 CPU @ 2.60GHz", "GenuineIntel", 2, 2,
                           "x86-64-v4"),
}


@pytest.mark.parametrize("name", sorted(CPUS))
def test_each_published_cpuinfo_reads_as_expected(name: str) -> None:
    processor = read_processor(recorded_machine(cpuinfo=cpuinfo_of(name)))
    assert processor is not None
    model, vendor, cores, threads, level = CPUS[name]
    assert (processor.model, processor.vendor) == (model, vendor)
    assert (processor.cores, processor.threads) == (cores, threads)
    assert processor.microarchitecture_level == level


def test_cpufreq_gives_the_rated_range_and_cpuinfo_the_clock_seen() -> None:
    cpuinfo = cpuinfo_of("cpu-core2-t5600")
    seen = read_processor(recorded_machine(cpuinfo=cpuinfo))
    assert seen is not None
    assert (seen.min_mhz, seen.max_mhz, seen.frequency_source) == (None, 1833, "cpuinfo")

    cpufreq = "/sys/devices/system/cpu/cpu0/cpufreq"
    rated = read_processor(recorded_machine(cpuinfo=cpuinfo, files={
        f"{cpufreq}/cpuinfo_min_freq": "1000000\n", f"{cpufreq}/cpuinfo_max_freq": "1833000\n"}))
    assert rated is not None
    assert (rated.min_mhz, rated.max_mhz, rated.frequency_source) == (1000, 1833, "cpufreq")


def test_one_missing_flag_drops_a_level() -> None:
    flags = cpuinfo_of("cpu-epyc-7301").split("flags\t\t: ")[1].splitlines()[0].split()
    assert x86_64_level(flags) == "x86-64-v3"
    assert x86_64_level([flag for flag in flags if flag != "abm"]) == "x86-64-v2"  # LZCNT
    assert x86_64_level([flag for flag in flags if flag != "xsave"]) == "x86-64-v2"  # OSXSAVE
    assert x86_64_level([flag for flag in flags if flag != "popcnt"]) == "x86-64"
    assert x86_64_level([flag for flag in flags if flag != "lm"]) is None  # not 64-bit
    assert x86_64_level(["half", "thumb", "fastmult", "vfp", "edsp", "neon"]) is None  # ARM


def efi_variable(value: int) -> dict[str, str]:
    # efivarfs: 4 bytes of attributes (NV|BS|RT = 0x6 for SecureBoot), then the data.
    return {"base64": base64.b64encode(bytes([6, 0, 0, 0, value])).decode()}


SECURE_BOOT = f"/sys/firmware/efi/efivars/SecureBoot-{EFI_GLOBAL_VARIABLE}"
SETUP_MODE = f"/sys/firmware/efi/efivars/SetupMode-{EFI_GLOBAL_VARIABLE}"


@pytest.mark.parametrize(("secure_boot", "setup_mode", "state"), [
    (1, 0, "enabled"), (0, 0, "disabled"), (0, 1, "setup mode"), (None, None, None)])
def test_secure_boot_state_from_the_efi_variables(
    secure_boot: int | None, setup_mode: int | None, state: str | None
) -> None:
    files: dict[str, object] = {"/sys/firmware/efi/fw_platform_size": "64\n"}
    if secure_boot is not None:
        files[SECURE_BOOT] = efi_variable(secure_boot)
    if setup_mode is not None:
        files[SETUP_MODE] = efi_variable(setup_mode)
    boot = read_boot_firmware(recorded_machine(files=files))
    assert (boot.mode, boot.uefi_bits, boot.secure_boot) == ("uefi", 64, state)


def test_uefi_is_recognised_from_the_variables_alone_and_32_bit_uefi_is_told() -> None:
    boot = read_boot_firmware(recorded_machine(files={SECURE_BOOT: efi_variable(1)}))
    assert (boot.mode, boot.uefi_bits, boot.secure_boot) == ("uefi", None, "enabled")
    boot = read_boot_firmware(recorded_machine(files={"/sys/firmware/efi/fw_platform_size": "32"}))
    assert (boot.mode, boot.uefi_bits) == ("uefi", 32)


@pytest.mark.parametrize(("text", "mode"), [
    ("none [integrity] confidentiality\n", "integrity"),
    ("[none] integrity confidentiality\n", "none"),
    ("none integrity [confidentiality]\n", "confidentiality"),
    ("none integrity confidentiality\n", None),  # no mode marked: not an answer
    ("[everything]\n", None),  # a mode this agent does not know is not passed on
    (None, None),  # no securityfs, or a kernel without the lockdown module
])
def test_kernel_lockdown_is_the_bracketed_mode(text: str | None, mode: str | None) -> None:
    files: dict[str, object] = {SECURE_BOOT: efi_variable(1)}
    if text is not None:
        files["/sys/kernel/security/lockdown"] = text
    assert read_boot_firmware(recorded_machine(files=files)).kernel_lockdown == mode


def test_kernel_lockdown_is_reported_after_a_bios_boot_too() -> None:
    """Lockdown is the kernel's, whatever started it."""
    bios = read_boot_firmware(recorded_machine(files={
        "/sys/kernel/security/lockdown": "[none] integrity confidentiality"}))
    assert (bios.mode, bios.kernel_lockdown) == ("bios", "none")


def test_tpm_version_from_sysfs_udev_or_device_nodes() -> None:
    description = {"/sys/class/tpm/tpm0/device/description": "TPM 1.2 Device\n"}
    assert read_tpm(recorded_machine(files=description)).version == "1.2"
    tpm = {"sys_path": "/sys/devices/pnp0/00:05/tpm/tpm0", "sys_name": "tpm0",
           "subsystem": "tpm", "attributes": {"tpm_version_major": "2"}}
    from_udev = read_tpm(recorded_machine(udev={"tpm": [tpm]}))
    assert (from_udev.present, from_udev.version, from_udev.evidence) == (True, "2.0", "udev")
    nodes = ProfileSource({"format": PROFILE_FORMAT, "globs": {
        "/dev/tpm[0-9]*": ["/dev/tpm0"], "/dev/tpmrm[0-9]*": ["/dev/tpmrm0"]}})
    from_nodes = read_tpm(nodes)
    assert (from_nodes.present, from_nodes.version, from_nodes.evidence) == (
        True, "2.0", "device node")
    assert read_tpm(recorded_machine()).present is False


# The generic Windows 10/11 Pro KMS client key that Microsoft publishes: no one's licence.
PUBLISHED_KEY = "W269N-WFGWX-YVC9B-4J6C9-T83GX"


def msdm_table(key: bytes) -> bytes:
    """An MSDM table laid out as Microsoft documents it: ACPI header, licensing fields, key."""
    body = struct.pack("<IIIII", 1, 0, 1, 0, len(key)) + key
    header = b"MSDM" + struct.pack("<IB", 36 + len(body), 3) + b"\0" + b"LENOVO" + b"TP-R0W  "
    header += struct.pack("<I", 0x1330) + b"PTEC" + struct.pack("<I", 2)
    assert len(header) == 36
    return header + body


def test_oem_windows_licence_is_reported_without_its_key() -> None:
    table = {"base64": base64.b64encode(msdm_table(PUBLISHED_KEY.encode())).decode()}
    machine = recorded_machine(files={"/sys/firmware/acpi/tables/MSDM": table})
    licence = read_windows_licence(machine)
    assert licence.present is True
    assert licence.product_key is None
    assert licence.key_sha256 == hashlib.sha256(PUBLISHED_KEY.encode()).hexdigest()
    assert PUBLISHED_KEY not in repr(collect_platform(machine))

    kept = read_windows_licence(machine, keep_key=True)
    assert kept.product_key == PUBLISHED_KEY
    assert PUBLISHED_KEY not in repr(kept)  # kept for the report, still not in logs
    assert collect_platform(machine, keep_windows_key=True).windows_licence == kept


def test_an_msdm_table_without_a_key_is_present_with_no_fingerprint() -> None:
    table = {"base64": base64.b64encode(msdm_table(b"\0" * 29)).decode()}
    machine = recorded_machine(files={"/sys/firmware/acpi/tables/MSDM": table})
    licence = read_windows_licence(machine)
    assert (licence.present, licence.key_sha256, licence.product_key) == (True, None, None)
    assert read_windows_licence(recorded_machine()).present is False
