"""What stops a donation: firmware passwords, Absolute persistence, Intel AMT, the TPM and
Secure Boot, read from real machines' sysfs dumps and a real AMT exchange.

tests/fixtures/health/platform/SOURCE.md says where every tree and byte comes from. No published
dump of a firmware-attributes `authentication/` folder was found, nor the answer of a provisioned
AMT: those tests build their trees from the kernel drivers' own names and roles, or change one
byte of the real answer, each marked where it does.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from agent.health.model import FAIL, PASS, SKIPPED, WARN, CheckResult
from agent.health.platform import (
    AMT_CODE_VERSIONS_REQUEST,
    AMT_PROVISIONING_STATE_REQUEST,
    AMTHI_UUID,
    IOCTL_MEI_CONNECT_CLIENT,
    AmtAnswer,
    AmtResponseError,
    FirmwareSetting,
    amt_request,
    ask_amt,
    check_machine,
    check_platform_locks,
    parse_code_versions,
    parse_provisioning_state,
    read_absolute_settings,
    read_amt,
    read_authentication,
    read_mei,
)
from agent.inventory.boot import BootFirmware, read_boot_firmware
from agent.inventory.source import LiveSource, ProfileSource
from agent.inventory.tpm import Tpm, read_tpm

PLATFORM = Path(__file__).parent / "fixtures" / "health" / "platform"
PROFILES = Path(__file__).parent / "fixtures" / "profiles"
DELL = PLATFORM / "dell-xps13-9310" / "sys"
LENOVO = PLATFORM / "lenovo-thinkpad-powertip" / "sys"
AMT = PLATFORM / "lenovo-thinkpad-amt"

TPM_2 = Tpm(True, "2.0", "sysfs", None)
SECURE_BOOT_ON = BootFirmware("uefi", 64, "enabled")


def codes(result: CheckResult) -> list[str]:
    return [finding.code for finding in result.findings]


def check(root: Path, *, tpm: Tpm | None = TPM_2, boot: BootFirmware | None = SECURE_BOOT_ON,
          amt: object = None) -> CheckResult:
    return check_platform_locks(root, tpm=tpm, boot=boot, amt=amt)  # type: ignore[arg-type]


# --- Absolute (Computrace) ---------------------------------------------------------------------


def test_a_dell_with_absolute_at_its_factory_default() -> None:
    assert read_absolute_settings(DELL) == [FirmwareSetting(
        "dell-wmi-sysman", "Absolute", "Enabled", "Enabled;Disabled;PermanentlyDisabled;")]
    assert read_authentication(DELL) == []  # fwupd's dump has no authentication folder
    result = check(DELL)
    assert codes(result) == ["firmware_passwords_unknown", "absolute_enabled", "tpm_2_0",
                             "secure_boot_on"]
    assert result.verdict == WARN
    finding = result.findings[1]
    assert (finding.verdict, finding.threshold) == (WARN, "absolute_persistence_enabled_warn")
    assert "cannot be undone in the firmware" in finding.text
    assert "(Absolute = Enabled)" in finding.text
    assert result.measured["firmware_attribute_drivers"] == ["dell-wmi-sysman"]
    json.dumps(result.to_json())


def test_a_lenovo_computrace_module_enabled() -> None:
    settings = read_absolute_settings(LENOVO)
    assert [(s.driver, s.name, s.current_value) for s in settings] == [
        ("thinklmi", "ComputraceModuleActivation", "Enable")]
    result = check(LENOVO)
    assert [f.code for f in result.findings if f.verdict == WARN] == ["absolute_enabled"]


def absolute_tree(tmp_path: Path, name: str, value: str) -> Path:
    """The Dell tree with another value written into Absolute (or another setting's name):
    scripted values on the real layout."""
    folder = tmp_path / "class" / "firmware-attributes" / "dell-wmi-sysman" / "attributes" / name
    folder.mkdir(parents=True)
    (folder / "current_value").write_text(value + "\n")
    return tmp_path


@pytest.mark.parametrize(("name", "value", "code"), [
    ("Computrace", "Activate", "absolute_activated"),  # Dell's older option, permanent
    ("Computrace", "Deactivate", None),
    ("Computrace", "Disable", None),
    ("Absolute", "Disabled", None),
    ("Absolute", "PermanentlyDisabled", None),
    ("ComputraceModuleActivation", "Permanently Disable", None),
    ("Absolute", "Enabled", "absolute_enabled"),
    ("Absolute", "Sometimes", "absolute_state_unknown"),
])
def test_absolute_values(tmp_path: Path, name: str, value: str, code: str | None) -> None:
    result = check(absolute_tree(tmp_path, name, value))
    absolute = [f.code for f in result.findings if f.code.startswith("absolute")]
    assert absolute == ([] if code is None else [code])
    assert result.measured["absolute"][0]["current_value"] == value


# --- Firmware passwords (the drivers' layouts: no published dump) --------------------------------


def auth_tree(root: Path, driver: str, objects: dict[str, tuple[str, str]]) -> Path:
    """`authentication/NAME/{role,is_enabled}` as the driver creates them: scripted states."""
    for name, (role, enabled) in objects.items():
        folder = root / "class" / "firmware-attributes" / driver / "authentication" / name
        folder.mkdir(parents=True)
        (folder / "role").write_text(role + "\n")
        (folder / "is_enabled").write_text(enabled + "\n")
        (folder / "mechanism").write_text("password\n")
    return root


def password_codes(result: CheckResult) -> list[tuple[str, str]]:
    return [(f.code, f.verdict) for f in result.findings if f.code.startswith("firmware_")]


def test_no_password_set_on_a_dell_passes(tmp_path: Path) -> None:
    root = auth_tree(tmp_path, "dell-wmi-sysman", {"Admin": ("bios-admin", "0"),
                                                   "System": ("power-on", "0")})
    assert [(o.name, o.role, o.enabled) for o in read_authentication(root)] == [
        ("Admin", "bios-admin", False), ("System", "power-on", False)]
    result = check(root)
    assert password_codes(result) == [("firmware_no_password", PASS)]
    assert result.verdict == PASS


@pytest.mark.parametrize(("driver", "name", "role", "code"), [
    ("dell-wmi-sysman", "Admin", "bios-admin", "firmware_admin_password"),
    ("dell-wmi-sysman", "System", "power-on", "firmware_power_on_password"),
    ("thinklmi", "Admin", "bios-admin", "firmware_admin_password"),
    ("thinklmi", "Power-on", "power-on", "firmware_power_on_password"),
    ("thinklmi", "System", "system", "firmware_system_management_password"),
    ("thinklmi", "System", "system-mgmt", "firmware_system_management_password"),
    ("thinklmi", "HDD", "hdd", "firmware_drive_password"),
    ("thinklmi", "NVMe", "NVMe", "firmware_drive_password"),
    ("hp-bioscfg", "Setup Password", "bios-admin", "firmware_admin_password"),
    ("hp-bioscfg", "Power-On Password", "power-on", "firmware_power_on_password"),
])
def test_a_password_that_locks_the_next_owner_out_fails(tmp_path: Path, driver: str, name: str,
                                                        role: str, code: str) -> None:
    root = auth_tree(tmp_path, driver, {name: (role, "1")})
    result = check(root)
    assert password_codes(result) == [(code, FAIL)]
    assert result.verdict == FAIL
    assert f"({name})" in result.findings[0].text
    assert result.findings[0].threshold is not None


def test_a_password_of_an_unknown_kind_warns(tmp_path: Path) -> None:
    root = auth_tree(tmp_path, "thinklmi", {"Admin": ("bios-admin", "0"),
                                            "Other": ("something-new", "1")})
    result = check(root)
    assert password_codes(result) == [("firmware_other_password", WARN)]
    assert "role something-new" in result.findings[0].text


def test_an_unreadable_flag_says_neither_set_nor_clear(tmp_path: Path) -> None:
    root = auth_tree(tmp_path, "thinklmi", {"Admin": ("bios-admin", "0")})
    (root / "class" / "firmware-attributes" / "thinklmi" / "authentication" / "Admin" /
     "is_enabled").write_text("")
    assert read_authentication(root)[0].enabled is None
    assert password_codes(check(root)) == []


@pytest.mark.parametrize(("state", "code"), [
    ("provisioned", "firmware_spm_provisioned"),
    ("provisioning in progress", "firmware_spm_provisioned"),
    ("not provisioned", "firmware_no_password"),
])
def test_hp_secure_platform_management(tmp_path: Path, state: str, code: str) -> None:
    root = auth_tree(tmp_path, "hp-bioscfg", {"Setup Password": ("bios-admin", "0"),
                                              "SPM": ("enhanced-bios-auth", "0")})
    # The status file as hp-bioscfg's status_show writes it (its format, this test's state).
    (root / "class" / "firmware-attributes" / "hp-bioscfg" / "authentication" / "SPM" /
     "status").write_text('{\n\t"State": "' + state + '",\n\t"Version": "1.0"\n}\n')
    result = check(root)
    assert [f.code for f in result.findings if f.code.startswith("firmware_")] == [code]


# --- Intel AMT: a real exchange ----------------------------------------------------------------


def exchange() -> list[dict[str, str]]:
    events: list[dict[str, str]] = json.loads((AMT / "amthi-exchange.json").read_text())
    return events


def recorded(kind: str) -> list[bytes]:
    """The recorded writes' data ("Write") or reads' answers ("Read"), in order."""
    found = []
    for event in exchange():
        if event["Id"].startswith("Write:") and kind == "Write":
            found.append(base64.b64decode(event["Id"].split("Data=")[1].split(",")[0]))
        elif event["Id"].startswith("Read:") and kind == "Read":
            found.append(base64.b64decode(event["Data"]))
    return found


class ReplayedAmt:
    """AMT's host interface as fwupd recorded it: each request must be the one recorded."""

    def __init__(self, answers: Sequence[bytes] | None = None) -> None:
        self.requests = recorded("Write")
        self.answers = list(recorded("Read") if answers is None else answers)
        self.calls = 0

    def call(self, request: bytes) -> bytes:
        assert request == self.requests[self.calls]
        answer = self.answers[self.calls]
        self.calls += 1
        return answer


def mei_tree(tmp_path: Path) -> Path:
    """The recorded mei0 and the mei bus devices named in the recorded PCI listing."""
    root = tmp_path / "sys"
    (root / "class" / "mei" / "mei0").mkdir(parents=True)
    (root / "class" / "mei" / "mei0" / "uevent").write_text(
        (AMT / "sys" / "class" / "mei" / "mei0" / "uevent").read_text())
    listing = (AMT / "pci-0000-00-16.0-listing.txt").read_text().split()
    for name in (entry for entry in listing if entry.startswith("0000:00:16.0-")):
        (root / "bus" / "mei" / "devices" / name).mkdir(parents=True)
    return root


def test_the_requests_and_the_connect_ioctl_are_the_recorded_ones() -> None:
    assert recorded("Write") == [amt_request(AMT_CODE_VERSIONS_REQUEST),
                                 amt_request(AMT_PROVISIONING_STATE_REQUEST)]
    ioctl = exchange()[0]["Id"]
    assert ioctl.startswith(f"Ioctl:Request={IOCTL_MEI_CONNECT_CLIENT:#x},")
    assert base64.b64decode(ioctl.split("Data=")[1].split(",")[0]) == AMTHI_UUID.bytes_le


def test_the_recorded_answers_decode() -> None:
    versions, state = recorded("Read")
    assert parse_code_versions(versions) == {
        "Flash": "11.8.93", "Netstack": "11.8.93", "AMTApps": "11.8.93", "AMT": "11.8.93",
        "Sku": "8", "VendorID": "8086", "Build Number": "4323", "Recovery Version": "11.8.93",
        "Recovery Build Num": "4323", "Legacy Mode": "False"}
    assert parse_provisioning_state(state) == 0
    with pytest.raises(AmtResponseError, match="answer to command"):
        parse_provisioning_state(versions)
    with pytest.raises(AmtResponseError, match="length"):
        parse_code_versions(versions[:-1])
    failed = bytearray(state)
    failed[12] = 2  # AMT_STATUS_NOT_READY in the status word: scripted
    with pytest.raises(AmtResponseError, match="status 2"):
        parse_provisioning_state(bytes(failed))


def test_the_recorded_machine_has_amt_unprovisioned(tmp_path: Path) -> None:
    root = mei_tree(tmp_path)
    mei = read_mei(root)
    assert mei is not None
    assert (mei.devices, mei.amthi_client, len(mei.clients)) == (("mei0",), True, 17)
    assert mei.fw_status == ()  # the recording holds none
    replay = ReplayedAmt()
    result = check(root, amt=lambda: ask_amt(replay))
    finding = next(f for f in result.findings if f.code.startswith("amt"))
    assert (finding.code, finding.verdict) == ("amt_unprovisioned", PASS)
    assert result.measured["amt"]["version"] == "11.8.93"
    assert result.measured["amt"]["exchanges"][1] == [recorded("Write")[1].hex(),
                                                      recorded("Read")[1].hex()]
    assert replay.calls == 2


@pytest.mark.parametrize(("state", "code", "verdict"), [
    (2, "amt_provisioned", FAIL), (1, "amt_being_provisioned", FAIL),
    (7, "amt_state_unknown", WARN)])
def test_a_provisioned_amt_fails(tmp_path: Path, state: int, code: str, verdict: str) -> None:
    # The recorded answer with its state byte changed: no provisioned machine's answer was
    # published.
    versions, answer = recorded("Read")
    changed = bytearray(answer)
    changed[16] = state
    result = check(mei_tree(tmp_path), amt=lambda: ask_amt(ReplayedAmt([versions, bytes(changed)])))
    finding = next(f for f in result.findings if f.code.startswith("amt"))
    assert (finding.code, finding.verdict) == (code, verdict)
    assert result.verdict == verdict
    if code == "amt_provisioned":
        assert finding.threshold == "intel_amt_provisioned_fail"
        assert "MEBx" in finding.text


def test_amt_answers_that_are_not_a_state(tmp_path: Path) -> None:
    root = mei_tree(tmp_path)
    disabled = ask_amt(ReplayedAmt([b""]))  # no answer to the version request
    assert disabled.disabled
    assert [f.code for f in check(root, amt=lambda: disabled).findings
            if f.code.startswith("amt")] == ["amt_disabled"]
    not_read = AmtAnswer(error="permission denied")
    result = check(root, amt=lambda: not_read)
    finding = next(f for f in result.findings if f.code.startswith("amt"))
    assert (finding.code, finding.verdict) == ("amt_state_not_read", SKIPPED)
    assert "(permission denied)" in finding.text
    assert not [f for f in check(root, amt=lambda: AmtAnswer(no_amt=True)).findings
                if f.code.startswith("amt")]
    # A garbled answer is an error, not a state.
    garbled = ask_amt(ReplayedAmt([recorded("Read")[1]]))
    assert garbled.state is None and garbled.error is not None
    # Without the AMT client on the bus, a failed read says nothing.
    for client in (root / "bus" / "mei" / "devices").iterdir():
        if str(AMTHI_UUID) in client.name:
            client.rmdir()
    assert not [f for f in check(root, amt=lambda: not_read).findings
                if f.code.startswith("amt")]


def test_no_me_interface_means_amt_is_not_asked(tmp_path: Path) -> None:
    def never() -> AmtAnswer:
        raise AssertionError("AMT asked without an ME interface")

    result = check(DELL, amt=never)
    assert result.measured["mei"] is None and result.measured["amt"] is None


def test_reading_amt_from_a_device_that_is_not_there(tmp_path: Path) -> None:
    answer = read_amt(str(tmp_path / "mei0"))
    assert answer.error == os.strerror(2).lower() and answer.state is None


# --- TPM and Secure Boot -----------------------------------------------------------------------


def profile(name: str) -> ProfileSource:
    return ProfileSource.load(PROFILES / f"{name}.json")


@pytest.mark.parametrize(("tpm", "code", "verdict"), [
    (Tpm(True, "2.0", "sysfs", None), "tpm_2_0", PASS),
    (Tpm(True, "1.2", "sysfs", None), "tpm_1_2", WARN),
    (Tpm(True, None, "device node", None), "tpm_version_unknown", SKIPPED),
    (Tpm(False, None, None, "2.0"), "tpm_switched_off", WARN),
    (Tpm(False, None, None, None), "tpm_not_present", WARN),
])
def test_tpm_rules(tmp_path: Path, tpm: Tpm, code: str, verdict: str) -> None:
    result = check(tmp_path, tpm=tpm)
    finding = next(f for f in result.findings if f.code.startswith("tpm"))
    assert (finding.code, finding.verdict) == (code, verdict)


def test_tpm_as_the_inventory_reads_it() -> None:
    # Profiles rebuilt by tools/build-profiles (their SOURCE.md): a TPM 2.0 and a TPM 1.2.
    a485, elitebook = profile("lenovo-thinkpad-a485"), profile("hp-elitebook-840-g3")
    assert codes(check_machine(a485, PLATFORM / "nowhere", amt=None))[1] == "tpm_2_0"
    result = check_machine(elitebook, PLATFORM / "nowhere", amt=None)
    assert [(f.code, f.verdict) for f in result.findings][1] == ("tpm_1_2", WARN)
    assert read_tpm(elitebook).version == "1.2"


@pytest.mark.parametrize(("boot", "code", "verdict"), [
    (BootFirmware("uefi", 64, "enabled"), "secure_boot_on", PASS),
    (BootFirmware("uefi", 64, "disabled"), "secure_boot_off", WARN),
    (BootFirmware("uefi", 64, "setup mode"), "secure_boot_setup_mode", WARN),
    (BootFirmware("uefi", 64, None), "secure_boot_unknown", SKIPPED),
    (BootFirmware("bios", None, None), "secure_boot_legacy_boot", SKIPPED),
])
def test_secure_boot_rules(tmp_path: Path, boot: BootFirmware, code: str, verdict: str) -> None:
    result = check(tmp_path, boot=boot)
    finding = result.findings[-1]
    assert (finding.code, finding.verdict) == (code, verdict)
    if code == "secure_boot_off":
        assert finding.text == (
            'Secure Boot is off: turn it on in the firmware setup (Boot or Security menu, '
            '"Secure Boot": Enabled) so the next owner\'s system starts protected')


def test_secure_boot_off_as_the_inventory_reads_it() -> None:
    latitude = profile("dell-latitude-e7470")
    assert read_boot_firmware(latitude).secure_boot == "disabled"
    assert codes(check_machine(latitude, PLATFORM / "nowhere", amt=None))[-1] == "secure_boot_off"


def test_nothing_read_says_nothing(tmp_path: Path) -> None:
    result = check(tmp_path, tpm=None, boot=None)
    assert (codes(result), result.verdict) == (["firmware_passwords_unknown"], SKIPPED)


# --- This machine ------------------------------------------------------------------------------


def test_this_machine() -> None:
    result = check_machine(LiveSource())
    found = codes(result)
    attributes = Path("/sys/class/firmware-attributes")
    has_attributes = attributes.is_dir() and any(attributes.iterdir())
    assert ("firmware_passwords_unknown" in found) == (
        not has_attributes or not list(attributes.glob("*/authentication/*")))
    mei = Path("/sys/class/mei")
    if not (mei.is_dir() and any(mei.iterdir())):
        assert result.measured["mei"] is None and result.measured["amt"] is None
    tpm = result.measured["tpm"]
    assert tpm["present"] == bool(list(Path("/sys/class/tpm").glob("tpm[0-9]*"))
                                  or list(Path("/dev").glob("tpm[0-9]*"))
                                  or list(Path("/dev").glob("tpmrm[0-9]*")))
    assert any(code.startswith("tpm") for code in found)
    if not Path("/sys/firmware/efi").exists():
        assert result.measured["boot"]["mode"] == "bios"
        assert found[-1] == "secure_boot_legacy_boot"
    json.dumps(result.to_json())
