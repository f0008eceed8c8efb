"""Image sources: compression by magic, the stick's folder, the hub's list and resumable download
(against a small HTTP server with Range support run here, following contracts.md)."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import json
import lzma
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import zstandard

from agent.events import ProgressEvent
from agent.install.bmap import create_bmap, render_bmap
from agent.install.errors import (
    CorruptImage,
    DownloadCancelled,
    DownloadFailed,
    ImageNotFound,
    TruncatedImage,
    UnsupportedImage,
)
from agent.install.image import (
    detect_compression,
    download_image,
    image_from_path,
    list_hub_images,
    list_images,
    resolve_image,
)
from agent.install.pack import compress_frames, pack_image
from agent.install.streams import zstd_layout

MIB = 1 << 20


pytestmark = pytest.mark.usefixtures("english")


def sparse_image(path: Path, size: int = 8 * MIB) -> Path:
    with open(path, "wb") as handle:
        handle.truncate(size)
        handle.seek(0)
        handle.write(b"\x00" * 446 + bytes([0, 0, 2, 0, 0xEE, 0, 0, 0, 1, 0, 0, 0, 255, 255, 0, 0])
                     + b"\x00" * 48 + b"\x55\xaa")
        handle.seek(512)
        handle.write(b"EFI PART")
        handle.seek(2 * MIB)
        handle.write(os.urandom(300_000))
    return path


def test_compression_is_recognised_by_its_magic_not_its_name(tmp_path: Path) -> None:
    data = b"reeeboot" * 1000
    (tmp_path / "a.img").write_bytes(zstandard.ZstdCompressor().compress(data))
    (tmp_path / "b.zst").write_bytes(lzma.compress(data))
    (tmp_path / "c.raw").write_bytes(gzip.compress(data))
    (tmp_path / "d.gz").write_bytes(data)
    (tmp_path / "e.img").write_bytes(b"BZh91AY&SY" + data)
    assert [detect_compression(tmp_path / n) for n in ("a.img", "b.zst", "c.raw", "d.gz")] == [
        "zst", "xz", "gz", "none"]
    with pytest.raises(UnsupportedImage, match="bzip2"):
        detect_compression(tmp_path / "e.img")


def test_framed_zstd_is_ordinary_zstd_with_sizes_per_frame(tmp_path: Path) -> None:
    raw = sparse_image(tmp_path / "os.img")
    packed = tmp_path / "os.img.zst"
    compress_frames(raw, packed, frame_bytes=MIB)
    assert zstandard.ZstdDecompressor().stream_reader(
        packed.read_bytes(), read_across_frames=True).read() == raw.read_bytes()
    layout = zstd_layout(str(packed))
    assert len(layout.frames) == 8 and layout.content_size == 8 * MIB
    cut = tmp_path / "cut.img.zst"
    cut.write_bytes(packed.read_bytes()[:-100])
    with pytest.raises(TruncatedImage):
        zstd_layout(str(cut))


def test_the_stick_folder_lists_manifests_bare_images_and_problems(tmp_path: Path) -> None:
    raw = sparse_image(tmp_path / "source.img")
    folder = tmp_path / "images"
    manifest = pack_image(raw, "light", "1.2", folder)
    bare = folder / "mine.img"
    bare.write_bytes(raw.read_bytes())
    (folder / "mine.bmap").write_text(render_bmap(create_bmap(raw)))
    (folder / "plain.raw.gz").write_bytes(gzip.compress(raw.read_bytes()))
    (folder / "broken.img.xz").write_bytes(b"BZh9 not what it says")
    (folder / "notes.txt").write_text("not an image")
    listed = {entry.file: entry for entry in list_images(folder)}
    assert set(listed) == {manifest.file, "mine.img", "plain.raw.gz", "broken.img.xz"}
    light = listed[manifest.file].image
    assert light is not None and light.label == "light_1.2" and light.compression == "zst"
    assert light.bmap is not None and light.image_size == 8 * MIB
    assert light.manifest == manifest and light.mapped_size == manifest.mapped_size
    assert light.to_json() == {
        "name": "light", "version": "1.2", "source": "stick",
        "location": str(folder / manifest.file), "compression": "zst",
        "file_size": manifest.compressed_size, "image_size": 8 * MIB,
        "mapped_size": manifest.mapped_size, "bmap": True, "sha256": manifest.sha256}
    assert manifest.sha256 == hashlib.sha256(raw.read_bytes()).hexdigest()
    mine = listed["mine.img"].image
    assert mine is not None and mine.bmap is not None and mine.compression == "none"
    plain = listed["plain.raw.gz"].image
    assert plain is not None and plain.bmap is None and plain.compression == "gz"
    assert listed["broken.img.xz"].image is None
    assert "bzip2" in (listed["broken.img.xz"].problem or "")
    assert resolve_image("light", images_dir=folder).label == "light_1.2"
    assert resolve_image("light_1.2", images_dir=folder).path == folder / manifest.file
    assert resolve_image(str(bare)).source == "file"
    with pytest.raises(ImageNotFound):
        resolve_image("heavy", images_dir=folder)


def test_a_manifest_that_does_not_match_its_file_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "images"
    manifest = pack_image(sparse_image(tmp_path / "source.img"), "light", "1", folder)
    with open(folder / manifest.file, "ab") as handle:
        handle.write(b"extra")
    [entry] = list_images(folder)
    assert entry.image is None and "bytes instead of" in (entry.problem or "")


@dataclass
class ImageServer:
    """The hub's image endpoints, with Range support, and ways to misbehave."""

    folder: Path
    url: str = ""
    cut_after: int | None = None  # close the connection after this many body bytes, once
    corrupt_at: int | None = None  # flip a byte of the served file
    ranges: list[str | None] = field(default_factory=list)


@pytest.fixture
def image_server(tmp_path: Path) -> Iterator[ImageServer]:
    state = ImageServer(tmp_path / "hub-images")
    state.folder.mkdir()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            del args

        def do_GET(self) -> None:
            if self.path == "/api/v1/images":
                entries = [json.loads(p.read_text())
                           for p in sorted(state.folder.glob("*.manifest.json"))]
                self._send(200, json.dumps(entries).encode(), "application/json")
                return
            match = re.fullmatch(r"/api/v1/images/files/([^/]+)", self.path)
            file = state.folder / match[1] if match else None
            if file is None or not file.is_file():
                self._send(404, b"not found", "text/plain")
                return
            data = bytearray(file.read_bytes())
            if state.corrupt_at is not None and file.name.endswith(".zst"):
                data[state.corrupt_at] ^= 0xFF
            requested = self.headers.get("Range")
            state.ranges.append(requested)
            asked = re.fullmatch(r"bytes=(\d+)-", requested or "")
            start = int(asked[1]) if asked else 0
            body = bytes(data[start:])
            self.send_response(206 if requested else 200)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(len(body)))
            if requested:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            if state.cut_after is not None and file.name.endswith(".zst"):
                self.wfile.write(body[:state.cut_after])
                self.wfile.flush()
                state.cut_after = None
                self.close_connection = True
                return
            self.wfile.write(body)

        def _send(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def test_hub_images_are_listed_and_downloaded_with_their_bmap_and_manifest(
        tmp_path: Path, image_server: ImageServer) -> None:
    raw = sparse_image(tmp_path / "source.img")
    manifest = pack_image(raw, "light", "2", image_server.folder)
    [listed] = list_hub_images(image_server.url)
    assert listed.manifest == manifest and listed.source == "hub" and listed.path is None
    assert listed.url == f"{image_server.url}/api/v1/images/files/{manifest.file}"
    stick = tmp_path / "stick-images"
    events: list[ProgressEvent] = []
    local = download_image(listed, stick, progress=events.append)
    assert local.path == stick / manifest.file and local.source == "hub"
    assert local.bmap == create_bmap(raw)
    served = (image_server.folder / manifest.file).read_bytes()
    assert (stick / manifest.file).read_bytes() == served
    assert [e.image for e in list_images(stick) if e.image] and events[-1].done_bytes == \
        manifest.compressed_size
    assert resolve_image("light", hub_url=image_server.url).url == listed.url


def test_an_interrupted_download_resumes_where_it_stopped(
        tmp_path: Path, image_server: ImageServer) -> None:
    manifest = pack_image(sparse_image(tmp_path / "source.img"), "light", "3",
                          image_server.folder)
    [listed] = list_hub_images(image_server.url)
    stick = tmp_path / "stick-images"
    assert manifest.compressed_size > 250_000
    image_server.cut_after = 200_000
    with pytest.raises(DownloadFailed):
        download_image(listed, stick)
    partial = stick / f"{manifest.file}.part"
    kept = partial.stat().st_size
    assert 0 < kept <= 200_000 and not (stick / manifest.file).exists()
    local = download_image(listed, stick)
    assert image_server.ranges[-1] == f"bytes={kept}-"
    assert local.path is not None and hashlib.sha256(local.path.read_bytes()).hexdigest() == \
        manifest.compressed_sha256
    assert not partial.exists()


def test_a_corrupted_download_is_refused_and_not_kept(
        tmp_path: Path, image_server: ImageServer) -> None:
    manifest = pack_image(sparse_image(tmp_path / "source.img"), "light", "4",
                          image_server.folder)
    [listed] = list_hub_images(image_server.url)
    stick = tmp_path / "stick-images"
    image_server.corrupt_at = 500
    with pytest.raises(CorruptImage, match="sha256"):
        download_image(listed, stick)
    assert not (stick / manifest.file).exists()
    assert not (stick / f"{manifest.file}.part").exists()
    assert list_images(stick) == []


def test_a_user_file_is_resolved_with_the_bmap_next_to_it(tmp_path: Path) -> None:
    raw = sparse_image(tmp_path / "disk.img")
    (tmp_path / "disk.img.bmap").write_text(render_bmap(create_bmap(raw)))
    image = image_from_path(raw)
    assert image.bmap_path == tmp_path / "disk.img.bmap" and image.image_size == 8 * MIB
    with pytest.raises(UnsupportedImage):
        image_from_path(tmp_path / "disk.img.bmap")


def test_a_bare_zstd_image_tells_its_size_and_a_cut_one_is_refused(tmp_path: Path) -> None:
    raw = sparse_image(tmp_path / "disk.img")
    packed = tmp_path / "disk.img.zst"
    packed.write_bytes(zstandard.ZstdCompressor().compress(raw.read_bytes()))
    image = image_from_path(packed)
    assert image.bmap is None and image.image_size == 8 * MIB
    packed.write_bytes(packed.read_bytes()[:-10])
    with pytest.raises(TruncatedImage):
        image_from_path(packed)


def test_a_bmap_that_does_not_match_the_manifest_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "images"
    manifest = pack_image(sparse_image(tmp_path / "source.img"), "light", "1", folder)
    other = sparse_image(tmp_path / "other.img", size=16 * MIB)
    assert manifest.bmap is not None
    (folder / manifest.bmap).write_text(render_bmap(create_bmap(other)))
    [entry] = list_images(folder)
    assert entry.image is None and "the manifest one of" in (entry.problem or "")


def test_a_stopped_download_keeps_its_part_for_the_next_try(
        tmp_path: Path, image_server: ImageServer) -> None:
    manifest = pack_image(sparse_image(tmp_path / "source.img"), "light", "5",
                          image_server.folder)
    [listed] = list_hub_images(image_server.url)
    stick = tmp_path / "stick-images"
    stop = threading.Event()
    with pytest.raises(DownloadCancelled):
        download_image(listed, stick, progress=lambda event: stop.set(), cancel=stop)
    kept = (stick / f"{manifest.file}.part").stat().st_size
    assert 0 < kept < manifest.compressed_size
    local = download_image(listed, stick)
    assert image_server.ranges[-1] == f"bytes={kept}-" and local.path is not None
