"""OS images offered to stations: the manifests, and files served with HTTP Range."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from hub.app import create_app
from hub.store import Store


def test_images_are_listed_and_served_by_range(store: Store, tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    data = bytes(range(256)) * 64
    (images / "debian-xfce_12.8.raw.zst").write_bytes(data)
    (images / "debian-xfce_12.8.bmap").write_text("<bmap/>")
    manifest = {"name": "debian-xfce", "version": "12.8", "file": "debian-xfce_12.8.raw.zst",
                "bmap": "debian-xfce_12.8.bmap", "sha256": "ab" * 32,
                "compressed_sha256": "cd" * 32, "image_size": 1 << 30,
                "compressed_size": len(data), "mapped_size": 1 << 29}
    (images / "debian-xfce_12.8.manifest.json").write_text(json.dumps(manifest))
    (images / "orphan_1.manifest.json").write_text(json.dumps({**manifest, "file": "gone.raw"}))
    (images / "broken_1.manifest.json").write_text("{")
    client = TestClient(create_app(store, images))
    assert client.get("/api/v1/images").json() == [manifest]
    whole = client.get("/api/v1/images/files/debian-xfce_12.8.raw.zst")
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["accept-ranges"] == "bytes"
    part = client.get("/api/v1/images/files/debian-xfce_12.8.raw.zst",
                      headers={"range": "bytes=1000-"})
    assert part.status_code == 206 and part.content == data[1000:]
    assert part.headers["content-length"] == str(len(data) - 1000)
    for name in ("..%2Fhub.sqlite3", ".hidden", "missing.raw"):
        assert client.get(f"/api/v1/images/files/{name}").status_code == 404
    assert TestClient(create_app(store)).get("/api/v1/images").json() == []
