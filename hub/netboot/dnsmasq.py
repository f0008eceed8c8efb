"""The boot service's DHCP and TFTP side: dnsmasq as proxy DHCP, with the first programs over
TFTP.

Proxy DHCP answers only the PXE part of a booting machine's request (which program to load,
from where); the workshop's router keeps handing out the addresses, so the service can be
plugged into any LAN without taking it over (LTSP and eReuse do the same).

- BIOS PXE loads iPXE over TFTP; iPXE asks again, is recognised by the option it adds (175),
  and gets `reeeboot.ipxe`, a two-line script that fetches the rest over HTTP
  (hub/netboot/bootserver.py).
- 64-bit UEFI PXE loads shim (signed by Microsoft), which loads `grubx64.efi` from the same
  folder: Debian's signed network GRUB. GRUB reads `grub/grub.cfg` beside it and fetches the
  machine's GRUB script over HTTP. Under Secure Boot the firmware checks shim, shim checks GRUB
  and GRUB the kernel (Debian's, signed): the same route serves machines with it on and off.

TFTP is slow and limited: it carries only these small files.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agent.i18n import _

IPXE_FILES = ("undionly.kpxe", "snponly.efi", "ipxe.efi")
# Signed by Microsoft (shim) and by Debian (GRUB); shim looks for GRUB under this very name
# beside itself.
SHIM, NETWORK_GRUB = "shimx64.efi", "grubx64.efi"
TFTP_FILES = (*IPXE_FILES, SHIM, NETWORK_GRUB)
CHAIN_SCRIPT = "reeeboot.ipxe"
# Where Debian's network GRUB looks for its configuration: grub/ beside the program PXE loaded
GRUB_CONFIG = "grub/grub.cfg"
IPXE_TAG = "ipxe"
# PXE client system types, by dnsmasq's names, and the program each loads: BIOS machines the
# iPXE that drives the card through its PXE ROM (UNDI), 64-bit UEFI ones shim then GRUB, which
# Secure Boot lets through. x86-64 UEFI firmware says type 7 or type 9 (RFC 4578 and its
# erratum disagree on which is which); dnsmasq calls 7 X86-64_EFI and 9 BC_EFI: both get the
# same program. A name with its suffix: dnsmasq adds no ".0" to it (dnsmasq(8), --pxe-service).
# 32-bit UEFI (type 6) is not served: no signed loader exists for it.
CLIENT_PROGRAMS = (("x86PC", "undionly.kpxe"), ("X86-64_EFI", SHIM), ("BC_EFI", SHIM))
MENU_TEXT = "reeeboot"
# How long dnsmasq is given to fail on what only a real start shows (a port already taken, an
# interface gone): it binds its sockets at once.
START_GRACE_SECONDS = 1.0
STOP_SECONDS = 5.0


class DnsmasqError(Exception):
    """Why the DHCP and TFTP side cannot start, in words for the workshop."""


@dataclass(frozen=True)
class InterfaceAddress:
    """The boot service's interface and its IPv4 address on the workshop's LAN."""

    interface: str
    address: ipaddress.IPv4Interface  # the address with its network

    @property
    def ip(self) -> str:
        return str(self.address.ip)

    @property
    def network(self) -> ipaddress.IPv4Network:
        return self.address.network


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """The one way this module runs a short command (the long-running dnsmasq aside)."""
    try:
        return subprocess.run(list(argv), capture_output=True, text=True, errors="replace",
                              timeout=30, check=False)
    except FileNotFoundError as error:
        raise DnsmasqError(_("{program} is missing.").format(program=argv[0])) from error


def interface_address(interface: str) -> InterfaceAddress:
    """The interface's first IPv4 address, as `ip` reports it."""
    completed = _run(["ip", "-j", "-4", "addr", "show", "dev", interface])
    if completed.returncode != 0:
        raise DnsmasqError(_("No network interface named {interface} ({error}).").format(
            interface=interface, error=completed.stderr.strip()))
    return parse_ip_addresses(interface, completed.stdout)


def parse_ip_addresses(interface: str, ip_json: str) -> InterfaceAddress:
    """The first IPv4 address in the output of `ip -j -4 addr show dev INTERFACE`."""
    try:
        links = json.loads(ip_json or "[]")
    except ValueError as error:
        raise DnsmasqError(f"ip -j: {error}") from error
    for link in links if isinstance(links, list) else []:
        for info in link.get("addr_info", []) if isinstance(link, dict) else []:
            if info.get("family") == "inet" and "local" in info and "prefixlen" in info:
                return InterfaceAddress(interface, ipaddress.IPv4Interface(
                    f"{info['local']}/{info['prefixlen']}"))
    raise DnsmasqError(_(
        "The interface {interface} has no IPv4 address: connect it to the workshop's network "
        "(its router gives it one) or give it a fixed one.").format(interface=interface))


def chain_script(boot_url: str) -> str:
    """What iPXE loads over TFTP: fetch the machine's boot script over HTTP, naming the network
    card it booted from (netX: the last one opened), the firmware's UUID, and iPXE's platform
    and version (an old UEFI iPXE in a card's ROM is handed the service's own first)."""
    return (f"#!ipxe\nchain {boot_url}/boot.ipxe?mac=${{netX/mac:hexhyp}}&uuid=${{uuid}}"
            "&platform=${platform}&version=${version}\n")


def grub_config(boot_url: str) -> str:
    """What GRUB reads over TFTP: fetch the machine's GRUB script over HTTP, naming the network
    card it booted from and the firmware's UUID; when that fails, say so and start again."""
    address = boot_url.removeprefix("http://")
    return "\n".join([
        "# reeeboot: written by the network boot service at each start (hub/netboot/dnsmasq.py)",
        f'echo "reeeboot: asking {address} for this machine\'s system ..."',
        "smbios --type 1 --get-uuid 8 --set reeeboot_uuid",
        f'configfile "(http,{address})/boot.grub?mac=${{net_default_mac}}'
        '&uuid=${reeeboot_uuid}"',
        f'echo "reeeboot: {address} did not answer. The machine restarts in 30 seconds / '
        f'{address} ne répond pas. La machine redémarre dans 30 secondes."',
        "sleep 30",
        "reboot",
    ]) + "\n"


def check_tftp_files(files_dir: Path) -> None:
    missing = [name for name in TFTP_FILES if not (files_dir / name).is_file()]
    if missing:
        raise DnsmasqError(_("The boot files in {folder} lack the programs {names}: "
                             "rebuild the image (image/build.sh makes them).").format(
            folder=files_dir, names=", ".join(missing)))


def prepare_tftp_root(files_dir: Path, tftp_root: Path, boot_url: str) -> None:
    """Copies of the first programs, the chain script and GRUB's configuration in `tftp_root`,
    readable by the user dnsmasq becomes after it starts (it drops root's rights)."""
    check_tftp_files(files_dir)
    tftp_root.mkdir(parents=True, exist_ok=True)
    tftp_root.chmod(0o755)
    for name in TFTP_FILES:
        _install(tftp_root / name, (files_dir / name).read_bytes())
    _install(tftp_root / CHAIN_SCRIPT, chain_script(boot_url).encode())
    (tftp_root / GRUB_CONFIG).parent.mkdir(exist_ok=True)
    (tftp_root / GRUB_CONFIG).parent.chmod(0o755)
    _install(tftp_root / GRUB_CONFIG, grub_config(boot_url).encode())
    unreachable = _not_reachable_by_others(tftp_root)
    if unreachable is not None:
        raise DnsmasqError(_(
            "dnsmasq reads the TFTP files as an unprivileged user, and {folder} is closed to "
            "other users: choose another --state folder or open it (chmod o+x).").format(
            folder=unreachable))


def _install(path: Path, content: bytes) -> None:
    """Replaced whole (a machine may be reading the old copy), world-readable."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(content)
    temporary.chmod(0o644)
    os.replace(temporary, path)


def _not_reachable_by_others(folder: Path) -> Path | None:
    for directory in (folder.resolve(), *folder.resolve().parents):
        if not directory.stat().st_mode & 0o001:
            return directory
    return None


def configuration(lan: InterfaceAddress, tftp_root: Path, *, pid_file: Path,
                  log_file: Path | None = None) -> str:
    """dnsmasq's configuration: proxy DHCP and TFTP on the interface, nothing else."""
    network = lan.network
    lines = [
        "# reeeboot network boot service (hub/netboot/dnsmasq.py): written at each start.",
        "# Proxy DHCP: PXE answers only; the workshop's router keeps giving the addresses.",
        "port=0",  # no DNS
        f"interface={lan.interface}",
        "bind-interfaces",
        "no-resolv",
        "no-hosts",
        "leasefile-ro",  # proxy DHCP keeps no leases
        f"pid-file={pid_file}",
        f"log-facility={log_file if log_file is not None else '-'}",
        "log-dhcp",
        f"dhcp-range={network.network_address},proxy,{network.netmask}",
        "enable-tftp",
        f"tftp-root={tftp_root}",
        # iPXE adds its own option (175) to its requests: it gets the script, not iPXE again.
        f"dhcp-match=set:{IPXE_TAG},175",
    ]
    # One entry per client type and tag, and no pxe-prompt: dnsmasq then sends BIOS clients a
    # menu of one with a zero timeout (UEFI clients get the file name on port 4011), so the
    # machine boots at once.
    lines += [f'pxe-service=tag:!{IPXE_TAG},{client},"{MENU_TEXT}",{program}'
              for client, program in CLIENT_PROGRAMS]
    lines += [f'pxe-service=tag:{IPXE_TAG},{client},"{MENU_TEXT}",{CHAIN_SCRIPT}'
              for client, _program in CLIENT_PROGRAMS]
    return "\n".join(lines) + "\n"


def dnsmasq_program() -> str:
    found = shutil.which("dnsmasq") or next(
        (path for path in ("/usr/sbin/dnsmasq", "/sbin/dnsmasq") if os.access(path, os.X_OK)),
        None)
    if found is None:
        raise DnsmasqError(_("dnsmasq is missing: install it (apt-get install dnsmasq-base)."))
    return found


def check_configuration(config_file: Path) -> None:
    """dnsmasq's own syntax check."""
    completed = _run([dnsmasq_program(), "--test", f"--conf-file={config_file}"])
    if completed.returncode != 0:
        raise DnsmasqError(_("dnsmasq refuses its configuration {path}: {error}").format(
            path=config_file, error=(completed.stderr or completed.stdout).strip()))


class Dnsmasq:
    """dnsmasq as a child process, in the foreground, logging to the service's standard error;
    stopped by the service. In a session of its own: a terminal's Ctrl+C or hangup reaches the
    service only, which stops it (dnsmasq takes a hangup as "reload" and would stay)."""

    def __init__(self, config_file: Path) -> None:
        self.config_file = config_file
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = [dnsmasq_program(), "--keep-in-foreground", f"--conf-file={self.config_file}"]
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + START_GRACE_SECONDS
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                self.process = None
                raise DnsmasqError(_("dnsmasq stopped at once (exit code {code}); its message "
                                     "is above.").format(code=code))
            time.sleep(0.05)

    def exit_code(self) -> int | None:
        """None while it runs (or before it started)."""
        return None if self.process is None else self.process.poll()

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> Dnsmasq:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
