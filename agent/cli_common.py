"""What every `reeeboot` command starts with: the station, and the machine profile if one is
given (commands that act on disks refuse it)."""

from __future__ import annotations

import argparse
import sys

from agent import flow
from agent.i18n import _
from agent.inventory.source import ProfileSource
from agent.report.station import data_dir_from_env, state_dir_from_env


def open_station_of(args: argparse.Namespace) -> flow.Station:
    """The station of `--data` and `--state` (or their environment variables)."""
    data_dir = args.data or data_dir_from_env()
    return flow.open_station(data_dir, args.state or state_dir_from_env(data_dir))


def station_from_args(args: argparse.Namespace) -> flow.Station:
    """The station of `--data`, reading the machine of `--profile` when one is given; its
    configuration problems are printed on standard error."""
    station = open_station_of(args)
    if args.profile is not None:
        try:
            station.profile = ProfileSource.load(args.profile)
        except (OSError, ValueError) as error:
            raise SystemExit(_("{path}: not a machine profile ({error})").format(
                path=args.profile, error=error)) from error
    for problem in station.problems:
        print(problem.describe(), file=sys.stderr)
    return station


def refuse_profile(station: flow.Station, command: str) -> None:
    """Commands that act on disks never run on a recorded machine: its /dev/sda is not here."""
    if station.profile is not None:
        raise SystemExit(_("reeeboot {command} acts on this computer's disks: it cannot be used "
                           "with --profile (a recorded machine is never erased or written to)")
                         .format(command=command))
