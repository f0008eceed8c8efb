#!/usr/bin/env python3
"""Report validation against the other work the hub does per report, in the same run.

    .venv/bin/python bench/report_validation.py [--repeat 2000]

Reports are built from every recorded machine profile (tests/fixtures/profiles), with
benchmarks and an install section. For each, the best of `--repeat` timings of:
- `json.loads` of the signed payload and Ed25519 verification of its envelope (the references:
  the hub does both for every report);
- `validate_report` (the compiled JSON Schema).
Target (issue: 300 reports/s on 2 cores): validation well under 1 ms per report.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from agent import flow  # noqa: E402
from agent.inventory.source import ProfileSource  # noqa: E402
from agent.report import dsse  # noqa: E402
from agent.report.model import build_report, validate_report  # noqa: E402
from agent.wipe.jobs import WipeResult  # noqa: E402

START = datetime.datetime(2026, 11, 28, 9, 0, tzinfo=datetime.UTC)


def best(repeat: int, action: Callable[[], object]) -> float:
    fastest = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        fastest = min(fastest, time.perf_counter() - started)
    return fastest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2000)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    key = Ed25519PrivateKey.generate()
    public = key.public_key()
    validate_report({})  # compile once, outside the timings
    print(f"{'profile':<28} {'bytes':>7} {'json.loads':>11} {'Ed25519':>9} {'validate':>9} "
          f"{'vs json':>8} {'vs Ed25519':>10}")
    worst = 0.0
    for profile in sorted((ROOT / "tests/fixtures/profiles").glob("*.json")):
        if profile.name.endswith(".expected.json"):
            continue
        station = flow.open_station(Path(tempfile.mkdtemp()))
        station.profile = ProfileSource.load(profile)
        machine = flow.inventory(station)
        erasures = [WipeResult(d.path, d.serial, d.model, d.bus, d.size_bytes, result="erased")
                    for d in machine.targets()]
        report = build_report(machine, erasures, station_name="bench",
                              station_key_id=dsse.key_id(public), started_at=START)
        payload = dsse.canonical_json(report)
        envelope = dsse.sign(payload, key)
        assert validate_report(report) == []
        parse = best(args.repeat, lambda payload=payload: json.loads(payload))
        verify = best(args.repeat, lambda envelope=envelope: dsse.verify(envelope, public))
        validate = best(args.repeat, lambda report=report: validate_report(report))
        worst = max(worst, validate)
        print(f"{profile.stem:<28} {len(payload):>7} {parse * 1e6:>9.0f}us {verify * 1e6:>7.0f}us "
              f"{validate * 1e6:>7.0f}us {validate / parse:>7.2f}x {validate / verify:>9.2f}x")
    verdict = "ok" if worst < 1e-3 else "too slow"
    print(f"slowest validation {worst * 1e6:.0f} us per report: {verdict}")
    return 0 if worst < 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main())
