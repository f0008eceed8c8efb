"""The report's software versions: only tools the session ran are asked, each for real."""

from __future__ import annotations

import platform
import shutil

import pytest

from agent import __version__
from agent.report.software import software_versions, tool_versions
from agent.runner import CommandRecord, Recorder


def test_versions_of_the_agent_kernel_and_python() -> None:
    versions = software_versions(Recorder())
    assert versions["reeeboot"] == __version__
    assert versions["kernel"] == platform.release()
    assert versions["python"] == platform.python_version()
    assert versions["tools"] == {}  # nothing ran, nothing asked


def test_a_tool_the_session_ran_is_asked_its_version() -> None:
    if shutil.which("smartctl") is None:
        pytest.fail("smartctl is needed (tests/run installs smartmontools)")
    session = Recorder([CommandRecord(("/usr/sbin/smartctl", "-j", "-i", "/dev/sda"), 0, "{}",
                                      "", 0.1),
                        CommandRecord(("lsblk", "-J"), 0, "{}", "", 0.1)])
    versions = tool_versions(session)
    assert set(versions) == {"smartctl"}
    assert versions["smartctl"][0].isdigit() and "." in versions["smartctl"]
