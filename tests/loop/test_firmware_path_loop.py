"""A job's firmware path on real loop devices, the drive's answers replayed.

The loop device stands in for an NVMe namespace; the replayed `nvme format` either erases it (as
the drive would: the test zeroes it when the command "runs") or does nothing while reporting
success, as some firmware has been seen to do. The read-back sample must tell the two apart.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from agent.inventory.model import Disk
from agent.runner import CommandRecord, Runner
from agent.wipe.firmware.capabilities import DiskCapabilities, NvmeController
from agent.wipe.jobs import WipeOptions, wipe_disk
from tests.conftest import LoopFactory
from tests.loop.test_wipe_loop import fill_with_marker, marker_count

FORMAT_SUPPORTED = 0x2  # OACS bit 1


def qemu_like_nvme(disk: Disk, runner: Runner) -> DiskCapabilities:
    """What the probe finds on QEMU's NVMe: Format NVM, no sanitize, no crypto erase."""
    del runner
    controller = NvmeController("QEMU NVMe Ctrl", "RB-NVME", "8.0.0", FORMAT_SUPPORTED, 0, 0, 256)
    return DiskCapabilities(disk.path, "nvme", nvme=controller, nvme_controller="/dev/nvme0",
                            nvme_namespace_id=1, nvme_active_namespaces=(1,))


class FormattingDrive:
    """Answers `nvme format` with success; erases the loop device only if it is honest."""

    def __init__(self, device: str, honest: bool) -> None:
        self.device, self.honest = device, honest
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, argv: Sequence[str], timeout: float = 120.0) -> CommandRecord:
        del timeout
        self.calls.append(tuple(argv))
        assert argv[:2] == ["nvme", "format"], argv
        if self.honest:
            subprocess.run(["blkdiscard", "-z", self.device], check=True)
        return CommandRecord(tuple(argv), 0, "Success formatting namespace:1\n", "", 0.5)


def as_nvme(disk: Disk) -> Disk:
    from dataclasses import replace

    return replace(disk, bus="nvme")


def test_a_format_that_erases_passes_the_sample(loop_disk: LoopFactory) -> None:
    disk = as_nvme(loop_disk(24 << 20))
    fill_with_marker(disk)
    drive = FormattingDrive(disk.path, honest=True)
    result = wipe_disk(disk, WipeOptions(), run=drive, probe=qemu_like_nvme)
    assert result.result == "erased" and result.verified
    assert (result.method, result.level, result.verification) == (
        "nvme-format-user-data", "purge", "sample")
    assert result.bytes_written == 0  # the drive did the work
    [attempt] = result.evidence["attempts"]
    assert attempt["ok"] and attempt["sample"]["ok"]
    assert attempt["sample"]["with_content_before"] >= 1000
    assert [step["method"] for step in result.plan] == ["nvme-format-user-data", "overwrite"]
    assert {item["method"] for item in result.evidence["ruled_out"]} >= {
        "nvme-sanitize-crypto", "nvme-sanitize-block", "nvme-format-crypto"}
    # A loop device's name is not a namespace's: the controller and NSID are named instead.
    assert drive.calls[0][:5] == ("nvme", "format", "/dev/nvme0", "--namespace-id=1", "--ses=1")
    assert marker_count(disk) == 0


def test_a_format_that_only_claims_success_is_caught_and_overwritten(
    loop_disk: LoopFactory,
) -> None:
    disk = as_nvme(loop_disk(24 << 20))
    fill_with_marker(disk)
    result = wipe_disk(disk, WipeOptions(), run=FormattingDrive(disk.path, honest=False),
                       probe=qemu_like_nvme)
    [attempt] = result.evidence["attempts"]
    assert attempt["ok"] and not attempt["sample"]["ok"]  # "success", yet the old data is there
    assert attempt["sample"]["unchanged"]
    assert result.result == "erased" and result.method == "random" and result.level == "clear"
    assert result.bytes_written == disk.size_bytes and result.verified
    assert marker_count(disk) == 0


def test_a_forced_overwrite_never_runs_a_firmware_command(loop_disk: LoopFactory) -> None:
    disk = as_nvme(loop_disk(8 << 20))
    drive = FormattingDrive(disk.path, honest=True)
    result = wipe_disk(disk, WipeOptions(method="zero"), run=drive, probe=qemu_like_nvme)
    assert drive.calls == []
    assert result.method == "zero" and result.result == "erased"
    assert "nvme-format-user-data" in {item["method"] for item in result.evidence["ruled_out"]}
