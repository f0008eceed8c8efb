"""`reeeboot-hub`: run the regional hub and manage workshops, stations and people."""

from __future__ import annotations

import argparse
import datetime
import getpass
import os
import sys
from pathlib import Path

from agent.i18n import _, ngettext, set_language

DEFAULT_DATABASE = "reeeboot-hub.sqlite3"
# Who made an arming from the command line, as the armings' `created_by` records it.
CLI_AUTHOR = "command line"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reeeboot-hub", description=_("The regional hub."))
    parser.add_argument(
        "--database", "--db", dest="database",
        default=os.environ.get("REEEBOOT_HUB_DATABASE", os.environ.get("REEEBOOT_HUB_DB",
                                                                        DEFAULT_DATABASE)),
        help=_("SQLite file or database URL (postgresql+psycopg://user:password@host/db)"))
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help=_("serve the API and pages"))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=int, default=1, help=_("worker processes"))
    serve.add_argument("--images", type=Path, help=_("folder of OS images offered to stations"))
    serve.add_argument("--forwarded-allow-ips", default="127.0.0.1",
                       help=_("reverse proxies whose X-Forwarded-* headers are trusted"))
    serve.add_argument("--public-url", default=os.environ.get("REEEBOOT_HUB_PUBLIC_URL"),
                       metavar="URL",
                       help=_("the hub's address as people reach it (https://hub.example.org): "
                              "passports' QR codes and certificates' links use it"))
    sub.add_parser("migrate", help=_("create or update the database tables"))

    workshop = sub.add_parser("workshop", help=_("manage workshops"))
    workshop_sub = workshop.add_subparsers(dest="action", required=True)
    workshop_sub.add_parser("add", help=_("create a workshop")).add_argument("name")

    station = sub.add_parser("station", help=_("manage stations"))
    station_sub = station.add_subparsers(dest="action", required=True)
    add = station_sub.add_parser("add", help=_("create a station and print its enrollment token"))
    add.add_argument("name")
    add.add_argument("--workshop", help=_("the workshop the station belongs to"))
    add.add_argument("--boot-service", action="store_true",
                     help=_("a boot service: its key signs the boot credentials with which the "
                            "machines it boots over the network enroll in its workshop"))
    add.add_argument("--approval", action="store_true",
                     help=_("with --boot-service: each machine it boots joins the workshop only "
                            "once a person of the workshop accepted it on the live board"))
    token = station_sub.add_parser("token", help=_("print a new one-time enrollment token"))
    token.add_argument("name")
    for command in (add, token):
        command.add_argument("--valid-days", type=int, default=7, metavar="DAYS",
                             help=_("how long the enrollment token can be used (default: 7)"))
    station_sub.add_parser("revoke", help=_("refuse every key of the station from now on")
                           ).add_argument("name")
    enrollment = station_sub.add_parser("enrollment", help=_(
        "how the machines a boot service boots join its workshop: automatically, or once a "
        "person accepted each one on the live board"))
    enrollment.add_argument("name")
    enrollment.add_argument("mode", choices=("automatic", "approval"))

    user = sub.add_parser("user", help=_("manage people's accounts"))
    user_sub = user.add_subparsers(dest="action", required=True)
    user_add = user_sub.add_parser("add", help=_("create an account"))
    user_add.add_argument("email")
    user_add.add_argument("--role", choices=("admin", "workshop"), required=True)
    user_add.add_argument("--workshop", help=_("the workshop of a workshop account"))
    user_add.add_argument("--password-file", type=Path,
                          help=_("read the password from this file instead of asking"))
    user_sub.add_parser("token", help=_("print a new API token for the account")
                        ).add_argument("email")
    user_sub.add_parser("revoke-tokens", help=_("make every API token of the account stop "
                                               "working")).add_argument("email")
    user_sub.add_parser("remove", help=_("delete the account, its sessions and its API tokens")
                        ).add_argument("email")

    arm = sub.add_parser("arm", help=_(
        "arm a workshop's network-booted machines for unattended erasure, for a while"))
    arm.add_argument("--workshop", required=True, help=_("the machines' workshop"))
    chosen = arm.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--mac", action="append", metavar="MAC",
                        help=_("the MAC address of a machine's network card it boots from "
                               "(again for each machine)"))
    # Numbers read here, not by argparse, so that a wrong one is refused in the hub's words.
    chosen.add_argument("--next", metavar="N",
                        help=_("the next N machines to start from the network"))
    arm.add_argument("--minutes", default="30", metavar="MINUTES",
                     help=_("how long the arming lasts, 1 to 720 minutes (default: 30)"))

    netboot = sub.add_parser("netboot", help=_(
        "run a workshop's network boot service (proxy DHCP, TFTP and HTTP; no database)"))
    netboot.add_argument("--interface", required=True, metavar="IFACE",
                         help=_("the network interface on the workshop's network"))
    netboot.add_argument("--hub", required=True, metavar="URL",
                         help=_("the hub the service and the machines it boots enroll with"))
    netboot.add_argument("--name", required=True, metavar="STATION_NAME",
                         help=_("the service's station name on the hub"))
    netboot.add_argument("--token", default="",
                         help=_("the station's one-time enrollment token (the first time only)"))
    netboot.add_argument("--files", type=Path, default=Path("out/netboot"), metavar="DIR",
                         help=_("the boot files the image build made (default: out/netboot)"))
    netboot.add_argument("--port", type=int, default=8070,
                         help=_("the HTTP port (default: 8070)"))
    netboot.add_argument("--config", type=Path, metavar="FILE",
                         help=_("the reeeboot.toml the machines get (default: the commented "
                                "defaults)"))
    netboot.add_argument("--state", type=Path, default=Path("/var/lib/reeeboot-netboot"),
                         metavar="DIR", help=_("where the service keeps its key "
                                               "(default: /var/lib/reeeboot-netboot)"))
    netboot.add_argument("--kernel-options", default="", metavar="OPTIONS",
                         help=_("added to the machines' kernel command line, e.g. nomodeset "
                                "for machines whose screen goes black"))
    netboot.add_argument("--files-url", default="", metavar="URL",
                         help=_("load the kernel, initrd and root from this web server (a copy "
                                "of the boot files, e.g. served by nginx) instead of from the "
                                "service"))
    return parser


def main(argv: list[str] | None = None) -> int:
    set_language(os.environ.get("REEEBOOT_LANGUAGE", "fr"))
    args = _parser().parse_args(argv)
    if args.command == "netboot":
        return _netboot(args)
    try:
        from hub.database import migrate
        from hub.store import Store, StoreError
    except ImportError as error:
        print(_("The hub needs its extra packages: pip install 'reeeboot[hub]' ({error})").format(
            error=error), file=sys.stderr)
        return 2
    if args.command == "migrate":
        migrate(args.database)
        print(_("The database is up to date."))
        return 0
    if args.command == "serve":
        from hub.server import serve

        migrate(args.database)  # once, before any worker starts
        if not args.public_url:
            print(_("No --public-url: passports and certificates will link to whatever host "
                    "name each request names. Set it for a hub people reach."), file=sys.stderr)
        serve(args.database, host=args.host, port=args.port, workers=args.workers,
              images=args.images, forwarded_allow_ips=args.forwarded_allow_ips,
              public_url=args.public_url)
        return 0
    store = Store(args.database)
    try:
        return _manage(store, args)
    except StoreError as error:
        print(_("Refused: {reason}").format(reason=error), file=sys.stderr)
        return 1
    finally:
        store.close()


def _manage(store: object, args: argparse.Namespace) -> int:
    from hub.accounts import hash_password
    from hub.models import (
        ENROLLMENT_APPROVAL,
        ENROLLMENT_AUTOMATIC,
        STATION_KIND_BOOT_SERVICE,
        STATION_KIND_STICK,
    )
    from hub.passwords import password_problem
    from hub.store import Store

    assert isinstance(store, Store)
    if args.command == "workshop":
        store.add_workshop(args.name)
        print(_("Workshop {name} created.").format(name=args.name))
    elif args.command == "station" and args.action in ("add", "token"):
        if args.valid_days < 1:
            print(_("--valid-days takes a number of days, 1 or more."), file=sys.stderr)
            return 2
        boot_service = args.action == "add" and args.boot_service
        if boot_service and not args.workshop:
            print(_("A boot service needs --workshop: the machines it boots become stations "
                    "of that workshop."), file=sys.stderr)
            return 2
        approval = args.action == "add" and args.approval
        if approval and not boot_service:
            print(_("--approval is for a boot service (--boot-service): the machines it boots "
                    "wait for a person to accept them on the live board."), file=sys.stderr)
            return 2
        valid_for = datetime.timedelta(days=args.valid_days)
        kind = STATION_KIND_BOOT_SERVICE if boot_service else STATION_KIND_STICK
        print(store.add_station(args.name, args.workshop, valid_for=valid_for, kind=kind,
                                enrollment=ENROLLMENT_APPROVAL if approval
                                else ENROLLMENT_AUTOMATIC)
              if args.action == "add" else store.new_station_token(args.name,
                                                                   valid_for=valid_for))
    elif args.command == "station" and args.action == "revoke":
        if not store.revoke_station(args.name):
            print(_("No station named {name}.").format(name=args.name), file=sys.stderr)
            return 1
        print(_("Station {name} revoked: its keys are refused from now on.").format(
            name=args.name))
    elif args.command == "station" and args.action == "enrollment":
        return _set_enrollment(store, args.name, args.mode)
    elif args.command == "arm":
        return _arm(store, args)
    elif args.command == "user" and args.action == "add":
        if args.role == "workshop" and not args.workshop:
            print(_("A workshop account needs --workshop."), file=sys.stderr)
            return 2
        password = _password(args.password_file)
        problem = password_problem(password, args.email)
        if problem is not None:
            print(_(problem), file=sys.stderr)
            return 2
        store.add_person(args.email.strip().lower(), hash_password(password), args.role,
                         args.workshop if args.role == "workshop" else None)
        print(_("Account {email} created.").format(email=args.email))
    elif args.command == "user" and args.action == "token":
        print(store.add_api_token(args.email.strip().lower()))
    elif args.command == "user" and args.action == "revoke-tokens":
        count = store.revoke_api_tokens(args.email.strip().lower())
        print(ngettext("{count} API token revoked.", "{count} API tokens revoked.",
                       count).format(count=count))
    elif args.command == "user" and args.action == "remove":
        if not store.remove_person(args.email.strip().lower()):
            print(_("No account for {email}.").format(email=args.email), file=sys.stderr)
            return 1
        print(_("Account {email} removed.").format(email=args.email))
    return 0


def _set_enrollment(store: object, name: str, mode: str) -> int:
    """`station enrollment NAME automatic|approval` (docs/netboot.md, "Enrollment")."""
    from hub.models import ENROLLMENT_APPROVAL, STATION_KIND_BOOT_SERVICE
    from hub.store import Store

    assert isinstance(store, Store)
    kind = store.station_kind(name)
    if kind is None:
        print(_("No station named {name}.").format(name=name), file=sys.stderr)
        return 1
    if kind != STATION_KIND_BOOT_SERVICE:
        print(_("{name} is not a boot service: only the machines a boot service boots join a "
                "workshop by themselves (station add NAME --workshop W --boot-service).").format(
            name=name), file=sys.stderr)
        return 2
    store.set_enrollment(name, mode)
    if mode == ENROLLMENT_APPROVAL:
        print(_("{name}: each machine it boots joins the workshop once a person of the "
                "workshop accepted it on the live board.").format(name=name))
    else:
        print(_("{name}: the machines it boots join the workshop automatically.").format(
            name=name))
    return 0


def _arm(store: object, args: argparse.Namespace) -> int:
    """Arm machines of a workshop for unattended erasure (docs/netboot.md)."""
    from hub import arming as bounds
    from hub.store import Store

    assert isinstance(store, Store)
    workshop_id = store.workshop_id(args.workshop)
    if workshop_id is None:
        print(_("No workshop named {name}.").format(name=args.workshop), file=sys.stderr)
        return 1
    try:
        expires_at = bounds.expiry(_whole_number(args.minutes, bounds.MINUTES_PROBLEM))
        if args.mac is not None:
            macs = bounds.checked_macs(args.mac)
            arming_id = store.arm_machines(workshop_id, macs, expires_at, CLI_AUTHOR)
        else:
            count = bounds.checked_count(_whole_number(args.next, bounds.COUNT_PROBLEM))
            arming_id = store.arm_next(workshop_id, count, expires_at, CLI_AUTHOR)
    except bounds.ArmingProblem as problem:
        print(problem.text(_), file=sys.stderr)
        return 2
    print(_("Arming {arming}: unattended erasure armed until {expires_at}.").format(
        arming=arming_id, expires_at=expires_at.isoformat(timespec="seconds")))
    return 0


def _whole_number(text: str, problem: str) -> int:
    from hub.arming import ArmingProblem

    if not text.strip().isdigit() or len(text.strip()) > 6:
        raise ArmingProblem(problem)
    return int(text)


def _password(path: Path | None) -> str:
    if path is not None:
        return path.read_text().rstrip("\n")
    first = getpass.getpass(_("Password: "))
    if getpass.getpass(_("Password again: ")) != first:
        raise SystemExit(_("The two passwords differ."))
    return first


def _netboot(args: argparse.Namespace) -> int:
    """The network boot service: no database; the hub only to enroll, once."""
    try:
        from hub.netboot.service import ServiceError, ServiceSettings, run_service
    except ImportError as error:
        print(_("The hub needs its extra packages: pip install 'reeeboot[hub]' ({error})").format(
            error=error), file=sys.stderr)
        return 2
    if not 0 < args.port < 65536:
        print(_("--port takes a port number, 1 to 65535."), file=sys.stderr)
        return 2
    settings = ServiceSettings(interface=args.interface, hub_url=args.hub, name=args.name,
                               token=args.token, files=args.files, port=args.port,
                               config=args.config, state=args.state,
                               kernel_options=args.kernel_options, files_url=args.files_url)
    try:
        run_service(settings)
    except ServiceError as error:
        print(error, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
