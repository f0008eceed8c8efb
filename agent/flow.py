"""The steps of one machine's run, as plain functions: the CLI, the TUI and unattended mode are
thin front ends over them (design.md, "Data flow for one machine")."""

from __future__ import annotations

import datetime
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.config import CONFIG_NAME, ConfigProblem, StationConfig, load_config
from agent.events import EventSink, ignore_events
from agent.fsutil import write_durably
from agent.i18n import _, set_language
from agent.install.image import ListedImage, OsImage, download_image, list_images, resolve_image
from agent.install.job import InstallOptions, InstallResult, install_image
from agent.install.target import TargetChoice, choose_target
from agent.inventory import take_inventory
from agent.inventory.hotplug import watch_for_disks
from agent.inventory.model import Disk, Machine
from agent.inventory.source import ProfileSource
from agent.report import dsse
from agent.report.asset import asset_id_for, hostname_for
from agent.report.hubclient import HubClient
from agent.report.model import build_report
from agent.report.outbox import FlushOutcome, Outbox
from agent.report.station import load_or_create_key
from agent.runner import Runner
from agent.runner import run as run_command
from agent.wipe.firmware.probe import probe_capabilities
from agent.wipe.firmware_job import Probe
from agent.wipe.jobs import WipeOptions, WipeResult, wipe_disks
from agent.wipe.journal import Journals, WipeJournal
from agent.wipe.policy import ErasurePlan, plan_erasure

EVIDENCE_DIR = "evidence"  # <data>/evidence/<report id>/<file>, named and hashed in the report
IMAGES_DIR = "images"  # the stick's OS images, with their block maps and manifests
# Hub images are downloaded to the stick when it has room, else to the live system's RAM.
RAM_DOWNLOADS = Path("/var/tmp/reeeboot-images")


@dataclass
class Station:
    data_dir: Path
    config: StationConfig
    problems: list[ConfigProblem] = field(default_factory=list)
    profile: ProfileSource | None = None  # a recorded machine to read instead of this one
    _key: Ed25519PrivateKey | None = None

    @property
    def key(self) -> Ed25519PrivateKey:
        if self._key is None:
            self._key = load_or_create_key(self.data_dir)
        return self._key

    @property
    def outbox(self) -> Outbox:
        return Outbox(self.data_dir)


def open_station(data_dir: Path) -> Station:
    """Step 1: configuration from the data partition; the language is set from it at once."""
    config, problems = load_config(data_dir / CONFIG_NAME)
    set_language(config.language)
    return Station(data_dir, config, problems)


def inventory(station: Station, *, with_smart: bool = True) -> Machine:
    """Step 2: what the machine is, and which disks must not be touched."""
    return take_inventory(station.data_dir, source=station.profile, with_smart=with_smart,
                          keep_windows_key=station.config.keep_windows_key)


def plan_targets(machine: Machine) -> tuple[Disk, ...]:
    """Step 3: every disk not excluded is erased (one verified random pass in this version)."""
    return machine.targets()


def plan_erasures(
    station: Station, machine: Machine, *, run: Runner = run_command,
    probe: Probe = probe_capabilities,
) -> dict[str, ErasurePlan]:
    """Step 3, in detail: for each disk to erase, the chain of methods the policy will try."""
    options = erase_options(station.config).policy()
    if station.profile is not None:
        run = station.profile.run  # the recorded machine's drives answer, not this computer's
    return {disk.path: plan_erasure(disk, probe(disk, run), options)
            for disk in machine.targets()}


def interrupted_erasures(station: Station) -> list[WipeJournal]:
    """Overwrites a power cut or a crash stopped; the next erase of those disks resumes them."""
    return Journals(station.data_dir).unfinished()


def erase_options(config: StationConfig) -> WipeOptions:
    return WipeOptions(
        method=config.erase_method, verify=config.erase_verify, rounds=config.erase_rounds,
        blank=config.erase_blank, allow_unfreeze=config.erase_allow_unfreeze,
        sample_sectors=config.erase_sample_sectors,
    )


def erase(
    station: Station,
    targets: Sequence[Disk],
    sink: EventSink = ignore_events,
    *,
    options: WipeOptions | None = None,
    cancel: threading.Event | None = None,
) -> list[WipeResult]:
    """Step 4: all target disks in parallel, journaled on the data partition."""
    if station.profile is not None:
        # The disks of a recorded machine are not this computer's: /dev/sda here may be anyone's.
        return [WipeResult(disk.path, disk.serial, disk.model, disk.bus, disk.size_bytes,
                           result="skipped", error=_("a recorded machine profile is never erased"))
                for disk in targets]
    return wipe_disks(targets, options or erase_options(station.config),
                      data_dir=station.data_dir, cancel=cancel, sink=sink,
                      watch=watch_for_disks)


def os_images(station: Station) -> list[ListedImage]:
    """Step 5, first: the OS images on the stick (and why any file there cannot be used)."""
    return list_images(station.data_dir / IMAGES_DIR)


def install_target(
    machine: Machine, erasures: Sequence[WipeResult] = (), image: OsImage | None = None,
) -> TargetChoice:
    """Step 5: the disk the OS goes to by default (the screen and the CLI ask when ambiguous)."""
    return choose_target(machine, erasures, image.image_size if image is not None else None)


def find_image(station: Station, name_or_path: str) -> OsImage:
    """A path, or a name on the stick first and then on the hub; raises ImageError."""
    return resolve_image(name_or_path, images_dir=station.data_dir / IMAGES_DIR,
                         hub_url=station.config.hub_url or None)


def install(
    station: Station,
    machine: Machine,
    image: OsImage,
    target: Disk,
    sink: EventSink = ignore_events,
    *,
    asset_id: str | None = None,
    cancel: threading.Event | None = None,
) -> InstallResult:
    """Step 5: the OS image onto `target`, verified, grown, made this computer's and bootable.
    Raises ImageError when a hub image cannot be downloaded (nothing was written then)."""
    if station.profile is not None:
        raise ValueError(_("a recorded machine profile is never installed to"))
    if image.path is None:
        image = download_image(image, _download_dir(station, image), progress=sink,
                               cancel=cancel)
    options = InstallOptions(
        hostname=hostname_for(asset_id_for(machine, asset_id)),
        boot_mode=machine.boot.mode if machine.boot is not None else "uefi",
        kernel_options=station.config.install_kernel_options,
        verify=station.config.install_verify,
    )
    return install_image(image, target, options, sink=sink, cancel=cancel)


def _download_dir(station: Station, image: OsImage) -> Path:
    stick = station.data_dir / IMAGES_DIR
    needed = (image.file_size or 0) + (64 << 20)
    try:
        if shutil.disk_usage(station.data_dir).free >= needed:
            return stick
    except OSError:
        pass
    return RAM_DOWNLOADS


def file_report(
    station: Station,
    machine: Machine,
    erasures: Sequence[WipeResult],
    started_at: datetime.datetime,
    *,
    installed: InstallResult | None = None,
) -> tuple[str, Path]:
    """Step 6a: assemble, sign, and write the report to the outbox (fsync) before any network."""
    public_key = station.key.public_key()
    report = build_report(
        machine,
        erasures,
        station_name=station.config.station_name,
        station_key_id=dsse.key_id(public_key),
        started_at=started_at,
        install=installed.to_json() if installed is not None else None,
    )
    # The raw outputs first: once the signed report names their hashes, the files are there.
    evidence_dir = station.data_dir / EVIDENCE_DIR / report["report_id"]
    for item in machine.evidence:
        write_durably(evidence_dir / item.name, item.content)
    envelope = dsse.sign(dsse.canonical_json(report), station.key)
    return report["report_id"], station.outbox.put(report["report_id"], envelope)


def deliver_reports(station: Station, *, deadline_seconds: float) -> FlushOutcome:
    """Step 6b: send what the outbox holds; whatever the hub does not acknowledge stays there."""
    outbox = station.outbox
    if not station.config.hub_url:
        return FlushOutcome(waiting=[path.stem for path in outbox.waiting()],
                            last_error="no hub url configured")
    client = HubClient(station.config.hub_url, station.data_dir, station.key)

    def send(envelope: dict) -> None:
        client.enroll(station.config.station_name, station.config.enrollment_token)
        client.upload(envelope)

    return outbox.flush(send, deadline_seconds=deadline_seconds)
