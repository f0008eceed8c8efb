"""The command line is a front end of the same run engine as the screen: `reeeboot wipe` tells
the hub's live view where it stands, and the commands that act on disks refuse a recorded
machine before touching anything."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from agent.cli import main
from tests.conftest import LoopFactory
from tests.loop.test_wipe_loop import fill_with_marker, marker_count
from tests.receiver import Receiver
from tests.screens import PROFILES

pytestmark = pytest.mark.usefixtures("english")


def test_the_command_line_erasure_sends_live_progress(
        loop_disk: LoopFactory, data_dir: Path, receiver: Receiver,
        capsys: pytest.CaptureFixture[str]) -> None:
    receiver.routes["/api/v1/progress"] = lambda body: (202, {})
    (data_dir / "reeeboot.toml").write_text(
        f'language = "en"\n[station]\nname = "lyon-3"\n[hub]\nurl = "{receiver.url}"\n')
    disk = loop_disk(24 << 20)
    fill_with_marker(disk)
    code = main(["--data", str(data_dir), "wipe", disk.path, "--yes", "--json"])
    assert code == 0 and marker_count(disk) == 0
    [result] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert result["device"] == disk.path and result["result"] == "erased"
    sent = [json.loads(base64.b64decode(body["payload"]))
            for body in receiver.bodies("/api/v1/progress")]
    assert sent, "no live progress reached the hub"
    assert [disk_state["path"] for disk_state in sent[-1]["disks"]] == [disk.path]
    assert sent[-1]["step"] == "done"
    assert {message["step"] for message in sent} >= {"erase", "done"}
    assert sent[-1]["machine_id"].startswith("rb1-")  # the inventory named the machine


@pytest.mark.parametrize("command", [["wipe", "/dev/sda", "--yes"],
                                     ["install", "--image", "anything", "--yes"]])
def test_commands_that_act_on_disks_refuse_a_recorded_machine(
        command: list[str], data_dir: Path) -> None:
    profile = PROFILES / "dell-latitude-e7470.json"
    (data_dir / "reeeboot.toml").write_text('language = "en"\n')
    with pytest.raises(SystemExit) as refused:
        main(["--data", str(data_dir), "--profile", str(profile), *command])
    assert "cannot be used with --profile" in str(refused.value)
