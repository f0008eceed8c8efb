"""`reeeboot-hub`: run the regional hub and manage its stations."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from agent.i18n import _, set_language


def main(argv: list[str] | None = None) -> int:
    set_language(os.environ.get("REEEBOOT_LANGUAGE", "fr"))
    parser = argparse.ArgumentParser(prog="reeeboot-hub", description=_("The regional hub."))
    parser.add_argument(
        "--db", type=Path, default=Path(os.environ.get("REEEBOOT_HUB_DB", "reeeboot-hub.sqlite3")),
        help=_("SQLite database file"),
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help=_("serve the API and pages"))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    station = sub.add_parser("station", help=_("manage stations"))
    station_sub = station.add_subparsers(dest="station_command", required=True)
    add = station_sub.add_parser("add", help=_("create a station and print its enrollment token"))
    add.add_argument("name")
    args = parser.parse_args(argv)

    try:
        from hub.app import create_app
        from hub.db import Database
    except ImportError as error:
        print(_("The hub needs its extra packages: pip install 'reeeboot[hub]' ({error})").format(
            error=error), file=sys.stderr)
        return 2
    if args.command == "serve":
        import uvicorn

        uvicorn.run(create_app(args.db), host=args.host, port=args.port, log_level="info")
        return 0
    import sqlite3

    try:
        token = Database(args.db).add_station(args.name)
    except sqlite3.IntegrityError:
        print(_("A station named {name} already exists.").format(name=args.name), file=sys.stderr)
        return 1
    print(token)
    return 0
