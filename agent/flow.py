"""The steps of one machine's run, as plain functions: the CLI, the TUI and unattended mode are
thin front ends over them (design.md, "Data flow for one machine")."""

from __future__ import annotations

import datetime
import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.config import CONFIG_NAME, ConfigProblem, StationConfig, load_config
from agent.events import EventSink, ignore_events
from agent.fsutil import remove_unfinished_writes, write_durably
from agent.i18n import _, set_language
from agent.inventory import take_inventory
from agent.inventory.model import Disk, EvidenceFile, Machine
from agent.inventory.source import LiveSource, MachineSource, ProfileSource
from agent.netboot import NetworkBoot, network_boot
from agent.report.asset import asset_id_for, hostname_for
from agent.report.outbox import FlushOutcome, Outbox
from agent.report.station import (
    IDENTITY_WORDS,
    forget_retired_keys,
    identity_loss,
    identity_restored,
    load_or_create_key,
    pending_key,
    promote_pending_key,
    remember_revoked,
    set_aside_revoked_key,
)
from agent.wipe.journal import Journals, WipeJournal

# The screen's first appearance waits for every module imported here: the steps that come
# later (erasure, benchmarks, install, hub) import theirs when they run.
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from agent.health.checkup import HealthSettings
    from agent.install.image import ListedImage, OsImage
    from agent.install.job import InstallResult
    from agent.install.target import TargetChoice
    from agent.report.sender import OutboxSender, SenderState
    from agent.wipe.jobs import WipeOptions, WipeResult

EVIDENCE_DIR = "evidence"  # <data>/evidence/<report id>/<file>, named and hashed in the report
IMAGES_DIR = "images"  # the stick's OS images, with their block maps and manifests
DOWNLOADS_DIR = "downloads"  # <state>/downloads/: hub images, when the state partition has room
RAM_DOWNLOADS = Path("/var/tmp/reeeboot-images")
INVALID_DIR = "invalid"  # reports that failed their own schema (a bug): kept, never signed
REHEARSALS_DIR = "rehearsals"  # reports of recorded machines (--profile): signed, never sent


@dataclass
class Station:
    """`data_dir`: the stick's FAT partition, which any computer can edit (reeeboot.toml, OS
    images); the agent only reads it. `state_dir`: everything the agent writes (key, journals,
    outbox, evidence, logs, downloads), on the stick's journaling state partition, so that a
    power cut at any instant leaves each file whole (docs/state.md)."""

    data_dir: Path
    config: StationConfig
    problems: list[ConfigProblem] = field(default_factory=list)
    state_dir: Path = Path()  # open_station sets it; the data folder on a developer's machine
    identity_loss: str | None = None  # station.KEY_DAMAGED or KEY_MISSING until re-enrolled
    profile: ProfileSource | None = None  # a recorded machine to read instead of this one
    network_boot: NetworkBoot | None = None  # booted from the workshop's network: no stick
    asset_id: str | None = None  # typed by the volunteer (CLI or screen); else derived
    _key: Ed25519PrivateKey | None = None

    @property
    def key(self) -> Ed25519PrivateKey:
        if self._key is None:
            self._key = load_or_create_key(self.state_dir)
        return self._key

    def forget_key(self) -> None:
        """After a key rotation: the next signature uses the new station.key."""
        self._key = None

    @property
    def outbox(self) -> Outbox:
        return Outbox(self.state_dir)


@dataclass
class StepClock:
    """How long each step took (the report's `timings`), and who wants to know a step began.

    `on_step` is called with the step's name as it starts (the live progress sent to the hub
    listens there); it must not raise, and must not block.
    """

    on_step: Callable[[str], None] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    started_at: datetime.datetime = field(
        default_factory=lambda: datetime.datetime.now(datetime.UTC))

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        if self.on_step is not None:
            self.on_step(name)
        started = time.monotonic()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.monotonic() - started


def open_station(data_dir: Path, state_dir: Path | None = None) -> Station:
    """Step 1: configuration from the data partition; the language is set from it at once.
    The state folder is the data folder unless another is given."""
    state_dir = state_dir or data_dir
    config, problems = load_config(data_dir / CONFIG_NAME)
    booted_from_network = network_boot()
    if booted_from_network is not None:
        config = booted_from_network.applied_to(config)
    set_language(config.language)
    # Before anything reads the key: half-made files of a cut go, a damaged key file is set
    # aside, a lost key noted.
    remove_unfinished_writes(state_dir)
    loss = identity_loss(state_dir)
    # After a revocation, a new enrollment token means a fresh key: set the revoked one aside
    # before anything is signed (the fresh key is enrolled on first contact).
    set_aside_revoked_key(state_dir, config.enrollment_token)
    return Station(data_dir, config, problems, state_dir=state_dir, identity_loss=loss,
                   network_boot=booted_from_network)


def restore_identity(station: Station) -> str | None:
    """Why the station cannot erase yet (in the volunteer's words), or None when its identity
    works. After a lost key, a fresh key must be enrolled on the hub with a new enrollment token
    first: reports signed by a key the hub does not know would be refused, and the machines
    erased meanwhile would have no accepted record. Without a hub, the fresh key is the
    identity."""
    if station.identity_loss is None or station.profile is not None:
        return None  # a recorded machine is never erased: its rehearsal report is never sent
    # Only now: every run asks, and the first screen waits for what the run imports.
    from agent.report.hubclient import HubClient, HubError

    lost = _(IDENTITY_WORDS[station.identity_loss])
    if station.config.hub_url:
        client = HubClient(station.config.hub_url, station.state_dir, station.key)
        try:
            client.enroll(station.config.station_name, station.config.enrollment_token)
        except HubError as error:
            return " ".join((lost, _(
                "Nothing will be erased until the station is enrolled again: ask the "
                "platform's administrator for a new enrollment token for the station "
                "\"{name}\", put it in reeeboot.toml ([hub] enrollment_token) from any "
                "computer, and start again.").format(name=station.config.station_name),
                _("The platform answered: {answer}").format(answer=str(error))))
        except OSError as error:  # requests' errors are OSErrors: no network, no hub
            from agent.network_errors import describe_failure

            return " ".join((lost, _(
                "Nothing will be erased until the station is enrolled again, and the "
                "platform cannot be reached to do it: {why}").format(
                why=describe_failure(error))))
    identity_restored(station.state_dir)
    station.identity_loss = None
    return None


def inventory(station: Station, *, with_smart: bool = True, include_loop: bool = False) -> Machine:
    """Step 2: what the machine is, and which disks must not be touched."""
    return take_inventory(station.data_dir, source=station.profile, with_smart=with_smart,
                          include_loop=include_loop,
                          keep_windows_key=station.config.keep_windows_key)


def machine_source(station: Station) -> MachineSource | None:
    """This computer, to run commands on; None for a recorded machine, whose commands only
    replay what was recorded (a self-test or a load cannot be replayed)."""
    return LiveSource() if station.profile is None else None


def health_settings(config: StationConfig) -> HealthSettings:
    """`[health]` of reeeboot.toml: how much of the health pass runs."""
    from agent.health.checkup import HealthSettings

    return HealthSettings(self_test=config.health_self_test, cpu_seconds=config.health_cpu_seconds,
                          memory_seconds=config.health_memory_seconds,
                          battery_seconds=config.health_battery_seconds)


def interrupted_erasures(station: Station) -> list[WipeJournal]:
    """Overwrites a power cut or a crash stopped; the next erase of those disks resumes them."""
    return Journals(station.state_dir).unfinished()


def erase_options(config: StationConfig) -> WipeOptions:
    from agent.wipe.jobs import WipeOptions

    return WipeOptions(
        method=config.erase_method, verify=config.erase_verify, rounds=config.erase_rounds,
        blank=config.erase_blank, allow_unfreeze=bool(config.erase_allow_unfreeze),
        sample_sectors=config.erase_sample_sectors,
    )


def erase(
    station: Station,
    targets: Sequence[Disk],
    sink: EventSink = ignore_events,
    *,
    options: WipeOptions | Mapping[str, WipeOptions] | None = None,
    cancel: threading.Event | None = None,
) -> list[WipeResult]:
    """Step 4: all target disks in parallel, journaled on the data partition; `options` for
    all of them, or per disk path."""
    from agent.inventory.hotplug import watch_for_disks
    from agent.wipe.jobs import WipeResult, wipe_disks

    if station.profile is not None:
        # The disks of a recorded machine are not this computer's: /dev/sda here may be anyone's.
        return [WipeResult(disk.path, disk.serial, disk.model, disk.bus, disk.size_bytes,
                           result="skipped", error=_("a recorded machine profile is never erased"))
                for disk in targets]
    # Without the state partition there is nowhere to keep a journal; the erasure still runs.
    return wipe_disks(targets, options or erase_options(station.config),
                      data_dir=station.state_dir if station.state_dir.is_dir() else None,
                      cancel=cancel, sink=sink, watch=watch_for_disks)


def os_images(station: Station) -> list[ListedImage]:
    """Step 5, first: the OS images on the stick (and why any file there cannot be used)."""
    from agent.install.image import list_images

    return list_images(station.data_dir / IMAGES_DIR)


def install_target(
    machine: Machine, erasures: Sequence[WipeResult] = (), image: OsImage | None = None,
    *, failing: Mapping[str, str] | None = None,
) -> TargetChoice:
    """Step 5: the disk the OS goes to by default (the screen and the CLI ask when ambiguous).
    `failing`: disks a health check found failing, with why: they never get it."""
    from agent.install.target import choose_target

    return choose_target(machine, erasures, image.image_size if image is not None else None,
                         failing=failing)


def find_image(station: Station, name_or_path: str) -> OsImage:
    """A path, or a name on the stick first and then on the hub; raises ImageError."""
    from agent.install.image import resolve_image

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
    target_reason: str | None = None,
    cancel: threading.Event | None = None,
) -> InstallResult:
    """Step 5: the OS image onto `target`, verified, grown, made this computer's and bootable.
    Raises ImageError when a hub image cannot be downloaded (nothing was written then)."""
    from agent.install.image import download_image
    from agent.install.job import InstallOptions, install_image

    if station.profile is not None:
        raise ValueError(_("a recorded machine profile is never installed to"))
    if image.path is None:
        image = download_image(image, _download_dir(station, image), progress=sink,
                               cancel=cancel)
    options = InstallOptions(
        hostname=hostname_for(asset_id_for(machine, asset_id)),
        target_reason=target_reason,
        boot_mode=machine.boot.mode if machine.boot is not None else "uefi",
        kernel_options=station.config.install_kernel_options,
        verify=station.config.install_verify,
    )
    return install_image(image, target, options, sink=sink, cancel=cancel)


def _download_dir(station: Station, image: OsImage) -> Path:
    """Onto the stick's state partition when it has room (a cut download resumes there, and
    the next machine reuses it), else into the live system's RAM."""
    needed = (image.file_size or 0) + (64 << 20)
    try:
        if shutil.disk_usage(station.state_dir).free >= needed:
            return station.state_dir / DOWNLOADS_DIR
    except OSError:
        pass
    return RAM_DOWNLOADS


def benchmark(
    station: Station, machine: Machine, sink: EventSink = ignore_events,
) -> dict[str, Any] | None:
    """Step 4b, after the erasure: processor, memory, and a read of each disk that is not
    excluded (read-only, bounded). None for a recorded machine: its disks are not here."""
    from agent.bench import run_benchmarks

    if station.profile is not None:
        return None
    return run_benchmarks(machine.targets(), sink=sink)


def file_report(
    station: Station,
    machine: Machine,
    erasures: Sequence[WipeResult],
    started_at: datetime.datetime,
    *,
    benchmarks: dict[str, Any] | None = None,
    health: dict[str, Any] | None = None,
    health_evidence: Sequence[EvidenceFile] = (),
    install: dict[str, Any] | None = None,
    timings: dict[str, float] | None = None,
    asset_id: str | None = None,
    operator: str | None = None,
) -> tuple[str, Path]:
    """Step 6a: assemble, check against the schema, sign, and write the report to the outbox
    (fsync) before any network. A report that does not match its schema raises InvalidReport:
    that is a bug, and a hub would refuse it anyway.

    `asset_id` and `operator` are what this run was given (typed, scanned, or from the command
    line); without them, the station's (its --asset-id, its configured operator).

    A recorded machine's report is a rehearsal: signed like any other, but kept in
    <data>/rehearsals/ and never put in the outbox, so no hub ever files a machine that was
    not here."""
    from agent.report import dsse
    from agent.report.model import InvalidReport, build_report, check_report

    public_key = station.key.public_key()
    report = build_report(
        machine,
        erasures,
        station_name=station.config.station_name,
        station_key_id=dsse.key_id(public_key),
        started_at=started_at,
        operator=operator if operator is not None else (station.config.operator or None),
        asset_id=asset_id if asset_id is not None else station.asset_id,
        benchmarks=benchmarks,
        health=health,
        install=install,
        timings=timings,
    )
    try:
        check_report(report)
    except InvalidReport as error:
        # Never signed, but not lost either: what the machine went through stays on the stick,
        # with the problems, for a person to look at.
        write_durably(station.state_dir / INVALID_DIR / f"{report['report_id']}.json",
                      json.dumps({"problems": error.problems, "report": report},
                                 indent=1).encode())
        raise
    # The raw outputs first: once the signed report names their hashes, the files are there.
    evidence_dir = station.state_dir / EVIDENCE_DIR / report["report_id"]
    for item in (*machine.evidence, *health_evidence):
        write_durably(evidence_dir / item.name, item.content)
    envelope = dsse.sign(dsse.canonical_json(report), station.key)
    if station.profile is not None:
        path = station.state_dir / REHEARSALS_DIR / f"{report['report_id']}.json"
        write_durably(path, json.dumps(envelope).encode())
        return report["report_id"], path
    return report["report_id"], station.outbox.put(report["report_id"], envelope)


def deliver_reports(station: Station, *, deadline_seconds: float) -> FlushOutcome:
    """Step 6b: send what the outbox holds; whatever the hub does not acknowledge stays there."""
    from agent.report import dsse
    from agent.report.hubclient import HubClient, StationRevoked

    outbox = station.outbox
    if not station.config.hub_url:
        return FlushOutcome(waiting=[path.stem for path in outbox.waiting()],
                            last_error=_("no hub address in reeeboot.toml ([hub] url)"))
    token = station.config.enrollment_token
    client = HubClient(station.config.hub_url, station.state_dir, station.key)
    current = dsse.key_id(station.key.public_key())
    revoked: list[StationRevoked] = []

    def send(envelope: dict) -> dict[str, Any]:
        client.enroll(station.config.station_name, token)
        try:
            return client.upload(envelope)
        except StationRevoked as refusal:
            if current in dsse.signer_key_ids(envelope):
                remember_revoked(station.state_dir, token)
                revoked.append(refusal)
            raise

    outcome = outbox.flush(send, deadline_seconds=deadline_seconds)
    if revoked and outcome.waiting:
        outcome.revoked, outcome.last_error = True, str(revoked[-1])
    forget_retired_keys(station.state_dir, outbox.signer_key_ids())
    return outcome


def start_sender(
    station: Station, on_state: Callable[[SenderState], None] | None = None,
) -> OutboxSender:
    """The background sender of the outbox (screen and unattended mode); `.stop()` it."""
    from agent.report.sender import OutboxSender

    return OutboxSender(lambda: deliver_reports(station, deadline_seconds=0),
                        on_state=on_state)


def rotate_station_key(station: Station) -> tuple[str, str]:
    """Replace the station's key, with the hub's agreement first: (old key id, new key id).

    The new key is written (fsync) before the hub hears of it, and becomes station.key only
    after the hub's 200; the old one stays as station.key.retired-<id> while the outbox holds
    reports it signed.
    """
    from agent.report import dsse
    from agent.report.hubclient import HubClient, HubError

    if not station.config.hub_url:
        raise HubError(_("no hub address in reeeboot.toml ([hub] url)"))
    old = station.key
    client = HubClient(station.config.hub_url, station.state_dir, old)
    client.enroll(station.config.station_name, station.config.enrollment_token)
    new = pending_key(station.state_dir)
    new_id = client.rotate(station.config.station_name, new)
    promote_pending_key(station.state_dir, old)
    client.remember_enrolled(new)  # the hub knows this key now: no enrollment with it
    station.forget_key()
    forget_retired_keys(station.state_dir, station.outbox.signer_key_ids())
    return dsse.key_id(old.public_key()), new_id
