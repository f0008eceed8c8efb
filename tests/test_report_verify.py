"""`reeeboot report verify/show`, `reeeboot station key`, and the standard-tools recipe of
docs/report.md run for real with openssl."""

from __future__ import annotations

import base64
import copy
import datetime
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent import flow
from agent.cli import main
from agent.report import dsse
from agent.wipe.jobs import WipeResult
from tests.helpers import sample_disk, sample_machine

ROOT = Path(__file__).resolve().parents[1]
START = datetime.datetime(2026, 11, 28, 9, 0, tzinfo=datetime.UTC)


def signed_report(data_dir: Path) -> tuple[flow.Station, Path]:
    (data_dir / "reeeboot.toml").write_text('language = "en"\n[station]\nname = "lyon-3"\n')
    station = flow.open_station(data_dir)
    disk = sample_disk()
    result = WipeResult(disk.path, disk.serial, disk.model, disk.bus, disk.size_bytes,
                        result="erased", verified=True)
    _report_id, path = flow.file_report(station, sample_machine(disks=(disk,)), [result], START)
    return station, path


def verify(data_dir: Path, path: Path, *extra: str) -> int:
    return main(["--data", str(data_dir), "report", "verify", str(path), *extra])


def test_a_report_the_station_signed_is_valid(
    data_dir: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    station, path = signed_report(data_dir)
    assert verify(data_dir, path) == 0
    assert "valid report" in capsys.readouterr().out
    assert verify(data_dir, path, "--json") == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["valid"] is True and answer["key_id"] == dsse.key_id(station.key.public_key())


def test_with_the_public_key_given_as_pem_file_or_base64(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    _station, path = signed_report(data_dir)
    assert main(["--data", str(data_dir), "station", "key"]) == 0
    pem = capsys.readouterr().out
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    (tmp_path / "station.pem").write_text(pem)
    elsewhere = tmp_path / "verifier"  # a third party: none of the station's files
    elsewhere.mkdir()
    assert verify(elsewhere, path) == 1
    assert "--key" in capsys.readouterr().err
    assert verify(elsewhere, path, "--key", str(tmp_path / "station.pem")) == 0
    raw = base64.b64encode(dsse.public_key_bytes(
        dsse.public_key_from_text(pem))).decode()
    assert verify(elsewhere, path, "--key", raw) == 0


@pytest.mark.parametrize("damage", ["payload", "signature", "other_key", "not_json",
                                    "payload_type"])
def test_damaged_reports_are_refused(
    data_dir: Path, tmp_path: Path, damage: str, capsys: pytest.CaptureFixture[str],
) -> None:
    _station, path = signed_report(data_dir)
    envelope = json.loads(path.read_text())
    forged = copy.deepcopy(envelope)
    if damage == "payload":
        report = json.loads(base64.b64decode(envelope["payload"]))
        report["erasure"][0]["result"] = "failed"
        forged["payload"] = base64.b64encode(dsse.canonical_json(report)).decode()
    elif damage == "signature":
        signature = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
        signature[0] ^= 1
        forged["signatures"][0]["sig"] = base64.b64encode(bytes(signature)).decode()
    elif damage == "other_key":
        forged = dsse.sign(base64.b64decode(envelope["payload"]), Ed25519PrivateKey.generate())
    elif damage == "payload_type":
        forged["payloadType"] = "text/plain"
    target = tmp_path / "forged.json"
    target.write_text("{not json" if damage == "not_json" else json.dumps(forged))
    assert verify(data_dir, target) == 1
    assert "NOT VALID" in capsys.readouterr().err


def test_a_signed_report_that_breaks_the_schema_is_refused(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    station, path = signed_report(data_dir)
    report = json.loads(dsse.verify(json.loads(path.read_text()), station.key.public_key()))
    report["grade"]["value"] = "E"
    target = tmp_path / "bad-grade.json"
    target.write_text(json.dumps(dsse.sign(dsse.canonical_json(report), station.key)))
    assert verify(data_dir, target) == 1
    assert "grade" in capsys.readouterr().err
    # Signed by the station, valid schema, but naming another key than the signer's.
    report["grade"]["value"] = "A"
    report["station"]["key_id"] = "0" * 64
    target.write_text(json.dumps(dsse.sign(dsse.canonical_json(report), station.key)))
    assert verify(data_dir, target) == 1
    assert "names key" in capsys.readouterr().err


def test_verify_messages_are_translated(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    signed_report(data_dir)
    (data_dir / "reeeboot.toml").write_text('language = "fr"\n')
    target = tmp_path / "nothing.json"
    assert verify(data_dir, target) == 1
    assert "illisible" in capsys.readouterr().err


def test_show_prints_the_main_facts(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _station, path = signed_report(data_dir)
    assert main(["--data", str(data_dir), "report", "show", str(path)]) == 0
    out = capsys.readouterr().out
    # No health check ran for this report: nothing counts as tested (F0), which allows C.
    assert "Grade C, outcome: reuse" in out and "OptiPlex 7010" in out and "WD-123" in out
    assert "grade/2: functional F0, performance P2, battery none" in out
    assert "not tested: the processor, the memory, /dev/sda" in out


def recipe() -> str:
    """The shell commands docs/report.md gives third parties, taken from the document."""
    text = (ROOT / "docs" / "report.md").read_text()
    found = re.search(r"<!-- verify-recipe -->\s*```sh\n(.*?)```", text, re.S)
    assert found, "docs/report.md lost its verification recipe"
    return found.group(1)


def run_recipe(directory: Path) -> subprocess.CompletedProcess[str]:
    for tool in ("openssl", "jq", "base64"):
        if shutil.which(tool) is None:
            pytest.fail(f"the verification recipe needs {tool} (tests/run installs it)")
    return subprocess.run(["bash", "-euo", "pipefail", "-c", recipe()], cwd=directory,
                          capture_output=True, text=True, check=False)


def test_the_documented_openssl_recipe_verifies_a_real_report(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    _station, path = signed_report(data_dir)
    assert main(["--data", str(data_dir), "station", "key"]) == 0
    third_party = tmp_path / "third-party"
    third_party.mkdir()
    (third_party / "station.pem").write_text(capsys.readouterr().out)
    shutil.copy(path, third_party / "report.json")
    good = run_recipe(third_party)
    assert good.returncode == 0, good.stderr
    assert "Signature Verified Successfully" in good.stdout
    # The same recipe refuses a report whose payload was changed after signing.
    envelope = json.loads(path.read_text())
    report = json.loads(base64.b64decode(envelope["payload"]))
    report["asset_id"] = "STOLEN-1"
    envelope["payload"] = base64.b64encode(dsse.canonical_json(report)).decode()
    (third_party / "report.json").write_text(json.dumps(envelope))
    bad = run_recipe(third_party)
    assert bad.returncode != 0
    assert "Signature Verified Successfully" not in bad.stdout
