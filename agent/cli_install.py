"""`reeeboot images` and `reeeboot install`: the install step from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from agent import flow
from agent.cli_common import refuse_profile, station_from_args
from agent.i18n import _
from agent.install.errors import DownloadFailed
from agent.install.image import OsImage, list_hub_images
from agent.install.job import InstallResult
from agent.inventory.model import Disk
from agent.run.engine import Run
from agent.run.state import InstallProposal
from agent.units import human_size


def add_install_commands(sub: Any) -> None:
    images = sub.add_parser("images", help=_("list the OS images on the stick and the hub"))
    images.add_argument("--json", action="store_true", help=_("print JSON"))
    images.set_defaults(handler=_images)

    install = sub.add_parser("install", help=_("install an OS image on a disk"))
    install.add_argument("--image", required=True, metavar="PATH_OR_NAME",
                         help=_("an image file, or a name from the stick's images/ or the hub"))
    install.add_argument("--target", metavar="DEVICE",
                         help=_("the disk (default: the best healthy disk)"))
    install.add_argument("--asset-id", help=_("the workshop's label for this computer"))
    install.add_argument("--yes", action="store_true", help=_("do not ask for confirmation"))
    install.add_argument("--json", action="store_true", help=_("print the result as JSON"))
    install.set_defaults(handler=_install)


def _image_json(image: OsImage) -> dict[str, Any]:
    return {"name": image.name, "version": image.version, "source": image.source,
            "location": image.location, "image_size": image.image_size,
            "file_size": image.file_size, "mapped_size": image.mapped_size,
            "bmap": image.bmap is not None, "sha256": image.manifest.sha256
            if image.manifest else None}


def _images(args: argparse.Namespace) -> int:
    station = station_from_args(args)
    entries: list[dict[str, Any]] = []
    for listed in flow.os_images(station):
        entries.append(_image_json(listed.image) if listed.image is not None
                       else {"file": listed.file, "problem": listed.problem, "source": "stick"})
    hub_problem = None
    if station.config.hub_url:
        try:
            entries += [_image_json(image) for image in list_hub_images(station.config.hub_url)]
        except DownloadFailed as error:
            hub_problem = str(error)
    if args.json:
        json.dump({"images": entries, "hub_problem": hub_problem}, sys.stdout, indent=2)
        print()
        return 0
    if not entries:
        print(_("No OS image on the stick (folder images/ of the REEEBOOT partition)."))
    for entry in entries:
        if "problem" in entry:
            print(_("{file}: cannot be used: {problem}").format(**entry))
            continue
        size = human_size(entry["image_size"]) if entry["image_size"] else "?"
        print(_("{name} {version} ({source}): {size}, {file} to read").format(
            name=entry["name"], version=entry["version"] or "-", source=entry["source"],
            size=size, file=human_size(entry["file_size"])))
    if hub_problem:
        print(hub_problem, file=sys.stderr)
    return 0


def _install(args: argparse.Namespace) -> int:
    station = station_from_args(args)
    refuse_profile(station, "install")
    station.asset_id = args.asset_id or station.asset_id
    run = Run(station)
    run.inspect()
    target = str(Path(args.target).resolve()) if args.target else None
    proposal = run.install_proposal(args.image, target)
    if proposal.image is None:
        run.finish()
        raise SystemExit(proposal.problem or _("No OS image given."))
    if proposal.target is None:
        run.finish()
        if target is not None:
            raise SystemExit(proposal.reason)
        raise SystemExit(_("No disk to install on: {reason}.").format(reason=proposal.reason))
    chosen = _chosen_disk(args, proposal)
    if not args.yes:
        answer = input(_("Install {image} on {disk} ({model}, {size})? Everything on it is lost. "
                         "Type yes: ").format(image=proposal.image.label, disk=chosen.path,
                                              model=chosen.model or "?",
                                              size=human_size(chosen.size_bytes)))
        if answer.strip().lower() not in ("yes", "oui"):
            run.finish()
            return 1
    reason = proposal.reason if chosen is proposal.target else _("chosen by the operator")
    result = run.install(proposal.image, chosen, reason)
    run.finish()
    if result is None:
        raise SystemExit(run.install_error)
    _print_result(args, result)
    return 0 if result.result == "installed" else 1


def _chosen_disk(args: argparse.Namespace, proposal: InstallProposal) -> Disk:
    """The proposed disk; when two are equally good, the one the operator picks."""
    assert proposal.target is not None
    if not proposal.ambiguous:
        return proposal.target
    if args.yes or not sys.stdin.isatty():
        raise SystemExit(_("{reason}: choose one with --target ({disks}).").format(
            reason=proposal.reason, disks=", ".join(disk.path for disk in proposal.candidates)))
    for number, disk in enumerate(proposal.candidates, start=1):
        print(f"  {number}. {disk.path} {disk.model or '?'} {human_size(disk.size_bytes)}")
    picked = input(_("Several disks are equally suitable. Which one (number)? "))
    try:
        return proposal.candidates[int(picked) - 1]
    except (ValueError, IndexError):
        raise SystemExit(_("No disk chosen.")) from None


def _print_result(args: argparse.Namespace, result: InstallResult) -> None:
    record = result.to_json()
    if args.json:
        print(json.dumps(record, sort_keys=True), flush=True)
        return
    if result.result == "installed":
        print(_("{image} installed on {disk}: {size} written, verification {verification}, "
                "hostname {hostname}, {seconds:.0f} s").format(
                    image=result.image.label, disk=result.target.path,
                    size=human_size(result.bytes_written),
                    verification=record["verification"]["result"], hostname=result.hostname,
                    seconds=result.seconds))
    else:
        print(_("Installation on {disk} FAILED: {error}").format(
            disk=result.target.path, error=result.error))
