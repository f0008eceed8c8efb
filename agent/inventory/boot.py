"""How the machine booted the stick: UEFI or legacy BIOS, and the Secure Boot state.

The workshop needs both: a BIOS-only machine gets an MBR-bootable install, and a Secure Boot
machine only boots signed systems (and may need "Allow Microsoft 3rd Party UEFI CA").
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.inventory.source import MachineSource

EFI_DIR = "/sys/firmware/efi"
# The EFI global variable namespace, where the firmware publishes SecureBoot and SetupMode.
EFI_GLOBAL_VARIABLE = "8be4df61-93ca-11d2-aa0d-00e098032b8c"
SECURE_BOOT_VARIABLE = f"{EFI_DIR}/efivars/SecureBoot-{EFI_GLOBAL_VARIABLE}"
SETUP_MODE_VARIABLE = f"{EFI_DIR}/efivars/SetupMode-{EFI_GLOBAL_VARIABLE}"
# "none [integrity] confidentiality": the kernel's lockdown, with the mode in force in brackets.
LOCKDOWN_FILE = "/sys/kernel/security/lockdown"
LOCKDOWN_MODES = ("none", "integrity", "confidentiality")


@dataclass(frozen=True)
class BootFirmware:
    mode: str  # "uefi" or "bios"
    uefi_bits: int | None  # 64, or 32 for the 32-bit UEFI of some Atom tablets and netbooks
    secure_boot: str | None  # "enabled", "disabled", "setup mode"; None on BIOS or unreadable
    # The kernel's lockdown (kernel_lockdown(7)): Debian's kernel enters "integrity" when Secure
    # Boot is on, which closes /dev/mem, unsigned modules and the like (docs/boot.md says what
    # that means for erasure). None when the kernel does not say.
    kernel_lockdown: str | None = None


def read_boot_firmware(source: MachineSource) -> BootFirmware:
    platform_size = (source.read_text(f"{EFI_DIR}/fw_platform_size") or "").strip()
    # The kernel creates /sys/firmware/efi only when it was started by UEFI. fw_platform_size
    # (Linux 4.0 and later) is the cheapest file to ask for; a recorded machine may only hold
    # the EFI variables, so any file under the directory counts as well.
    booted_by_uefi = bool(platform_size) or bool(source.glob(f"{EFI_DIR}/*"))
    lockdown = kernel_lockdown(source)  # the kernel's, whatever started it
    if not booted_by_uefi:
        return BootFirmware(mode="bios", uefi_bits=None, secure_boot=None,
                            kernel_lockdown=lockdown)
    return BootFirmware(
        mode="uefi",
        uefi_bits=int(platform_size) if platform_size.isdigit() else None,
        secure_boot=secure_boot_state(source),
        kernel_lockdown=lockdown,
    )


def kernel_lockdown(source: MachineSource) -> str | None:
    text = source.read_text(LOCKDOWN_FILE) or ""
    start, end = text.find("["), text.find("]")
    mode = text[start + 1:end] if 0 <= start < end else None
    return mode if mode in LOCKDOWN_MODES else None


def secure_boot_state(source: MachineSource) -> str | None:
    secure_boot = efi_variable_byte(source, SECURE_BOOT_VARIABLE)
    setup_mode = efi_variable_byte(source, SETUP_MODE_VARIABLE)
    # In setup mode no platform key is enrolled: nothing is enforced whatever SecureBoot says.
    if setup_mode == 1:
        return "setup mode"
    if secure_boot == 1:
        return "enabled"
    if secure_boot == 0:
        return "disabled"
    return None


def efi_variable_byte(source: MachineSource, path: str) -> int | None:
    """The one-byte value of an EFI variable: efivarfs puts 4 attribute bytes before the data."""
    data = source.read_bytes(path)
    if data is None or len(data) < 5:
        return None
    return data[4]
