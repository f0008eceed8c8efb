"""The partition table of a written disk: which partition is the root, the ESP, GRUB's BIOS boot
partition (read with `sfdisk --json`)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from agent.install.steps import run_checked
from agent.runner import Runner

ROOT_X86_64 = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709"
LINUX_DATA = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
ESP = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
BIOS_BOOT = "21686148-6449-6E6F-744E-656564454649"
# MBR type bytes, for images with a DOS partition table
MBR_LINUX = "83"
MBR_ESP = "EF"


@dataclass(frozen=True)
class PartitionEntry:
    number: int
    node: str  # /dev/sda3, /dev/nvme0n1p3, /dev/loop0p3
    start_sector: int
    size_sectors: int
    type: str  # GPT type GUID (upper case) or MBR type byte (hex, upper case)
    uuid: str | None  # GPT partition UUID
    name: str | None  # GPT partition label


@dataclass(frozen=True)
class DiskLayout:
    device: str
    label: str  # "gpt" or "dos"
    sector_size: int
    last_usable_sector: int | None  # GPT only
    partitions: tuple[PartitionEntry, ...]

    def first_of(self, *types: str) -> PartitionEntry | None:
        return next((p for p in self.partitions if p.type in types), None)

    @property
    def esp(self) -> PartitionEntry | None:
        return self.first_of(ESP, MBR_ESP)

    @property
    def bios_boot(self) -> PartitionEntry | None:
        return self.first_of(BIOS_BOOT)

    @property
    def root(self) -> PartitionEntry | None:
        """The root partition by its GPT type; otherwise the largest Linux partition."""
        typed = self.first_of(ROOT_X86_64)
        if typed is not None:
            return typed
        linux = [p for p in self.partitions if p.type in (LINUX_DATA, MBR_LINUX)]
        return max(linux, key=lambda p: p.size_sectors, default=None)

    @property
    def last(self) -> PartitionEntry | None:
        return max(self.partitions, key=lambda p: p.start_sector, default=None)


def partition_node(device: str, number: int) -> str:
    """Linux's name for partition `number` of `device`: a "p" goes between digits."""
    return f"{device}{'p' if device[-1].isdigit() else ''}{number}"


def read_layout(device: str, run: Runner) -> DiskLayout:
    table = json.loads(run_checked(run, ["sfdisk", "--json", device], "sfdisk"))["partitiontable"]
    partitions = []
    for entry in table.get("partitions", []):
        node = str(entry["node"])
        number = int(node[len(device):].lstrip("p"))
        partitions.append(PartitionEntry(
            number=number, node=partition_node(device, number), start_sector=int(entry["start"]),
            size_sectors=int(entry["size"]), type=str(entry["type"]).upper(),
            uuid=entry.get("uuid"), name=entry.get("name"),
        ))
    return DiskLayout(
        device=device, label=str(table["label"]), sector_size=int(table.get("sectorsize", 512)),
        last_usable_sector=table.get("lastlba"), partitions=tuple(partitions),
    )
