"""`reeeboot`: the agent's command line, a thin front end over agent.flow."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agent import __version__, flow
from agent.cli_common import open_station_of, refuse_profile, station_from_args
from agent.cli_install import add_install_commands
from agent.config import ERASE_METHODS, SELF_TEST_KINDS, VERIFY_MODES, ConfigProblem
from agent.events import EventSink, ProgressEvent, ignore_events
from agent.i18n import N_, _, ngettext
from agent.inventory import record_profile
from agent.logfile import start_log
from agent.report import dsse
from agent.report.hubclient import HubError
from agent.report.station import (
    IDENTITY_WORDS,
    REVOKED_MARK,
    data_dir_from_env,
    retired_key_ids,
    state_dir_from_env,
)
from agent.report.verify import load_public_key, verify_file
from agent.run.engine import Run
from agent.units import human_size
from agent.wipe.jobs import WipeOptions
from agent.wipe.labels import level_label, method_label
from agent.words import machine_lines


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    code: int = args.handler(args)
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reeeboot", description=_("Refurbish this computer."))
    parser.add_argument("--version", action="version", version=f"reeeboot {__version__}")
    parser.add_argument(
        "--data", type=Path, default=None,
        help=_("data partition folder (default: $REEEBOOT_DATA or /srv/reeeboot)"),
    )
    parser.add_argument(
        "--state", type=Path, default=None,
        help=_("folder where the station keeps its key, journals and reports "
               "(default: $REEEBOOT_STATE, or the data folder)"),
    )
    parser.add_argument(
        "--profile", type=Path, default=None, metavar="FILE",
        help=_("read the machine from a recorded profile instead of this computer"),
    )
    sub = parser.add_subparsers(dest="command")

    inventory = sub.add_parser("inventory", help=_("describe this machine"))
    inventory.add_argument("--json", action="store_true", help=_("print JSON"))
    inventory.add_argument("--no-smart", action="store_true", help=_("skip SMART queries"))
    inventory.add_argument("--record", type=Path, metavar="FILE",
                           help=_("also write everything read into a machine profile FILE"))
    inventory.set_defaults(handler=_inventory)

    wipe = sub.add_parser("wipe", help=_("erase disks with the strongest method each supports"))
    wipe.add_argument("devices", nargs="+", metavar="DEVICE")
    wipe.add_argument("--method", choices=ERASE_METHODS, default=None,
                      help=_("auto, or force an overwrite method (default: from the config)"))
    wipe.add_argument("--verify", choices=VERIFY_MODES, default=None,
                      help=_("read-back after an overwrite (default: from the config)"))
    wipe.add_argument("--rounds", type=int, default=None, help=_("repeat the overwrite method"))
    wipe.add_argument("--blank", action="store_true", help=_("add a final zero pass"))
    wipe.add_argument("--allow-unfreeze", action="store_true",
                      help=_("suspend and resume the computer to unfreeze frozen drives"))
    wipe.add_argument("--fresh", action="store_true",
                      help=_("start over instead of resuming an interrupted overwrite"))
    wipe.add_argument("--yes", action="store_true", help=_("do not ask for confirmation"))
    wipe.add_argument("--json", action="store_true", help=_("one JSON object per disk"))
    wipe.set_defaults(handler=_wipe)

    health = sub.add_parser(
        "health", help=_("check this machine's health without erasing it"),
        description=_("The health checks of a run, on their own: each disk's SMART data and "
                      "its own self-test, the firmware's locks, the network, then the "
                      "processor under load, the memory test and the battery. Nothing is "
                      "written to any disk: a self-test is the drive's own, and only reads. "
                      "Ctrl+C stops the checks and prints what was found so far. Exit status: "
                      "0 when no check failed, 1 when one did, 130 when stopped. With "
                      "--profile, only the recorded disks' SMART data is judged. Defaults: "
                      "[health] of reeeboot.toml."))
    health.add_argument("--self-test", choices=SELF_TEST_KINDS, default=None,
                        help=_("the drives' own self-test (default: from the config)"))
    health.add_argument("--cpu-seconds", type=_seconds, default=None, metavar="N",
                        help=_("seconds of processor load; 0 leaves it out "
                               "(default: from the config)"))
    health.add_argument("--memory-seconds", type=_seconds, default=None, metavar="N",
                        help=_("seconds of memory test; 0 leaves it out "
                               "(default: from the config)"))
    health.add_argument("--battery-seconds", type=_seconds, default=None, metavar="N",
                        help=_("seconds of the battery's timed discharge; 0 reads its wear only "
                               "(default: from the config)"))
    health.add_argument("--json", action="store_true",
                        help=_("one JSON object per check, then a summary object"))
    health.set_defaults(handler=_health)

    start = sub.add_parser("start", help=_("the workshop flow (screen or unattended)"))
    start.add_argument("--no-poweroff", action="store_true", help=_("stay on at the end"))
    start.add_argument("--asset-id", default=None, metavar="ID",
                       help=_("the workshop's inventory number for this machine"))
    start.set_defaults(handler=_start)

    send = sub.add_parser("send", help=_("send the reports waiting in the outbox"))
    send.add_argument("--wait", type=float, default=0.0, help=_("keep retrying for SECONDS"))
    send.set_defaults(handler=_send)
    add_install_commands(sub)

    status = sub.add_parser("status", help=_("the station: key, hub, reports waiting"))
    status.set_defaults(handler=_status)

    report = sub.add_parser("report", help=_("check or read a signed report"))
    report_sub = report.add_subparsers(dest="report_command", required=True)
    verify = report_sub.add_parser(
        "verify", help=_("check a report's signature and schema (exit 0 only when valid)"))
    verify.add_argument("file", type=Path, metavar="FILE")
    verify.add_argument("--key", default=None, metavar="PEM_OR_BASE64",
                        help=_("the signing station's public key (PEM or base64, or a file); "
                               "default: this station's keys"))
    verify.add_argument("--json", action="store_true", help=_("print JSON"))
    verify.set_defaults(handler=_report_verify)
    show = report_sub.add_parser("show", help=_("print a report's main facts"))
    show.add_argument("file", type=Path, metavar="FILE")
    show.add_argument("--key", default=None, metavar="PEM_OR_BASE64",
                      help=_("the signing station's public key (PEM or base64, or a file); "
                             "default: this station's keys"))
    show.set_defaults(handler=_report_show)

    station = sub.add_parser("station", help=_("this station's signing key"))
    station_sub = station.add_subparsers(dest="station_command", required=True)
    key = station_sub.add_parser("key", help=_("print the public key in PEM, for verifiers"))
    key.set_defaults(handler=_station_key)
    rotate = station_sub.add_parser(
        "rotate-key", help=_("replace the station's key, with the hub's agreement"))
    rotate.set_defaults(handler=_station_rotate)
    return parser


def _inventory(args: argparse.Namespace) -> int:
    station = station_from_args(args)
    if args.record is not None:
        if station.profile is not None:
            raise SystemExit(_("--record reads this computer; it cannot be used with --profile"))
        machine = record_profile(args.record, _("recorded with reeeboot"),
                                 data_dir=station.data_dir)
    else:
        machine = flow.inventory(station, with_smart=not args.no_smart)
    if args.json:
        json.dump(machine.to_json(), sys.stdout, indent=2)
        print()
        return 0
    for line in machine_lines(machine):  # the same sentences as the screen's first step
        print(line)
    memory = machine.memory
    modules = ngettext("{count} memory module", "{count} memory modules",
                       len(memory.modules)).format(count=len(memory.modules))
    if memory.empty_slots is not None:
        modules += ", " + ngettext("{count} empty slot", "{count} empty slots",
                                   memory.empty_slots).format(count=memory.empty_slots)
    print(f"  {modules}")
    if machine.identity is not None:
        print(_("Identity: {id}").format(id=machine.identity.id))
    excluded = {exclusion.path: exclusion.reason for exclusion in machine.exclusions}
    for disk in machine.disks:
        note = _("excluded: {reason}").format(reason=excluded[disk.path]) if (
            disk.path in excluded) else _("will be erased")
        print(f"  {disk.path:14} {disk.bus:7} {human_size(disk.size_bytes):>8}  "
              f"{disk.model or '?'} [{disk.serial or '?'}]  {note}")
    return 0


def _wipe(args: argparse.Namespace) -> int:
    station = station_from_args(args)
    refuse_profile(station, "wipe")
    paths = [str(Path(path).resolve()) for path in args.devices]
    config = station.config
    options = WipeOptions(
        method=args.method or config.erase_method,
        verify=args.verify or config.erase_verify,
        rounds=args.rounds or config.erase_rounds,
        blank=args.blank or config.erase_blank,
        allow_unfreeze=args.allow_unfreeze or bool(config.erase_allow_unfreeze),
        sample_sectors=config.erase_sample_sectors,
        resume=not args.fresh,
    )
    # Loop devices are test disks: listed only when one is named.
    include_loop = any(Path(path).name.startswith("loop") for path in paths)
    run = Run(station, sink=_progress_printer(args), options=options,
              take_inventory=lambda station: flow.inventory(station, with_smart=False,
                                                            include_loop=include_loop))
    run.inspect(devices=paths)
    if run.identity_problem is not None:
        run.finish()
        raise SystemExit(run.identity_problem)
    for path, given in zip(paths, args.devices, strict=True):
        if path not in run.disks:
            raise SystemExit(_("{path}: not a whole disk known to udev").format(path=given))
    skipped = [run.disks[path] for path in paths if not run.disks[path].selectable]
    for plan in skipped:
        assert plan.exclusion is not None
        _print_wipe(args, {"device": plan.path, "result": "skipped",
                           "reason": plan.exclusion.reason, "code": plan.exclusion.code})
    targets = run.to_erase()
    if targets and not args.yes:
        names = ", ".join(plan.path for plan in targets)
        answer = input(_("Erase {disks}? Everything on them is lost. Type yes: ").format(
            disks=names))
        if answer.strip().lower() not in ("yes", "oui"):
            run.finish()
            return 1
    results = run.erase() if targets else []
    run.finish()
    for result in results:
        _print_wipe(args, result.to_json())
    failed = skipped or any(result.result == "failed" for result in results)
    return 1 if failed else 0


def _seconds(text: str) -> int:
    """A number of seconds on the command line: a whole number, 0 or more."""
    try:
        seconds = int(text)
    except ValueError:
        seconds = -1
    if seconds < 0:
        raise argparse.ArgumentTypeError(
            _("not a number of seconds (a whole number, 0 or more): {value}").format(value=text))
    return seconds


def _health(args: argparse.Namespace) -> int:
    from agent.health.alone import check_alone, settings_from

    station = station_from_args(args)
    settings = settings_from(flow.health_settings(station.config), self_test=args.self_test,
                             cpu_seconds=args.cpu_seconds, memory_seconds=args.memory_seconds,
                             battery_seconds=args.battery_seconds)
    return check_alone(station, settings, as_json=args.json)


def _progress_printer(args: argparse.Namespace) -> EventSink:
    """Progress on stderr for people; nothing in --json mode, whose stdout scripts parse."""
    if args.json or not sys.stderr.isatty():
        return ignore_events
    last: dict[str, float] = {}

    def show(event: ProgressEvent) -> None:
        now = time.monotonic()
        if now - last.get(event.job, 0.0) < 2.0 and event.phase not in ("done", "failed"):
            return
        last[event.job] = now
        percent = 100 * event.done_bytes / event.total_bytes if event.total_bytes else 0.0
        print(f"{event.job}: {event.phase} {event.detail} {percent:5.1f} % "
              f"{human_size(int(event.bytes_per_second))}/s", file=sys.stderr, flush=True)

    return show


RESULT_LABELS = {
    "erased": N_("erased"),
    "erased_with_exceptions": N_("erased with exceptions"),
    "failed": N_("FAILED"),
}


def _print_wipe(args: argparse.Namespace, record: dict) -> None:
    if args.json:
        print(json.dumps(record, sort_keys=True), flush=True)
    elif record["result"] == "skipped":
        print(_("{device}: skipped, {reason}").format(**record), flush=True)
    else:
        print(_("{device}: {result}, {method} ({level}), {size} written in {seconds:.1f} s").format(
            device=record["device"], result=_(RESULT_LABELS.get(record["result"],
                                                                record["result"])),
            method=method_label(record["method"]), level=level_label(record["level"]),
            size=human_size(record["bytes_written"]), seconds=record["seconds"]), flush=True)
        if record["bad_ranges"]:
            print(_("  sectors that refused to be written: {ranges}").format(
                ranges=", ".join(f"{first}-{last}" for first, last in record["bad_ranges"])),
                flush=True)
        if record["error"]:
            print(f"  {record['error']}", flush=True)


def _start(args: argparse.Namespace) -> int:
    from agent.unattended import (
        StatusLine,
        first_unattended_start,
        is_unattended,
        kernel_cmdline,
        open_status_stream,
        run_unattended,
        stop_unattended,
        unattended_started_in_this_boot,
        why_unattended_stopped,
    )

    join_problem = _join_network_boot(args)
    station = station_from_args(args)
    station.asset_id = args.asset_id
    if join_problem is not None:
        station.problems.append(join_problem)
    # Booted from the network there is no stick: settings and state are in RAM by design.
    if station.network_boot is None and not os.path.ismount(station.data_dir):
        # On the stick the folder is the REEEBOOT partition's mount point; without it the
        # settings are the defaults, so the volunteer is told.
        station.problems.append(ConfigProblem(str(station.data_dir), None, None, N_(
            "the stick's REEEBOOT data partition is not mounted here: its settings "
            "(reeeboot.toml) cannot be read")))
    state_missing = None
    if station.network_boot is None and station.state_dir != station.data_dir \
            and not os.path.ismount(station.state_dir):
        # Without the state partition nothing the station writes (key, journals, reports)
        # would survive the power-off.
        state_missing = ConfigProblem(str(station.state_dir), None, None, N_(
            "the stick's state partition is not mounted here: the station key, erasure "
            "journals and reports cannot be kept"))
        station.problems.append(state_missing)
    unattended = is_unattended(station.config, kernel_cmdline())
    # A machine booted from the network runs unattended only when the hub armed it from its
    # first screen; once such a run started in this boot, the screen stays attended.
    armed_before = station.network_boot is not None and unattended_started_in_this_boot()
    if (unattended and not first_unattended_start()) or armed_before:
        why = why_unattended_stopped()
        if not why:  # it died without a word: say so on the status line now
            StatusLine(open_status_stream()).emit("failed", error=_(
                "the unattended run stopped unexpectedly in this boot"))
        station.problems.append(ConfigProblem(
            str(station.data_dir), None, None,
            N_("the unattended run stopped in this boot ({why}): the screen took over, and "
               "nothing is erased without a person"),
            (("why", why or _("unexpectedly")),)))
    elif unattended:
        from agent.unattended_screen import unattended_screen

        start_log(station.state_dir)
        stream = open_status_stream()
        # The status lines go to the serial port (or a file); the screen says it in words.
        status = StatusLine(stream, unattended_screen(station, stream,
                                                      switches_off=not args.no_poweroff))
        for problem in station.problems:
            status.emit("config_problem", message=problem.describe())
        if state_missing is not None:
            # Nobody is there to read a notice, and an erasure that cannot be journaled or
            # reported is not started: the screen takes over with the reason.
            return stop_unattended(status, state_missing.describe())
        return run_unattended(station, status, power_off=not args.no_poweroff)
    from agent.tui.start import run_screen

    return run_screen(station, accept_arming=not armed_before)


def _join_network_boot(args: argparse.Namespace) -> ConfigProblem | None:
    """On a machine booted from the network: the workshop's settings from the boot service and
    the station's identity from the hub, before the station is opened; what went wrong, for the
    screen, else None."""
    from agent.netboot import JoinError, join, network_boot

    boot = network_boot()
    if boot is None:
        return None
    data_dir = args.data or data_dir_from_env()
    try:
        join(boot, data_dir, args.state or state_dir_from_env(data_dir))
    except JoinError as error:
        return ConfigProblem(boot.boot_service, None, None, N_(
            "this machine booted from the network could not join the workshop: {why}"),
            (("why", str(error)),))
    return None


def _send(args: argparse.Namespace) -> int:
    station = station_from_args(args)
    outcome = flow.deliver_reports(station, deadline_seconds=args.wait)
    print(_("{sent} sent, {waiting} waiting").format(
        sent=len(outcome.sent), waiting=len(outcome.waiting)))
    if outcome.waiting and outcome.last_error:
        print(outcome.last_error, file=sys.stderr)
    return 0 if not outcome.waiting else 1


def _status(args: argparse.Namespace) -> int:
    station = station_from_args(args)
    config = station.config
    print(_("Station: {name}").format(name=config.station_name or _("(no name)")))
    print(_("Hub: {url}").format(url=config.hub_url or _("(none configured)")))
    if station.identity_loss is not None:  # before the key line, which makes a fresh key
        print(_(IDENTITY_WORDS[station.identity_loss]))
    print(_("Station key: {key_id}").format(key_id=dsse.key_id(station.key.public_key())))
    retired = retired_key_ids(station.state_dir)
    if retired:
        print(_("Retired keys kept for waiting reports: {ids}").format(ids=", ".join(retired)))
    print(_("Reports waiting to be sent: {count}").format(count=station.outbox.count()))
    if (station.state_dir / REVOKED_MARK).exists():
        print(_("The platform revoked this station's key: put a new enrollment token in "
                "reeeboot.toml ([hub] enrollment_token)."))
    return 0


def _public_key_argument(args: argparse.Namespace) -> Ed25519PublicKey | None:
    if args.key is None:
        return None
    try:
        return load_public_key(args.key)
    except (OSError, ValueError) as error:
        raise SystemExit(_("--key: not an Ed25519 public key in PEM or base64 ({error})")
                         .format(error=error)) from error


def _report_verify(args: argparse.Namespace) -> int:
    state_dir = open_station_of(args).state_dir  # its language, its keys
    key = _public_key_argument(args)
    outcome = verify_file(args.file, key=key, data_dir=state_dir)
    if args.json:
        print(json.dumps(outcome.to_json(), sort_keys=True))
    elif outcome.valid:
        print(_("{path}: valid report {report_id}, signed by key {key_id}").format(
            path=args.file, report_id=(outcome.report or {}).get("report_id"),
            key_id=outcome.key_id))
    else:
        print(_("{path}: NOT VALID").format(path=args.file), file=sys.stderr)
        for problem in outcome.problems:
            print(f"  {problem}", file=sys.stderr)
    return 0 if outcome.valid else 1


def _report_show(args: argparse.Namespace) -> int:
    state_dir = open_station_of(args).state_dir  # its language, its keys
    key = _public_key_argument(args)
    outcome = verify_file(args.file, key=key, data_dir=state_dir)
    report = outcome.report
    if report is None or not isinstance(report, dict):
        for problem in outcome.problems:
            print(problem, file=sys.stderr)
        return 1
    machine = report.get("machine", {})
    system = machine.get("system", {})
    grade, result = report.get("grade", {}), report.get("outcome", {})
    print(_("Report {report_id} ({validity})").format(
        report_id=report.get("report_id"),
        validity=_("valid") if outcome.valid else _("NOT VALID")))
    print(_("Station {name}, {started} to {finished}").format(
        name=report.get("station", {}).get("name"), started=report.get("started_at"),
        finished=report.get("finished_at")))
    print(_("Asset {asset_id}: {vendor} {product}, serial number: {serial}").format(
        asset_id=report.get("asset_id"), vendor=system.get("vendor") or "?",
        product=system.get("product") or "?", serial=system.get("serial") or _("unknown")))
    print(_("Grade {grade}, outcome: {outcome}").format(
        grade=grade.get("value"), outcome=result.get("value")))
    if grade.get("rules"):  # grade/2 on: the parts the label comes from
        print("  " + _("{rules}: functional {functional}, performance {performance}, "
                       "battery {battery}").format(
            rules=grade["rules"], functional=grade.get("functional"),
            performance=grade.get("performance"), battery=grade.get("battery")))
    for reason in grade.get("reasons", []):
        print(f"  - {reason.get('text')}")
    for erasure in report.get("erasure", []):
        print(f"  {erasure.get('device')} [{erasure.get('serial') or '?'}]: "
              f"{_(RESULT_LABELS.get(erasure.get('result', ''), erasure.get('result', '')))}, "
              f"{method_label(erasure.get('method', ''))}")
    for problem in outcome.problems:
        print(f"  {problem}", file=sys.stderr)
    return 0 if outcome.valid else 1


def _station_key(args: argparse.Namespace) -> int:
    station = open_station_of(args)
    print(dsse.public_key_pem(station.key.public_key()), end="")
    return 0


def _station_rotate(args: argparse.Namespace) -> int:
    station = station_from_args(args)
    try:
        old_id, new_id = flow.rotate_station_key(station)
    except (HubError, requests.RequestException) as error:
        print(_("The key was not changed: {error}").format(error=error), file=sys.stderr)
        return 1
    print(_("New station key {new}; the old key {old} is retired.").format(new=new_id,
                                                                           old=old_id))
    return 0
