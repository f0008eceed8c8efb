"""An OS image from a real hub over HTTP: listed, downloaded (an interrupted download resumes
where it stopped), checked against its manifest, then written to a loop device and verified."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from agent.install.errors import ImageError
from agent.install.image import download_image, list_hub_images, resolve_image
from agent.install.pack import pack_image
from agent.install.writer import verify_written, write_image
from tests.conftest import LoopFactory
from tests.disk_images import fill_tree, make_disk_image
from tests.hubserver import RunningHub, free_port

MIB = 1 << 20


def test_hub_image_is_downloaded_resumed_and_installed(
    tmp_path: Path, loop_disk: LoopFactory
) -> None:
    shelf = tmp_path / "shelf"
    tree = tmp_path / "tree"
    fill_tree(tree)
    raw = tmp_path / "os.raw"
    make_disk_image(raw, 64 * MIB, tree)
    manifest = pack_image(raw, "reeeboot-os-test", "1", shelf)
    hub = RunningHub(tmp_path / "hub.sqlite3", free_port(), images=shelf)
    hub.start()
    try:
        [listed] = list_hub_images(hub.url)
        assert (listed.name, listed.version, listed.file_size) == (
            "reeeboot-os-test", "1", manifest.compressed_size)
        stick = tmp_path / "stick-images"
        stick.mkdir()
        # A download cut short: the first third is already there, as after a network loss.
        first_third = requests.get(listed.url or "", timeout=10,
                                   headers={"Range": f"bytes=0-{manifest.compressed_size // 3}"})
        assert first_third.status_code == 206
        (stick / f"{manifest.file}.part").write_bytes(first_third.content)
        image = download_image(resolve_image("reeeboot-os-test", hub_url=hub.url), stick)
        # The same with a damaged part: the download resumes after it rather than starting
        # over, so the whole file's sha256 cannot match and it is refused.
        other = tmp_path / "other-stick"
        other.mkdir()
        (other / f"{manifest.file}.part").write_bytes(bytes(len(first_third.content)))
        with pytest.raises(ImageError):
            download_image(listed, other)
        assert not (other / manifest.file).exists()
    finally:
        hub.stop()
    assert image.path == stick / manifest.file
    assert image.path.read_bytes() == (shelf / manifest.file).read_bytes()
    assert image.bmap is not None and image.manifest is not None
    assert image.manifest.sha256 == manifest.sha256
    disk = loop_disk(96 * MIB)
    written = write_image(image, disk.path)
    assert written.bytes_written == manifest.mapped_size
    assert verify_written(image, disk.path, written=written).ok
