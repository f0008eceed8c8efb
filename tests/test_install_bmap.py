"""Block maps: parsing, making and rendering them, and working both ways with Debian's bmaptool."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from agent.i18n import set_language
from agent.install.bmap import (
    BlockMap,
    MappedRange,
    create_bmap,
    parse_bmap,
    read_bmap,
    render_bmap,
)
from agent.install.errors import BadBmap

MIB = 1 << 20


pytestmark = pytest.mark.usefixtures("english")


def bmaptool() -> str:
    found = shutil.which("bmaptool")
    if found is None:
        pytest.fail("bmaptool is missing (apt-get install bmap-tools; tests/run installs it)")
    return found


def sparse_file(path: Path) -> Path:
    """32 MiB with data at the start, a run in the middle, and an unaligned tail."""
    with open(path, "wb") as handle:
        handle.write(b"\x55" * 5000)  # ends inside the second block
        handle.seek(3 * MIB)
        handle.write(os.urandom(MIB + 100))
        handle.truncate(32 * MIB + 1000)
        handle.seek(32 * MIB + 10)
        handle.write(b"end")
    return path


def test_create_finds_the_data_blocks_and_their_checksums(tmp_path: Path) -> None:
    image = sparse_file(tmp_path / "image.raw")
    block_map = create_bmap(image)
    assert block_map.image_size == 32 * MIB + 1000
    assert [(r.first, r.last) for r in block_map.ranges] == [
        (0, 1), (768, 1024), (8192, 8192)]
    data = image.read_bytes()
    for start, end, checksum in block_map.byte_ranges():
        assert hashlib.sha256(data[start:end]).hexdigest() == checksum
    assert block_map.byte_ranges()[-1][1] == block_map.image_size


def test_a_bmap_made_by_bmaptool_parses_to_the_same_map(tmp_path: Path) -> None:
    image = sparse_file(tmp_path / "image.raw")
    made = tmp_path / "bmaptool.bmap"
    subprocess.run([bmaptool(), "create", "-o", str(made), str(image)], check=True,
                   capture_output=True)
    assert read_bmap(made) == create_bmap(image)


def test_bmaptool_copies_with_a_rendered_bmap(tmp_path: Path) -> None:
    image = sparse_file(tmp_path / "image.raw")
    bmap_path = tmp_path / "ours.bmap"
    bmap_path.write_text(render_bmap(create_bmap(image)))
    subprocess.run(["zstd", "-q", str(image)], check=True)
    target = tmp_path / "target"
    subprocess.run([bmaptool(), "copy", "--bmap", str(bmap_path), f"{image}.zst", str(target)],
                   check=True, capture_output=True)
    written, original = target.read_bytes(), image.read_bytes()
    for start, end, _checksum in create_bmap(image).byte_ranges():
        assert written[start:end] == original[start:end]
    # bmaptool checks the rendered file's own checksum: a changed byte makes it refuse.
    tampered = bmap_path.read_text().replace("Range chksum", "Range  chksum", 1)
    bmap_path.write_text(tampered)
    refused = subprocess.run([bmaptool(), "copy", "--bmap", str(bmap_path), f"{image}.zst",
                              str(target)], capture_output=True, text=True)
    assert refused.returncode != 0 and "checksum" in refused.stderr.lower()


def test_rendered_bmaps_round_trip(tmp_path: Path) -> None:
    block_map = create_bmap(sparse_file(tmp_path / "image.raw"))
    text = render_bmap(block_map)
    parsed = parse_bmap(text)
    assert parsed == block_map
    assert f"<BmapFileChecksum> {parsed.file_checksum} </BmapFileChecksum>" in text


def _with_file_checksum(text: str, tag: str, kind: str) -> str:
    placeholder = "0" * len(hashlib.new(kind).hexdigest())
    text = text.replace("@FILE@", placeholder)
    own = hashlib.new(kind, text.encode()).hexdigest()
    return text.replace(f"<{tag}> {placeholder} </{tag}>", f"<{tag}> {own} </{tag}>")


def test_format_1_3_with_sha1_parses() -> None:
    data = b"x" * 4096
    text = _with_file_checksum(f"""<?xml version="1.0" ?>
<bmap version="1.3">
    <ImageSize> 16384 </ImageSize>
    <BlockSize> 4096 </BlockSize>
    <BlocksCount> 4 </BlocksCount>
    <MappedBlocksCount> 1 </MappedBlocksCount>
    <BmapFileSHA1> @FILE@ </BmapFileSHA1>
    <BlockMap>
        <Range sha1="{hashlib.sha1(data).hexdigest()}"> 2 </Range>
    </BlockMap>
</bmap>
""", "BmapFileSHA1", "sha1")
    block_map = parse_bmap(text)
    assert block_map.checksum_type == "sha1"
    assert block_map.ranges == (MappedRange(2, 2, hashlib.sha1(data).hexdigest()),)
    assert block_map.byte_ranges() == [(8192, 12288, hashlib.sha1(data).hexdigest())]


@pytest.mark.parametrize(("version", "words"), [("3.0", "not supported"),
                                                ("1.2", "no checksums"),
                                                ("x", "not readable")])
def test_other_versions_are_refused_clearly(version: str, words: str) -> None:
    text = render_bmap(BlockMap(8192, 4096, (MappedRange(0, 0, "a" * 64),)))
    text = text.replace('<bmap version="2.0">', f'<bmap version="{version}">')
    with pytest.raises(BadBmap, match=words):
        parse_bmap(text)


def test_damaged_bmaps_are_refused() -> None:
    good = render_bmap(BlockMap(8192, 4096, (MappedRange(0, 0, "a" * 64),)))
    with pytest.raises(BadBmap, match="own checksum"):
        parse_bmap(good.replace("Image size in bytes", "Image size in Bytes"))
    with pytest.raises(BadBmap, match="XML"):
        parse_bmap(good[:200])
    with pytest.raises(BadBmap, match="md5"):
        parse_bmap(render_bmap(BlockMap(8192, 4096, ())).replace("sha256", "md5"))


def test_messages_are_in_the_volunteers_language() -> None:
    set_language("fr")
    with pytest.raises(BadBmap, match=r"La carte des blocs .* n.est pas pris en charge"):
        parse_bmap(render_bmap(BlockMap(8192, 4096, ())).replace('version="2.0"',
                                                                  'version="3.0"'))
