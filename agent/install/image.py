"""OS images: what one is (file or URL, compression, block map, manifest) and where they come from.

Images come from the stick's `images/` folder, from the hub (`GET /api/v1/images`, files
downloaded with resumable Range requests and checked against the manifest), or from any path a
user gives: a raw disk image (`.img`/`.raw`), optionally compressed (`.zst`/`.xz`/`.gz`),
optionally with a `.bmap` next to it. Compression is recognised by its magic bytes, not its name.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from agent.events import EventSink, ProgressEvent, ignore_events
from agent.i18n import _
from agent.install.bmap import BlockMap, read_bmap
from agent.install.errors import (
    BadBmap,
    CorruptImage,
    DownloadCancelled,
    DownloadFailed,
    ImageError,
    ImageNotFound,
    UnsupportedImage,
)
from agent.install.streams import zstd_layout

IMAGE_SUFFIXES = (".img", ".raw")
COMPRESSED_SUFFIXES = {".zst": "zst", ".xz": "xz", ".gz": "gz"}
MANIFEST_SUFFIX = ".manifest.json"
IMAGES_API = "/api/v1/images"
DOWNLOAD_PIECE = 64 << 10  # what an interrupted read loses at most

_MAGIC = (
    (b"\x28\xb5\x2f\xfd", "zst"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x1f\x8b", "gz"),
)
_UNSUPPORTED_MAGIC = ((b"BZh", "bzip2"), (b"\x04\x22\x4d\x18", "lz4"), (b"PK\x03\x04", "zip"))


@dataclass(frozen=True)
class ImageManifest:
    """contracts.md's manifest: one image file, its block map, sizes and checksums."""

    name: str
    version: str
    file: str
    bmap: str | None
    sha256: str  # of the raw (decompressed) image
    compressed_sha256: str  # of `file` as stored
    image_size: int
    compressed_size: int
    mapped_size: int
    # The firmware files the image's system carries, relative to /usr/lib/firmware
    # ("rtl_nic/rtl8168h-2.fw", "iwlwifi-cc-a0-77.ucode.zst"); None for a manifest that does not
    # say (made before the list was written): what it carries is then not known.
    firmware: frozenset[str] | None = None

    @classmethod
    def from_json(cls, data: Any) -> ImageManifest:
        try:
            manifest = cls(
                name=str(data["name"]), version=str(data["version"]), file=str(data["file"]),
                bmap=str(data["bmap"]) if data.get("bmap") else None,
                sha256=str(data["sha256"]).lower(),
                compressed_sha256=str(data["compressed_sha256"]).lower(),
                image_size=int(data["image_size"]), compressed_size=int(data["compressed_size"]),
                mapped_size=int(data["mapped_size"]),
                firmware=firmware_list(data.get("firmware")),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise UnsupportedImage(_("manifest"), _("the manifest is incomplete ({error})")
                                   .format(error=error)) from error
        for file_name in (manifest.file, manifest.bmap):
            if file_name is not None and (not file_name or "/" in file_name
                                          or file_name.startswith(".")):
                raise UnsupportedImage(manifest.file, _("the manifest names an unsafe file"))
        return manifest

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        # Left out when not known, so that a manifest without it is written back as it came.
        firmware = data.pop("firmware")
        if firmware is not None:
            data["firmware"] = sorted(firmware)
        return data

    @property
    def label(self) -> str:
        return f"{self.name}_{self.version}"


def firmware_list(value: Any) -> frozenset[str] | None:
    """A manifest's `firmware`: the file names as listed (a leading "/" or "./" dropped); None
    when absent or not a list of names, since a list that cannot be read tells nothing."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return None
    names = (item.strip().removeprefix("./").lstrip("/") for item in value)
    return frozenset(name for name in names if name)


@dataclass(frozen=True)
class OsImage:
    """A resolved image. `path` is set for a local file, `url` for one still on the hub."""

    name: str
    version: str
    source: str  # "stick", "hub" or "file"
    path: Path | None = None
    url: str | None = None
    compression: str = "none"  # "zst", "xz", "gz" or "none"
    bmap_path: Path | None = None
    bmap: BlockMap | None = None
    manifest: ImageManifest | None = None
    file_size: int = 0  # bytes as stored (compressed or not)
    recorded_size: int | None = None  # the raw size a zstd file's frames record

    @property
    def image_size(self) -> int | None:
        """The raw image's size, when the block map, the manifest or the file itself tell it."""
        if self.bmap is not None:
            return self.bmap.image_size
        if self.manifest is not None:
            return self.manifest.image_size
        if self.compression == "none" and self.path is not None:
            return self.file_size
        return self.recorded_size

    @property
    def mapped_size(self) -> int | None:
        if self.bmap is not None:
            return self.bmap.mapped_size
        return self.image_size

    @property
    def label(self) -> str:
        return f"{self.name}_{self.version}" if self.version else self.name

    @property
    def location(self) -> str:
        return str(self.path) if self.path is not None else str(self.url)

    @property
    def firmware(self) -> frozenset[str] | None:
        """The firmware files the image carries, from its manifest; None when not known."""
        return self.manifest.firmware if self.manifest is not None else None

    @property
    def raw_sha256(self) -> str | None:
        """The raw image's sha256 when known before writing (from the manifest)."""
        return self.manifest.sha256 if self.manifest is not None else None

    def to_json(self) -> dict[str, Any]:
        """What a listing shows: name, version, where it is, sizes, and how it is checked."""
        return {"name": self.name, "version": self.version, "source": self.source,
                "location": self.location, "compression": self.compression,
                "file_size": self.file_size, "image_size": self.image_size,
                "mapped_size": self.mapped_size, "bmap": self.bmap is not None,
                "sha256": self.raw_sha256}


def detect_compression(path: str | os.PathLike[str]) -> str:
    """"zst", "xz", "gz" or "none", from the file's first bytes."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    # pzstd and seekable zstd files start with a skippable frame (magic 0x184D2A5?).
    if len(head) >= 4 and head[1:4] == b"\x2a\x4d\x18" and head[0] & 0xF0 == 0x50:
        return "zst"
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    for magic, kind in _UNSUPPORTED_MAGIC:
        if head.startswith(magic):
            raise UnsupportedImage(str(path), _("{kind} compression is not supported (use zstd, "
                                                "xz or gzip)").format(kind=kind))
    return "none"


def image_from_path(path: str | os.PathLike[str], *, source: str = "file",
                    bmap_path: str | os.PathLike[str] | None = None,
                    manifest: ImageManifest | None = None) -> OsImage:
    """An image file as given: its compression, and the block map found next to it."""
    path = Path(path)
    if not path.is_file():
        raise ImageNotFound(str(path))
    if path.name.endswith(".bmap") or path.name.endswith(MANIFEST_SUFFIX):
        raise UnsupportedImage(str(path), _("this is a block map or a manifest, not the image "
                                            "itself"))
    compression = detect_compression(path)
    found_bmap = Path(bmap_path) if bmap_path is not None else _bmap_next_to(path, manifest)
    block_map = read_bmap(found_bmap) if found_bmap is not None else None
    name, version = _name_and_version(path.name, manifest)
    image = OsImage(name=name, version=version, source=source, path=path,
                    compression=compression, bmap_path=found_bmap, bmap=block_map,
                    manifest=manifest, file_size=path.stat().st_size)
    check_consistency(image)
    if compression == "zst":
        # A zstd file's frames usually record their size: a bare image's size without
        # decompressing it, and a file cut short is found here, before anyone chooses it.
        image = replace(image, recorded_size=zstd_layout(str(path)).content_size)
    return image


def check_consistency(image: OsImage) -> None:
    """The block map, the manifest and the file must describe the same image."""
    bmap, manifest = image.bmap, image.manifest
    where = image.location
    if bmap is not None and manifest is not None and (
            bmap.image_size != manifest.image_size or bmap.mapped_size != manifest.mapped_size):
        raise BadBmap(_("it describes an image of {bmap} bytes, the manifest one of {manifest}")
                      .format(bmap=f"{bmap.image_size} ({bmap.mapped_size})",
                              manifest=f"{manifest.image_size} ({manifest.mapped_size})"))
    if image.path is None:
        return
    if manifest is not None and image.file_size != manifest.compressed_size:
        raise CorruptImage(where, _("{got} bytes instead of the {expected} its manifest gives")
                           .format(got=image.file_size, expected=manifest.compressed_size))
    if image.compression == "none":
        if bmap is not None and image.file_size != bmap.image_size:
            raise BadBmap(_("it describes an image of {bmap} bytes, the file has {size}")
                          .format(bmap=bmap.image_size, size=image.file_size))
        if manifest is not None and image.file_size != manifest.image_size:
            raise CorruptImage(where, _("{got} bytes instead of the {expected} its manifest "
                                        "gives").format(got=image.file_size,
                                                        expected=manifest.image_size))


def _bmap_next_to(path: Path, manifest: ImageManifest | None) -> Path | None:
    """bmaptool's convention: `image.img.zst.bmap`, `image.img.bmap` or `image.bmap`."""
    candidates = []
    if manifest is not None and manifest.bmap:
        candidates.append(path.with_name(manifest.bmap))
    base = path.name
    candidates.append(path.with_name(base + ".bmap"))
    for _round in range(2):
        stem, dot, _suffix = base.rpartition(".")
        if not dot:
            break
        base = stem
        candidates.append(path.with_name(base + ".bmap"))
    return next((c for c in candidates if c.is_file()), None)


def _name_and_version(file_name: str, manifest: ImageManifest | None) -> tuple[str, str]:
    if manifest is not None:
        return manifest.name, manifest.version
    base = file_name
    for suffix in (*COMPRESSED_SUFFIXES, *IMAGE_SUFFIXES):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    for suffix in IMAGE_SUFFIXES:
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    return base, ""


def is_image_file_name(file_name: str) -> bool:
    base = file_name
    for suffix in COMPRESSED_SUFFIXES:
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    return base.endswith(IMAGE_SUFFIXES)


def read_manifest(path: str | os.PathLike[str]) -> ImageManifest:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UnsupportedImage(str(path), _("the manifest is not readable JSON")) from error
    return ImageManifest.from_json(data)


@dataclass(frozen=True)
class ListedImage:
    """An entry of a listing: an image, or why a file that looks like one cannot be used."""

    image: OsImage | None
    file: str
    problem: str | None = None


def list_images(directory: str | os.PathLike[str], *, source: str = "stick") -> list[ListedImage]:
    """Images in a folder (the stick's `images/`): those with a manifest, then bare disk images
    with or without a `.bmap`. A file that cannot be used is listed with the reason."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    listed: list[ListedImage] = []
    claimed: set[str] = set()
    for manifest_path in sorted(directory.glob("*" + MANIFEST_SUFFIX)):
        try:
            manifest = read_manifest(manifest_path)
            claimed.add(manifest.file)
            listed.append(ListedImage(image_from_path(directory / manifest.file, source=source,
                                                      manifest=manifest), manifest.file))
        except ImageError as error:
            listed.append(ListedImage(None, manifest_path.name, str(error)))
    for path in sorted(directory.iterdir()):
        if path.name in claimed or not path.is_file() or not is_image_file_name(path.name):
            continue
        try:
            listed.append(ListedImage(image_from_path(path, source=source), path.name))
        except ImageError as error:
            listed.append(ListedImage(None, path.name, str(error)))
    return listed


def list_hub_images(hub_url: str, *, timeout: float = 10.0,
                    session: requests.Session | None = None) -> list[OsImage]:
    """The hub's images, from `GET /api/v1/images` (no authentication)."""
    http = session or requests.Session()
    url = hub_url.rstrip("/") + IMAGES_API
    try:
        response = http.get(url, timeout=timeout)
        response.raise_for_status()
        entries = response.json()
    except (requests.RequestException, ValueError) as error:
        raise DownloadFailed(url, _network_words(error)) from error
    if not isinstance(entries, list):
        raise DownloadFailed(url, _("the hub's answer is not a list of images"))
    images = []
    for entry in entries:
        manifest = ImageManifest.from_json(entry)
        images.append(OsImage(name=manifest.name, version=manifest.version, source="hub",
                              url=file_url(hub_url, manifest.file), manifest=manifest,
                              compression=_compression_by_name(manifest.file),
                              file_size=manifest.compressed_size))
    return images


def file_url(hub_url: str, file_name: str) -> str:
    return f"{hub_url.rstrip('/')}{IMAGES_API}/files/{quote(file_name)}"


def _compression_by_name(file_name: str) -> str:
    return next((kind for suffix, kind in COMPRESSED_SUFFIXES.items()
                 if file_name.endswith(suffix)), "none")


def _version_key(version: str) -> list[tuple[int, str]]:
    return [(int(part), "") if part.isdigit() else (-1, part)
            for part in re.split(r"[._-]", version)]


def resolve_image(name_or_path: str, *, images_dir: str | os.PathLike[str] | None = None,
                  hub_url: str | None = None, session: requests.Session | None = None) -> OsImage:
    """A path to an image file, or a name ("debian-xfce") or "name_version" found on the stick
    first, then on the hub (the newest version when only the name is given)."""
    candidate = Path(name_or_path)
    if candidate.is_file():
        return image_from_path(candidate)
    found: list[OsImage] = []
    if images_dir is not None:
        found = [entry.image for entry in list_images(images_dir) if entry.image is not None]
        match = _pick(found, name_or_path)
        if match is not None:
            return match
    if hub_url:
        match = _pick(list_hub_images(hub_url, session=session), name_or_path)
        if match is not None:
            return match
    raise ImageNotFound(name_or_path)


def _pick(images: list[OsImage], wanted: str) -> OsImage | None:
    exact = [image for image in images if image.label == wanted]
    if exact:
        return exact[0]
    named = [image for image in images if image.name == wanted]
    if not named:
        return None
    return max(named, key=lambda image: _version_key(image.version))


def download_image(image: OsImage, into_dir: str | os.PathLike[str], *,
                   progress: EventSink = ignore_events, cancel: threading.Event | None = None,
                   session: requests.Session | None = None, timeout: float = 30.0) -> OsImage:
    """Fetch a hub image into `into_dir` (the stick's `images/`): the block map and manifest,
    then the file into `FILE.part`, resumed with a Range request after an interruption. The
    file's sha256 and size are checked against the manifest before it takes its final name; a
    file that does not match is deleted and refused. Returns the local image."""
    manifest = image.manifest
    if manifest is None or image.url is None:
        raise UnsupportedImage(image.location, _("only images listed by the hub can be "
                                                 "downloaded"))
    http = session or requests.Session()
    cancel = cancel or threading.Event()
    directory = Path(into_dir)
    directory.mkdir(parents=True, exist_ok=True)
    base_url = image.url.rsplit("/", 1)[0]
    target = directory / manifest.file
    if manifest.bmap:
        bmap_url = f"{base_url}/{quote(manifest.bmap)}"
        _fetch_small(http, bmap_url, directory / manifest.bmap, timeout)
    manifest_path = directory / f"{manifest.label}{MANIFEST_SUFFIX}"
    if not (target.is_file() and _sha256_of(target) == manifest.compressed_sha256):
        _fetch_resumable(http, image.url, target, manifest, progress, cancel, timeout)
    _write_atomically(manifest_path, json.dumps(manifest.to_json(), indent=2).encode())
    return replace(image_from_path(target, source="hub", manifest=manifest), url=image.url)


def _fetch_small(http: requests.Session, url: str, path: Path, timeout: float) -> None:
    try:
        response = http.get(url, timeout=timeout)
        response.raise_for_status()
    except requests.RequestException as error:
        raise DownloadFailed(url, _network_words(error)) from error
    _write_atomically(path, response.content)


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".part")
    with open(partial, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while piece := handle.read(8 << 20):
            digest.update(piece)
    return digest.hexdigest()


def _fetch_resumable(http: requests.Session, url: str, target: Path, manifest: ImageManifest,
                     progress: EventSink, cancel: threading.Event, timeout: float) -> None:
    partial = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    have = 0
    if partial.exists():
        if partial.stat().st_size > manifest.compressed_size:
            partial.unlink()
        else:
            with open(partial, "rb") as handle:
                while piece := handle.read(8 << 20):
                    digest.update(piece)
                    have += len(piece)
    total = manifest.compressed_size
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        if have < total:
            with http.get(url, headers=headers, stream=True, timeout=timeout) as response:
                if response.status_code == 200 and have:
                    # The server ignored the range: start again from the beginning.
                    digest, have = hashlib.sha256(), 0
                elif response.status_code not in (200, 206):
                    raise DownloadFailed(url, f"HTTP {response.status_code}")
                with open(partial, "r+b" if have else "wb") as handle:
                    handle.seek(have)
                    handle.truncate()
                    for piece in response.iter_content(DOWNLOAD_PIECE):
                        if cancel.is_set():
                            raise DownloadCancelled(url)
                        handle.write(piece)
                        digest.update(piece)
                        have += len(piece)
                        progress(ProgressEvent(url, "download", have, total))
                    handle.flush()
                    os.fsync(handle.fileno())
    except requests.RequestException as error:
        raise DownloadFailed(url, _network_words(error)) from error
    if have != total:
        raise DownloadFailed(url, _("{got} of {expected} bytes received")
                             .format(got=have, expected=total))
    if digest.hexdigest() != manifest.compressed_sha256:
        partial.unlink()
        raise CorruptImage(url, _("its sha256 is not the one its manifest gives"))
    os.replace(partial, target)
    progress(ProgressEvent(url, "download", have, total))


def _network_words(error: Exception) -> str:
    """What went wrong on the network, in plain words. Imported here: image/build.sh packs OS
    images with this module in a venv that has no network libraries but requests."""
    from agent.network_errors import describe_failure

    return describe_failure(error)
