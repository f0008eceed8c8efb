"""Everything about the machine that is not a disk or a peripheral, read in one pass.

DMI (system, board, chassis, firmware, memory slots), the processor, how it booted, its TPM and
its OEM Windows licence. Every part is read through the `MachineSource`, so a recorded machine
answers exactly like the live one; a part the machine cannot tell about comes back empty
(None fields, `source=None`), never as an error.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.inventory.boot import BootFirmware, read_boot_firmware
from agent.inventory.cpu import Processor, read_processor
from agent.inventory.dmi import DmiRecord, parse_dmidecode, smbios_version
from agent.inventory.dmi_memory import InstalledMemory, memory_from_meminfo, memory_from_records
from agent.inventory.dmi_system import (
    Baseboard,
    Chassis,
    FirmwareInfo,
    SystemProduct,
    system_from_records,
    system_from_sysfs,
)
from agent.inventory.identity import Identity, machine_identity
from agent.inventory.source import MachineSource
from agent.inventory.tpm import Tpm, read_tpm
from agent.inventory.windows_licence import WindowsLicence, read_windows_licence

DMIDECODE = ("dmidecode",)


@dataclass(frozen=True)
class Platform:
    system: SystemProduct
    board: Baseboard
    chassis: Chassis
    firmware: FirmwareInfo
    memory: InstalledMemory
    cpu: Processor | None
    boot: BootFirmware
    tpm: Tpm
    windows_licence: WindowsLicence
    dmi_source: str | None  # "dmidecode", "sysfs" (no memory slots then), or None
    smbios_version: str | None

    def identity(self, wired_macs: tuple[str, ...] = ()) -> Identity:
        return machine_identity(self.system, self.board, self.chassis, wired_macs)


def collect_platform(source: MachineSource, *, keep_windows_key: bool = False) -> Platform:
    """Read the platform; `keep_windows_key` only when the workshop's configuration asks for it."""
    records, version = read_dmi_records(source)
    dmi = system_from_records(records, version) if records else system_from_sysfs(source)
    memory = memory_from_records(records) if records else memory_from_meminfo(source)
    if memory.total_bytes is None and records:
        memory = memory_from_meminfo(source)  # dmidecode without memory devices (some VMs)
    return Platform(
        system=dmi.system,
        board=dmi.board,
        chassis=dmi.chassis,
        firmware=dmi.firmware,
        memory=memory,
        cpu=read_processor(source),
        boot=read_boot_firmware(source),
        tpm=read_tpm(source, records),
        windows_licence=read_windows_licence(source, keep_key=keep_windows_key),
        dmi_source=dmi.source,
        smbios_version=dmi.smbios_version,
    )


def read_dmi_records(source: MachineSource) -> tuple[tuple[DmiRecord, ...], str | None]:
    """dmidecode's structures and SMBIOS version; nothing when it is missing or fails."""
    result = source.run(DMIDECODE, timeout=60.0)
    if result.returncode != 0:
        return (), None
    return parse_dmidecode(result.stdout), smbios_version(result.stdout)
