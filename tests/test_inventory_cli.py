"""`reeeboot inventory`: the JSON contract; a machine recorded, then replayed from its profile."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.cli import main

CONTRACT = {"system", "board", "firmware", "cpu", "memory", "disks", "gpus", "network",
            "battery", "display", "tpm", "identity", "evidence"}


def inventory_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main([*args]) == 0
    document: dict = json.loads(capsys.readouterr().out)
    return document


def test_this_machine_recorded_and_replayed_gives_the_same_inventory(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = tmp_path / "this-machine.json"
    live = inventory_json(capsys, "--data", str(data_dir), "inventory", "--record", str(profile),
                          "--json")
    assert set(live) >= CONTRACT
    assert live["cpu"]["threads"] >= 1 and live["identity"]["id"].startswith("rb1-")
    assert json.loads(profile.read_text())["format"] == "reeeboot.profile/1"

    replayed = inventory_json(capsys, "--data", str(data_dir), "--profile", str(profile),
                              "inventory", "--json")
    assert replayed == live


def test_a_file_that_is_not_a_profile_is_refused_in_plain_words(
    data_dir: Path, tmp_path: Path
) -> None:
    wrong = tmp_path / "notes.json"
    wrong.write_text('{"hello": "world"}')
    (data_dir / "reeeboot.toml").write_text('language = "en"\n')
    with pytest.raises(SystemExit, match="not a machine profile"):
        main(["--data", str(data_dir), "--profile", str(wrong), "inventory"])


def test_a_recorded_machine_is_never_erased(data_dir: Path, tmp_path: Path) -> None:
    from agent import flow
    from agent.inventory.source import ProfileSource
    from tests.helpers import sample_disk

    profile = tmp_path / "m.json"
    profile.write_text('{"format": "reeeboot.profile/1"}')
    station = flow.open_station(data_dir)
    station.profile = ProfileSource.load(profile)
    [result] = flow.erase(station, [sample_disk("/dev/sda", "WD-1")])
    assert result.result == "skipped" and result.bytes_written == 0 and result.error
