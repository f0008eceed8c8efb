"""Preparing an OS image for distribution: its block map, zstd in independent frames, manifest.

    python -m agent.install.pack IMAGE.raw NAME VERSION [OUT_DIR]

The raw image is cut into frames of FRAME_BYTES, each compressed on its own with its content size
and checksum. The result is an ordinary zstd file (`zstd -d` and `bmaptool copy` read it), but the
writer can decompress the frames in parallel and never touches the frames that hold only holes.
The bmap is made from the sparse raw file first: compression turns holes into zeros.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import zstandard

from agent.install.bmap import create_bmap, render_bmap
from agent.install.image import MANIFEST_SUFFIX, ImageManifest

FRAME_BYTES = 4 << 20
LEVEL = 3


def compress_frames(raw: Path, output: Path, *, frame_bytes: int = FRAME_BYTES,
                    level: int = LEVEL, threads: int | None = None) -> str:
    """Compress `raw` into `output` as independent zstd frames; returns the raw file's sha256."""
    size = raw.stat().st_size
    workers = threads or os.cpu_count() or 1
    digest = hashlib.sha256()
    compressors = [zstandard.ZstdCompressor(level=level, write_checksum=True,
                                            write_content_size=True) for _ in range(workers)]

    def one(index: int) -> tuple[bytes, bytes]:
        with open(raw, "rb") as handle:
            data = os.pread(handle.fileno(), frame_bytes, index * frame_bytes)
        return data, compressors[index % workers].compress(data)

    partial = output.with_name(output.name + ".part")
    count = -(-size // frame_bytes)
    with ThreadPoolExecutor(workers) as pool, open(partial, "wb") as out:
        # In windows of `workers` frames, so each compressor serves one thread at a time.
        for first in range(0, count, workers):
            for data, frame in pool.map(one, range(first, min(first + workers, count))):
                digest.update(data)
                out.write(frame)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, output)
    return digest.hexdigest()


def pack_image(raw: Path, name: str, version: str, out_dir: Path) -> ImageManifest:
    """NAME_VERSION.raw.zst, NAME_VERSION.bmap and NAME_VERSION.manifest.json in `out_dir`,
    as the stick's images/ folder and the hub serve them (contracts.md)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    label = f"{name}_{version}"
    block_map = create_bmap(raw)
    bmap_path = out_dir / f"{label}.bmap"
    bmap_path.write_text(render_bmap(block_map), encoding="utf-8")
    packed = out_dir / f"{label}.raw.zst"
    raw_sha256 = compress_frames(raw, packed)
    compressed = hashlib.sha256()
    with open(packed, "rb") as handle:
        while piece := handle.read(8 << 20):
            compressed.update(piece)
    manifest = ImageManifest(name=name, version=version, file=packed.name, bmap=bmap_path.name,
                             sha256=raw_sha256, compressed_sha256=compressed.hexdigest(),
                             image_size=block_map.image_size,
                             compressed_size=packed.stat().st_size,
                             mapped_size=block_map.mapped_size)
    (out_dir / f"{label}{MANIFEST_SUFFIX}").write_text(
        json.dumps(manifest.to_json(), indent=2) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Prepare an OS image: bmap, framed zstd, "
                                                 "manifest")
    parser.add_argument("raw", type=Path)
    parser.add_argument("name")
    parser.add_argument("version")
    parser.add_argument("out_dir", type=Path, nargs="?", default=Path("."))
    args = parser.parse_args(argv)
    manifest = pack_image(args.raw, args.name, args.version, args.out_dir)
    print(json.dumps(manifest.to_json(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
