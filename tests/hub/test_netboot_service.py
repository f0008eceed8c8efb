"""`reeeboot-hub netboot`: dnsmasq's configuration, the boot scripts and files over HTTP, the
service's enrollment, and the whole service on a network made by the test.

The last tests need root and dnsmasq (tests/run installs dnsmasq-base): they fail without them.
Their network is two namespaces the test makes, joined by a veth pair: the service in one, the
test's TFTP and HTTP clients in the other; nothing reaches the machine's own network.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import hashlib
import ipaddress
import json
import logging
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from agent.report.bootcredential import read_claims, verify
from agent.report.dsse import key_id
from agent.report.hubclient import HubClient
from agent.report.station import load_or_create_key
from hub.models import STATION_KIND_BOOT_SERVICE
from hub.netboot.bootserver import (
    MAX_COMMAND_LINE,
    BootService,
    ManifestError,
    boot_script,
    canonical_header_name,
    command_line,
    create_app,
    grub_boot_script,
    load_manifest,
    longest_command_line,
)
from hub.netboot.dnsmasq import (
    DnsmasqError,
    InterfaceAddress,
    check_configuration,
    configuration,
    interface_address,
    parse_ip_addresses,
    prepare_tftp_root,
)
from hub.netboot.service import (
    ServiceError,
    ServiceSettings,
    check_files_url,
    check_kernel_options,
    enrolled_key,
    run_service,
    workshop_config,
)
from tests.hubserver import RunningHub, free_port

pytestmark = pytest.mark.usefixtures("english")

CMDLINE = "root=/dev/loop0 rootfstype=erofs ro systemd.volatile=overlay quiet"
HUB_URL = "https://hub.example.org"
MAC = "52-54-00-AB-CD-EF"
UUID = "86A9F546-D31B-4BA2-9BBB-303B61BCF8D1"


def _content(name: str, size: int) -> bytes:
    seed = hashlib.sha256(name.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


# A few KiB each, with sizes that end TFTP transfers both ways: a short last block, and an
# empty one after a full block (snponly.efi: 4 blocks of 512 bytes exactly).
SIZES = {"vmlinuz": 3000, "initrd": 2500, "root.erofs": 6000, "undionly.kpxe": 5 * 1024 + 7,
         "snponly.efi": 2048, "ipxe.efi": 1500, "shimx64.efi": 4100, "grubx64.efi": 3500}


@pytest.fixture
def boot_files(tmp_path: Path) -> Path:
    """What the image build leaves in out/netboot, with small fake files."""
    folder = tmp_path / "netboot"
    folder.mkdir()
    for name, size in SIZES.items():
        (folder / name).write_bytes(_content(name, size))
    manifest = {"version": "20250101120000", "cmdline": CMDLINE, "files": {
        name: {"size": SIZES[name],
               "sha256": hashlib.sha256(_content(name, SIZES[name])).hexdigest()}
        for name in ("vmlinuz", "initrd", "root.erofs")}}
    (folder / "netboot.json").write_text(json.dumps(manifest, indent=2))
    return folder


def _service(boot_files: Path, workshop: bytes = b"language = \"en\"\n") -> BootService:
    return BootService("lyon-boot", Ed25519PrivateKey.generate(), HUB_URL,
                       "http://192.0.2.1:8070", load_manifest(boot_files), workshop)


@pytest.fixture
def service(boot_files: Path) -> BootService:
    return _service(boot_files)


@pytest.fixture
def client(service: BootService) -> Iterator[TestClient]:
    with TestClient(create_app(service), client=("192.168.1.50", 40000)) as test_client:
        yield test_client


# dnsmasq's configuration

LAN_JSON = json.dumps([{"ifindex": 2, "ifname": "eno1", "addr_info": [
    {"family": "inet", "local": "192.168.1.10", "prefixlen": 24, "scope": "global"},
    {"family": "inet", "local": "10.0.0.5", "prefixlen": 8, "scope": "global"}]}])


def test_dnsmasq_configuration_is_proxy_dhcp_and_tftp_on_the_interface(tmp_path: Path) -> None:
    lan = parse_ip_addresses("eno1", LAN_JSON)
    assert lan == InterfaceAddress("eno1", ipaddress.IPv4Interface("192.168.1.10/24"))
    tftp_root = tmp_path / "tftp"
    tftp_root.mkdir()
    text = configuration(lan, tftp_root, pid_file=tmp_path / "dnsmasq.pid")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    for expected in ("port=0", "interface=eno1", "bind-interfaces", "log-dhcp", "enable-tftp",
                     f"tftp-root={tftp_root}", "dhcp-range=192.168.1.0,proxy,255.255.255.0",
                     "dhcp-match=set:ipxe,175", "log-facility=-",
                     'pxe-service=tag:!ipxe,x86PC,"reeeboot",undionly.kpxe',
                     'pxe-service=tag:!ipxe,X86-64_EFI,"reeeboot",shimx64.efi',
                     'pxe-service=tag:!ipxe,BC_EFI,"reeeboot",shimx64.efi',
                     'pxe-service=tag:ipxe,x86PC,"reeeboot",reeeboot.ipxe',
                     'pxe-service=tag:ipxe,X86-64_EFI,"reeeboot",reeeboot.ipxe',
                     'pxe-service=tag:ipxe,BC_EFI,"reeeboot",reeeboot.ipxe'):
        assert expected in lines
    # Never an address of its own to give, no DNS, no wait at a menu, no files owned by dnsmasq.
    assert not [line for line in lines if line.startswith(("dhcp-range=", "pxe-prompt",
                                                           "tftp-secure", "dhcp-host"))
                and "proxy" not in line]
    path = tmp_path / "dnsmasq.conf"
    path.write_text(text)
    check_configuration(path)  # dnsmasq --test; fails when dnsmasq is missing
    path.write_text(text.replace("X86-64_EFI", "X86-65_EFI"))
    with pytest.raises(DnsmasqError, match="refuses"):
        check_configuration(path)


def test_an_interface_without_ipv4_is_refused() -> None:
    no_address = json.dumps([{"ifindex": 3, "ifname": "wlan0", "addr_info": []}])
    with pytest.raises(DnsmasqError, match="wlan0 has no IPv4 address"):
        parse_ip_addresses("wlan0", no_address)
    with pytest.raises(DnsmasqError, match="No network interface named reeeboot-none0"):
        interface_address("reeeboot-none0")


def test_the_tftp_folder_holds_ipxe_and_the_chain_script(boot_files: Path) -> None:
    folder = Path(tempfile.mkdtemp(prefix="reeeboot-netboot-test-", dir="/tmp"))
    try:
        folder.chmod(0o755)
        prepare_tftp_root(boot_files, folder / "tftp", "http://192.168.1.10:8070")
        for name in ("undionly.kpxe", "snponly.efi", "ipxe.efi", "shimx64.efi", "grubx64.efi"):
            assert (folder / "tftp" / name).read_bytes() == (boot_files / name).read_bytes()
            assert (folder / "tftp" / name).stat().st_mode & 0o777 == 0o644
        assert (folder / "tftp" / "reeeboot.ipxe").read_text() == (
            "#!ipxe\nchain http://192.168.1.10:8070/boot.ipxe"
            "?mac=${netX/mac:hexhyp}&uuid=${uuid}&platform=${platform}&version=${version}\n")
        # Debian's network GRUB reads grub/grub.cfg beside itself: it asks for the machine's
        # script, naming its card and its firmware's UUID, and starts again if that fails.
        grub_cfg = (folder / "tftp" / "grub" / "grub.cfg").read_text().splitlines()
        assert "smbios --type 1 --get-uuid 8 --set reeeboot_uuid" in grub_cfg
        assert 'configfile "(http,192.168.1.10:8070)/boot.grub?mac=${net_default_mac}' \
            '&uuid=${reeeboot_uuid}"' in grub_cfg
        assert grub_cfg[-2:] == ["sleep 30", "reboot"]
        assert (folder / "tftp" / "grub").stat().st_mode & 0o777 == 0o755
    finally:
        shutil.rmtree(folder)


def test_the_tftp_folder_is_refused_when_dnsmasq_could_not_read_it(boot_files: Path,
                                                                   tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    with pytest.raises(DnsmasqError, match="closed to other users"):
        prepare_tftp_root(boot_files, closed / "tftp", "http://192.168.1.10:8070")
    (boot_files / "snponly.efi").unlink()
    with pytest.raises(DnsmasqError, match=r"lack the programs snponly\.efi"):
        prepare_tftp_root(boot_files, tmp_path / "tftp", "http://192.168.1.10:8070")


# The boot script

def _kernel_options(script: str) -> dict[str, str]:
    kernel = next(line for line in script.splitlines() if line.startswith("kernel "))
    return dict(word.split("=", 1) for word in kernel.split()[2:] if "=" in word)


def test_the_boot_script_carries_a_credential_for_the_asking_machine(
        client: TestClient, service: BootService, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="reeeboot.netboot"):
        response = client.get("/boot.ipxe", params={"mac": MAC, "uuid": UUID})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    script = response.text
    base = "http://192.0.2.1:8070"
    lines = script.splitlines()
    assert lines[0] == "#!ipxe"
    assert lines[1] == "echo reeeboot: loading the system from 192.0.2.1:8070 ..."
    assert lines[2].startswith(f"kernel {base}/files/vmlinuz {CMDLINE} reeeboot.hub={HUB_URL} "
                               f"reeeboot.bootsvc={base} reeeboot.boot=")
    assert lines[3:] == [f"initrd {base}/files/initrd",
                         f"initrd {base}/files/root.erofs /reeeboot-root.erofs", "boot"]
    options = _kernel_options(script)
    assert options["reeeboot.root_sha256"] == service.manifest.files["root.erofs"].sha256
    claims = verify(options["reeeboot.boot"], service.key.public_key())
    assert claims.boot_service == "lyon-boot"
    assert claims.key_id == key_id(service.key.public_key())
    assert claims.station == "lyon-boot-525400abcdef"
    assert claims.mac == "52:54:00:ab:cd:ef"
    assert claims.uuid == UUID.lower()
    assert claims.ip == "192.168.1.50"
    assert len(lines[2].split(" ", 2)[2]) <= MAX_COMMAND_LINE
    logged = [record.getMessage() for record in caplog.records
              if record.name == "reeeboot.netboot"]
    assert len(logged) == 1
    assert logged[0].startswith(claims.issued_at)
    for part in ("station=lyon-boot-525400abcdef", "mac=52:54:00:ab:cd:ef", "ip=192.168.1.50",
                 f"nonce={claims.nonce}"):
        assert part in logged[0]
    # Each boot its own credential.
    again = _kernel_options(client.get("/boot.ipxe", params={"mac": MAC}).text)
    other = verify(again["reeeboot.boot"], service.key.public_key())
    assert other.nonce != claims.nonce and other.uuid == ""


def _grub_words(line: str) -> list[str]:
    """A GRUB command's words, each single-quoted by the service, unquoted."""
    return [word[1:-1].replace("'\\''", "'") if word.startswith("'") else word
            for word in re.findall(r"'(?:[^']|'\\'')*'|\S+", line)]


def test_the_grub_script_loads_the_same_system_with_a_credential(
        client: TestClient, service: BootService, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="reeeboot.netboot"):
        response = client.get("/boot.grub", params={"mac": "52:54:00:ab:cd:ef", "uuid": UUID})
    assert response.status_code == 200
    lines = response.text.splitlines()
    files = "(http,192.0.2.1:8070)/files"
    assert lines[0] == 'echo "reeeboot: loading the system from 192.0.2.1:8070 ..."'
    kernel = _grub_words(lines[1])
    assert kernel[:2] == ["linux", f"{files}/vmlinuz"]
    assert " ".join(kernel[2:]).startswith(f"{CMDLINE} reeeboot.hub={HUB_URL} ")
    # GRUB wraps the root in cpio under the name the initrd's unit reads (as iPXE does).
    assert lines[2] == (f"initrd {files}/initrd "
                        f"newc:reeeboot-root.erofs:{files}/root.erofs")
    assert lines[3] == "boot"
    assert lines[-2:] == ["sleep 30", "reboot"]
    options = dict(word.split("=", 1) for word in kernel[2:] if "=" in word)
    assert options["reeeboot.root_sha256"] == service.manifest.files["root.erofs"].sha256
    claims = verify(options["reeeboot.boot"], service.key.public_key())
    assert (claims.station, claims.mac, claims.uuid, claims.ip) == (
        "lyon-boot-525400abcdef", "52:54:00:ab:cd:ef", UUID.lower(), "192.168.1.50")
    logged = [record.getMessage() for record in caplog.records
              if record.name == "reeeboot.netboot"]
    assert len(logged) == 1 and "loader=grub" in logged[0] and claims.nonce in logged[0]
    assert client.get("/boot.grub", params={"mac": "nonsense"}).status_code == 400


def test_a_kernel_option_grub_would_read_as_its_own_stays_one_literal_word(
        boot_files: Path) -> None:
    service = dataclasses.replace(_service(boot_files),
                                  kernel_options="quiet a=$x;reboot b='c' {d}")
    script = grub_boot_script(service, "CREDENTIAL")
    kernel = _grub_words(script.splitlines()[1])
    assert kernel[-7:-4] == ["a=$x;reboot", "b='c'", "{d}"]
    for word in re.findall(r"'(?:[^']|'\\'')*'|\S+", script.splitlines()[1])[2:]:
        assert word.startswith("'") and word.endswith("'"), word


def test_the_boot_files_can_come_from_another_web_server(boot_files: Path) -> None:
    service = dataclasses.replace(_service(boot_files),
                                  files_url="http://192.0.2.9:8090/netboot/")
    ipxe = boot_script(service, "CREDENTIAL").splitlines()
    assert ipxe[2].startswith("kernel http://192.0.2.9:8090/netboot/vmlinuz ")
    assert ipxe[3:5] == ["initrd http://192.0.2.9:8090/netboot/initrd",
                         "initrd http://192.0.2.9:8090/netboot/root.erofs /reeeboot-root.erofs"]
    grub = grub_boot_script(service, "CREDENTIAL").splitlines()
    assert grub[1].startswith("linux (http,192.0.2.9:8090)/netboot/vmlinuz ")
    assert grub[2] == ("initrd (http,192.0.2.9:8090)/netboot/initrd "
                       "newc:reeeboot-root.erofs:(http,192.0.2.9:8090)/netboot/root.erofs")
    # The credential and the service's own address stay the service's.
    assert "reeeboot.bootsvc=http://192.0.2.1:8070" in ipxe[2]


def test_a_files_address_the_loaders_cannot_take_is_refused(boot_files: Path,
                                                             tmp_path: Path) -> None:
    settings = ServiceSettings(interface="lo", hub_url=HUB_URL, name="lyon-boot",
                               files=boot_files, state=tmp_path / "state",
                               files_url="https://192.168.1.10/netboot")
    with pytest.raises(ServiceError, match="--files-url takes an address"):
        run_service(settings)
    assert not (tmp_path / "state").exists()  # refused before anything was made
    check_files_url("")
    check_files_url("http://192.168.1.10/netboot")
    check_files_url("http://boot.lyon.example:8090")
    for url in ("https://192.168.1.10/netboot", "http://192.168.1.10/net boot",
                "http://192.168.1.10/$x", "192.168.1.10/netboot", "http://a/'b'",
                "http://user@192.168.1.10/"):
        with pytest.raises(ServiceError, match="--files-url"):
            check_files_url(url)


def test_header_names_go_out_as_grub_reads_them() -> None:
    assert canonical_header_name(b"content-length") == b"Content-Length"
    assert canonical_header_name(b"content-type") == b"Content-Type"
    assert canonical_header_name(b"etag") == b"Etag"
    assert canonical_header_name(b"x-frame-options") == b"X-Frame-Options"


def test_the_boot_script_needs_a_mac_address(client: TestClient) -> None:
    for params in ({}, {"mac": ""}, {"mac": "52-54-00-AB-CD"}, {"mac": "not a mac"}):
        response = client.get("/boot.ipxe", params=params)
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("text/plain")
        assert "MAC address" in response.text
    # A UUID iPXE could not read is left out, not refused.
    response = client.get("/boot.ipxe", params={"mac": MAC, "uuid": "<none>"})
    assert response.status_code == 200


def test_a_firmware_uuid_that_smbios_says_is_not_set_is_left_out(client: TestClient) -> None:
    for unset in ("00000000-0000-0000-0000-000000000000", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"):
        options = _kernel_options(client.get("/boot.ipxe", params={"mac": MAC, "uuid": unset}).text)
        assert read_claims(options["reeeboot.boot"]).uuid == ""


def test_an_old_uefi_ipxe_is_handed_the_services_own_first(client: TestClient) -> None:
    old = client.get("/boot.ipxe", params={"mac": MAC, "platform": "efi",
                                           "version": "1.0.0+git-20190125.36a4c85-5.1"})
    assert old.status_code == 200
    assert "chain tftp://" in old.text and "/snponly.efi" in old.text
    assert "reeeboot.boot=" not in old.text  # no credential for a script that boots nothing
    for platform, version in (("efi", "1.21.1+git20250501.dad20602+dfsg-1"),
                              ("pcbios", "1.0.0+git-20190125.36a4c85-5.1"), ("", "")):
        script = client.get("/boot.ipxe", params={"mac": MAC, "platform": platform,
                                                  "version": version}).text
        assert "reeeboot.boot=" in script and "snponly.efi" not in script, (platform, version)


def test_the_workshops_kernel_options_join_the_command_line(service: BootService) -> None:
    with_options = dataclasses.replace(service, kernel_options="nomodeset  quiet")
    line = command_line(with_options, "CREDENTIAL")
    assert line.startswith(service.manifest.cmdline + " nomodeset quiet reeeboot.hub=")
    check_kernel_options("nomodeset i915.modeset=0")
    for bad in ("nomodeset\nchain http://elsewhere/x", "vga=\x00", "é"):
        with pytest.raises(ServiceError):
            check_kernel_options(bad)


def test_the_longest_command_line_is_within_what_linux_reads(service: BootService) -> None:
    assert longest_command_line(service) <= MAX_COMMAND_LINE


# The boot files

def test_boot_files_are_served_whole_and_by_range(client: TestClient, boot_files: Path) -> None:
    root = (boot_files / "root.erofs").read_bytes()
    whole = client.get("/files/root.erofs")
    assert whole.status_code == 200
    assert whole.content == root
    assert whole.headers["content-length"] == str(len(root))
    assert whole.headers["accept-ranges"] == "bytes"
    part = client.get("/files/root.erofs", headers={"Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.content == root[10:20]
    assert part.headers["content-length"] == "10"
    assert part.headers["content-range"] == f"bytes 10-19/{len(root)}"
    head = client.head("/files/vmlinuz")
    assert head.status_code == 200 and head.headers["content-length"] == "3000"
    assert client.get("/files/initrd").content == (boot_files / "initrd").read_bytes()


def test_only_the_manifest_s_files_are_served(client: TestClient) -> None:
    for path in ("/files/netboot.json", "/files/undionly.kpxe", "/files/..%2Fnetboot.json",
                 "/files/%2E%2E%2Fnetboot.json", "/files/..%2F..%2Fetc%2Fpasswd",
                 "/files/", "/files/vmlinuz%00", "/netboot.json"):
        assert client.get(path).status_code == 404, path


def test_a_boot_file_changed_under_the_running_service_is_not_served(
        client: TestClient, boot_files: Path) -> None:
    (boot_files / "root.erofs").write_bytes(b"rebuilt")
    response = client.get("/files/root.erofs")
    assert response.status_code == 503
    assert "restart" in response.text
    # A rebuild of the same size too: another file took the name.
    kernel = (boot_files / "vmlinuz").read_bytes()
    (boot_files / "vmlinuz.new").write_bytes(bytes(len(kernel)))
    (boot_files / "vmlinuz.new").rename(boot_files / "vmlinuz")
    assert client.get("/files/vmlinuz").status_code == 503
    assert client.get("/files/initrd").status_code == 200


def test_a_manifest_that_does_not_match_its_files_is_refused(boot_files: Path) -> None:
    with (boot_files / "root.erofs").open("ab") as growing:
        growing.write(b"x")
    with pytest.raises(ManifestError, match=r"root\.erofs: 6001 bytes instead of 6000"):
        load_manifest(boot_files)
    (boot_files / "initrd").unlink()
    with pytest.raises(ManifestError, match="initrd: missing"):
        load_manifest(boot_files)
    manifest = json.loads((boot_files / "netboot.json").read_text())
    del manifest["files"]["vmlinuz"]
    (boot_files / "netboot.json").write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match="vmlinuz: not in the list"):
        load_manifest(boot_files)
    (boot_files / "netboot.json").unlink()
    with pytest.raises(ManifestError, match=r"No .*netboot\.json"):
        load_manifest(boot_files)


def test_the_service_refuses_to_start_on_a_manifest_that_does_not_match(
        boot_files: Path, tmp_path: Path) -> None:
    with (boot_files / "vmlinuz").open("ab") as growing:
        growing.write(b"x")
    settings = ServiceSettings(interface="lo", hub_url=HUB_URL, name="lyon-boot",
                               files=boot_files, state=tmp_path / "state")
    with pytest.raises(ServiceError, match="vmlinuz: 3001 bytes instead of 3000"):
        run_service(settings)
    assert not (tmp_path / "state").exists()  # nothing made, no hub asked


# The workshop's configuration

def test_the_workshop_configuration_is_served_verbatim(boot_files: Path, tmp_path: Path) -> None:
    text = ("# Atelier de Lyon : configuration des machines démarrées par le réseau\n"
            "language = \"fr\"\n\n[erase]\nverify = \"sample\"\n")
    path = tmp_path / "reeeboot.toml"
    path.write_text(text, encoding="utf-8")
    service = _service(boot_files, workshop_config(path))
    with TestClient(create_app(service)) as test_client:
        response = test_client.get("/reeeboot.toml")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.content == text.encode()
    assert test_client.get("/healthz").text == "ok"


def test_without_a_configuration_the_machines_get_the_commented_defaults(
        boot_files: Path, tmp_path: Path) -> None:
    defaults = Path(__file__).resolve().parents[2] / "agent" / "data" / "reeeboot.toml"
    assert workshop_config(None) == defaults.read_bytes()
    broken = tmp_path / "reeeboot.toml"
    broken.write_text("[erase]\nrounds = 0\nmethod = \"shred\"\n")
    with pytest.raises(ServiceError, match="has mistakes"):
        workshop_config(broken)


# Enrollment

def test_the_service_enrolls_once_with_its_token(database_url: str, tmp_path: Path) -> None:
    running = RunningHub(database_url, free_port())
    running.start()
    try:
        running.database.add_workshop("Lyon")
        token = running.database.add_station("lyon-boot", "Lyon",
                                             kind=STATION_KIND_BOOT_SERVICE)
        state = tmp_path / "state"
        settings = ServiceSettings(interface="lo", hub_url=running.url, name="lyon-boot",
                                   state=state)
        with pytest.raises(ServiceError, match=r"not enrolled .* --token"):
            enrolled_key(settings)
        key = enrolled_key(ServiceSettings(interface="lo", hub_url=running.url,
                                           name="lyon-boot", token=token, state=state))
        assert running.database.signing_key(key_id(key.public_key())) is not None
        # Remembered: no token needed from now on, and the same key.
        again = enrolled_key(settings)
        assert key_id(again.public_key()) == key_id(key.public_key())
        with pytest.raises(ServiceError, match="refused"):
            enrolled_key(ServiceSettings(interface="lo", hub_url=running.url,
                                         name="lyon-boot", token="wrong",
                                         state=tmp_path / "other"))
    finally:
        running.stop()
    with pytest.raises(ServiceError, match="cannot be reached"):
        enrolled_key(ServiceSettings(interface="lo", hub_url="http://127.0.0.1:9",
                                     name="lyon-boot", token="some-token",
                                     state=tmp_path / "third"))


# The whole service, on a network of two namespaces

CLONE_NEWNET = 0x40000000


def _ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True)


@dataclass(frozen=True)
class NetbootNetwork:
    server_ns: str
    client_ns: str
    server_if: str
    server_ip: str
    client_if: str
    client_ip: str

    def socket(self, kind: int) -> socket.socket:
        """A socket in the client's namespace: made by a thread that enters it (a network
        namespace is a thread's own), usable from any thread after."""
        made: list[socket.socket] = []
        failed: list[BaseException] = []

        def enter_and_make() -> None:
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                fd = os.open(f"/run/netns/{self.client_ns}", os.O_RDONLY)
                try:
                    if libc.setns(fd, CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns")
                finally:
                    os.close(fd)
                made.append(socket.socket(socket.AF_INET, kind))
            except BaseException as error:
                failed.append(error)

        thread = threading.Thread(target=enter_and_make)
        thread.start()
        thread.join()
        if failed:
            raise failed[0]
        return made[0]


@pytest.fixture
def network() -> Iterator[NetbootNetwork]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.fail("the network boot service's tests need root and ip (run them through "
                    "tests/run)")
    if shutil.which("dnsmasq") is None and not Path("/usr/sbin/dnsmasq").exists():
        pytest.fail("dnsmasq is missing (tests/run installs dnsmasq-base)")
    tag = f"{os.getpid() % 100000}"
    net = NetbootNetwork(f"rb-nb-srv-{tag}", f"rb-nb-cli-{tag}", f"rbnbs{tag}", "10.213.7.1",
                         f"rbnbc{tag}", "10.213.7.2")
    try:
        _ip("netns", "add", net.server_ns)
        _ip("netns", "add", net.client_ns)
        _ip("link", "add", net.server_if, "netns", net.server_ns, "type", "veth", "peer",
            "name", net.client_if, "netns", net.client_ns)
        for namespace, interface, address in ((net.server_ns, net.server_if, net.server_ip),
                                              (net.client_ns, net.client_if, net.client_ip)):
            _ip("-n", namespace, "link", "set", "lo", "up")
            _ip("-n", namespace, "addr", "add", f"{address}/24", "dev", interface)
            _ip("-n", namespace, "link", "set", interface, "up")
        yield net
    finally:
        for namespace in (net.server_ns, net.client_ns):
            subprocess.run(["ip", "netns", "del", namespace], check=False, capture_output=True)


def tftp_get(net: NetbootNetwork, name: str, timeout: float = 5.0) -> bytes:
    """A file over TFTP (RFC 1350: read request, octet mode, one ACK per block)."""
    with net.socket(socket.SOCK_DGRAM) as udp:
        udp.settimeout(timeout)
        udp.sendto(struct.pack("!H", 1) + name.encode() + b"\0octet\0", (net.server_ip, 69))
        received = b""
        expected = 1
        server: tuple[str, int] | None = None
        while True:
            packet, sender = udp.recvfrom(4 + 512)
            if server is None:
                server = sender  # the transfer's own port, not 69
            if sender != server:
                continue
            opcode, number = struct.unpack("!HH", packet[:4])
            if opcode == 5:
                message = packet[4:].rstrip(b"\0")
                raise AssertionError(f"TFTP error {number}: {message!r}")
            assert opcode == 3, f"unexpected TFTP opcode {opcode}"
            if number == expected:
                received += packet[4:]
                expected += 1
            udp.sendto(struct.pack("!HH", 4, number), server)
            if number == expected - 1 and len(packet) - 4 < 512:
                return received


MAC_BYTES = bytes.fromhex("525400abcdef")


def _dhcp_options(packet: bytes) -> dict[int, bytes]:
    options, at = {}, 240  # after the fixed fields and the magic cookie
    while at < len(packet) and packet[at] != 255:
        if packet[at] == 0:
            at += 1
            continue
        options[packet[at]] = packet[at + 2:at + 2 + packet[at + 1]]
        at += 2 + packet[at + 1]
    return options


def _pxe_request(kind: int, arch: int, ipxe: bool, ciaddr: str = "0.0.0.0",
                 boot_item: int | None = None) -> bytes:
    """A PXE client's DHCP message (RFC 2131, with RFC 4578's and the PXE specification's
    options); `ipxe` adds what iPXE adds: its own option 175 and user class."""
    fixed = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, 0x5EB007, 0, 0x8000,
                        socket.inet_aton(ciaddr), bytes(4), bytes(4), bytes(4),
                        MAC_BYTES + bytes(10), b"", b"")
    vendor = f"PXEClient:Arch:{arch:05d}:UNDI:002001".encode()
    options = bytes([53, 1, kind, 93, 2]) + struct.pack("!H", arch) + bytes([94, 3, 1, 2, 1])
    options += bytes([97, 17, 0]) + bytes(range(16)) + bytes([60, len(vendor)]) + vendor
    if ipxe:
        options += bytes([175, 3, 19, 1, 1, 77, 4]) + b"iPXE"
    if boot_item is not None:  # the PXE boot item the client picked from the menu
        options += bytes([43, 6, 71, 4]) + struct.pack("!HH", boot_item, 0)
    return fixed + b"\x63\x82\x53\x63" + options + b"\xff"


def pxe_boot_file(net: NetbootNetwork, arch: int, ipxe: bool) -> str:
    """What proxy DHCP tells a PXE client to load, as the client learns it: a DHCPDISCOVER
    broadcast, then a request to the boot server's port 4011 (for the menu's item, BIOS; as
    the offer redirects it, UEFI)."""
    with net.socket(socket.SOCK_DGRAM) as udp:
        udp.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        udp.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, net.client_if.encode())
        udp.bind(("0.0.0.0", 68))
        udp.settimeout(5)
        udp.sendto(_pxe_request(1, arch, ipxe), ("255.255.255.255", 67))
        offer, _sender = udp.recvfrom(2048)
        assert offer[16:20] == bytes(4), "a proxy DHCP offer gives no address"
        options = _dhcp_options(offer)
        assert options[53] == b"\x02" and options[60] == b"PXEClient"
        item = None
        pxe = options.get(43, b"")
        at = 0
        while at < len(pxe) and pxe[at] != 255:
            if pxe[at] == 9:  # the boot menu: its first item's type
                item = struct.unpack("!H", pxe[at + 2:at + 4])[0]
            at += 2 + pxe[at + 1]
        udp.sendto(_pxe_request(3, arch, ipxe, net.client_ip, item), (net.server_ip, 4011))
        answer, _sender = udp.recvfrom(2048)
    assert _dhcp_options(answer)[53] == b"\x05"
    assert socket.inet_ntoa(answer[20:24]) == net.server_ip  # TFTP from the service
    return answer[108:236].rstrip(b"\0").decode()


def http_get(net: NetbootNetwork, path: str, port: int = 8070) -> tuple[int, bytes]:
    head, body = http_get_raw(net, path, port)
    return int(head.split()[1]), body


def http_get_raw(net: NetbootNetwork, path: str, port: int = 8070) -> tuple[bytes, bytes]:
    """The answer's status line and headers as sent, and its body."""
    with net.socket(socket.SOCK_STREAM) as tcp:
        tcp.settimeout(5)
        tcp.connect((net.server_ip, port))
        tcp.sendall(f"GET {path} HTTP/1.1\r\nHost: {net.server_ip}:{port}\r\n"
                    "Connection: close\r\n\r\n".encode())
        answer = b""
        while chunk := tcp.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return head, body


@pytest.fixture
def open_state() -> Iterator[Path]:
    """The service's state folder where dnsmasq, once it is no longer root, can read its TFTP
    files (pytest's own temporary folders are closed to other users)."""
    folder = Path(tempfile.mkdtemp(prefix="reeeboot-netboot-test-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _pre_enrolled(state: Path) -> None:
    """What a first start with a token leaves: the key, and the hub's acceptance of it."""
    key = load_or_create_key(state)
    HubClient(HUB_URL, state, key).remember_enrolled(key)


def _alive(pid: int) -> bool:
    try:
        return "dnsmasq" in Path(f"/proc/{pid}/cmdline").read_text()
    except FileNotFoundError:
        return False


class ServiceProcess:
    """`reeeboot-hub netboot` in the server's namespace."""

    def __init__(self, net: NetbootNetwork, boot_files: Path, state: Path, logs: Path) -> None:
        self.net, self.state = net, state
        self.stdout, self.stderr = logs / "service.out", logs / "service.err"
        code = "import sys; from hub.cli import main; sys.exit(main(sys.argv[1:]))"
        argv = ["ip", "netns", "exec", net.server_ns, sys.executable, "-c", code, "netboot",
                "--interface", net.server_if, "--hub", HUB_URL, "--name", "lyon-boot",
                "--files", str(boot_files), "--state", str(state)]
        with self.stdout.open("wb") as out, self.stderr.open("wb") as err:
            self.process = subprocess.Popen(argv, stdout=out, stderr=err,
                                            env={**os.environ, "REEEBOOT_LANGUAGE": "en"})

    def output(self) -> str:
        return self.stdout.read_text() + self.stderr.read_text()

    def wait_until_serving(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the service stopped ({self.process.returncode}): "
                            f"{self.output()}")
            try:
                if http_get(self.net, "/healthz") == (200, b"ok"):
                    return
            except OSError:
                pass
            time.sleep(0.1)
        pytest.fail(f"the service did not start: {self.output()}")

    def dnsmasq_pid(self) -> int:
        return int((self.state / "dnsmasq.pid").read_text())

    def stop(self) -> None:
        """Whatever the test left running: the service, then its dnsmasq."""
        pid = None
        with contextlib.suppress(FileNotFoundError, ValueError):
            pid = self.dnsmasq_pid()
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if pid is not None and _alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def running_service(network: NetbootNetwork, boot_files: Path, open_state: Path,
                    tmp_path: Path) -> Iterator[ServiceProcess]:
    _pre_enrolled(open_state)
    service = ServiceProcess(network, boot_files, open_state, tmp_path)
    try:
        service.wait_until_serving()
        yield service
    finally:
        service.stop()


def test_the_service_boots_machines_over_tftp_and_http_and_stops_dnsmasq_with_it(
        running_service: ServiceProcess, network: NetbootNetwork, boot_files: Path,
        open_state: Path) -> None:
    base = f"http://{network.server_ip}:8070"
    assert tftp_get(network, "reeeboot.ipxe") == (
        f"#!ipxe\nchain {base}/boot.ipxe?mac=${{netX/mac:hexhyp}}&uuid=${{uuid}}"
        "&platform=${platform}&version=${version}\n").encode()
    for name in ("undionly.kpxe", "snponly.efi"):
        assert tftp_get(network, name) == (boot_files / name).read_bytes(), name
    status, script = http_get(network, f"/boot.ipxe?mac={MAC}&uuid={UUID}")
    assert status == 200
    options = _kernel_options(script.decode())
    service_key = load_or_create_key(open_state)
    claims = verify(options["reeeboot.boot"], service_key.public_key())
    assert claims.ip == network.client_ip and claims.station == "lyon-boot-525400abcdef"
    assert options["reeeboot.bootsvc"] == base
    assert http_get(network, "/files/root.erofs") == (
        200, (boot_files / "root.erofs").read_bytes())
    # UEFI machines: shim, GRUB and its configuration over TFTP, then their GRUB script over
    # HTTP, its length spelt as GRUB reads it (else GRUB waits for the connection to close).
    for name in ("shimx64.efi", "grubx64.efi"):
        assert tftp_get(network, name) == (boot_files / name).read_bytes(), name
    assert f"(http,{network.server_ip}:8070)/boot.grub" in tftp_get(
        network, "grub/grub.cfg").decode()
    head, body = http_get_raw(network, f"/boot.grub?mac={MAC}&uuid={UUID}")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n"), head
    assert f"\r\nContent-Length: {len(body)}\r\n".encode() in head, head
    assert b"\r\ncontent-length" not in head
    head, body = http_get_raw(network, "/files/vmlinuz")
    assert f"\r\nContent-Length: {SIZES['vmlinuz']}\r\n".encode() in head, head
    assert http_get(network, "/files/../netboot.json")[0] == 404
    output = running_service.output()
    for fact in (f"{network.server_if}, address {network.server_ip}/24",
                 "version 20250101120000", f"Boot service: {base}", f"Hub: {HUB_URL}"):
        assert fact in output
    assert f"station=lyon-boot-525400abcdef mac=52:54:00:ab:cd:ef ip={network.client_ip}" \
        in output
    dnsmasq = running_service.dnsmasq_pid()
    assert _alive(dnsmasq)
    running_service.process.send_signal(signal.SIGTERM)
    assert running_service.process.wait(timeout=20) == 0, running_service.output()
    assert not _alive(dnsmasq)


def test_the_service_stops_when_dnsmasq_does(running_service: ServiceProcess) -> None:
    os.kill(running_service.dnsmasq_pid(), signal.SIGTERM)
    assert running_service.process.wait(timeout=20) == 1
    assert "dnsmasq stopped" in running_service.output()


def test_proxy_dhcp_sends_pxe_firmware_to_ipxe_and_ipxe_to_its_script(
        running_service: ServiceProcess, network: NetbootNetwork) -> None:
    # Client types (RFC 4578): 0 BIOS, 7 and 9 x86-64 UEFI (dnsmasq's X86-64_EFI and BC_EFI).
    # 64-bit UEFI gets shim, which Secure Boot lets through (then GRUB).
    for arch, program in ((0, "undionly.kpxe"), (7, "shimx64.efi"), (9, "shimx64.efi")):
        assert pxe_boot_file(network, arch, ipxe=False) == program, arch
        assert pxe_boot_file(network, arch, ipxe=True) == "reeeboot.ipxe", arch


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGHUP], ids=["ctrl-c", "hangup"])
def test_ctrl_c_or_a_closed_terminal_stops_dnsmasq_too(running_service: ServiceProcess,
                                                       stop: signal.Signals) -> None:
    dnsmasq = running_service.dnsmasq_pid()
    running_service.process.send_signal(stop)
    assert running_service.process.wait(timeout=20) == 0, running_service.output()
    assert not _alive(dnsmasq)


def test_the_command_needs_no_database(boot_files: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.cli import main

    monkeypatch.setenv("REEEBOOT_LANGUAGE", "en")
    (boot_files / "ipxe.efi").unlink()
    common = ["netboot", "--interface", "lo", "--hub", HUB_URL, "--name", "lyon-boot",
              "--files", str(boot_files), "--state", str(tmp_path / "state")]
    assert main(["--database", "postgresql+psycopg://nobody@nowhere.invalid/none",
                 *common]) == 1
    assert "lack the programs ipxe.efi" in capsys.readouterr().err
    assert main([*common, "--port", "0"]) == 2
    assert "--port" in capsys.readouterr().err
