"""Ask a disk what it can do to erase itself, with the tools for its bus.

Every command goes through the runner, so its record is kept as evidence (and replayed in tests).
Nothing here raises for a missing tool or a refusing drive: what could not be learned becomes a
`ProbeGap`, and the policy treats it as "unknown", which never enables a firmware erase.

The probe also reads sysfs (which NVMe controller is behind a namespace, the namespace's id, the
controller's namespaces), always through a `MachineSource`. So the same probe asks this computer
(`probe_capabilities`), records its answers into a machine profile, or replays them from one
(`probe_from_source`); `probe_for` picks the one that fits a station's source.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import TypeVar

import agent.runner
from agent.inventory.model import Disk
from agent.inventory.source import (
    NOT_IN_PROFILE,
    LiveSource,
    MachineSource,
    NotInProfile,
    SourceRunner,
)
from agent.runner import CommandNotFound, CommandRecord, Runner
from agent.wipe.firmware.capabilities import DiskCapabilities, ProbeGap
from agent.wipe.firmware.parsers import (
    parse_hdparm_dco_identify,
    parse_hdparm_identify,
    parse_hdparm_max_sectors,
    parse_mmc_extcsd,
    parse_nvme_id_ctrl,
    parse_nvme_list_ns,
    parse_sg_opcodes,
)

SYSFS = Path("/sys")
PROBE_TIMEOUT = 60.0  # identify commands answer in well under a second; a minute means trouble

T = TypeVar("T")
DiskProbe = Callable[[Disk], DiskCapabilities]


def probe_capabilities(
    disk: Disk, run: Runner = agent.runner.run, sysfs: Path = SYSFS
) -> DiskCapabilities:
    """Ask a disk of this computer; `sysfs` is where its sysfs is mounted (tests lay out their
    own). This is the probe the erase jobs run."""
    return _probe(disk, run, _Sysfs(LiveSource(), sysfs))


def probe_from_source(
    disk: Disk, source: MachineSource, sysfs: Path = SYSFS
) -> DiskCapabilities:
    """Ask a disk through a machine source: a recording `LiveSource` keeps every command and
    sysfs answer in its profile, a `ProfileSource` gives back what was recorded. A profile that
    lacks an answer leaves a gap ("not in the machine profile"), so the disk reads as unknown."""
    return _probe(disk, SourceRunner(source), _Sysfs(source, sysfs))


def probe_for(source: MachineSource | None, run: Runner = agent.runner.run) -> DiskProbe:
    """The probe for the machine a station reads: this computer's drives, through `run`, when
    `source` is None or the live source; the recorded drives for any other source (a profile),
    whose answers never come from this computer."""
    if source is None or isinstance(source, LiveSource):
        def live(disk: Disk) -> DiskCapabilities:
            return probe_capabilities(disk, run)

        return live
    recorded_machine = source

    def recorded(disk: Disk) -> DiskCapabilities:
        return probe_from_source(disk, recorded_machine)

    return recorded


def _probe(disk: Disk, run: Runner, sysfs: _Sysfs) -> DiskCapabilities:
    probe = _Probe(disk, run, sysfs)
    if disk.bus == "nvme":
        probe.nvme()
    elif disk.bus in ("sata", "usb"):
        probe.ata()
    elif disk.bus == "scsi":
        probe.scsi()
        probe.ata()  # a SATA drive behind a SAS controller still answers through SAT
    elif disk.bus == "mmc":
        probe.mmc()
    # virtio, loop and unknown buses have no firmware erase to ask about.
    return probe.capabilities


@dataclass(frozen=True)
class _Sysfs:
    """sysfs under `root`, read through a machine source so that a profile can answer it."""

    source: MachineSource
    root: Path

    def path(self, *parts: str) -> str:
        return str(self.root.joinpath(*parts))

    def link_name(self, *parts: str) -> str | None:
        """The name of what a link leads to (a `device` link's controller or subsystem)."""
        target = self.source.resolve(self.path(*parts))
        return None if target is None else PurePosixPath(target).name

    def read_int(self, *parts: str) -> int | None:
        text = self.source.read_text(self.path(*parts))
        try:
            return None if text is None else int(text.strip(), 0)
        except ValueError:
            return None

    def names(self, *parts: str, starting: str) -> list[str]:
        """Entries of a directory whose names start with `starting`."""
        pattern = f"{glob.escape(self.path(*parts))}/{starting}*"
        return [PurePosixPath(found).name for found in self.source.glob(pattern)]


class _Probe:
    def __init__(self, disk: Disk, run: Runner, sysfs: _Sysfs) -> None:
        self.disk = disk
        self.run = run
        self.sysfs = sysfs
        self.capabilities = DiskCapabilities(device=disk.path, bus=disk.bus)

    # --- running and recording ------------------------------------------------------------

    def command(self, argv: list[str]) -> CommandRecord | None:
        """The record when the command ran and exited 0; otherwise a gap, and None."""
        what = " ".join(argv[:2])
        try:
            record = self.run(argv, timeout=PROBE_TIMEOUT)
        except NotInProfile:
            self.gap(what, NOT_IN_PROFILE)
            return None
        except CommandNotFound as missing:
            self.gap(what, f"{missing.program}: not installed")
            return None
        except OSError as error:
            self.gap(what, str(error))
            return None
        self.capabilities.commands.append(record)
        if record.returncode != 0:
            self.gap(what, _failure_summary(record.stderr + "\n" + record.stdout)
                     or f"exit status {record.returncode}")
            return None
        return record

    def parsed(self, argv: list[str], parse: Callable[[str], T | None]) -> T | None:
        record = self.command(argv)
        if record is None:
            return None
        result = parse(record.stdout)
        if result is None:
            self.gap(" ".join(argv[:2]), "no usable answer in the output")
        return result

    def gap(self, what: str, why: str) -> None:
        self.capabilities.gaps.append(ProbeGap(what, why))

    # --- NVMe -----------------------------------------------------------------------------

    def nvme(self) -> None:
        name = Path(self.disk.path).name
        controller = _nvme_controller(self.sysfs, name)
        if controller is None:
            # Guessing /dev/nvme0 from "nvme0n1" is wrong on multipath setups (nvme-cli's man
            # page warns about it); without the controller there is no sanitize to send.
            self.gap("nvme controller", f"no controller found for {name} in sysfs")
        else:
            self.capabilities.nvme_controller = f"/dev/{controller}"
        self.capabilities.nvme_namespace_id = self.sysfs.read_int("class", "block", name, "nsid")
        target = self.capabilities.nvme_controller or self.disk.path
        record = self.command(["nvme", "id-ctrl", target, "-o", "json"])
        controller_data = parse_nvme_id_ctrl(record.stdout) if record else None
        if controller_data is None:
            # nvme-cli built without JSON support refuses "-o json"; its plain output says the same.
            controller_data = self.parsed(["nvme", "id-ctrl", target], parse_nvme_id_ctrl)
        self.capabilities.nvme = controller_data
        if controller is not None:
            self.capabilities.nvme_active_namespaces = self.nvme_namespaces(controller)

    def nvme_namespaces(self, controller: str) -> tuple[int, ...] | None:
        """The drive's own list first; the kernel's view when nvme-cli cannot give it."""
        listed = self.parsed(["nvme", "list-ns", f"/dev/{controller}"], parse_nvme_list_ns)
        if listed:
            return listed
        return _namespaces_in_sysfs(self.sysfs, controller)

    # --- ATA ------------------------------------------------------------------------------

    def ata(self) -> None:
        records_before = len(self.capabilities.commands)
        identity = self.parsed(["hdparm", "-I", self.disk.path], parse_hdparm_identify)
        self.capabilities.ata = identity
        # Only a command that ran can show that ATA commands do not get through; a missing
        # hdparm leaves the question open.
        if len(self.capabilities.commands) > records_before:
            self.capabilities.ata_passthrough = identity is not None
        if identity is None:
            return
        hidden = self.parsed(["hdparm", "-N", self.disk.path], parse_hdparm_max_sectors)
        if hidden is not None and identity.dco_feature:
            # A frozen DCO refuses identify; the HPA figures stay useful without it.
            real_max = self.parsed(["hdparm", "--dco-identify", self.disk.path],
                                   parse_hdparm_dco_identify)
            if real_max is not None:
                hidden = replace(hidden, dco_real_max_sectors=real_max)
        self.capabilities.hidden_area = hidden

    # --- SCSI and eMMC --------------------------------------------------------------------

    def scsi(self) -> None:
        self.capabilities.scsi_sanitize = self.parsed(
            ["sg_opcodes", "--compact", self.disk.path], parse_sg_opcodes
        )

    def mmc(self) -> None:
        self.capabilities.emmc = self.parsed(
            ["mmc", "extcsd", "read", self.disk.path], parse_mmc_extcsd
        )


def _nvme_controller(sysfs: _Sysfs, name: str) -> str | None:
    """The controller (nvmeX) behind a namespace block device, from its sysfs `device` link.

    Without native multipath the link points at the controller; with it, at the subsystem
    (nvme-subsysN), whose directory lists its controllers.
    """
    target = sysfs.link_name("class", "block", name, "device")
    if target is None:
        return None
    if re.fullmatch(r"nvme\d+", target):
        return target
    if re.fullmatch(r"nvme-subsys\d+", target):
        controllers = sorted(
            (entry for entry in sysfs.names("class", "nvme-subsystem", target, starting="nvme")
             if re.fullmatch(r"nvme\d+", entry)),
            key=lambda entry: int(entry[4:]),
        )
        return controllers[0] if controllers else None
    return None


def _namespaces_in_sysfs(sysfs: _Sysfs, controller: str) -> tuple[int, ...] | None:
    """Namespace ids the kernel shows under the controller: nvme0n1, or nvme0c0n1 with multipath."""
    ids = set()
    for entry in sysfs.names("class", "nvme", controller, starting="nvme"):
        match = re.fullmatch(r"nvme\d+(?:c\d+)?n(\d+)", entry)
        if match:
            ids.add(int(match.group(1)))
    return tuple(sorted(ids)) or None


def _failure_summary(text: str) -> str:
    """The tool's last words, which name the failure ("HDIO_DRIVE_CMD(identify) failed: ...");
    hdparm's "/dev/sda:" heading says nothing."""
    lines = [line.strip() for line in text.splitlines()]
    meaningful = [line for line in lines if line and not re.fullmatch(r"/dev/\S+:", line)]
    return meaningful[-1] if meaningful else ""
