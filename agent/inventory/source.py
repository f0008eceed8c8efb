"""Where the inventory reads a machine from: the live system, or a recorded machine profile.

Every collector reads through a `MachineSource`: kernel files (sysfs, procfs, efivars, ACPI
tables), udev devices with their properties and attributes, and external commands (dmidecode,
smartctl, nvme ...). The live source reads the system and can record everything it read into a
profile; the profile source answers the same questions from that file, so the whole agent runs
against a recorded machine without root or hardware (design.md, "The seams").

A profile is one JSON document:

    {"format": "reeeboot.profile/1", "description": "...", "provenance": "...",
     "files": {"/sys/class/dmi/id/sys_vendor": "Dell Inc.\\n", ...},   # text, or
                {"/sys/firmware/acpi/tables/MSDM": {"base64": "..."}}  # binary
     "globs": {"/sys/class/power_supply/*": ["/sys/class/power_supply/BAT0", ...]},
     "udev": {"net": [{"sys_path": ..., "sys_name": ..., "subsystem": "net",
                       "device_type": null, "driver": "e1000e",
                       "properties": {...}, "attributes": {"address": "..."},
                       "parents": [{"subsystem": "pci", "driver": "e1000e", "sys_name": ...}]}]},
     "links": {"/sys/class/block/nvme0n1/device": "/sys/devices/.../nvme/nvme0"},
     "commands": [{"argv": ["dmidecode", "-t", "memory"], "returncode": 0,
                   "stdout": "...", "stderr": ""}]}

"links" holds where the symbolic links that were followed lead (null: the path did not exist);
profiles recorded before it have none, and read as if no link was there.

A question the profile has no answer for reads as "absent" (None, [], a failed command), exactly
as a machine without that part would answer: a profile never makes the agent crash.
"""

from __future__ import annotations

import base64
import glob as globbing
import json
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from agent.runner import CommandNotFound, CommandRecord
from agent.runner import run as run_command

PROFILE_FORMAT = "reeeboot.profile/1"
# The shell's exit status for a program that is not there: how both sources answer a command
# that could not run, the live one because the program is missing, a profile because the
# machine was recorded without that command.
NOT_RUN = 127
NOT_IN_PROFILE = "not in the machine profile"
# udev attributes worth keeping per subsystem: what the collectors read, nothing more.
UDEV_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "block": ("size", "removable", "serial", "queue/logical_block_size",
              "queue/physical_block_size",
              "queue/rotational", "device/model", "device/vendor", "device/serial",
              "device/firmware_rev", "device/wwid", "wwid", "device/type"),
    "net": ("address", "type", "carrier", "speed", "phy80211/name"),
    "drm": ("status", "enabled", "edid"),
    "power_supply": ("type", "technology", "cycle_count", "energy_full", "energy_full_design",
                     "charge_full", "charge_full_design", "voltage_min_design", "manufacturer",
                     "model_name", "serial_number", "status", "capacity", "scope", "present"),
    "pci": ("class", "vendor", "device", "subsystem_vendor", "subsystem_device", "label",
            "boot_vga"),
    "sound": ("id", "number"),
    "video4linux": ("name", "index"),
    "tpm": ("tpm_version_major", "device/description"),
}


# What the collectors read from a device's parents (names, ids, classes): a parent chain can hold
# hundreds of properties, and copying them all is most of the inventory's time in a slow VM.
PARENT_PROPERTIES = ("ID_", "PCI_", "DEVTYPE", "DRIVER", "PRODUCT", "TYPE", "MODALIAS")


@dataclass(frozen=True)
class UdevParent:
    subsystem: str | None
    sys_name: str
    driver: str | None = None
    properties: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UdevDevice:
    """One udev device as the collectors see it, live or replayed."""

    sys_path: str
    sys_name: str
    subsystem: str
    device_type: str | None
    driver: str | None
    device_node: str | None
    properties: dict[str, str]
    attributes: dict[str, str]  # text attributes; binary ones (EDID) are base64 with "b64:"
    parents: tuple[UdevParent, ...] = ()  # nearest first

    def attribute(self, name: str) -> str | None:
        value = self.attributes.get(name)
        return None if value is None or value.startswith("b64:") else value

    def binary_attribute(self, name: str) -> bytes | None:
        value = self.attributes.get(name)
        if value is None:
            return None
        if value.startswith("b64:"):
            return base64.b64decode(value[4:])
        return value.encode()

    def parent_subsystems(self) -> set[str]:
        return {parent.subsystem for parent in self.parents if parent.subsystem}


class MachineSource(Protocol):
    def read_text(self, path: str) -> str | None: ...

    def read_bytes(self, path: str) -> bytes | None: ...

    def glob(self, pattern: str) -> list[str]: ...

    def udev_devices(self, subsystem: str) -> list[UdevDevice]: ...

    def run(self, argv: Sequence[str], timeout: float = 120.0) -> CommandRecord: ...

    def resolve(self, path: str) -> str | None:
        """The path with every symbolic link followed; None when it does not exist."""
        ...


class LiveSource:
    """The machine the agent runs on; `record=True` keeps every answer for a profile."""

    def __init__(self, *, record: bool = False) -> None:
        self._record = record
        self.files: dict[str, Any] = {}
        self.globs: dict[str, list[str]] = {}
        self.udev: dict[str, list[UdevDevice]] = {}  # by subsystem, as first enumerated
        self.commands: list[dict[str, Any]] = []
        self.links: dict[str, str | None] = {}

    def read_bytes(self, path: str) -> bytes | None:
        try:
            data = Path(path).read_bytes()
        except OSError:
            data = None
        if self._record:
            self.files[path] = None if data is None else _encode(data)
        return data

    def read_text(self, path: str) -> str | None:
        data = self.read_bytes(path)
        return None if data is None else data.decode("utf-8", errors="replace")

    def glob(self, pattern: str) -> list[str]:
        found = sorted(globbing.glob(pattern))
        if self._record:
            self.globs[pattern] = found
        return found

    def udev_devices(self, subsystem: str) -> list[UdevDevice]:
        # One source is one look at the machine: a subsystem several collectors ask about (drm
        # for displays and for the EDID evidence) is enumerated once.
        if subsystem not in self.udev:
            self.udev[subsystem] = [_from_pyudev(device, subsystem)
                                    for device in _udev_context().list_devices(
                                        subsystem=subsystem)]
        return self.udev[subsystem]

    def run(self, argv: Sequence[str], timeout: float = 120.0) -> CommandRecord:
        try:
            record = run_command(argv, timeout=timeout)
        except CommandNotFound:
            record = CommandRecord(tuple(argv), NOT_RUN, "", _not_found(argv), 0.0)
        if self._record:
            self.commands.append({"argv": list(argv), "returncode": record.returncode,
                                  "stdout": record.stdout, "stderr": record.stderr})
        return record

    def resolve(self, path: str) -> str | None:
        try:
            target: str | None = str(Path(path).resolve(strict=True))
        except (OSError, RuntimeError):  # RuntimeError: a loop of links
            target = None
        if self._record:
            self.links[path] = target
        return target

    def profile(self, description: str, provenance: str) -> dict[str, Any]:
        return {"format": PROFILE_FORMAT, "description": description, "provenance": provenance,
                "files": self.files, "globs": self.globs,
                "udev": {subsystem: [asdict(device) for device in devices]
                         for subsystem, devices in self.udev.items()},
                "links": self.links, "commands": self.commands}


class ProfileSource:
    """A recorded machine: every answer comes from the profile, nothing from this computer."""

    def __init__(self, profile: dict[str, Any]) -> None:
        if profile.get("format") != PROFILE_FORMAT:
            raise ValueError(f"not a {PROFILE_FORMAT} machine profile")
        self.profile = profile
        self.description = str(profile.get("description", ""))

    @classmethod
    def load(cls, path: Path) -> ProfileSource:
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def read_bytes(self, path: str) -> bytes | None:
        value = self.profile.get("files", {}).get(path)
        return None if value is None else decode_recorded(value)

    def read_text(self, path: str) -> str | None:
        data = self.read_bytes(path)
        return None if data is None else data.decode("utf-8", errors="replace")

    def glob(self, pattern: str) -> list[str]:
        recorded = self.profile.get("globs", {})
        if pattern in recorded:
            return list(recorded[pattern])
        # Not recorded as a pattern: match the files the profile holds.
        import fnmatch

        return sorted(path for path in self.profile.get("files", {})
                      if fnmatch.fnmatchcase(path, pattern))

    def udev_devices(self, subsystem: str) -> list[UdevDevice]:
        return [_device_from_json(item) for item in self.profile.get("udev", {}).get(subsystem, [])]

    def run(self, argv: Sequence[str], timeout: float = 120.0) -> CommandRecord:
        del timeout
        for command in self.profile.get("commands", []):
            if list(command["argv"]) == list(argv):
                return CommandRecord(tuple(argv), int(command["returncode"]),
                                     command.get("stdout", ""), command.get("stderr", ""), 0.0)
        return CommandRecord(tuple(argv), NOT_RUN, "", NOT_IN_PROFILE, 0.0)

    def resolve(self, path: str) -> str | None:
        target = self.profile.get("links", {}).get(path)
        return None if target is None else str(target)


class NotInProfile(CommandNotFound):
    """The machine was recorded without this command: its answer is unknown, not a failure."""


class SourceRunner:
    """A `Runner` that asks a machine source, for code written against `agent.runner.run`.

    A program the live machine lacks raises `CommandNotFound`, as `run` does; a command the
    profile holds no record of raises `NotInProfile`. Either way the caller learns that nothing
    ran, which a failed command's record would not tell it.
    """

    def __init__(self, source: MachineSource) -> None:
        self.source = source

    def __call__(self, argv: Sequence[str], timeout: float = 120.0) -> CommandRecord:
        record = self.source.run(argv, timeout=timeout)
        if record.returncode == NOT_RUN and not record.stdout:
            if record.stderr == NOT_IN_PROFILE:
                raise NotInProfile(argv[0])
            if record.stderr == _not_found(argv):
                raise CommandNotFound(argv[0])
        return record


_per_thread = threading.local()


def _udev_context() -> Any:
    """One libudev context per thread (libudev's are not to be shared between threads): making
    one loads libudev through ctypes, which runs `ldconfig -p` to find it, a cost worth paying
    once, not once per subsystem."""
    import pyudev

    if not hasattr(_per_thread, "context"):
        _per_thread.context = pyudev.Context()
    return _per_thread.context


def _not_found(argv: Sequence[str]) -> str:
    """What the live source records as the output of a program that is not installed."""
    return f"{argv[0]}: not found"


def _encode(data: bytes) -> Any:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode("ascii")}


def decode_recorded(value: Any) -> bytes:
    """A file's content as a profile keeps it: text, or {"base64": ...} for binary."""
    if isinstance(value, dict):
        return base64.b64decode(value["base64"])
    return str(value).encode("utf-8")


def _device_from_json(item: dict[str, Any]) -> UdevDevice:
    return UdevDevice(
        sys_path=item["sys_path"], sys_name=item["sys_name"], subsystem=item["subsystem"],
        device_type=item.get("device_type"), driver=item.get("driver"),
        device_node=item.get("device_node"), properties=dict(item.get("properties", {})),
        attributes=dict(item.get("attributes", {})),
        parents=tuple(UdevParent(parent.get("subsystem"), parent["sys_name"],
                                 parent.get("driver"), dict(parent.get("properties", {})))
                      for parent in item.get("parents", [])),
    )


def _from_pyudev(device: Any, subsystem: str) -> UdevDevice:
    attributes: dict[str, str] = {}
    for name in UDEV_ATTRIBUTES.get(subsystem, ()):
        try:
            raw = device.attributes.get(name)
        except (OSError, KeyError):
            raw = None
        if raw is None:
            continue
        try:
            attributes[name] = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            attributes[name] = "b64:" + base64.b64encode(raw).decode("ascii")
    parents = []
    parent = device.parent
    while parent is not None:
        parents.append(UdevParent(parent.subsystem, parent.sys_name, parent.driver,
                                  {key: parent.properties[key] for key in parent.properties
                                   if key.startswith(PARENT_PROPERTIES)}))
        parent = parent.parent
    return UdevDevice(
        sys_path=device.sys_path, sys_name=device.sys_name, subsystem=subsystem,
        device_type=device.device_type, driver=device.driver, device_node=device.device_node,
        properties={key: device.properties[key] for key in device.properties},
        attributes=attributes, parents=tuple(parents),
    )
