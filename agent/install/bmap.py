"""Block maps in bmaptool's XML format: which blocks of a sparse image hold data, with checksums.

Only the mapped ranges of an image need writing; the holes are "don't care". Each range carries a
checksum of its bytes, checked as the image streams and again when the disk is read back. The file
format is bmaptool's (format 1.3 with sha1, 1.4/2.0 with a named checksum type), so images made by
`bmaptool create` work here and maps rendered here work with `bmaptool copy`.
"""

from __future__ import annotations

import hashlib
import os
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field

from agent.i18n import _
from agent.install.errors import BadBmap

DEFAULT_BLOCK_SIZE = 4096
CHECKSUM_TYPES = ("sha1", "sha256")
_HASH_PIECE = 8 << 20


@dataclass(frozen=True)
class MappedRange:
    """Blocks first..last (inclusive) hold data; `checksum` is the hex digest of their bytes."""

    first: int
    last: int
    checksum: str


@dataclass(frozen=True)
class BlockMap:
    image_size: int
    block_size: int
    ranges: tuple[MappedRange, ...]
    checksum_type: str = "sha256"
    version: str = "2.0"
    # The bmap file's own checksum (BmapFileChecksum) when read from a file: it covers every
    # range's checksum, so it names the image's content without hashing its holes.
    file_checksum: str = field(default="", compare=False)

    @property
    def blocks_count(self) -> int:
        return (self.image_size + self.block_size - 1) // self.block_size

    @property
    def mapped_blocks(self) -> int:
        return sum(r.last - r.first + 1 for r in self.ranges)

    @property
    def mapped_size(self) -> int:
        """Bytes that will be written (the last block may be cut short by the image's end)."""
        return sum(end - start for start, end, _ in self.byte_ranges())

    def byte_ranges(self) -> list[tuple[int, int, str]]:
        """(start, end, checksum) in bytes, the end cut at the image's size."""
        return [(r.first * self.block_size,
                 min((r.last + 1) * self.block_size, self.image_size), r.checksum)
                for r in self.ranges]

    def new_hash(self) -> hashlib._Hash:
        return hashlib.new(self.checksum_type)


def parse_bmap(text: str) -> BlockMap:
    """Parse a bmap file; a bad one raises `BadBmap` with the reason (translated)."""
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as error:
        raise BadBmap(_("it is not valid XML ({error})").format(error=error)) from error
    if root.tag != "bmap":
        raise BadBmap(_("it is not a bmap file"))
    version = str(root.attrib.get("version", "")).strip()
    match = re.fullmatch(r"(\d+)\.(\d+)", version)
    if not match:
        raise BadBmap(_("its format version {version!r} is not readable").format(version=version))
    major, minor = int(match[1]), int(match[2])
    if major == 2 or (major == 1 and minor == 4):
        checksum_type = _text(root, "ChecksumType").lower()
        attribute, file_checksum_tag = "chksum", "BmapFileChecksum"
    elif major == 1 and minor == 3:
        checksum_type, attribute, file_checksum_tag = "sha1", "sha1", "BmapFileSHA1"
    elif major == 1:
        raise BadBmap(_("format {version} has no checksums, so nothing could be verified")
                      .format(version=version))
    else:
        raise BadBmap(_("format {version} is not supported (1.3 to 2.0 are)")
                      .format(version=version))
    if checksum_type not in CHECKSUM_TYPES:
        raise BadBmap(_("checksum type {kind!r} is not supported (sha1 or sha256 are)")
                      .format(kind=checksum_type))
    image_size = _number(root, "ImageSize")
    block_size = _number(root, "BlockSize")
    if block_size <= 0 or block_size % 512:
        raise BadBmap(_("block size {size} is not a multiple of 512").format(size=block_size))
    blocks_count = _number(root, "BlocksCount")
    if blocks_count != (image_size + block_size - 1) // block_size:
        raise BadBmap(_("the image size does not match the block count"))
    file_checksum = _text(root, file_checksum_tag)
    _check_file_checksum(text, file_checksum, checksum_type)
    block_map = root.find("BlockMap")
    if block_map is None:
        raise BadBmap(_("it has no BlockMap"))
    digest_length = len(hashlib.new(checksum_type).hexdigest())
    ranges: list[MappedRange] = []
    for element in block_map.findall("Range"):
        span = (element.text or "").strip()
        first_text, _sep, last_text = span.partition("-")
        try:
            first = int(first_text)
            last = int(last_text) if last_text else first
        except ValueError as error:
            raise BadBmap(_("range {span!r} is not readable").format(span=span)) from error
        checksum = element.attrib.get(attribute, "").strip().lower()
        if not re.fullmatch(f"[0-9a-f]{{{digest_length}}}", checksum):
            raise BadBmap(_("range {span} has no valid checksum").format(span=span))
        if first > last or last >= blocks_count or (ranges and first <= ranges[-1].last):
            raise BadBmap(_("range {span} is out of order or past the image's end")
                          .format(span=span))
        ranges.append(MappedRange(first, last, checksum))
    result = BlockMap(image_size, block_size, tuple(ranges), checksum_type, version,
                      file_checksum.lower())
    if result.mapped_blocks != _number(root, "MappedBlocksCount"):
        raise BadBmap(_("the mapped block count does not match its ranges"))
    return result


def read_bmap(path: str | os.PathLike[str]) -> BlockMap:
    with open(path, encoding="utf-8") as handle:
        return parse_bmap(handle.read())


def _text(root: ElementTree.Element, tag: str) -> str:
    element = root.find(tag)
    if element is None or element.text is None:
        raise BadBmap(_("it has no {tag}").format(tag=tag))
    return element.text.strip()


def _number(root: ElementTree.Element, tag: str) -> int:
    text = _text(root, tag)
    try:
        return int(text)
    except ValueError as error:
        raise BadBmap(_("{tag} is not a number").format(tag=tag)) from error


def _check_file_checksum(text: str, stored: str, checksum_type: str) -> None:
    """bmaptool's rule: the file's own checksum, computed with that field set to ASCII zeros."""
    data = text.encode("utf-8")
    at = data.find(stored.encode())
    if at < 0:
        raise BadBmap(_("its own checksum does not match: the file was changed or damaged"))
    zeroed = data[:at] + b"0" * len(stored) + data[at + len(stored):]
    if hashlib.new(checksum_type, zeroed).hexdigest() != stored.lower():
        raise BadBmap(_("its own checksum does not match: the file was changed or damaged"))


def mapped_extents(fd: int, size: int) -> list[tuple[int, int]]:
    """The (start, end) byte extents holding data in a file, from SEEK_DATA/SEEK_HOLE."""
    extents: list[tuple[int, int]] = []
    offset = 0
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError:  # ENXIO: no data after offset
            break
        end = os.lseek(fd, start, os.SEEK_HOLE)
        extents.append((start, min(end, size)))
        offset = end
    return extents


def create_bmap(path: str | os.PathLike[str], *, block_size: int = DEFAULT_BLOCK_SIZE,
                checksum_type: str = "sha256") -> BlockMap:
    """The block map of a sparse raw image: its data extents, widened to whole blocks, merged,
    each with the checksum of its bytes. Make it before compressing (compression fills holes)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        blocks: list[list[int]] = []
        for start, end in mapped_extents(fd, size):
            first, last = start // block_size, (end - 1) // block_size
            if blocks and first <= blocks[-1][1] + 1:
                blocks[-1][1] = max(blocks[-1][1], last)
            else:
                blocks.append([first, last])
        ranges = []
        for first, last in blocks:
            digest = hashlib.new(checksum_type)
            offset, end = first * block_size, min((last + 1) * block_size, size)
            while offset < end:
                piece = os.pread(fd, min(_HASH_PIECE, end - offset), offset)
                if not piece:
                    raise OSError(f"{path} shrank while its block map was made")
                digest.update(piece)
                offset += len(piece)
            ranges.append(MappedRange(first, last, digest.hexdigest()))
    finally:
        os.close(fd)
    return BlockMap(size, block_size, tuple(ranges), checksum_type, "2.0")


_HEADER = """<?xml version="1.0" ?>
<!-- This file contains the block map for an image file: the blocks that hold data (partition
     table, file system metadata, files). Only they need copying to the target; the others do not
     hold useful data. Made by reeeboot; bmaptool's format version 2.0. -->

<bmap version="2.0">
"""


def render_bmap(block_map: BlockMap) -> str:
    """bmaptool's format 2.0, with the file's own checksum computed as bmaptool checks it."""
    if block_map.checksum_type not in CHECKSUM_TYPES:
        raise BadBmap(_("checksum type {kind!r} is not supported (sha1 or sha256 are)")
                      .format(kind=block_map.checksum_type))
    blocks = block_map.blocks_count
    mapped = block_map.mapped_blocks
    percent = mapped * 100.0 / blocks if blocks else 0.0
    digest_length = len(block_map.new_hash().hexdigest())
    placeholder = "0" * digest_length
    lines = [
        f"    <!-- Image size in bytes: {_human(block_map.image_size)} -->",
        f"    <ImageSize> {block_map.image_size} </ImageSize>",
        "",
        "    <!-- Size of a block in bytes -->",
        f"    <BlockSize> {block_map.block_size} </BlockSize>",
        "",
        "    <!-- Count of blocks in the image file -->",
        f"    <BlocksCount> {blocks} </BlocksCount>",
        "",
        f"    <!-- Count of mapped blocks: {_human(mapped * block_map.block_size)} "
        f"or {percent:.1f}% -->",
        f"    <MappedBlocksCount> {mapped} </MappedBlocksCount>",
        "",
        "    <!-- Type of checksum used in this file -->",
        f"    <ChecksumType> {block_map.checksum_type} </ChecksumType>",
        "",
        "    <!-- The checksum of this bmap file. When it is calculated, the value of",
        '         the checksum has be zero (all ASCII "0" symbols).  -->',
        f"    <BmapFileChecksum> {placeholder} </BmapFileChecksum>",
        "",
        "    <!-- The block map: ranges of mapped blocks with the checksum of each -->",
        "    <BlockMap>",
    ]
    for r in block_map.ranges:
        span = f"{r.first}-{r.last}" if r.last != r.first else f"{r.first}"
        lines.append(f'        <Range chksum="{r.checksum}"> {span} </Range>')
    lines += ["    </BlockMap>", "</bmap>", ""]
    text = _HEADER + "\n".join(lines)
    own = hashlib.new(block_map.checksum_type, text.encode("utf-8")).hexdigest()
    return text.replace(f"<BmapFileChecksum> {placeholder} </BmapFileChecksum>",
                        f"<BmapFileChecksum> {own} </BmapFileChecksum>", 1)


def _human(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.1f} {unit}" if unit != "bytes" else f"{size} bytes"
        value /= 1024
    return f"{size} bytes"
