"""The Trusted Platform Module: whether the running kernel sees one, and which version.

Windows 11 wants a TPM 2.0, so the version decides what a donated machine can be given with.
The kernel's view comes first (sysfs, then udev, then the device nodes); the firmware's SMBIOS
type 43 record is kept apart, because firmware can list a TPM that is switched off in setup.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.inventory.dmi import DmiRecord, of_type
from agent.inventory.source import MachineSource

TPM_CLASS_DIR = "/sys/class/tpm"


@dataclass(frozen=True)
class Tpm:
    present: bool  # the running kernel has a TPM device
    version: str | None  # "1.2" or "2.0"
    evidence: str | None  # "sysfs", "udev" or "device node": how the kernel's TPM was seen
    smbios_version: str | None  # what the firmware's TPM Device record declares, if any


def read_tpm(source: MachineSource, records: tuple[DmiRecord, ...] = ()) -> Tpm:
    declared = _smbios_version(records)
    in_sysfs = _class_devices(source)
    if in_sysfs:
        version = _version(source.read_text(f"{in_sysfs[0]}/tpm_version_major"),
                           source.read_text(f"{in_sysfs[0]}/device/description"))
        return Tpm(True, version or _version_from_nodes(source), "sysfs", declared)
    in_udev = source.udev_devices("tpm")
    if in_udev:
        version = _version(in_udev[0].attribute("tpm_version_major"),
                           in_udev[0].attribute("device/description"))
        return Tpm(True, version or _version_from_nodes(source), "udev", declared)
    if source.glob("/dev/tpm[0-9]*") or source.glob("/dev/tpmrm[0-9]*"):
        return Tpm(True, _version_from_nodes(source), "device node", declared)
    return Tpm(False, None, None, declared)


def _class_devices(source: MachineSource) -> list[str]:
    """/sys/class/tpm/tpmN directories (a recorded machine may hold only the files inside)."""
    found = source.glob(f"{TPM_CLASS_DIR}/tpm*")
    names = {path[len(TPM_CLASS_DIR) + 1:].split("/")[0] for path in found}
    return [f"{TPM_CLASS_DIR}/{name}" for name in sorted(names) if name[3:].isdigit()]


def _version(major: str | None, description: str | None) -> str | None:
    major = (major or "").strip()
    if major in ("1", "2"):
        return "2.0" if major == "2" else "1.2"
    # Kernels before 5.6 have no tpm_version_major; the ACPI description names the version.
    for version in ("2.0", "1.2"):
        if version in (description or ""):
            return version
    return None


def _version_from_nodes(source: MachineSource) -> str | None:
    # Only a TPM 2.0 gets an in-kernel resource manager, and with it a /dev/tpmrmN node.
    return "2.0" if source.glob("/dev/tpmrm[0-9]*") else None


def _smbios_version(records: tuple[DmiRecord, ...]) -> str | None:
    for record in of_type(records, 43):
        declared = record.text("Specification Version")
        if declared:
            return declared
    return None
