#!/usr/bin/env python3
"""Boot to the first screen over the network: 1 and N machines at once, the boot files served by
the boot service or by nginx.

    .venv/bin/python bench/netboot_qemu.py [--machines 1,3] [--firmware bios,uefi-secure]
                                           [--servers service,nginx] [--save]

Each round builds the QEMU suite's workshop LAN (qemu-tests/lan.py: network namespaces, the
router's DHCP, the hub and `reeeboot-hub netboot` in proxy mode, a tap per machine), starts N
machines at the same moment and times each from QEMU's start to its first screen (the agent's
"screen" status line on the serial port: PXE, TFTP, the loader, kernel, initrd and 302 MB root
over HTTP, the root's sha256 check in the initrd, systemd, enrollment with the hub, the TUI). The
machines are not armed: they stop on the attended first screen.

Two ways to serve the kernel, initrd and root, in the same run:
- `service`: the boot service's own HTTP side (hub/netboot/bootserver.py), as deployed;
- `nginx`: the same files from nginx in the hub's namespace, the service told so with
  `--files-url` (the boot scripts and credentials still come from the service).

The machines' firmware is taken in turn from `--firmware`: "bios" is SeaBIOS with the card's
iPXE ROM (iPXE loads everything), "uefi-secure" OVMF with Microsoft's keys and Secure Boot on
(shim, Debian's signed GRUB loads everything), "uefi" OVMF without Secure Boot (the same route).
It prints each machine's seconds, then per N the slowest and the mean for each server and the
ratio service / nginx (1.00x: as fast as nginx; lower is better). Under TCG the emulated
machines, not the server, are the limit: on two cores N machines share the processors, which
the N-machine figure shows. Needs root, QEMU, dnsmasq, nginx and the image's out/netboot/.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "qemu-tests")]

from harness import DiskSpec  # noqa: E402
from lan import (  # noqa: E402
    HUB,
    NETBOOT_FILES,
    NetMachine,
    WorkshopLan,
    start_workshop,
)

from bench.netboot import nginx_command  # noqa: E402  (the repository first on the path)

RESULTS = ROOT / "bench" / "results"
NGINX_PORT = 8090
SETTINGS = 'language = "en"\n'
FIRST_SCREEN_TIMEOUT = 1800.0


def start_nginx(lan: WorkshopLan, prefix: Path) -> None:
    """nginx in the hub's namespace, serving out/netboot/ under /files/ as the service does."""
    lan.start("hub", nginx_command(NETBOOT_FILES, HUB, NGINX_PORT, prefix), "nginx.log")
    lan.wait_http("hub", f"http://{HUB}:{NGINX_PORT}/files/netboot.json")


def first_screens(machines: list[NetMachine], started: float) -> dict[str, float]:
    """Each machine's seconds from `started` to its first screen, polled every second."""
    seconds: dict[str, float] = {}
    deadline = started + FIRST_SCREEN_TIMEOUT
    while len(seconds) < len(machines):
        if time.monotonic() > deadline:
            late = [machine.name for machine in machines if machine.name not in seconds]
            raise SystemExit(f"no first screen after {FIRST_SCREEN_TIMEOUT:.0f} s: {late}")
        for machine in machines:
            if machine.name in seconds:
                continue
            if machine.process is not None and machine.process.poll() is not None:
                raise SystemExit(f"{machine.name} stopped: {machine.serial_text()[-2000:]}")
            if any(event["event"] == "screen" for event in machine.events()):
                seconds[machine.name] = time.monotonic() - started
                if "checked (sha256" not in machine.serial_text():
                    raise SystemExit(f"{machine.name}: its root was not checked")
        time.sleep(1)
    return seconds


def boot_round(server: str, count: int, firmwares: list[str], workdir: Path) -> dict[str, float]:
    workdir.mkdir(parents=True)
    lan = WorkshopLan(workdir)
    state = Path(tempfile.mkdtemp(prefix="reeeboot-netboot-"))
    state.chmod(0o755)
    machines: list[NetMachine] = []
    lan.up()
    try:
        files_url = ""
        if server == "nginx":
            start_nginx(lan, workdir / "nginx")
            files_url = f"http://{HUB}:{NGINX_PORT}/files"
        start_workshop(lan, workdir / "hub.sqlite3", state, SETTINGS, files_url)
        for index in range(count):
            firmware = firmwares[index % len(firmwares)]
            number = f"{index + 1:02x}"
            machines.append(NetMachine(
                f"{firmware}-{index + 1}", firmware, f"52:54:00:00:01:{number}",
                f"4c4c4544-0031-3010-8000-0000000001{number}",
                (DiskSpec("disk", "virtio", 16, f"BENCH-{index + 1}"),),
                workdir / f"machine-{index + 1}", lan))
        started = time.monotonic()
        for machine in machines:
            machine.start()
        return first_screens(machines, started)
    finally:
        for machine in machines:
            machine.stop()
        lan.down()
        shutil.rmtree(state, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--machines", default="1,3", help="machine counts (default: 1,3)")
    parser.add_argument("--firmware", default="bios,uefi-secure",
                        help="firmwares, taken in turn (default: bios,uefi-secure)")
    parser.add_argument("--servers", default="service,nginx",
                        help="who serves the boot files (default: service,nginx)")
    parser.add_argument("--save", action="store_true", help="also write bench/results/*.json")
    args = parser.parse_args()
    counts = [int(text) for text in args.machines.split(",")]
    firmwares = args.firmware.split(",")
    servers = args.servers.split(",")
    if not (NETBOOT_FILES / "netboot.json").is_file():
        raise SystemExit(f"{NETBOOT_FILES} has no netboot.json: build the image first")
    results: dict[int, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="reeeboot-bench-netboot-") as temporary:
        for count in counts:
            for server in servers:
                print(f"== {count} machine(s), boot files from the {server}", flush=True)
                seconds = boot_round(server, count, firmwares,
                                     Path(temporary) / f"{server}-{count}")
                for name, value in sorted(seconds.items()):
                    print(f"   {name:<20} first screen after {value:6.0f} s", flush=True)
                results.setdefault(count, {})[server] = seconds
    print()
    print(f"{'machines':>8} {'server':>8} {'slowest s':>10} {'mean s':>8}")
    for count, by_server in results.items():
        for server, seconds in by_server.items():
            print(f"{count:>8} {server:>8} {max(seconds.values()):>10.0f} "
                  f"{statistics.mean(seconds.values()):>8.0f}")
    for count, by_server in results.items():
        if "service" in by_server and "nginx" in by_server:
            ratio = max(by_server["service"].values()) / max(by_server["nginx"].values())
            print(f"boot to first screen, {count} machine(s): service / nginx {ratio:.2f}x "
                  "(slowest machine; 1.00x = as fast as nginx, lower is better)")
    if args.save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
        path = RESULTS / f"netboot-qemu-{stamp}.json"
        path.write_text(json.dumps({"firmware": firmwares, "results": results}, indent=2) + "\n")
        print(f"saved {path}")


if __name__ == "__main__":
    main()
