"""The hub runs without the agent's own packages (its screen, udev, SMART, the hub client):
`pip install 'reeeboot[hub]'` is a whole hub.

A separate Python runs a hub with those packages made impossible to import, takes a report
signed by the agent's code, and serves its pages and certificate; it then lists which of the
agent's modules it loaded: only the ones the two sides share.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from agent.report import dsse
from tests.hub.helpers import Station

# The agent extra's packages (pyproject.toml), by import name.
AGENT_ONLY = ("textual", "pyudev", "pySMART", "blkinfo", "zstandard", "requests", "rich")
# What the hub may take from the agent's package: the envelopes, the report's schema check,
# the erasure methods in words, the messages' catalogs, the boot credentials (a network-booted
# machine enrolls with one).
SHARED = {"agent", "agent.i18n", "agent.report", "agent.report.bootcredential",
          "agent.report.dsse", "agent.report.labels", "agent.report.validation"}

HUB_ALONE = """
import base64, importlib.abc, json, sys

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is the agent's, not the hub's")
        return None

BLOCKED = set(sys.argv[1].split(","))
sys.meta_path.insert(0, Refuse())

from fastapi.testclient import TestClient
import hub.cli, hub.server
from hub.app import create_app
from hub.store import Store

given = json.load(open(sys.argv[2]))
store = Store(given["database"])
store.add_workshop("Lyon")
token = store.add_station("lyon-3", "Lyon")
store.add_person("admin@example.org", "unused", "admin", None)
headers = {"authorization": "Bearer " + store.add_api_token("admin@example.org")}
client = TestClient(create_app(store))
enrolled = client.post("/api/v1/stations/enroll",
                       json={"token": token, "public_key": given["public_key"]})
sent = client.post("/api/v1/reports", json=given["envelope"])
report_id = sent.json().get("report_id")
answers = {
    "enroll": enrolled.status_code, "report": sent.status_code,
    "machines": len(client.get("/api/v1/machines", headers=headers).json()),
    "csv": client.get("/api/v1/export/reports.csv", headers=headers).status_code,
    "login_page": client.get("/login").status_code,
    "modules": sorted(name for name in sys.modules
                      if name == "agent" or name.startswith("agent.")),
}
print(json.dumps(answers))
"""


def test_the_hub_needs_none_of_the_agents_packages(tmp_path: Path) -> None:
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    station = Station("lyon-3", Ed25519PrivateKey.generate())
    given = tmp_path / "given.json"
    given.write_text(json.dumps({
        "database": f"sqlite:///{tmp_path / 'hub.sqlite3'}",
        "public_key": base64.b64encode(
            dsse.public_key_bytes(station.key.public_key())).decode(),
        "envelope": station.sign(station.report("ALONE1")),
    }))
    script = tmp_path / "hub_alone.py"
    script.write_text(HUB_ALONE)
    done = subprocess.run(
        [sys.executable, str(script), ",".join(AGENT_ONLY), str(given)],
        capture_output=True, text=True, timeout=120, check=False,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert done.returncode == 0, done.stderr[-3000:]
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    assert answers["enroll"] == 201
    assert answers["report"] == 201
    assert answers["machines"] == 1
    assert answers["csv"] == 200
    assert answers["login_page"] == 200
    assert set(answers["modules"]) <= SHARED, set(answers["modules"]) - SHARED
