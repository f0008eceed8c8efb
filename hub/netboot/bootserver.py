"""The boot service's HTTP side: each machine's boot script, the boot files, the workshop's
configuration.

The image build leaves the boot files in one folder with `netboot.json` (image/netboot.py): the
kernel, the initrd, the root file system and the kernel command line. A machine's iPXE asks
`/boot.ipxe` with its MAC address and UUID (its GRUB, `/boot.grub`: UEFI machines, Secure Boot
on or off) and gets a script that loads the three files from here, with a boot credential on
the command line: a statement signed by the service's station key that lets the machine enroll
with the hub as `<service>-<mac>` (agent/report/bootcredential.py).
The machine's initrd checks the root's sha256 (given on the command line too) before using it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.i18n import _
from agent.report.bootcredential import mint, new_claims, normal_mac
from agent.report.dsse import key_id

MANIFEST_NAME = "netboot.json"
KERNEL, INITRD, ROOT = "vmlinuz", "initrd", "root.erofs"
BOOT_FILES = (KERNEL, INITRD, ROOT)
# The path iPXE gives the root inside the cpio archive it wraps it in: the initrd's
# reeeboot-netroot unit checks and attaches it from there (image/netboot/).
ROOT_IN_INITRD = "/reeeboot-root.erofs"
# Linux reads at most 2048 bytes of command line on x86, the final NUL included.
MAX_COMMAND_LINE = 2047
# Reads big enough that 30 machines pulling the root at once cost few trips through the event
# loop: uvicorn sends what it is given, it has no sendfile path (no http.response.pathsend).
CHUNK_SIZE = 1 << 20
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_IPXE_VERSION = re.compile(r"^(\d+)\.(\d+)")
# iPXE for UEFI passes initrds to the kernel (and wraps a named one in cpio) from 1.21 on.
NEWEST_IPXE_WITHOUT_EFI_INITRD = (1, 21)
SNP_IPXE = "snponly.efi"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

boot_log = logging.getLogger("reeeboot.netboot")


class ManifestError(Exception):
    """Why the boot files cannot be served, in words for the workshop."""


@dataclass(frozen=True)
class BootFile:
    name: str
    path: Path
    size: int
    sha256: str
    # The file as found at start (inode, modification time): a rebuild of the same size must
    # not be served under the sha256 of the one before (the machines would restart forever).
    identity: tuple[int, int] | None = None


@dataclass(frozen=True)
class Manifest:
    """The boot files as the image build described them (netboot.json)."""

    folder: Path
    version: str
    cmdline: str
    files: Mapping[str, BootFile]


def load_manifest(folder: Path) -> Manifest:
    """netboot.json, checked against the files beside it: present, with the sizes it says.
    Their sha256 is not computed here (the root is hundreds of MB): each machine checks it."""
    path = folder / MANIFEST_NAME
    try:
        document: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ManifestError(_("No {path}: build the image first (image/build.sh), or give the "
                              "folder of the boot files with --files.").format(path=path)
                            ) from error
    except (OSError, ValueError) as error:
        raise ManifestError(_("{path} cannot be read: {error}").format(path=path, error=error)
                            ) from error
    if not isinstance(document, dict) or not isinstance(document.get("files"), dict) \
            or not isinstance(document.get("cmdline"), str) \
            or not isinstance(document.get("version"), str):
        raise ManifestError(_("{path} lacks its version, its command line or its list of "
                              "files.").format(path=path))
    files: dict[str, BootFile] = {}
    problems: list[str] = []
    for name in BOOT_FILES:
        if name not in document["files"]:
            problems.append(_("{name}: not in the list").format(name=name))
    for name, entry in document["files"].items():
        if not isinstance(entry, dict) or not _FILE_NAME.match(str(name)) \
                or not isinstance(entry.get("size"), int) \
                or not _SHA256.match(str(entry.get("sha256", ""))):
            problems.append(_("{name}: a bad entry").format(name=name))
            continue
        file = BootFile(name, folder / name, entry["size"], entry["sha256"])
        try:
            info = file.path.stat()
        except FileNotFoundError:
            problems.append(_("{name}: missing").format(name=name))
            continue
        if not stat.S_ISREG(info.st_mode):
            problems.append(_("{name}: not a file").format(name=name))
        elif info.st_size != file.size:
            problems.append(_("{name}: {actual} bytes instead of {expected}").format(
                name=name, actual=info.st_size, expected=file.size))
        else:
            files[name] = dataclasses.replace(file, identity=_identity(info))
    if problems:
        raise ManifestError(_("The boot files in {folder} do not match {manifest} (rebuild the "
                              "image): {problems}.").format(
            folder=folder, manifest=MANIFEST_NAME, problems="; ".join(problems)))
    return Manifest(folder, document["version"], document["cmdline"], files)


@dataclass(frozen=True)
class BootService:
    """What the HTTP side serves, and who it is."""

    name: str  # the boot service's station name on the hub
    key: Ed25519PrivateKey  # its station key: it signs the boot credentials
    hub_url: str
    base_url: str  # http://ADDRESS:PORT, as the machines reach this server
    manifest: Manifest
    workshop_config: bytes  # reeeboot.toml for the machines, served as it is
    # added to the image's command line: "nomodeset" for machines whose screen goes black, as
    # the stick menu's safe graphics entry does
    kernel_options: str = ""
    # where the machines load the kernel, initrd and root: this server's /files, or the same
    # files on a plain web server (`--files-url`: nginx beside the service, docs/netboot.md)
    files_url: str = ""

    @property
    def boot_files_url(self) -> str:
        return (self.files_url or f"{self.base_url}/files").rstrip("/")


def _identity(info: os.stat_result) -> tuple[int, int]:
    return info.st_ino, info.st_mtime_ns


def station_name(service_name: str, mac: str) -> str:
    """The name a machine booted by the service enrolls as: the service's, then the MAC."""
    return f"{service_name}-{mac.replace(':', '')}"


def command_line(service: BootService, credential: str) -> str:
    root = service.manifest.files[ROOT]
    return " ".join([service.manifest.cmdline, *service.kernel_options.split(),
                     f"reeeboot.hub={service.hub_url}",
                     f"reeeboot.bootsvc={service.base_url}", f"reeeboot.boot={credential}",
                     f"reeeboot.root_sha256={root.sha256}"])


def boot_script(service: BootService, credential: str) -> str:
    files = service.boot_files_url
    address = files.removeprefix("http://").split("/", 1)[0]
    return "\n".join([
        "#!ipxe",
        f"echo reeeboot: loading the system from {address} ...",
        f"kernel {files}/{KERNEL} {command_line(service, credential)}",
        f"initrd {files}/{INITRD}",
        f"initrd {files}/{ROOT} {ROOT_IN_INITRD}",
        "boot",
    ]) + "\n"


def grub_location(url: str) -> tuple[str, str]:
    """http://HOST:PORT/PATH as GRUB names it, (http,HOST:PORT)/PATH; and HOST:PORT."""
    address, _slash, path = url.removeprefix("http://").partition("/")
    return f"(http,{address})/{path}".rstrip("/"), address


def grub_quoted(word: str) -> str:
    """One word for GRUB's script: single quotes keep everything literal but a single quote."""
    return "'" + word.replace("'", "'\\''") + "'"


def grub_boot_script(service: BootService, credential: str) -> str:
    """The same system through GRUB: shim checks GRUB, GRUB (shim_lock) the kernel; the root
    goes into the initrd as the same file iPXE names, wrapped in cpio by GRUB ("newc:")."""
    files, address = grub_location(service.boot_files_url)
    arguments = " ".join(grub_quoted(word) for word in command_line(service, credential).split())
    return "\n".join([
        f'echo "reeeboot: loading the system from {address} ..."',
        f"linux {files}/{KERNEL} {arguments}",
        f"initrd {files}/{INITRD} newc:{ROOT_IN_INITRD.lstrip('/')}:{files}/{ROOT}",
        "boot",
        # Only reached when a file did not come or the kernel was refused.
        f'echo "reeeboot: the system could not be loaded from {address}. The machine restarts '
        'in 30 seconds / le système n\'a pas pu être chargé. La machine redémarre dans 30 '
        'secondes."',
        "sleep 30",
        "reboot",
    ]) + "\n"


def needs_newer_ipxe(platform: str, version: str) -> bool:
    """An iPXE for UEFI older than 1.21 (QEMU's network card ROMs of 2019, some cards' own)
    hands the kernel no initrd: it is sent the service's iPXE (snponly.efi) over TFTP first.
    iPXE for BIOS of any age hands them over."""
    found = _IPXE_VERSION.match(version)
    return platform == "efi" and found is not None and \
        (int(found[1]), int(found[2])) < NEWEST_IPXE_WITHOUT_EFI_INITRD


def chain_newer_ipxe(service: BootService) -> str:
    address = service.base_url.removeprefix("http://").rsplit(":", 1)[0]
    return "\n".join(["#!ipxe", "echo reeeboot: this iPXE is too old, loading a newer one ...",
                       f"chain tftp://{address}/{SNP_IPXE}", ""])


def longest_command_line(service: BootService) -> int:
    """The command line's length for the longest credential a machine can get: checked at
    start, as a long hub address or command line would otherwise fail on every machine."""
    claims = new_claims(boot_service=service.name, key_id=key_id(service.key.public_key()),
                        station=station_name(service.name, "00:00:00:00:00:00"),
                        mac="00:00:00:00:00:00", uuid="0" * 36, ip="255.255.255.255")
    return len(command_line(service, mint(claims, service.key)).encode())


def _uuid(text: str) -> str:
    """The firmware's UUID as iPXE wrote it, or "" when it gave none, something else, or one of
    SMBIOS's "not set" values (all zeros, all ones), which Linux does not show the machine."""
    uuid = text.strip().lower()
    if not _UUID.match(uuid) or set(uuid.replace("-", "")) in ({"0"}, {"f"}):
        return ""
    return uuid


class CanonicalHeaderNames:
    """Sends the response's header names as "Content-Length", not "content-length": GRUB's HTTP
    client reads the length only when it is spelt so (grub-core/net/http.c compares bytes), and
    without it waits for the connection to close, which a kept-alive one never does. Needs a
    server that keeps the names' case: uvicorn's h11 protocol does (its httptools one lowers
    them)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_canonical(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [
                    (canonical_header_name(name), value)
                    for name, value in message.get("headers", [])]}
            await send(message)

        await self.app(scope, receive, send_canonical if scope["type"] == "http" else send)


def canonical_header_name(name: bytes) -> bytes:
    return b"-".join(part[:1].upper() + part[1:].lower() for part in name.split(b"-"))


class BootFileResponse(FileResponse):
    chunk_size = CHUNK_SIZE


def create_app(service: BootService) -> Starlette:
    manifest = service.manifest
    signing_key_id = key_id(service.key.public_key())

    def credential(request: Request, mac: str, loader: str) -> str:
        ip = request.client.host if request.client is not None else ""
        claims = new_claims(boot_service=service.name, key_id=signing_key_id,
                            station=station_name(service.name, mac), mac=mac,
                            uuid=_uuid(request.query_params.get("uuid", "")), ip=ip)
        # The workshop's record of which machines booted (and of each credential's nonce).
        boot_log.info("%s boot station=%s mac=%s ip=%s loader=%s nonce=%s", claims.issued_at,
                      claims.station, claims.mac, claims.ip, loader, claims.nonce)
        return mint(claims, service.key)

    def mac_of(request: Request) -> str | None:
        try:
            return normal_mac(request.query_params.get("mac", ""))
        except ValueError:
            return None

    def no_mac(script: str) -> Response:
        return PlainTextResponse(f"reeeboot: {script} needs the network card's MAC address "
                                 "(?mac=52-54-00-12-34-56)\n", 400)

    async def boot_ipxe(request: Request) -> Response:
        mac = mac_of(request)
        if mac is None:
            return no_mac("boot.ipxe")
        if needs_newer_ipxe(request.query_params.get("platform", ""),
                            request.query_params.get("version", "")):
            return PlainTextResponse(chain_newer_ipxe(service))
        return PlainTextResponse(boot_script(service, credential(request, mac, "ipxe")))

    async def boot_grub(request: Request) -> Response:
        mac = mac_of(request)
        if mac is None:
            return no_mac("boot.grub")
        return PlainTextResponse(grub_boot_script(service, credential(request, mac, "grub")))

    async def boot_file(request: Request) -> Response:
        file = manifest.files.get(request.path_params["name"])
        if file is None:
            return PlainTextResponse("not found\n", 404)
        try:
            info = os.stat(file.path)
        except FileNotFoundError:
            info = None
        if info is None or info.st_size != file.size or \
                (file.identity is not None and _identity(info) != file.identity):
            # The image was rebuilt under the running service: the machines would get files
            # that do not match their command line.
            return PlainTextResponse("reeeboot: the boot files changed on the server; restart "
                                     "the boot service\n", 503)
        return BootFileResponse(file.path, media_type="application/octet-stream",
                                stat_result=info)

    async def workshop_config(_request: Request) -> Response:
        return Response(service.workshop_config, media_type="text/plain; charset=utf-8")

    async def healthz(_request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(routes=[
        Route("/boot.ipxe", boot_ipxe),
        Route("/boot.grub", boot_grub),
        Route("/files/{name}", boot_file),
        Route("/reeeboot.toml", workshop_config),
        Route("/healthz", healthz),
    ])
