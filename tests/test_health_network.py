"""The network check: wired links, Wi-Fi cards, and the Wi-Fi firmware of the OS to be installed,
on sysfs trees and kernel logs of real machines.

tests/fixtures/health/network/SOURCE.md says where every log line and tree value comes from. The
trees are kept as JSON (files and links) and built in a temporary folder: sysfs names hold
colons, which stay out of the repository's paths. A test that changes a real tree or log to
reach a state no published report shows says so with "Built:".
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from agent.health import network
from agent.health.checkup import CheckRunners, HealthPass, HealthSettings
from agent.health.model import FAIL, NOT_PRESENT, PASS, SKIPPED, WARN, CheckResult, Finding
from agent.health.network import (
    check_network,
    firmware_variants,
    has_firmware,
    judge_network,
    parse_kernel_log,
    read_kernel_log,
    read_wifi_cards,
    read_wired_ports,
)
from agent.install.image import ImageManifest, OsImage, firmware_list
from agent.runner import CommandNotFound, CommandRecord
from tests.scripted_run import workshop_machine

pytestmark = pytest.mark.usefixtures("english")

NETWORK = Path(__file__).parent / "fixtures" / "health" / "network"
AX200_CARD = "0000:3b:00.0"
TARGET = "reeeboot-os-desktop"


def build(tmp_path: Path, name: str) -> Path:
    """The sysfs tree `name` as a folder: its files, folders and links."""
    spec = json.loads((NETWORK / f"{name}.sysfs.json").read_text())
    root = tmp_path / name
    for relative in spec["dirs"]:
        (root / relative).mkdir(parents=True, exist_ok=True)
    for relative, content in spec["files"].items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content + "\n")
    for relative, target in spec["links"].items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(target)
    return root


def log(name: str) -> list[str]:
    return (NETWORK / name).read_text().splitlines()


def codes(result: CheckResult) -> list[str]:
    return [finding.code for finding in result.findings]


def finding(result: CheckResult, code: str) -> Finding:
    return next(item for item in result.findings if item.code == code)


# --- Wired --------------------------------------------------------------------------------------


def test_a_wired_port_with_its_link_passes_with_the_speed_measured(tmp_path: Path) -> None:
    result = judge_network(build(tmp_path, "latitude-e7470-link-up"),
                           log("koljah-9-latitude-e7470-e1000e.log"), None, None)
    assert result.verdict == PASS
    assert codes(result) == ["wired_link", "wifi_not_present"]
    assert result.measured["wired"] == [{
        "interface": "enp0s31f6", "device": "0000:00:1f.6", "driver": "e1000e", "carrier": True,
        "speed_mbps": 100, "operstate": "up"}]
    assert finding(result, "wired_link").text == (
        "Wired network enp0s31f6 (e1000e): link at 100 Mbit/s")
    assert result.measured["wifi"] == [] and result.measured["target"] is None
    json.dumps(result.to_json())


def test_no_cable_leaves_the_port_untested_it_does_not_fail(tmp_path: Path) -> None:
    result = judge_network(build(tmp_path, "latitude-e7470-link-down"), [], None, None)
    assert codes(result) == ["wired_no_link", "wifi_not_present"]
    assert result.verdict == SKIPPED
    assert result.measured["wired"][0]["carrier"] is False
    assert result.measured["wired"][0]["speed_mbps"] is None  # the kernel's -1
    assert "no cable plugged in" in result.findings[0].text


def test_a_port_switched_off_is_not_called_unplugged(tmp_path: Path) -> None:
    # Built: the E7470's port with `carrier` and `speed` gone, as the kernel answers EINVAL for
    # both while an interface is down.
    root = build(tmp_path, "latitude-e7470-link-down")
    folder = root / "class" / "net" / "enp0s31f6"
    (folder / "carrier").unlink()
    (folder / "speed").unlink()
    result = judge_network(root, [], None, None)
    assert codes(result) == ["wired_link_unknown", "wifi_not_present"]
    assert result.verdict == SKIPPED


def test_an_ethernet_card_no_driver_took_fails(tmp_path: Path) -> None:
    # Built: the E7470's I219 without its driver, hence without its interface.
    root = build(tmp_path, "latitude-e7470-link-up")
    (root / "class" / "net" / "enp0s31f6").unlink()
    (root / "devices" / "pci0000:00" / "0000:00:1f.6" / "driver").unlink()
    result = judge_network(root, [], None, None)
    assert codes(result) == ["wired_no_driver", "wifi_not_present"]
    assert result.verdict == FAIL
    assert result.findings[0].threshold == network.T_WIRED_DRIVER
    assert "0000:00:1f.6" in result.findings[0].text


def test_a_usb_adapter_and_software_interfaces_are_not_the_machines_ports(tmp_path: Path) -> None:
    # Built: the E7470 with a loopback (no device) and its port moved under a USB hub's path.
    root = build(tmp_path, "latitude-e7470-link-up")
    (root / "class" / "net" / "lo").mkdir()
    (root / "class" / "net" / "lo" / "type").write_text("772\n")
    assert [port.interface for port in read_wired_ports(root)] == ["enp0s31f6"]
    device = root / "devices" / "pci0000:00" / "0000:00:1f.6" / "net" / "enp0s31f6" / "device"
    (root / "devices" / "usb1" / "1-1").mkdir(parents=True)
    device.unlink()
    device.symlink_to("../../../../usb1/1-1")
    assert read_wired_ports(root) == []


def test_a_machine_without_wifi_and_a_machine_without_anything(tmp_path: Path) -> None:
    result = judge_network(build(tmp_path, "cirros-igb-vm"), log("cirros-122-igb.log"), None,
                           None)
    assert codes(result) == ["wired_link", "wifi_not_present"]
    assert result.verdict == PASS
    assert result.measured["wired"][0]["speed_mbps"] == 1000
    nothing = judge_network(tmp_path / "empty", None, None, None)
    assert codes(nothing) == ["wired_not_present", "wifi_not_present"]
    assert nothing.verdict == NOT_PRESENT
    assert nothing.measured["kernel_log_read"] is False


# --- Wi-Fi --------------------------------------------------------------------------------------


def test_a_wifi_card_that_works_passes_and_its_firmware_is_looked_for_in_the_target(
        tmp_path: Path) -> None:
    root = build(tmp_path, "ax200-works")
    lines = log("nixos-271020-ax200-works.log")
    [card] = read_wifi_cards(root)
    assert (card.interface, card.device, card.driver, card.pci_id) == (
        "wlp59s0", AX200_CARD, "iwlwifi", "8086:2723")
    here = judge_network(root, lines, None, None)
    assert here.verdict == PASS and codes(here) == ["wired_not_present", "wifi_ok"]
    assert here.measured["wifi"][0]["firmware_loaded"] == ["iwlwifi-cc-a0-77.ucode"]
    assert here.measured["wifi"][0]["firmware_missing"] == []
    # Debian's firmware packages may ship it compressed.
    there = judge_network(root, lines, frozenset({"iwlwifi-cc-a0-77.ucode.zst"}), TARGET)
    assert there.verdict == PASS and codes(there) == ["wired_not_present", "wifi_ok"]
    # A system without it: the card that works here is dead once installed.
    bare = judge_network(root, lines, frozenset({"rtl_nic/rtl8168h-2.fw"}), TARGET)
    assert bare.verdict == WARN
    missing = finding(bare, "wifi_firmware_missing_in_target")
    assert missing.text == (
        "The Wi-Fi card wlp59s0 (iwlwifi) needs the firmware iwlwifi-cc-a0-77.ucode, which "
        "reeeboot-os-desktop does not have: the Wi-Fi will not work in the installed system")
    assert missing.threshold == network.T_FIRMWARE_TARGET


def test_firmware_missing_here_with_the_target_not_known_is_not_judged(tmp_path: Path) -> None:
    """The live system carries little firmware: its own lack says nothing about the card."""
    root = build(tmp_path, "ax200-fails")
    result = judge_network(root, log("nixos-271020-ax200-fails.log"), None, None)
    assert codes(result) == ["wired_not_present", "wifi_firmware_unknown_in_target"]
    assert result.verdict == SKIPPED
    [card] = result.measured["wifi"]
    assert card["interface"] is None and card["device"] == AX200_CARD
    assert card["firmware_missing"] == ["iwlwifi-cc-a0-77.ucode", "iwlwifi-cc-a0-76.ucode",
                                        "iwlwifi-cc-a0-75.ucode"]
    assert "lacks its firmware iwlwifi-cc-a0-77.ucode" in result.findings[1].text
    assert "is not known" in result.findings[1].text
    assert len(result.measured["firmware_lines"]) == 3


def test_firmware_missing_here_but_in_the_target_passes(tmp_path: Path) -> None:
    root = build(tmp_path, "ax200-fails")
    # Any version the driver asked for will do, compressed or not.
    target = frozenset({"iwlwifi-cc-a0-76.ucode.xz", "rtl_nic/rtl8168h-2.fw"})
    result = judge_network(root, log("nixos-271020-ax200-fails.log"), target, TARGET)
    assert result.verdict == PASS
    present = finding(result, "wifi_firmware_in_target")
    assert present.text == ("The Wi-Fi card 0000:3b:00.0 (iwlwifi) lacks its firmware in the "
                            "live system only: reeeboot-os-desktop has iwlwifi-cc-a0-76.ucode")
    assert result.measured["target"] == TARGET


def test_firmware_missing_here_and_in_the_target_warns_naming_card_file_and_image(
        tmp_path: Path) -> None:
    """The card is sound; the system it leaves with cannot start it: a limit, not a fault."""
    root = build(tmp_path, "ax200-fails")
    result = judge_network(root, log("nixos-271020-ax200-fails.log"),
                           frozenset({"iwlwifi-cc-a0-46.ucode"}), TARGET)
    assert result.verdict == WARN
    failed = finding(result, "wifi_firmware_missing_in_target")
    assert dict(failed.values) == {"card": AX200_CARD, "driver": "iwlwifi",
                                   "file": "iwlwifi-cc-a0-77.ucode", "image": TARGET}


def test_a_card_whose_driver_gave_up_for_want_of_firmware_is_a_firmware_problem(
        tmp_path: Path) -> None:
    """rtw88 lets go of the card when its firmware is missing ("probe ... failed"): no driver
    is bound, yet the driver exists; the log names it."""
    root = build(tmp_path, "rtl8822be-no-firmware")
    lines = log("libreelec-6683-rtw8822be.log")
    result = judge_network(root, lines, None, None)
    assert codes(result) == ["wired_not_present", "wifi_firmware_unknown_in_target"]
    assert result.measured["wifi"][0]["driver"] == "rtw_8822be"
    installed = judge_network(root, lines, frozenset({"rtw88/rtw8822b_fw.bin"}), TARGET)
    assert installed.verdict == PASS
    assert codes(installed) == ["wired_not_present", "wifi_firmware_in_target"]


def test_a_wifi_card_no_driver_took_fails(tmp_path: Path) -> None:
    result = judge_network(build(tmp_path, "rtl8852be-unclaimed"), [], None, None)
    assert codes(result) == ["wired_not_present", "wifi_no_driver"]
    assert result.verdict == FAIL
    assert result.findings[1].text == ("The Wi-Fi card 0000:02:00.0 (10ec:b852) has no driver: "
                                       "the Wi-Fi does not work")


def test_a_card_with_a_driver_that_did_not_start_and_says_nothing_warns(tmp_path: Path) -> None:
    # Built: the AX200 tree of the failing boot with the log of another machine, whose lines
    # name another card (0000:28:00.0) and the regulatory database.
    root = build(tmp_path, "ax200-fails")
    result = judge_network(root, log("nixos-85377-ax200-regulatory.log"), None, None)
    assert codes(result) == ["wired_not_present", "wifi_not_started"]
    assert result.verdict == WARN


def test_values_from_outside_are_never_format_strings(tmp_path: Path) -> None:
    # Built: a line of the failing AX200 with a file name made of braces.
    line = ("[    7.572574] iwlwifi 0000:3b:00.0: Direct firmware load for {0.__class__}"
            "{x:>99999} failed with error -2")
    result = judge_network(build(tmp_path, "ax200-fails"), [line], frozenset(), TARGET)
    failed = finding(result, "wifi_firmware_missing_in_target")
    assert "{0.__class__}{x:>99999}" in failed.text
    assert "{0.__class__}{x:>99999}" in failed.describe()


# --- The kernel log -----------------------------------------------------------------------------


def files(name: str, *, loaded: bool = False) -> list[tuple[str, str, str]]:
    return [(event.driver, event.device, event.file) for event in parse_kernel_log(log(name))
            if event.loaded == loaded]


def test_the_firmware_loaders_wordings_in_published_logs() -> None:
    assert files("balena-2059-9260.log") == [
        ("iwlwifi", "0000:04:00.0", f"iwlwifi-9260-th-b0-jf-b0-{version}.ucode")
        for version in (34, 33, 32, 31, 30)]
    assert [file for _, _, file in files("nixos-27129-8000c.log")] == [
        f"iwlwifi-8000C-{version}.ucode" for version in range(30, 21, -1)]
    # journalctl's prefix, and Debian's own line beside the loader's.
    journal = files("clearlinux-3143-so-a0-journal.log")
    assert {device for _, device, _ in journal} == {"0000:00:14.3"}
    assert list(dict.fromkeys(file for _, _, file in journal)) == [
        "iwlwifi-so-a0-hr-b0-89.ucode", "iwlwifi-so-a0-hr-b0-88.ucode",
        "iwlwifi-so-a0-hr-b0-87.ucode"]
    assert files("libreelec-6683-rtw8822be.log") == [
        ("rtw_8822be", "0000:03:00.0", "rtw88/rtw8822b_fw.bin")]
    # A USB card's device is its interface on the bus.
    assert files("rtw88-334-rtw8812au-usb.log") == [
        ("rtw_8812au", "1-1.4:1.0", "rtw88/rtw8812a_fw.bin")]
    # A serial console's own time stamps before the kernel's; r8169's wording.
    assert set(files("sonic-21020-r8169-console.log")) == {
        ("r8169", "0000:04:00.0", "rtl_nic/rtl8168h-2.fw")}
    # ath10k's calibration files, which most cards do without, and the regulatory database,
    # which belongs to no card.
    assert [file for _, _, file in files("nixos-56355-ath10k-journal.log")] == [
        "ath10k/pre-cal-pci-0000:03:00.0.bin", "ath10k/cal-pci-0000:03:00.0.bin"]
    assert files("nixos-85377-ax200-regulatory.log")[0] == (
        "platform", "regulatory.0", "regulatory.db")
    assert files("nixos-271020-ax200-works.log") == []
    assert files("nixos-271020-ax200-works.log", loaded=True) == [
        ("iwlwifi", AX200_CARD, "iwlwifi-cc-a0-77.ucode")]
    assert files("koljah-9-latitude-e7470-e1000e.log") == []


def test_the_other_ways_a_line_is_read() -> None:
    # Built: /dev/kmsg's record prefix and Debian's line for a file that loaded, on the AX200's
    # own line and file.
    [missing, found] = parse_kernel_log([
        "4,1043,7572574,-;iwlwifi 0000:3b:00.0: Direct firmware load for "
        "iwlwifi-cc-a0-77.ucode failed with error -2",
        "[    3.5] iwlwifi 0000:3b:00.0: firmware: direct-loading firmware "
        "iwlwifi-cc-a0-77.ucode"])
    assert (missing.file, missing.loaded, found.file, found.loaded) == (
        "iwlwifi-cc-a0-77.ucode", False, "iwlwifi-cc-a0-77.ucode", True)


class Replay:
    def __init__(self, record: CommandRecord | None) -> None:
        self.record = record
        self.asked: list[list[str]] = []

    def __call__(self, argv: Sequence[str], timeout: float = 120.0) -> CommandRecord:
        self.asked.append(list(argv))
        if self.record is None:
            raise CommandNotFound(argv[0])
        return self.record


def test_the_kernel_log_is_read_through_the_runner(tmp_path: Path) -> None:
    text = (NETWORK / "nixos-271020-ax200-fails.log").read_text()
    replay = Replay(CommandRecord(("dmesg",), 0, text, "", 0.01))
    assert read_kernel_log(replay) == text.splitlines()
    assert replay.asked == [["dmesg"]]
    assert read_kernel_log(Replay(CommandRecord(("dmesg",), 1, "", "Operation not permitted",
                                                0.01))) is None
    assert read_kernel_log(Replay(None)) is None
    ticks = iter([10.0, 10.25])
    result = check_network(build(tmp_path, "ax200-fails"), kernel_log=lambda: text.splitlines(),
                           clock=lambda: next(ticks))
    assert codes(result) == ["wired_not_present", "wifi_firmware_unknown_in_target"]
    assert result.seconds == 0.25
    unread = check_network(build(tmp_path / "again", "ax200-fails"), kernel_log=None)
    assert codes(unread) == ["wired_not_present", "wifi_not_started"]


# --- The OS image's firmware list ---------------------------------------------------------------


MANIFEST = {"name": "reeeboot-os-desktop", "version": "20250601",
            "file": "reeeboot-os-desktop_20250601.raw.zst",
            "bmap": "reeeboot-os-desktop_20250601.bmap", "sha256": "a" * 64,
            "compressed_sha256": "b" * 64, "image_size": 4096, "compressed_size": 1024,
            "mapped_size": 2048}


def test_the_manifests_firmware_list() -> None:
    listed = ImageManifest.from_json({**MANIFEST, "firmware": [
        "rtl_nic/rtl8168h-2.fw", "iwlwifi-cc-a0-77.ucode.zst", "/intel/ibt-20-1-3.sfi.xz",
        "./ath10k/QCA6174/hw3.0/board-2.bin", ""]})
    assert listed.firmware == frozenset({
        "rtl_nic/rtl8168h-2.fw", "iwlwifi-cc-a0-77.ucode.zst", "intel/ibt-20-1-3.sfi.xz",
        "ath10k/QCA6174/hw3.0/board-2.bin"})
    assert listed.to_json()["firmware"] == sorted(listed.firmware)
    assert ImageManifest.from_json(listed.to_json()) == listed
    assert has_firmware(listed.firmware, "iwlwifi-cc-a0-77.ucode")
    assert has_firmware(listed.firmware, "intel/ibt-20-1-3.sfi")
    assert has_firmware(listed.firmware, "rtl_nic/rtl8168h-2.fw.xz")
    assert not has_firmware(listed.firmware, "iwlwifi-cc-a0-76.ucode")
    # An older manifest: not known, and written back as it came.
    older = ImageManifest.from_json(MANIFEST)
    assert older.firmware is None and older.to_json() == MANIFEST
    assert firmware_list("iwlwifi-cc-a0-77.ucode") is None
    assert firmware_list([1, 2]) is None
    assert firmware_list([]) == frozenset()
    image = OsImage(name="reeeboot-os-desktop", version="20250601", source="hub",
                    manifest=listed)
    assert image.firmware == listed.firmware
    assert OsImage(name="bare", version="", source="file").firmware is None


def test_a_firmware_file_and_its_compressed_names() -> None:
    assert firmware_variants("rtl_nic/rtl8168h-2.fw") == (
        "rtl_nic/rtl8168h-2.fw", "rtl_nic/rtl8168h-2.fw.zst", "rtl_nic/rtl8168h-2.fw.xz")
    assert firmware_variants("iwlwifi-cc-a0-77.ucode.xz")[0] == "iwlwifi-cc-a0-77.ucode"


# --- In a run -----------------------------------------------------------------------------------


def test_the_network_is_judged_at_inspection_then_again_for_the_chosen_image(
        tmp_path: Path) -> None:
    root = build(tmp_path, "ax200-fails")
    lines = log("nixos-271020-ax200-fails.log")
    asked: list[tuple[str | None, frozenset[str] | None]] = []

    def network_check(sysfs_root: str, *, target_firmware: frozenset[str] | None,
                      target_name: str | None, kernel_log: object) -> CheckResult:
        # The pass gives no kernel log for a sysfs that is not this computer's.
        assert kernel_log is None and sysfs_root == str(root)
        asked.append((target_name, target_firmware))
        return check_network(sysfs_root, target_firmware=target_firmware,
                             target_name=target_name, kernel_log=lambda: lines)

    def platform_check(sysfs_root: str, **_options: object) -> CheckResult:
        return CheckResult("platform_locks", "firmware", PASS, (), {}, None)

    health = HealthPass(HealthSettings(), source=object(),  # type: ignore[arg-type]
                        runners=CheckRunners(platform=platform_check, network=network_check),
                        sysfs_root=str(root))
    health.judge(workshop_machine(), [])
    section = health.to_json()
    assert section is not None
    [entry] = [item for item in section["checks"] if item["check"] == network.CHECK]
    assert entry["verdict"] == SKIPPED and entry["measured"]["target"] is None
    assert [item["code"] for item in entry["findings"]] == [
        "wired_not_present", "wifi_firmware_unknown_in_target"]
    assert section["verdict"] == PASS  # the SMART data judged passes; the network is not judged

    health.judge_network_for(TARGET, frozenset({"rtl_nic/rtl8168h-2.fw"}))
    section = health.to_json()
    assert section is not None
    [entry] = [item for item in section["checks"] if item["check"] == network.CHECK]
    assert entry["verdict"] == WARN and entry["measured"]["target"] == TARGET
    assert entry["findings"][1]["code"] == "wifi_firmware_missing_in_target"
    assert entry["findings"][1]["values"]["image"] == TARGET
    assert section["verdict"] == WARN
    assert asked == [(None, None), (TARGET, frozenset({"rtl_nic/rtl8168h-2.fw"}))]


def test_a_recorded_machine_gets_no_network_check_and_a_crash_is_kept(tmp_path: Path) -> None:
    recorded = HealthPass(HealthSettings(), source=None)
    recorded.judge(workshop_machine(), [])
    recorded.judge_network_for(TARGET, None)
    assert recorded.result_for(network.CHECK, network.SUBJECT) is None

    def broken(sysfs_root: str, **_options: object) -> CheckResult:
        raise OSError("the sysfs went away")

    live = HealthPass(HealthSettings(), source=object(),  # type: ignore[arg-type]
                      runners=CheckRunners(network=broken), sysfs_root=os.fspath(tmp_path))
    live.judge_network_for(TARGET, frozenset())
    crashed = live.result_for(network.CHECK, network.SUBJECT)
    assert crashed is not None and crashed.verdict == SKIPPED
    assert crashed.findings[0].code == "check_crashed"
