"""The network: the wired port's link, and whether the Wi-Fi card works here and will work in the
OS to be installed.

Read from sysfs under a root ("/sys" on the machine; a fixture tree in the tests), as the kernel's
ABI describes it (Documentation/ABI/testing/sysfs-class-net, sysfs-bus-pci):

- `class/net/*`: each interface, its `type` (1: Ethernet and Wi-Fi alike), `carrier`, `speed`
  (Mbit/s, -1 when unknown), `operstate`, `device` (the hardware under it) and `device/driver`
  (the driver bound to it); a Wi-Fi interface has `wireless/` or `phy80211`;
- `bus/pci/devices/*/class`: the PCI cards, to find an Ethernet (0x0200) or Wi-Fi (0x0280)
  controller that no driver took, so that no interface shows.

Firmware comes from the kernel log: the firmware loader writes "Direct firmware load for FILE
failed with error -2" (drivers/base/firmware_loader/main.c), Debian's kernels also "firmware:
failed to load FILE (-2)" and, when a file loads, "firmware: direct-loading firmware FILE"; iwlwifi
names the file it runs with ("loaded firmware version ... FILE op_mode ..."). Each line starts with
the driver and the device ("iwlwifi 0000:3b:00.0: ..."), which ties it to a card.

A card that a driver runs in the live system may still be dead in the installed one: its firmware
is a separate file, and the OS image may not carry it. The image's manifest lists the firmware it
carries (`firmware`, relative to /usr/lib/firmware, written by image/os/build-os.sh): once the
image is chosen, the check is judged again against that list.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.health.model import (
    FAIL,
    NOT_PRESENT,
    PASS,
    SKIPPED,
    WARN,
    CheckResult,
    Finding,
    verdict_of,
)
from agent.i18n import N_
from agent.inventory.network import (
    ARPHRD_ETHER,
    VIRTUAL_DEVTYPES,
    VIRTUAL_NAME_PREFIXES,
    WIRELESS_PCI_CLASS,
)
from agent.runner import CommandNotFound, Runner, run

# Goes with every result, so a report says which set of rules judged the network.
RULES_VERSION = "network/1"
CHECK = "network"
SUBJECT = "network"

# PCI class 0x0200: Ethernet controller (the PCI code and ID assignment specification).
ETHERNET_PCI_CLASS = 0x0200
# The kernel looks for FILE, then FILE.zst and FILE.xz when it was built to read compressed
# firmware (CONFIG_FW_LOADER_COMPRESS); distributions ship either.
COMPRESSED_FIRMWARE_SUFFIXES = (".zst", ".xz")
# Kept in `measured`: the lines that spoke, not the whole log.
MAX_KEPT_LINES = 40

# Names of the limits, as findings carry them.
T_WIRED_DRIVER = "network_wired_driver_fail"
T_WIFI_DRIVER = "network_wifi_driver_fail"
T_WIFI_STARTED = "network_wifi_started_warn"
# The card is sound; what the installed system lacks is said, and it is a limit of the machine
# as it leaves (no Wi-Fi until the firmware is added), not a fault: warn, not fail. Before the
# system is chosen, nothing is judged: the live system's own lack says nothing about the card.
T_FIRMWARE_UNKNOWN = "network_wifi_firmware_target_unknown_skip"
T_FIRMWARE_TARGET = "network_wifi_firmware_in_target_warn"

KernelLogReader = Callable[[], "list[str] | None"]


# --- What sysfs shows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WiredPort:
    interface: str | None  # None for a card no driver took: no interface shows
    device: str  # its place on the bus: "0000:00:1f.6"
    driver: str | None
    carrier: bool | None  # None when the interface is down (the kernel then does not say)
    speed_mbps: int | None
    operstate: str | None

    def to_json(self) -> dict[str, Any]:
        return {"interface": self.interface, "device": self.device, "driver": self.driver,
                "carrier": self.carrier, "speed_mbps": self.speed_mbps,
                "operstate": self.operstate}


@dataclass(frozen=True)
class WifiCard:
    interface: str | None  # None when no Wi-Fi interface appeared for the card
    device: str  # its place on the bus: "0000:3b:00.0", "1-1.4:1.0"
    driver: str | None
    pci_id: str | None = None  # "8086:2723", for a PCI card

    @property
    def label(self) -> str:
        return self.interface or self.device


@dataclass(frozen=True)
class FirmwareEvent:
    """One line of the kernel log about a firmware file: which driver and device asked for it,
    and whether it loaded."""

    driver: str
    device: str
    file: str
    loaded: bool
    line: str


def read_wired_ports(sysfs_root: str | Path = "/sys") -> list[WiredPort]:
    """The physical Ethernet ports, by interface; then the Ethernet cards no driver took."""
    root = Path(sysfs_root)
    ports: list[WiredPort] = []
    seen: set[str] = set()
    for folder in _entries(root / "class" / "net"):
        if not _is_wired(folder, root):
            continue
        device = _link_name(folder / "device") or folder.name
        seen.add(device)
        ports.append(WiredPort(
            interface=folder.name, device=device, driver=_link_name(folder / "device" / "driver")
            or _uevent(folder / "device").get("DRIVER"),
            carrier=_flag(_read(folder / "carrier")), speed_mbps=_speed(_read(folder / "speed")),
            operstate=_read(folder / "operstate")))
    for device, driver, _pci_id in _pci_cards(root, ETHERNET_PCI_CLASS):
        if device not in seen and driver is None:
            ports.append(WiredPort(None, device, None, None, None, None))
    return ports


def read_wifi_cards(sysfs_root: str | Path = "/sys") -> list[WifiCard]:
    """The Wi-Fi interfaces, then the PCI Wi-Fi cards without one (no driver took them, or the
    driver gave up, often for want of firmware)."""
    root = Path(sysfs_root)
    cards: list[WifiCard] = []
    seen: set[str] = set()
    pci = {device: (driver, pci_id)
           for device, driver, pci_id in _pci_cards(root, WIRELESS_PCI_CLASS)}
    for folder in _entries(root / "class" / "net"):
        if not _has_device(folder) or not _is_wireless(folder, root):
            continue
        device = _link_name(folder / "device") or folder.name
        seen.add(device)
        driver = _link_name(folder / "device" / "driver") or _uevent(folder / "device").get(
            "DRIVER")
        cards.append(WifiCard(folder.name, device, driver, pci.get(device, (None, None))[1]))
    for device, (driver, pci_id) in pci.items():
        if device not in seen:
            cards.append(WifiCard(None, device, driver, pci_id))
    return cards


def _is_wired(folder: Path, root: Path) -> bool:
    if not _has_device(folder) or _read(folder / "type") != ARPHRD_ETHER:
        return False
    if _is_wireless(folder, root) or _is_virtual(folder):
        return False
    # A USB adapter is the workshop's, moved from machine to machine: its link says nothing
    # about this one.
    return "/usb" not in os.path.realpath(folder / "device")


def _is_wireless(folder: Path, root: Path) -> bool:
    if (folder / "wireless").is_dir() or os.path.lexists(folder / "phy80211"):
        return True
    # Older kernels did not give every Wi-Fi interface its wireless folder; its card's class
    # still says what it is.
    device = _link_name(folder / "device")
    return device is not None and _pci_class(root / "bus" / "pci" / "devices" / device) == (
        WIRELESS_PCI_CLASS)


def _is_virtual(folder: Path) -> bool:
    if folder.name.startswith(VIRTUAL_NAME_PREFIXES) or (folder / "bridge").is_dir():
        return True
    return _uevent(folder).get("DEVTYPE") in VIRTUAL_DEVTYPES


def _has_device(folder: Path) -> bool:
    # A software interface (loopback, a bridge, a tunnel) has no hardware under it.
    return os.path.lexists(folder / "device")


def _pci_cards(root: Path, wanted_class: int) -> list[tuple[str, str | None, str | None]]:
    """(bus address, driver, "vendor:device") of the PCI functions of one class."""
    cards = []
    for folder in _entries(root / "bus" / "pci" / "devices"):
        if _pci_class(folder) != wanted_class:
            continue
        vendor, product = _read(folder / "vendor"), _read(folder / "device")
        pci_id = (f"{vendor.removeprefix('0x')}:{product.removeprefix('0x')}"
                  if vendor and product else None)
        cards.append((folder.name, _link_name(folder / "driver"), pci_id))
    return cards


def _pci_class(folder: Path) -> int | None:
    """The class and subclass of a PCI function: its `class` file is "0x028000" (class,
    subclass, programming interface)."""
    raw = _read(folder / "class")
    try:
        return int(raw, 16) >> 8 if raw else None
    except ValueError:
        return None


# --- What the kernel log says -------------------------------------------------------------------


# A kernel line as `dmesg` prints it ("[    7.57] ", after whatever a serial console capture put
# before it), as /dev/kmsg gives it ("6,1234,5678,-;"), or as journalctl does ("Sep 04 07:41:53
# host kernel: "): the prefix is dropped.
_PREFIXES = (re.compile(r"^.*?\[\s*\d+\.\d+\]\s*"), re.compile(r"^\d+,\d+,\d+,[^;]*;"),
             re.compile(r"^.*? kernel: "))
# "DRIVER DEVICE: ", or "DRIVER DEVICE INTERFACE: " once the device has a network interface.
_SOURCE = re.compile(r"^(?P<driver>[\w.-]+) (?P<device>[\w.:-]*[\w.-])(?: [\w.:-]*[\w.-])?: "
                     r"(?P<message>.*)$")
_FAILED = (re.compile(r"Direct firmware load for (?P<file>\S+) failed with error"),
           re.compile(r"firmware: failed to load (?P<file>\S+) \("),
           re.compile(r"[Uu]nable to load firmware (?:patch )?(?P<file>\S+) \("))
_LOADED = (re.compile(r"firmware: direct-loading firmware (?P<file>\S+)"),
           re.compile(r"^loaded firmware (?P<file>\S+)$"))
# iwlwifi names the file it runs with after its version, without the "iwlwifi-" it starts with:
# "loaded firmware version 77.bd067429.0 cc-a0-77.ucode op_mode iwlmvm".
_IWLWIFI_LOADED = re.compile(r"loaded firmware version \S+ (?P<file>\S+\.ucode) op_mode")
IWLWIFI_PREFIX = "iwlwifi-"


def parse_kernel_log(lines: Iterable[str]) -> list[FirmwareEvent]:
    """The firmware files each device asked for, loaded or not, in the log's order. A line is
    data: a file or device name is kept as it is written."""
    events = []
    for raw in lines:
        line = raw.rstrip("\n")
        text = line
        for prefix in _PREFIXES:
            text = prefix.sub("", text, count=1)
        source = _SOURCE.match(text)
        if source is None:
            continue
        event = _firmware_event(source["driver"], source["device"], source["message"], line)
        if event is not None:
            events.append(event)
    return events


def _firmware_event(driver: str, device: str, message: str, line: str) -> FirmwareEvent | None:
    for patterns, loaded in ((_FAILED, False), (_LOADED, True)):
        for pattern in patterns:
            found = pattern.search(message)
            if found is not None:
                return FirmwareEvent(driver, device, found["file"], loaded, line)
    found = _IWLWIFI_LOADED.search(message)
    if found is None:
        return None
    file = found["file"]
    if not file.startswith(IWLWIFI_PREFIX):
        file = IWLWIFI_PREFIX + file
    return FirmwareEvent(driver, device, file, True, line)


def read_kernel_log(runner: Runner = run) -> list[str] | None:
    """The kernel log's lines (`dmesg`, as root); None when it could not be read."""
    try:
        record = runner(["dmesg"], 30.0)
    except CommandNotFound:
        return None
    if record.returncode != 0:
        return None
    return record.stdout.splitlines()


# --- The OS to be installed ---------------------------------------------------------------------


def firmware_variants(file: str) -> tuple[str, ...]:
    """The names a firmware file can have on disk: as asked, or compressed."""
    base = file
    for suffix in COMPRESSED_FIRMWARE_SUFFIXES:
        base = base.removesuffix(suffix)
    return (base, *(base + suffix for suffix in COMPRESSED_FIRMWARE_SUFFIXES))


def has_firmware(target: frozenset[str], file: str) -> bool:
    """Whether `target` (an OS image's firmware list) holds `file`, compressed or not."""
    return any(name in target for name in firmware_variants(file.lstrip("/")))


# --- The check ----------------------------------------------------------------------------------


@dataclass
class _WifiJudgement:
    card: WifiCard
    working: bool
    missing: list[str] = field(default_factory=list)  # asked for and not loaded, newest first
    loaded: list[str] = field(default_factory=list)
    driver: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"interface": self.card.interface, "device": self.card.device,
                "pci_id": self.card.pci_id, "driver": self.driver,
                "working": self.working, "firmware_missing": self.missing,
                "firmware_loaded": self.loaded}


def judge_network(sysfs_root: str | Path, kernel_log_lines: Sequence[str] | None,
                  target_firmware: frozenset[str] | None, target_name: str | None,
                  *, seconds: float | None = None) -> CheckResult:
    """The wired ports and the Wi-Fi cards under `sysfs_root`, with the firmware the kernel log
    says each asked for (None: the log was not read). `target_firmware`: the firmware the OS to
    be installed carries (None: not chosen yet, or its manifest does not say); `target_name`
    names it in the findings."""
    events = parse_kernel_log(kernel_log_lines or ())
    measured: dict[str, Any] = {"rules": RULES_VERSION, "target": target_name,
                                "target_firmware_known": target_firmware is not None,
                                "kernel_log_read": kernel_log_lines is not None}
    ports = read_wired_ports(sysfs_root)
    measured["wired"] = [port.to_json() for port in ports]
    findings = _wired_findings(ports)
    judged = [_judge_card(card, events) for card in read_wifi_cards(sysfs_root)]
    measured["wifi"] = [item.to_json() for item in judged]
    measured["firmware_lines"] = [event.line for event in events][:MAX_KEPT_LINES]
    findings += _wifi_findings(judged, target_firmware, target_name or "?")
    return CheckResult(CHECK, SUBJECT, verdict_of(findings), tuple(findings), measured, seconds)


def check_network(sysfs_root: str | Path = "/sys", *,
                  target_firmware: frozenset[str] | None = None, target_name: str | None = None,
                  kernel_log: KernelLogReader | None = read_kernel_log,
                  clock: Callable[[], float] = time.monotonic) -> CheckResult:
    """`judge_network` on this machine: the kernel log read with `kernel_log` (None: not read)."""
    started = clock()
    lines = kernel_log() if kernel_log is not None else None
    return judge_network(sysfs_root, lines, target_firmware, target_name,
                         seconds=clock() - started)


def _wired_findings(ports: Sequence[WiredPort]) -> list[Finding]:
    if not ports:
        return [Finding.of("wired_not_present", NOT_PRESENT, N_("No wired network port"))]
    findings = []
    for port in ports:
        if port.driver is None:
            findings.append(Finding.of(
                "wired_no_driver", FAIL,
                N_("The wired network card {device} has no driver: the port does not work"),
                threshold=T_WIRED_DRIVER, device=port.interface or port.device))
        elif port.carrier and port.speed_mbps is not None:
            findings.append(Finding.of(
                "wired_link", PASS, N_("Wired network {interface} ({driver}): link at {speed} "
                                       "Mbit/s"),
                interface=port.interface, driver=port.driver, speed=port.speed_mbps))
        elif port.carrier:
            findings.append(Finding.of(
                "wired_link", PASS, N_("Wired network {interface} ({driver}): link up"),
                interface=port.interface, driver=port.driver))
        elif port.carrier is None:
            findings.append(Finding.of(
                "wired_link_unknown", SKIPPED,
                N_("Wired network {interface}: the port is switched off, it was not tested"),
                interface=port.interface))
        else:
            findings.append(Finding.of(
                "wired_no_link", SKIPPED,
                N_("Wired network {interface}: no cable plugged in, the port was not tested"),
                interface=port.interface))
    return findings


def _judge_card(card: WifiCard, events: Sequence[FirmwareEvent]) -> _WifiJudgement:
    mine = [event for event in events if event.device == card.device]
    loaded = _unique(event.file for event in mine if event.loaded)
    missing = [file for file in _unique(event.file for event in mine if not event.loaded)
               if not any(name in loaded for name in firmware_variants(file))]
    # The driver named in the log when none is bound: the one that tried and gave up.
    driver = card.driver or next((event.driver for event in mine), None)
    return _WifiJudgement(card, card.interface is not None, missing, loaded, driver)


def _wifi_findings(judged: Sequence[_WifiJudgement], target: frozenset[str] | None,
                   target_name: str) -> list[Finding]:
    if not judged:
        return [Finding.of("wifi_not_present", NOT_PRESENT, N_("No Wi-Fi card"))]
    findings = []
    for item in judged:
        card, driver = item.card, item.driver or "?"
        if item.working:
            findings.append(Finding.of("wifi_ok", PASS, N_("Wi-Fi {card} ({driver}) works"),
                                       card=card.label, driver=driver))
            # What the card runs with here must also be in the installed system: the file it
            # loaded, or another version of those it asked for.
            asked = [*item.loaded, *item.missing]
            if (target is not None and item.loaded
                    and not any(has_firmware(target, file) for file in asked)):
                findings.append(_missing_in_target(card, driver, item.loaded[0], target_name))
        elif item.missing:
            findings.append(_firmware_finding(card, driver, item.missing, target, target_name))
        elif card.driver is None:
            findings.append(Finding.of(
                "wifi_no_driver", FAIL,
                N_("The Wi-Fi card {card} ({pci_id}) has no driver: the Wi-Fi does not work"),
                threshold=T_WIFI_DRIVER, card=card.label, pci_id=card.pci_id or "?"))
        else:
            findings.append(Finding.of(
                "wifi_not_started", WARN,
                N_("The Wi-Fi card {card} has a driver ({driver}) but did not start"),
                threshold=T_WIFI_STARTED, card=card.label, driver=driver))
    return findings


def _firmware_finding(card: WifiCard, driver: str, missing: Sequence[str],
                      target: frozenset[str] | None, target_name: str) -> Finding:
    """A card that did not start for want of firmware. A driver asks for several versions of
    the same file, newest first (iwlwifi-cc-a0-77.ucode, -76, ...): any one of them is enough."""
    if target is None:
        return Finding.of(
            "wifi_firmware_unknown_in_target", SKIPPED,
            N_("The Wi-Fi card {card} ({driver}) does not start: the live system lacks its "
               "firmware {file}; whether the system to be installed has it is not known"),
            threshold=T_FIRMWARE_UNKNOWN, card=card.label, driver=driver, file=missing[0])
    present = next((file for file in missing if has_firmware(target, file)), None)
    if present is not None:
        return Finding.of(
            "wifi_firmware_in_target", PASS,
            N_("The Wi-Fi card {card} ({driver}) lacks its firmware in the live system only: "
               "{image} has {file}"), card=card.label, driver=driver, image=target_name,
            file=present)
    return _missing_in_target(card, driver, missing[0], target_name)


def _missing_in_target(card: WifiCard, driver: str, file: str, target_name: str) -> Finding:
    return Finding.of(
        "wifi_firmware_missing_in_target", WARN,
        N_("The Wi-Fi card {card} ({driver}) needs the firmware {file}, which {image} does not "
           "have: the Wi-Fi will not work in the installed system"),
        threshold=T_FIRMWARE_TARGET, card=card.label, driver=driver, file=file,
        image=target_name)


# --- sysfs ---------------------------------------------------------------------------------------


def _read(path: Path) -> str | None:
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:  # `carrier` and `speed` of an interface that is down: EINVAL
        return None
    return text or None


def _entries(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except OSError:
        return []


def _link_name(path: Path) -> str | None:
    """The last part of a sysfs link's target: `device` → "0000:00:1f.6", `driver` → "e1000e"."""
    try:
        return os.path.basename(os.readlink(path).rstrip("/")) or None
    except OSError:
        return None


def _uevent(folder: Path) -> dict[str, str]:
    values = {}
    for line in (_read(folder / "uevent") or "").splitlines():
        name, equals, value = line.partition("=")
        if equals:
            values[name.strip()] = value.strip()
    return values


def _flag(value: str | None) -> bool | None:
    return None if value not in ("0", "1") else value == "1"


def _speed(value: str | None) -> int | None:
    try:
        speed = int(value) if value is not None else None
    except ValueError:
        return None
    # The kernel writes -1 (SPEED_UNKNOWN) when the link has no speed; some drivers a huge value.
    return speed if speed is not None and 0 < speed < 1_000_000 else None


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
