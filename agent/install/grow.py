"""Growing the installed system to the whole disk: the GPT's backup header moves to the disk's
end, the root partition (when it is the last one) takes the free space, and its file system is
checked and grown."""

from __future__ import annotations

from dataclasses import dataclass

from agent.i18n import _
from agent.install.layout import DiskLayout, read_layout
from agent.install.steps import InstallStepFailed, run_checked
from agent.runner import Feeder, Runner

GROWABLE_FILE_SYSTEMS = ("ext4", "ext3", "ext2")


@dataclass(frozen=True)
class GrowOutcome:
    grown: bool
    partition_bytes: int
    file_system: str | None
    file_system_bytes: int | None
    note: str | None = None  # why it was not grown

    def to_json(self) -> dict[str, object]:
        return {"grown": self.grown, "partition_bytes": self.partition_bytes,
                "file_system": self.file_system, "file_system_bytes": self.file_system_bytes,
                "note": self.note}


def grow_root(layout: DiskLayout, run: Runner, feed: Feeder) -> tuple[DiskLayout, GrowOutcome]:
    root = layout.root
    if root is None:
        raise InstallStepFailed(_("the image has no Linux root partition to grow"))
    device = layout.device
    if layout.label == "gpt":
        # The image's backup GPT sits where the image ended, not at the end of this disk.
        run_checked(run, ["sfdisk", "--relocate", "gpt-bak-std", device], "sfdisk")
    if layout.last != root:
        reread_partitions(device, run)
        return layout, GrowOutcome(False, root.size_sectors * layout.sector_size, None, None,
                                   _("the root partition is not the last one"))
    record = feed(["sfdisk", "--no-reread", "-N", str(root.number), device], ", +\n")
    if record.returncode != 0:
        raise InstallStepFailed(_("sfdisk could not grow partition {number}: {error}").format(
            number=root.number, error=record.stderr.strip()[-300:]))
    reread_partitions(device, run)
    grown = read_layout(device, run)
    new_root = grown.root
    assert new_root is not None
    partition_bytes = new_root.size_sectors * grown.sector_size
    file_system = run(["blkid", "-o", "value", "-s", "TYPE", new_root.node]).stdout.strip() or None
    if file_system not in GROWABLE_FILE_SYSTEMS:
        return grown, GrowOutcome(False, partition_bytes, file_system, None,
                                  _("the root file system cannot be grown here"))
    # e2fsck: 0 clean, 1 errors corrected; more is a damaged file system.
    check = run(["e2fsck", "-f", "-y", new_root.node], timeout=1800)
    if check.returncode > 1:
        raise InstallStepFailed(_("the installed file system is damaged (e2fsck: {error})").format(
            error=(check.stdout + check.stderr).strip()[-300:]))
    run_checked(run, ["resize2fs", new_root.node], "resize2fs", timeout=1800)
    return grown, GrowOutcome(True, partition_bytes, file_system,
                              ext_file_system_bytes(new_root.node, run))


def ext_file_system_bytes(node: str, run: Runner) -> int:
    header = run_checked(run, ["dumpe2fs", "-h", node], "dumpe2fs")
    fields = dict(line.split(":", 1) for line in header.splitlines() if ":" in line)
    return int(fields["Block count"].strip()) * int(fields["Block size"].strip())


def reread_partitions(device: str, run: Runner) -> None:
    """The kernel reads the whole partition table again, and udev makes the nodes. The image's
    own table did not fit this disk until its backup header moved, so the kernel may have
    ignored it when the image was written."""
    run_checked(run, ["partx", "--update", device], "partx")
    run(["udevadm", "settle", "--timeout=30"])
