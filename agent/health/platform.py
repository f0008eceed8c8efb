"""What stops a donation: the locks a previous owner can leave in the firmware.

A machine can pass every health check and still be useless to its next owner: a firmware
password they do not know, a power-on or drive password that stops it at every start, Intel AMT
provisioned for the previous owner's remote control, Absolute (Computrace) persistence that
cannot be undone in the firmware. The TPM version and the Secure Boot state are read as well:
they decide what system the next owner can install and whether it starts protected.

Read from sysfs under a root ("/sys" on the machine; a fixture tree in the tests):

- `class/firmware-attributes/*/authentication/*/` (`is_enabled`, `role`) and
  `class/firmware-attributes/*/attributes/*/current_value`, the kernel's firmware-attributes
  class (Documentation/ABI/testing/sysfs-class-firmware-attributes), filled by dell-wmi-sysman,
  think-lmi (Lenovo) and hp-bioscfg;
- `class/mei/mei*` (the Intel Management Engine's interface) and `bus/mei/devices/*-UUID` (its
  clients: AMT's host interface is one); AMT's provisioning state is asked over `/dev/mei0`
  (`read_amt`), as mjg59/mei-amt-check and fwupd's intel-amt plugin do.

The TPM and Secure Boot come from the inventory (`agent.inventory.tpm`, `agent.inventory.boot`).
"""

from __future__ import annotations

import errno
import os
import re
import select
import struct
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from agent.health.model import (
    FAIL,
    PASS,
    SKIPPED,
    WARN,
    CheckResult,
    Finding,
    verdict_of,
)
from agent.i18n import N_
from agent.inventory.boot import BootFirmware, read_boot_firmware
from agent.inventory.source import MachineSource
from agent.inventory.tpm import Tpm, read_tpm

# Goes with every result, so a report says which set of rules judged the machine.
RULES_VERSION = "platform-locks/1"
CHECK = "platform_locks"
SUBJECT = "firmware"

# --- The rules ----------------------------------------------------------------------------------
#
# A lock the next owner cannot open fails: they could not change the firmware's settings, start
# the machine, unlock its disk, or keep the previous owner out of it. What only limits them (no
# TPM 2.0 for Windows 11, Secure Boot off, Absolute persistence that can be switched on from
# afar) warns: the volunteer decides, and the report says what to do.

# Authentication objects by `role` (the ABI's known types; think-lmi wrote "system" for the
# system-management password before the ABI named it "system-mgmt", and "hdd"/"nvme" in lower
# case). Objects: dell-wmi-sysman "Admin" (bios-admin) and "System" (power-on); think-lmi "Admin"
# (bios-admin), "Power-on" (power-on), "System", "HDD", "NVMe"; hp-bioscfg "Setup Password"
# (bios-admin) and "Power-On Password" (power-on).
ROLE_ADMIN = frozenset({"bios-admin"})
ROLE_POWER_ON = frozenset({"power-on"})
ROLE_SYSTEM_MANAGEMENT = frozenset({"system-mgmt", "system"})
ROLE_DRIVE = frozenset({"hdd", "nvme"})
# HP's Secure Platform Management (authentication/SPM): its `status` file is JSON whose "State"
# is "not provisioned", "provisioned" or "provisioning in progress" (the ABI document).
ROLE_HP_SPM = frozenset({"enhanced-bios-auth"})
SPM_LOCKED_STATES = frozenset({"provisioned", "provisioning in progress"})

# Absolute (formerly Computrace) persistence, a firmware attribute named after it: Dell
# "Absolute" (Enabled, Disabled, PermanentlyDisabled; fwupd's dump of an XPS 13 9310) or the older
# "Computrace" (Deactivate, Disable, Activate), Lenovo "ComputraceModuleActivation" (Enable,
# Disable...). Dell KB 000142862: Computrace's "Activate" and "Disable" are permanent; Absolute's
# "Enable" lets the Absolute agent activate the module, after which the option is greyed out,
# and "Permanently Disable" cannot be changed.
ABSOLUTE_NAME_PARTS = ("computrace", "absolute")
ABSOLUTE_ACTIVATED = frozenset({"activate", "activated"})
ABSOLUTE_ENABLED = frozenset({"enable", "enabled"})
ABSOLUTE_OFF = frozenset({"disable", "disabled", "deactivate", "deactivated",
                          "permanentlydisable", "permanentlydisabled"})

# Intel AMT's host interface client on the ME (mei-amt-check's MEI_IAMTHIF).
AMTHI_UUID = uuid.UUID("12f80028-b4b7-4b2d-aca8-46e0ff65814c")
# AMT provisioning states (mei-amt-check; fwupd's FuAmtProvisioningState).
AMT_UNPROVISIONED, AMT_BEING_PROVISIONED, AMT_PROVISIONED = 0, 1, 2

# Names of the limits, as findings carry them.
T_ADMIN_PASSWORD = "firmware_admin_password_fail"
T_POWER_ON_PASSWORD = "firmware_power_on_password_fail"
T_SYSTEM_MANAGEMENT_PASSWORD = "firmware_system_management_password_fail"
T_DRIVE_PASSWORD = "firmware_drive_password_fail"
T_OTHER_PASSWORD = "firmware_other_password_warn"
T_SPM = "hp_secure_platform_management_provisioned_fail"
T_AMT = "intel_amt_provisioned_fail"
T_ABSOLUTE = "absolute_persistence_enabled_warn"
T_TPM = "tpm_2_0_wanted_warn"
T_SECURE_BOOT = "secure_boot_on_wanted_warn"


# --- Firmware attributes ------------------------------------------------------------------------


@dataclass(frozen=True)
class AuthObject:
    """One authentication object of a firmware-attributes driver: a password the firmware
    knows about, and whether it is set."""

    driver: str  # "dell-wmi-sysman", "thinklmi", "hp-bioscfg"
    name: str  # "Admin", "Power-on", "Setup Password"
    role: str | None  # "bios-admin", "power-on", "system-mgmt", "HDD", "NVMe"
    enabled: bool | None  # None when is_enabled could not be read
    spm_state: str | None = None  # HP SPM's "State", when the object has a status file

    def to_json(self) -> dict[str, Any]:
        return {"driver": self.driver, "name": self.name, "role": self.role,
                "enabled": self.enabled, "spm_state": self.spm_state}


@dataclass(frozen=True)
class FirmwareSetting:
    driver: str
    name: str
    current_value: str | None
    possible_values: str | None

    def to_json(self) -> dict[str, Any]:
        return {"driver": self.driver, "name": self.name, "current_value": self.current_value,
                "possible_values": self.possible_values}


def firmware_attribute_drivers(sysfs_root: str | Path = "/sys") -> list[Path]:
    """The firmware-attributes class's devices: one per driver that knows this firmware."""
    folder = Path(sysfs_root) / "class" / "firmware-attributes"
    try:
        return sorted(path for path in folder.iterdir() if path.is_dir())
    except OSError:
        return []


def read_authentication(sysfs_root: str | Path = "/sys") -> list[AuthObject]:
    objects = []
    for driver in firmware_attribute_drivers(sysfs_root):
        for folder in _subfolders(driver / "authentication"):
            enabled = _read(folder / "is_enabled")
            objects.append(AuthObject(
                driver=driver.name, name=folder.name, role=_read(folder / "role"),
                enabled=None if enabled not in ("0", "1") else enabled == "1",
                spm_state=_spm_state(_read(folder / "status"))))
    return objects


def read_absolute_settings(sysfs_root: str | Path = "/sys") -> list[FirmwareSetting]:
    """The firmware attributes named after Absolute or Computrace, with their values."""
    settings = []
    for driver in firmware_attribute_drivers(sysfs_root):
        for folder in _subfolders(driver / "attributes"):
            if any(part in folder.name.lower() for part in ABSOLUTE_NAME_PARTS):
                settings.append(FirmwareSetting(
                    driver.name, folder.name, _read(folder / "current_value"),
                    _read(folder / "possible_values")))
    return settings


def _spm_state(status: str | None) -> str | None:
    """The "State" of HP's SPM status file (hp-bioscfg's status_show writes it as JSON)."""
    match = _SPM_STATE.search(status or "")
    return match[1] if match else None


_SPM_STATE = re.compile(r'"State"\s*:\s*"([^"]*)"')


# --- The Intel Management Engine and AMT --------------------------------------------------------


@dataclass(frozen=True)
class MeiInterface:
    """The ME's host interfaces the kernel shows, and the ME clients on its bus."""

    devices: tuple[str, ...]  # "mei0"
    fw_status: tuple[str, ...]  # mei0's status registers, one per line, as the kernel prints them
    fw_version: tuple[str, ...]
    clients: tuple[str, ...]  # the client UUIDs on the mei bus, lower case
    amthi_client: bool  # AMT's host interface is one of them

    def to_json(self) -> dict[str, Any]:
        return {"devices": list(self.devices), "fw_status": list(self.fw_status),
                "fw_version": list(self.fw_version), "clients": list(self.clients),
                "amthi_client": self.amthi_client}


def read_mei(sysfs_root: str | Path = "/sys") -> MeiInterface | None:
    """None when the kernel shows no ME interface (AMD, an ME switched off, a VM)."""
    root = Path(sysfs_root)
    devices = [path for path in _subfolders(root / "class" / "mei") if path.name.startswith("mei")]
    if not devices:
        return None
    first = devices[0]
    clients = sorted({client for name in _names(root / "bus" / "mei" / "devices")
                      if (client := _client_uuid(name)) is not None})
    return MeiInterface(
        devices=tuple(path.name for path in devices),
        fw_status=tuple((_read(first / "fw_status") or "").split()),
        fw_version=tuple((_read(first / "fw_ver") or "").split()),
        clients=tuple(clients),
        amthi_client=str(AMTHI_UUID) in clients)


@dataclass(frozen=True)
class AmtAnswer:
    """What AMT's host interface said, or why it could not be asked."""

    state: int | None = None  # AMT_UNPROVISIONED, AMT_BEING_PROVISIONED, AMT_PROVISIONED
    version: str | None = None  # "11.8.93"
    disabled: bool = False  # no answer to the version request: mei-amt-check's "DISABLED"
    no_amt: bool = False  # the ME has no AMT host interface client
    error: str | None = None  # why it could not be asked: "permission denied", "timeout"
    exchanges: tuple[tuple[str, str], ...] = field(default=())  # (request, answer) in hex

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "version": self.version, "disabled": self.disabled,
                "no_amt": self.no_amt, "error": self.error,
                "exchanges": [list(pair) for pair in self.exchanges]}


# The host interface's messages (mei-amt-check; fwupd plugins/intel-amt/fu-intel-amt.rs): a
# 12-byte header, version 1.1, a reserved 16-bit word, the command, the length that follows.
AMT_CODE_VERSIONS_REQUEST = 0x0400001A
AMT_CODE_VERSIONS_RESPONSE = 0x0480001A
AMT_PROVISIONING_STATE_REQUEST = 0x04000011
AMT_PROVISIONING_STATE_RESPONSE = 0x04800011
_HEADER = struct.Struct("<BBHII")
_BIOS_VERSION_LENGTH = 65
_VERSION_ENTRY = 44  # two (16-bit length, 20 characters) strings
AMT_STATUS_SUCCESS = 0


def amt_request(command: int) -> bytes:
    return _HEADER.pack(1, 1, 0, command, 0)


class AmtResponseError(ValueError):
    """An answer that is not the one asked for, or says the call failed."""


def _response_body(data: bytes, command: int) -> bytes:
    """The bytes after the status word, once the header is checked as mei-amt-check does: the
    expected command, version 1.1 or later, the length matching what was read, status 0."""
    if len(data) < _HEADER.size + 4:
        raise AmtResponseError(f"answer of {len(data)} bytes")
    major, minor, reserved, answered, length = _HEADER.unpack_from(data)
    status = struct.unpack_from("<I", data, _HEADER.size)[0]
    if status != AMT_STATUS_SUCCESS:
        raise AmtResponseError(f"status {status}")
    if answered != command or reserved != 0 or major != 1 or minor < 1:
        raise AmtResponseError(f"answer to command {answered:#x}, version {major}.{minor}")
    if length + _HEADER.size != len(data):
        raise AmtResponseError(f"length {length} for {len(data)} bytes")
    return data[_HEADER.size + 4:]


def parse_provisioning_state(data: bytes) -> int:
    body = _response_body(data, AMT_PROVISIONING_STATE_RESPONSE)
    if not body:
        raise AmtResponseError("no provisioning state")
    return body[0]


def parse_code_versions(data: bytes) -> dict[str, str]:
    """The firmware's named versions ("AMT": "11.8.93", "Sku": "8"), after the BIOS version and
    the count (mei-amt-check's struct amt_code_versions)."""
    body = _response_body(data, AMT_CODE_VERSIONS_RESPONSE)
    if len(body) < _BIOS_VERSION_LENGTH + 4:
        raise AmtResponseError("short code versions")
    count = struct.unpack_from("<I", body, _BIOS_VERSION_LENGTH)[0]
    offset = _BIOS_VERSION_LENGTH + 4
    if len(body) != offset + count * _VERSION_ENTRY:
        raise AmtResponseError(f"{count} versions in {len(body)} bytes")
    versions = {}
    for _ in range(count):
        name = _amt_string(body, offset)
        versions[name] = _amt_string(body, offset + 22)
        offset += _VERSION_ENTRY
    return versions


def _amt_string(body: bytes, offset: int) -> str:
    length = min(struct.unpack_from("<H", body, offset)[0], 20)
    return body[offset + 2:offset + 2 + length].decode("ascii", errors="replace")


class AmtHostInterface(Protocol):
    """A connection to AMT's host interface client: one request, its answer (b"" when none)."""

    def call(self, request: bytes) -> bytes: ...


class AmtNotPresent(Exception):
    """The ME has no AMT host interface client."""


# linux/mei.h: IOCTL_MEI_CONNECT_CLIENT = _IOWR('H', 0x01, struct mei_connect_client_data), a
# 16-byte union: the client's UUID in, its properties (max_msg_length, protocol_version) out.
IOCTL_MEI_CONNECT_CLIENT = 0xC0104801
# mei-amt-check waits 5 s for an answer (its send timeout); so does this.
AMT_TIMEOUT_SECONDS = 5.0


class _MeiDevice:
    """`/dev/mei0`, connected to AMT's host interface: read-only requests, answers awaited with a
    timeout (a ME that does not answer never blocks the check)."""

    def __init__(self, device: str, timeout: float) -> None:
        import fcntl

        self.timeout = timeout
        self.fd = os.open(device, os.O_RDWR)
        try:
            data = bytearray(AMTHI_UUID.bytes_le)
            try:
                fcntl.ioctl(self.fd, IOCTL_MEI_CONNECT_CLIENT, data, True)
            except OSError as error:
                # drivers/misc/mei/main.c answers ENOTTY for a client the ME does not have
                # (ENODEV: the ME is not ready, which says nothing about AMT).
                if error.errno == errno.ENOTTY:
                    raise AmtNotPresent() from error
                raise
            self.max_length = struct.unpack_from("<I", data)[0] or 4096
        except BaseException:
            os.close(self.fd)
            raise

    def call(self, request: bytes) -> bytes:
        os.write(self.fd, request)
        ready, _, _ = select.select([self.fd], [], [], self.timeout)
        if not ready:
            raise TimeoutError("no answer")
        return os.read(self.fd, self.max_length)

    def close(self) -> None:
        os.close(self.fd)


def ask_amt(interface: AmtHostInterface) -> AmtAnswer:
    """The code versions, then the provisioning state, as mei-amt-check asks them. An empty
    answer to the first is mei-amt-check's "Intel AMT: DISABLED"."""
    exchanges: list[tuple[str, str]] = []

    def call(command: int) -> bytes:
        request = amt_request(command)
        answer = interface.call(request)
        exchanges.append((request.hex(), answer.hex()))
        return answer

    try:
        versions_answer = call(AMT_CODE_VERSIONS_REQUEST)
        if not versions_answer:
            return AmtAnswer(disabled=True, exchanges=tuple(exchanges))
        versions = parse_code_versions(versions_answer)
        state = parse_provisioning_state(call(AMT_PROVISIONING_STATE_REQUEST))
    except (AmtResponseError, struct.error) as error:
        return AmtAnswer(error=f"unexpected answer: {error}", exchanges=tuple(exchanges))
    except (OSError, TimeoutError) as error:
        return AmtAnswer(error=_reason(error), exchanges=tuple(exchanges))
    return AmtAnswer(state=state, version=versions.get("AMT"), exchanges=tuple(exchanges))


def read_amt(device: str = "/dev/mei0", timeout: float = AMT_TIMEOUT_SECONDS) -> AmtAnswer:
    """AMT's provisioning state from this machine's ME (needs root)."""
    try:
        interface = _MeiDevice(device, timeout)
    except AmtNotPresent:
        return AmtAnswer(no_amt=True)
    except OSError as error:
        return AmtAnswer(error=_reason(error))
    try:
        return ask_amt(interface)
    finally:
        interface.close()


AmtReader = Callable[[], AmtAnswer]


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "no answer within the time allowed"
    if isinstance(error, OSError) and error.errno is not None:
        return os.strerror(error.errno).lower()
    return str(error) or type(error).__name__


# --- The check ----------------------------------------------------------------------------------


def check_platform_locks(sysfs_root: str | Path = "/sys", *, tpm: Tpm | None,
                         boot: BootFirmware | None, amt: AmtReader | None = read_amt,
                         clock: Callable[[], float] = time.monotonic) -> CheckResult:
    """The locks under `sysfs_root`, the TPM and Secure Boot as the inventory read them (None:
    not read), AMT's state from `amt` (None: not asked; only asked when an ME interface shows)."""
    started = clock()
    measured: dict[str, Any] = {"rules": RULES_VERSION}
    findings: list[Finding] = []
    findings += _password_findings(read_authentication(sysfs_root), sysfs_root, measured)
    findings += _absolute_findings(read_absolute_settings(sysfs_root), measured)
    findings += _amt_findings(read_mei(sysfs_root), amt, measured)
    findings += _tpm_findings(tpm, measured)
    findings += _secure_boot_findings(boot, measured)
    return CheckResult(CHECK, SUBJECT, verdict_of(findings), tuple(findings), measured,
                       clock() - started)


def check_machine(source: MachineSource, sysfs_root: str | Path = "/sys", *,
                  amt: AmtReader | None = read_amt) -> CheckResult:
    """`check_platform_locks` with the TPM and Secure Boot read from `source` (a live machine:
    `LiveSource()`)."""
    return check_platform_locks(sysfs_root, tpm=read_tpm(source), boot=read_boot_firmware(source),
                                amt=amt)


def _password_findings(objects: Sequence[AuthObject], sysfs_root: str | Path,
                       measured: dict[str, Any]) -> list[Finding]:
    drivers = [path.name for path in firmware_attribute_drivers(sysfs_root)]
    measured["firmware_attribute_drivers"] = drivers
    measured["authentication"] = [item.to_json() for item in objects]
    if not objects:
        return [Finding.of(
            "firmware_passwords_unknown", SKIPPED,
            N_("The firmware does not tell whether a password is set (no firmware settings "
               "driver for this machine): check in the firmware setup that none is asked"))]
    findings = []
    for item in objects:
        role = (item.role or "").lower()
        if role in ROLE_HP_SPM:
            if item.spm_state in SPM_LOCKED_STATES:
                findings.append(Finding.of(
                    "firmware_spm_provisioned", FAIL,
                    N_("HP Secure Platform Management is {state}: the firmware's settings are "
                       "held by the previous owner's keys"), threshold=T_SPM,
                    state=item.spm_state))
            continue
        if not item.enabled:
            continue
        if role in ROLE_ADMIN:
            findings.append(Finding.of(
                "firmware_admin_password", FAIL,
                N_("A firmware administrator password is set ({name}): the next owner cannot "
                   "change the firmware's settings. Ask the donor for it and clear it."),
                threshold=T_ADMIN_PASSWORD, name=item.name))
        elif role in ROLE_POWER_ON:
            findings.append(Finding.of(
                "firmware_power_on_password", FAIL,
                N_("A power-on password is set ({name}): the machine asks for it at every "
                   "start, so the next owner cannot use it. Ask the donor for it and clear it."),
                threshold=T_POWER_ON_PASSWORD, name=item.name))
        elif role in ROLE_SYSTEM_MANAGEMENT:
            findings.append(Finding.of(
                "firmware_system_management_password", FAIL,
                N_("A system management password is set ({name}): like an administrator "
                   "password, it keeps the next owner from changing the firmware's settings. Ask "
                   "the donor for it and clear it."),
                threshold=T_SYSTEM_MANAGEMENT_PASSWORD, name=item.name))
        elif role in ROLE_DRIVE:
            findings.append(Finding.of(
                "firmware_drive_password", FAIL,
                N_("A drive password is set ({name}): the disk stays locked at every start "
                   "without it. Ask the donor for it and clear it."),
                threshold=T_DRIVE_PASSWORD, name=item.name))
        else:
            findings.append(Finding.of(
                "firmware_other_password", WARN,
                N_("A firmware password of another kind is set ({name}, role {role}): check in "
                   "the firmware setup what it locks"),
                threshold=T_OTHER_PASSWORD, name=item.name, role=item.role or "?"))
    if not findings and all(item.enabled is False for item in objects
                            if (item.role or "").lower() not in ROLE_HP_SPM):
        findings.append(Finding.of("firmware_no_password", PASS,
                                   N_("No firmware password is set")))
    return findings


def _absolute_findings(settings: Sequence[FirmwareSetting],
                       measured: dict[str, Any]) -> list[Finding]:
    measured["absolute"] = [setting.to_json() for setting in settings]
    findings = []
    for setting in settings:
        value = (setting.current_value or "").replace(" ", "").lower()
        if value in ABSOLUTE_ACTIVATED:
            findings.append(Finding.of(
                "absolute_activated", WARN,
                N_("Absolute (Computrace) anti-theft persistence is activated in the firmware "
                   "({name} = {value}): this cannot be undone in the firmware. If the previous "
                   "owner's Absolute account still lists the machine, only they can release "
                   "it."), threshold=T_ABSOLUTE, name=setting.name, value=setting.current_value))
        elif value in ABSOLUTE_ENABLED:
            findings.append(Finding.of(
                "absolute_enabled", WARN,
                N_("Absolute (Computrace) anti-theft persistence is enabled in the firmware "
                   "({name} = {value}): Absolute's agent can activate it, and activation cannot "
                   "be undone in the firmware. Set it to Disabled in the firmware setup; if the "
                   "option is greyed out, it is already activated."),
                threshold=T_ABSOLUTE, name=setting.name, value=setting.current_value))
        elif value and value not in ABSOLUTE_OFF:
            findings.append(Finding.of(
                "absolute_state_unknown", WARN,
                N_("The firmware's Absolute (Computrace) setting reads {name} = {value}: check in "
                   "the firmware setup that it is disabled"),
                threshold=T_ABSOLUTE, name=setting.name, value=setting.current_value))
    return findings


def _amt_findings(mei: MeiInterface | None, amt: AmtReader | None,
                  measured: dict[str, Any]) -> list[Finding]:
    measured["mei"] = None if mei is None else mei.to_json()
    measured["amt"] = None
    if mei is None or amt is None:
        return []
    answer = amt()
    measured["amt"] = answer.to_json()
    if answer.state == AMT_UNPROVISIONED:
        return [Finding.of("amt_unprovisioned", PASS,
                           N_("Intel AMT is not provisioned: nobody can take remote control of "
                              "this machine through it"))]
    if answer.state == AMT_PROVISIONED:
        return [Finding.of(
            "amt_provisioned", FAIL,
            N_("Intel AMT is provisioned: the previous owner can still take remote control of "
               "this machine. Unprovision it in the Intel ME setup (MEBx, Ctrl+P at start-up); "
               "it asks for the ME password."), threshold=T_AMT)]
    if answer.state == AMT_BEING_PROVISIONED:
        return [Finding.of(
            "amt_being_provisioned", FAIL,
            N_("Intel AMT is being provisioned: someone can still finish setting up remote "
               "control of this machine. Unprovision it in the Intel ME setup (MEBx, Ctrl+P at "
               "start-up)."), threshold=T_AMT)]
    if answer.state is not None:
        return [Finding.of(
            "amt_state_unknown", WARN,
            N_("Intel AMT reports a provisioning state this check does not know ({state}): check "
               "in the Intel ME setup (MEBx, Ctrl+P at start-up)"), threshold=T_AMT,
            state=answer.state)]
    if answer.disabled:
        return [Finding.of("amt_disabled", PASS,
                           N_("Intel AMT does not answer: it is disabled"))]
    if answer.no_amt:
        return []
    if mei.amthi_client:
        return [Finding.of(
            "amt_state_not_read", SKIPPED,
            N_("Intel AMT is present, but whether it is provisioned could not be read "
               "({reason}): check in the Intel ME setup (MEBx, Ctrl+P at start-up)"),
            reason=answer.error or "?")]
    return []


def _tpm_findings(tpm: Tpm | None, measured: dict[str, Any]) -> list[Finding]:
    measured["tpm"] = None if tpm is None else {
        "present": tpm.present, "version": tpm.version, "evidence": tpm.evidence,
        "smbios_version": tpm.smbios_version}
    if tpm is None:
        return []
    if tpm.present and tpm.version == "2.0":
        return [Finding.of("tpm_2_0", PASS,
                           N_("A TPM 2.0 security chip is present, as Windows 11 requires"))]
    if tpm.present and tpm.version == "1.2":
        return [Finding.of("tpm_1_2", WARN,
                           N_("The TPM security chip is version 1.2: Windows 11 requires a TPM "
                              "2.0. Linux works without it."), threshold=T_TPM)]
    if tpm.present:
        return [Finding.of("tpm_version_unknown", SKIPPED,
                           N_("A TPM security chip is present, but its version could not be "
                              "read"))]
    if tpm.smbios_version:
        return [Finding.of(
            "tpm_switched_off", WARN,
            N_("The firmware lists a TPM {version} security chip, but it is switched off: turn "
               "it on in the firmware setup (Security menu) for Windows 11"),
            threshold=T_TPM, version=tpm.smbios_version)]
    return [Finding.of("tpm_not_present", WARN,
                       N_("No TPM security chip is present: Windows 11 will not install. The "
                          "machine works, and Linux runs without it."), threshold=T_TPM)]


def _secure_boot_findings(boot: BootFirmware | None, measured: dict[str, Any]) -> list[Finding]:
    measured["boot"] = None if boot is None else {
        "mode": boot.mode, "secure_boot": boot.secure_boot,
        "kernel_lockdown": boot.kernel_lockdown}
    if boot is None:
        return []
    if boot.mode != "uefi":
        return [Finding.of("secure_boot_legacy_boot", SKIPPED,
                           N_("The machine was started in legacy BIOS mode: its Secure Boot "
                              "state could not be read"))]
    if boot.secure_boot == "enabled":
        return [Finding.of("secure_boot_on", PASS, N_("Secure Boot is on"))]
    if boot.secure_boot == "disabled":
        return [Finding.of(
            "secure_boot_off", WARN,
            N_("Secure Boot is off: turn it on in the firmware setup (Boot or Security menu, "
               "\"Secure Boot\": Enabled) so the next owner's system starts protected"),
            threshold=T_SECURE_BOOT)]
    if boot.secure_boot == "setup mode":
        return [Finding.of(
            "secure_boot_setup_mode", WARN,
            N_("Secure Boot is in setup mode (its keys were cleared): in the firmware setup, "
               "restore the factory keys, then turn Secure Boot on"), threshold=T_SECURE_BOOT)]
    return [Finding.of("secure_boot_unknown", SKIPPED,
                       N_("The Secure Boot state could not be read"))]


# --- sysfs ---------------------------------------------------------------------------------------


def _read(path: Path) -> str | None:
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        return None
    return text or None


def _subfolders(folder: Path) -> list[Path]:
    try:
        return sorted(path for path in folder.iterdir() if path.is_dir())
    except OSError:
        return []


def _client_uuid(name: str) -> str | None:
    """A mei bus device's client: "0000:00:16.0-12f80028-b4b7-4b2d-aca8-46e0ff65814c" ends with
    its UUID (drivers/misc/mei/bus.c names it "<parent>-<uuid>")."""
    candidate = "-".join(name.split("-")[-5:])
    try:
        return str(uuid.UUID(candidate))
    except ValueError:
        return None


def _names(folder: Path) -> list[str]:
    try:
        return sorted(path.name for path in folder.iterdir())
    except OSError:
        return []
