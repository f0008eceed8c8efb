"""A machine recorded through the live source replays identically from its profile."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.inventory.source import LiveSource, NotInProfile, ProfileSource, SourceRunner
from agent.runner import CommandNotFound


def test_a_recorded_machine_answers_the_same_from_its_profile() -> None:
    live = LiveSource(record=True)
    cpuinfo = live.read_text("/proc/cpuinfo")
    missing = live.read_text("/sys/firmware/acpi/tables/NO-SUCH-TABLE")
    interfaces = live.glob("/sys/class/net/*")
    devices = live.udev_devices("net")
    uname = live.run(["uname", "-r"])
    absent_tool = live.run(["reeeboot-no-such-tool"])
    profile = json.loads(json.dumps(live.profile("this test machine", "recorded by a test")))

    replay = ProfileSource(profile)
    assert cpuinfo and replay.read_text("/proc/cpuinfo") == cpuinfo
    assert missing is None and replay.read_text("/sys/firmware/acpi/tables/NO-SUCH-TABLE") is None
    assert interfaces and replay.glob("/sys/class/net/*") == interfaces
    assert replay.udev_devices("net") == devices and any(d.sys_name == "lo" for d in devices)
    again = replay.run(["uname", "-r"])
    assert (again.returncode, again.stdout) == (uname.returncode, uname.stdout) == (0, uname.stdout)
    assert absent_tool.returncode == 127 and replay.run(["reeeboot-no-such-tool"]).returncode == 127


def test_binary_files_survive_the_profile() -> None:
    profile = {"format": "reeeboot.profile/1", "files": {"/edid": {"base64": "AP///////wA="}}}
    assert ProfileSource(profile).read_bytes("/edid") == b"\x00\xff\xff\xff\xff\xff\xff\x00"


def test_a_question_the_profile_cannot_answer_reads_as_absent() -> None:
    replay = ProfileSource({"format": "reeeboot.profile/1"})
    assert replay.read_text("/sys/class/dmi/id/sys_vendor") is None
    assert replay.glob("/sys/class/power_supply/*") == []
    assert replay.udev_devices("drm") == []
    assert replay.run(["dmidecode"]).returncode != 0


def test_anything_but_a_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="profile"):
        ProfileSource({"format": "something else"})


def test_links_are_recorded_where_they_lead(tmp_path: Path) -> None:
    (tmp_path / "nvme0").mkdir()
    (tmp_path / "device").symlink_to(tmp_path / "nvme0")
    live = LiveSource(record=True)
    assert live.resolve(str(tmp_path / "device")) == str(tmp_path / "nvme0")
    assert live.resolve(str(tmp_path / "gone")) is None
    replay = ProfileSource(json.loads(json.dumps(live.profile("links", "a test"))))
    assert replay.resolve(str(tmp_path / "device")) == str(tmp_path / "nvme0")
    assert replay.resolve(str(tmp_path / "gone")) is None
    # Profiles recorded before links were kept: no link is there.
    assert ProfileSource({"format": "reeeboot.profile/1"}).resolve("/sys/x/device") is None


def test_a_source_runner_tells_a_missing_tool_from_an_unrecorded_command() -> None:
    live = LiveSource(record=True)
    assert SourceRunner(live)(["uname", "-r"]).returncode == 0
    with pytest.raises(CommandNotFound):
        SourceRunner(live)(["reeeboot-no-such-tool", "-x"])
    replay = SourceRunner(ProfileSource(live.profile("runner", "a test")))
    assert replay(["uname", "-r"]).returncode == 0
    with pytest.raises(CommandNotFound) as missing:
        replay(["reeeboot-no-such-tool", "-x"])  # recorded as missing: still missing
    assert not isinstance(missing.value, NotInProfile)
    with pytest.raises(NotInProfile):
        replay(["uname", "-a"])  # never asked when recording
