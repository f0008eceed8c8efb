"""A workshop's LAN for the network boot tests, made of network namespaces the test creates.

    [router]  eth0 .1   dnsmasq handing out addresses, as the workshop's box does
    [hub]     eth0 .2   the hub (`reeeboot-hub serve`) and its boot service
                        (`reeeboot-hub netboot`: proxy DHCP, TFTP, HTTP)
    [lan]     br0       the switch: the two above and a tap per QEMU machine
    [rogue]   eth0 .66  a device on the LAN that was not booted by the service

Nothing leaves these namespaces: the bridge has no way out, and the test reaches the hub's
database through its file and its HTTP side from inside the namespaces (`ip netns exec`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness import (
    ACCELERATOR,
    OUT,
    DiskSpec,
    Guest,
    disk_arguments,
    firmware_arguments,
    make_disk,
)

NETBOOT_FILES = OUT / "netboot"
SUBNET = "192.168.77"
ROUTER, HUB, ROGUE = f"{SUBNET}.1", f"{SUBNET}.2", f"{SUBNET}.66"
HUB_PORT, BOOT_PORT = 8080, 8070
VENV_BIN = Path(sys.executable).parent


def run(*command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, check=check, capture_output=True, text=True)


def require_netboot_files() -> None:
    """The network boot files come with the image (image/build.sh)."""
    if not (NETBOOT_FILES / "netboot.json").is_file():
        import pytest

        pytest.fail(f"{NETBOOT_FILES}/netboot.json is missing: build the image with "
                    "image/build.sh, which writes out/netboot/ beside it")


class WorkshopLan:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        tag = f"rb{os.getpid() % 100000}"
        self.namespaces = {role: f"{tag}-{role}" for role in ("lan", "router", "hub", "rogue")}
        self.processes: list[subprocess.Popen[bytes]] = []
        self.taps: list[str] = []

    def ns(self, role: str) -> str:
        return self.namespaces[role]

    def up(self) -> None:
        if os.geteuid() != 0 or shutil.which("dnsmasq") is None:
            raise AssertionError("the network boot tests need root and dnsmasq "
                                 "(tests/run installs dnsmasq-base)")
        for name in self.namespaces.values():
            run("ip", "netns", "add", name)
        lan = self.ns("lan")
        run("ip", "-n", lan, "link", "add", "br0", "type", "bridge")
        run("ip", "-n", lan, "link", "set", "br0", "up")
        for role, address in (("router", ROUTER), ("hub", HUB), ("rogue", ROGUE)):
            port = f"p-{role}"
            run("ip", "-n", lan, "link", "add", port, "type", "veth", "peer", "name", "eth0",
                "netns", self.ns(role))
            run("ip", "-n", lan, "link", "set", port, "master", "br0", "up")
            run("ip", "-n", self.ns(role), "addr", "add", f"{address}/24", "dev", "eth0")
            run("ip", "-n", self.ns(role), "link", "set", "eth0", "up")
            run("ip", "-n", self.ns(role), "link", "set", "lo", "up")
        config = self.workdir / "router.conf"
        config.write_text(
            "port=0\ninterface=eth0\nbind-interfaces\n"
            f"dhcp-range={SUBNET}.100,{SUBNET}.199,255.255.255.0,1h\n"
            f"dhcp-option=option:router,{ROUTER}\n"
            f"dhcp-leasefile={self.workdir / 'router.leases'}\n"
            "log-dhcp\n")
        self.start("router", ["dnsmasq", "--keep-in-foreground", f"--conf-file={config}",
                              "--log-facility=-", f"--pid-file={self.workdir / 'router.pid'}"],
                   "router.log")

    def add_tap(self) -> str:
        name = f"tap{len(self.taps)}"
        run("ip", "-n", self.ns("lan"), "tuntap", "add", name, "mode", "tap")
        run("ip", "-n", self.ns("lan"), "link", "set", name, "master", "br0", "up")
        self.taps.append(name)
        return name

    def start(self, role: str, command: list[str], log: str) -> subprocess.Popen[bytes]:
        with (self.workdir / log).open("ab") as output:
            process = subprocess.Popen(["ip", "netns", "exec", self.ns(role), *command],
                                       stdout=output, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def http(self, role: str, method: str, url: str, body: object = None) -> tuple[int, str]:
        """One HTTP request made from inside the namespace of `role`: (status, body)."""
        script = (
            "import json, sys, urllib.request, urllib.error\n"
            "method, url, body = sys.argv[1], sys.argv[2], sys.argv[3]\n"
            "data = body.encode() if body else None\n"
            "request = urllib.request.Request(url, data=data, method=method,\n"
            "    headers={'Content-Type': 'application/json'} if data else {})\n"
            "try:\n"
            "    with urllib.request.urlopen(request, timeout=30) as answer:\n"
            "        print(answer.status); print(answer.read().decode())\n"
            "except urllib.error.HTTPError as error:\n"
            "    print(error.code); print(error.read().decode())\n")
        done = run("ip", "netns", "exec", self.ns(role), sys.executable, "-c", script, method,
                   url, json.dumps(body) if body is not None else "")
        status, _, text = done.stdout.partition("\n")
        return int(status), text

    def wait_http(self, role: str, url: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.http(role, "GET", url)[0] == 200:
                    return
            except (subprocess.CalledProcessError, ValueError):
                pass
            time.sleep(0.5)
        raise TimeoutError(f"{url} did not answer from the {role} namespace")

    def down(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        for name in self.namespaces.values():
            for pid in run("ip", "netns", "pids", name, check=False).stdout.split():
                run("kill", "-9", pid, check=False)
            run("ip", "netns", "del", name, check=False)


@dataclass
class NetMachine(Guest):
    """A PC of the workshop that boots from the network: no stick, its disks, its firmware
    ("bios": SeaBIOS with QEMU's iPXE in the network card's ROM, as PCs have a PXE ROM;
    "uefi" or "uefi-secure": OVMF's own PXE, the card's ROM left out, so the firmware loads
    shim then GRUB over TFTP as a PC's UEFI does; "uefi" with `card_rom`: OVMF runs the card's
    own iPXE of 2019, too old to hand Linux an initrd, which the service replaces with its own
    first)."""

    name: str
    firmware: str
    mac: str
    uuid: str  # the firmware's system UUID (SMBIOS): the boot credential names it
    disks: tuple[DiskSpec, ...]
    workdir: Path
    lan: WorkshopLan
    memory_mib: int = 2048
    card_rom: bool = False  # under UEFI: boot through the card's iPXE ROM
    disk_paths: dict[str, Path] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.serial_log = self.workdir / "serial.log"
        self.monitor = self.workdir / "monitor.sock"
        for spec in self.disks:
            self.disk_paths[spec.id] = make_disk(spec, self.workdir)

    @property
    def station(self) -> str:
        return self.mac.replace(":", "")

    def command(self, tap: str) -> list[str]:
        card = f"virtio-net-pci,netdev=net0,mac={self.mac},bootindex=1"
        if self.firmware != "bios" and not self.card_rom:
            card += ",romfile="
        command = [
            "qemu-system-x86_64", *firmware_arguments(self.firmware, self.workdir), *ACCELERATOR,
            "-m", str(self.memory_mib), "-smp", "2", "-uuid", self.uuid,
            "-no-reboot", "-display", "none",
            "-vga", "std", "-serial", f"file:{self.serial_log}",
            "-monitor", f"unix:{self.monitor},server,nowait",
            "-netdev", f"tap,id=net0,ifname={tap},script=no,downscript=no", "-device", card,
            "-device", "ahci,id=ahci",
        ]
        if any(spec.bus == "scsi" for spec in self.disks):
            command += ["-device", "virtio-scsi-pci,id=scsi"]
        for index, spec in enumerate(self.disks):
            command += disk_arguments(spec, self.disk_paths[spec.id], index)
        return command

    def start(self) -> None:
        self.serial_log.write_bytes(b"")
        self.process = self.lan.start("lan", self.command(self.lan.add_tap()),
                                      f"qemu-{self.name}.log")


def hub_command(*arguments: str, database: Path) -> str:
    """`reeeboot-hub` run on the host on the hub's database file; its standard output."""
    return run(str(VENV_BIN / "reeeboot-hub"), "--db", str(database), *arguments).stdout


HUB_URL = f"http://{HUB}:{HUB_PORT}"
BOOT_URL = f"http://{HUB}:{BOOT_PORT}"
WORKSHOP, BOOT_SERVICE = "Lyon", "lyon-boot"


def start_workshop(lan: WorkshopLan, database: Path, service_state: Path, settings: str,
                   files_url: str = "") -> None:
    """On the hub's machine: the hub on `database` with the workshop and its boot service,
    whose machines get `settings` (a reeeboot.toml), then the boot service itself (its boot
    files from `files_url` if given). `service_state` must be open to others (dnsmasq reads
    the TFTP files there as its own unprivileged user)."""
    hub_command("workshop", "add", WORKSHOP, database=database)
    token = hub_command("station", "add", BOOT_SERVICE, "--workshop", WORKSHOP,
                        "--boot-service", database=database).split()[-1]
    lan.start("hub", [str(VENV_BIN / "reeeboot-hub"), "--db", str(database), "serve",
                      "--host", HUB, "--port", str(HUB_PORT), "--public-url", HUB_URL],
              "hub.log")
    lan.wait_http("hub", f"{HUB_URL}/login")
    config = lan.workdir / "netboot.toml"
    config.write_text(settings)
    lan.start("hub", [str(VENV_BIN / "reeeboot-hub"), "netboot", "--interface", "eth0",
                      "--hub", HUB_URL, "--name", BOOT_SERVICE, "--token", token,
                      "--files", str(NETBOOT_FILES), "--port", str(BOOT_PORT),
                      "--config", str(config), "--state", str(service_state),
                      # VGA text mode: the tests read the screen from its memory
                      "--kernel-options", "nomodeset",
                      *(["--files-url", files_url] if files_url else [])],
              "bootsvc.log")
    lan.wait_http("hub", f"{BOOT_URL}/healthz")
