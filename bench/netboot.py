#!/usr/bin/env python3
"""The boot service's HTTP side: N machines pulling the root file system at once, against nginx.

    .venv/bin/python bench/netboot.py [--files out/netboot | --size MIB] [--clients 1,10,30]
                                      [--runs 1] [--save]

This measures the HTTP side only: how fast `reeeboot-hub netboot` (docs/netboot.md) hands
`root.erofs` (about 300 MB) to many machines at once. Boot to the first screen over the network
(PXE, TFTP, iPXE or shim and GRUB, the kernel, the root's sha256 check), for 1 and N machines
against the same files from nginx, is bench/netboot_qemu.py's.

Two servers on 127.0.0.1, each serving the same folder:
- the boot service's own HTTP app (hub/netboot/bootserver.py: `create_app`, with a throwaway
  key) served in a process of its own by hub/netboot/service.py's `serve`, so with the real
  service's uvicorn settings, its listening socket made by the service's `_listener`; dnsmasq is
  left out (a stand-in that does nothing), it has no part in HTTP;
- the reference, nginx (sendfile on, one worker process like the service's one event loop,
  access log on, as deployed), from a minimal configuration in a temporary folder.

For each N in `--clients`, N clients start together, each GETs `/files/root.erofs` over its own
connection and reads the whole body, checking the status, Content-Length and byte count; then
the same against nginx. The clients are threads of this process on plain sockets that receive
with MSG_TRUNC into one 1 MiB buffer each: TCP discards the bytes in the kernel instead of
copying them out, and the receive releases the GIL, so the clients cost little beside the
servers (their CPU time is printed too) and the same for both servers. A machine booting does
copy what it receives, but that is the machine's cost, not the server's. Separate processes
would only add memory and start-up time for N=30. Before the timed runs one untimed download
from each server is read in full and checked against netboot.json's sha256 (it also puts the
file in the page cache), so that no timed client pays for hashing.

It prints, per N: the wall time until the last client finished, the aggregate rate (MB = 10^6
bytes), the fastest, median and slowest client, and the CPU time per GB of the server and of
the clients; each server's peak resident memory; then a table of service MB/s against nginx
MB/s with the ratio (higher is better, 1.00x = as fast as nginx) and the slowest client's
seconds for each, and one summary line per N. Best of `--runs` for each. Clients and servers share
this machine's processors: other work slows both, and the ratio is the figure to compare. On
loopback the servers' CPU is the limit; on a workshop's 1 Gbit/s LAN (125 MB/s) the network
is, and the CPU per GB says how much of a core each server needs to fill it.

`--files` defaults to the image build's out/netboot/; `--size MIB` makes a synthetic folder
instead (random, incompressible root.erofs of that size, small kernel and initrd, a matching
netboot.json) in a temporary folder, for quick runs: `--size 32 --clients 4`.
`--save` also writes the figures as JSON into bench/results/ (not versioned).
"""

from __future__ import annotations

import argparse
import datetime
import grp
import hashlib
import ipaddress
import json
import os
import pwd
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from bench.hub import cpu_seconds  # noqa: E402  (the repository first on the path)

DEFAULT_FILES = ROOT / "out" / "netboot"
RESULTS = ROOT / "bench" / "results"
FILE_PATH = "/files/root.erofs"  # the same path on both servers
READ_SIZE = 1 << 20
HEAD_READ = 64 << 10
CLIENT_TIMEOUT = 300.0  # seconds without a byte before a client gives up
START_TIMEOUT = 30.0
NGINX_CONF = """\
worker_processes 1;
{user}pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    sendfile on;
    tcp_nopush on;
    default_type application/octet-stream;
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen {address}:{port};
        location /files/ {{ alias {files}/; }}
    }}
}}
"""


class _Interrupted(Exception):
    """SIGTERM: stop as Ctrl+C does, cleaning up on the way out."""


# -- the boot service, in its own process -------------------------------------------------------

def serve_boot_files(folder: Path, port: int) -> None:
    """The boot service's HTTP app as `reeeboot-hub netboot` serves it, without dnsmasq."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from hub.netboot.bootserver import BootService, create_app, load_manifest
    from hub.netboot.dnsmasq import Dnsmasq, InterfaceAddress
    from hub.netboot.service import _listener, serve, workshop_config

    class NoDnsmasq(Dnsmasq):
        """`serve` runs dnsmasq beside uvicorn and stops when it does: here it never runs."""

        def start(self) -> None:
            pass

        def exit_code(self) -> int | None:
            return None

        def stop(self) -> None:
            pass

    base_url = f"http://127.0.0.1:{port}"
    service = BootService("bench-boot", Ed25519PrivateKey.generate(), "http://127.0.0.1:9",
                          base_url, load_manifest(folder), workshop_config(None))
    listener = _listener(InterfaceAddress("lo", ipaddress.IPv4Interface("127.0.0.1/8")), port)
    serve(create_app(service), listener, NoDnsmasq(folder / "no-dnsmasq.conf"))


# -- the files --------------------------------------------------------------------------------

def synthetic_files(folder: Path, size_mib: int) -> None:
    """A folder like out/netboot/: random (incompressible) files and their netboot.json."""
    sizes = {"vmlinuz": 4 << 20, "initrd": 8 << 20, "root.erofs": size_mib << 20}
    entries = {}
    for name, size in sizes.items():
        digest = hashlib.sha256()
        with open(folder / name, "wb") as file:
            for offset in range(0, size, READ_SIZE):
                block = os.urandom(min(READ_SIZE, size - offset))
                digest.update(block)
                file.write(block)
        entries[name] = {"size": size, "sha256": digest.hexdigest()}
    (folder / "netboot.json").write_text(json.dumps({
        "version": "bench", "files": entries,
        "cmdline": "root=/dev/loop0 rootfstype=erofs ro systemd.volatile=overlay"}, indent=2))


def root_entry(folder: Path) -> tuple[int, str]:
    """root.erofs's size and sha256 as netboot.json gives them."""
    try:
        entry = json.loads((folder / "netboot.json").read_text())["files"]["root.erofs"]
        return int(entry["size"]), str(entry["sha256"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SystemExit(f"{folder}/netboot.json does not describe root.erofs: {error}"
                         ) from error


# -- the servers ------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_served(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} stopped at once (exit code {process.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{what} did not listen on port {port} within {START_TIMEOUT:.0f} s")


def start_service(folder: Path, port: int) -> subprocess.Popen[bytes]:
    service = subprocess.Popen([sys.executable, __file__, "--serve-boot-files", str(folder),
                                "--port", str(port)], cwd=ROOT, stdin=subprocess.DEVNULL,
                               env={**os.environ, "REEEBOOT_LANGUAGE": "en"})
    wait_until_served(port, service, "the boot service")
    return service


def nginx_command(folder: Path, address: str, port: int, prefix: Path) -> list[str]:
    """nginx serving `folder` under /files/ on address:port, from a configuration written into
    `prefix`: the command that runs it in the foreground."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise SystemExit("nginx is needed (apt-get install nginx-light)")
    # As root, nginx's workers would become "nobody", who cannot read a temporary folder: they
    # run as the one running the bench, who reads what the boot service reads.
    user = ""
    if os.geteuid() == 0:
        user = (f"user {pwd.getpwuid(os.geteuid()).pw_name} "
                f"{grp.getgrgid(os.getegid()).gr_name};\n")
    prefix.mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(user=user, prefix=prefix, address=address, port=port,
                                      files=folder.resolve()))
    return [nginx, "-c", str(conf), "-p", str(prefix), "-e", str(prefix / "error.log"),
            "-g", "daemon off;"]


def start_nginx(folder: Path, port: int, prefix: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(nginx_command(folder, "127.0.0.1", port, prefix),
                               stdin=subprocess.DEVNULL)
    wait_until_served(port, process, "nginx")
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def process_tree(pid: int) -> list[int]:
    """The process and its children (nginx's worker)."""
    pids = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if f"\nPPid:\t{pid}\n" in (entry / "status").read_text():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def peak_memory_mb(pids: list[int]) -> float:
    """The largest resident size any of the processes reached (VmHWM), in MB."""
    peak = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]))
    return peak * 1024 / 1e6


# -- the clients ------------------------------------------------------------------------------

def download(port: int, expected: int, digest: Any = None) -> int:
    """GET the root fully over a connection of its own; the body's bytes, checked against
    `expected` and the answer's Content-Length. Without `digest` the body is thrown away in the
    kernel (MSG_TRUNC: TCP discards it without copying it out), with one it is read and hashed."""
    with socket.create_connection(("127.0.0.1", port), timeout=CLIENT_TIMEOUT) as sock:
        sock.sendall(f"GET {FILE_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                     "Connection: close\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(HEAD_READ)
            if not chunk:
                raise RuntimeError(f"port {port} closed the connection before its headers")
            head += chunk
        head, _, body = head.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = lines[0].split(" ", 2)
        if len(status) < 2 or status[1] != "200":
            raise RuntimeError(f"port {port} answered {lines[0]!r}")
        length = [line.split(":", 1)[1].strip() for line in lines[1:]
                  if line.lower().startswith("content-length:")]
        if length != [str(expected)]:
            raise RuntimeError(f"port {port} announced Content-Length {length}, not {expected}")
        received = len(body)
        buffer = bytearray(READ_SIZE)
        view = memoryview(buffer)
        if digest is not None:
            digest.update(body)
        flags = socket.MSG_TRUNC if digest is None else 0
        while count := sock.recv_into(buffer, READ_SIZE, flags):
            received += count
            if digest is not None:
                digest.update(view[:count])
    if received != expected:
        raise RuntimeError(f"{received} bytes instead of {expected} from port {port}")
    return received


def check_sha256(port: int, size: int, sha256: str, what: str) -> None:
    """One untimed download, hashed: the server sends the file netboot.json describes."""
    digest = hashlib.sha256()
    download(port, size, digest)
    if digest.hexdigest() != sha256:
        raise SystemExit(f"{what}: the root's sha256 is {digest.hexdigest()}, netboot.json "
                         f"says {sha256}")


@dataclass
class Measure:
    server: str
    clients: int
    seconds: float  # until the last client had its last byte
    client_seconds: list[float]
    bytes: int
    cpu_seconds: float  # the server's
    client_cpu_seconds: float  # this process's: the clients'

    @property
    def rate(self) -> float:
        """Aggregate MB/s (10^6 bytes)."""
        return self.bytes / self.seconds / 1e6

    @property
    def slowest(self) -> float:
        return max(self.client_seconds)


def pull(server: str, port: int, clients: int, size: int, pids: list[int]) -> Measure:
    """N clients pulling the root at once; all start together, each on its own connection."""
    ready = threading.Barrier(clients + 1)
    ends: list[float | None] = [None] * clients
    errors: list[BaseException] = []

    def client(index: int) -> None:
        try:
            ready.wait()
            download(port, size)
            ends[index] = time.perf_counter()
        except BaseException as error:  # said by the main thread
            errors.append(error)

    threads = [threading.Thread(target=client, args=(index,), daemon=True)
               for index in range(clients)]
    for thread in threads:
        thread.start()
    cpu, client_cpu = cpu_seconds(pids), time.process_time()
    started = time.perf_counter()
    ready.wait()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.5)  # a join with a timeout lets Ctrl+C through
    cpu, client_cpu = cpu_seconds(pids) - cpu, time.process_time() - client_cpu
    if errors:
        raise SystemExit(f"{server}, {clients} clients: {errors[0]}")
    times = [end - started for end in ends if end is not None]
    return Measure(server, clients, max(times), times, size * clients, cpu, client_cpu)


def show(measure: Measure) -> None:
    gigabytes = measure.bytes / 1e9
    print(f"   {measure.server:<8} {measure.seconds:6.2f} s, {measure.rate:5.0f} MB/s; a client "
          f"{min(measure.client_seconds):.2f} / {statistics.median(measure.client_seconds):.2f}"
          f" / {measure.slowest:.2f} s (fastest / median / slowest); CPU per GB: server "
          f"{measure.cpu_seconds / gigabytes:.2f} s, clients "
          f"{measure.client_cpu_seconds / gigabytes:.2f} s", flush=True)


# -- the run ----------------------------------------------------------------------------------

def run(folder: Path, counts: list[int], runs: int, workdir: Path) -> list[tuple[Measure,
                                                                                 Measure]]:
    size, sha256 = root_entry(folder)
    print(f"root.erofs: {size / 1e6:.0f} MB from {folder}; {os.cpu_count()} processors, "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    service_port, nginx_port = free_port(), free_port()
    prefix = workdir / "nginx"
    prefix.mkdir()
    service = start_service(folder, service_port)
    try:
        nginx = start_nginx(folder, nginx_port, prefix)
        try:
            servers = {"service": (service_port, process_tree(service.pid)),
                       "nginx": (nginx_port, process_tree(nginx.pid))}
            for server, (port, _pids) in servers.items():
                check_sha256(port, size, sha256, server)
            print("sha256 of one download from each server: matches netboot.json", flush=True)
            results = []
            for clients in counts:
                print(f"== {clients} client(s), {size * clients / 1e6:.0f} MB in all",
                      flush=True)
                best: dict[str, Measure] = {}
                for round_number in range(runs):
                    # Alternate which goes first, so neither always meets a warmer machine.
                    order = list(servers) if round_number % 2 == 0 else list(servers)[::-1]
                    for server in order:
                        port, pids = servers[server]
                        measure = pull(server, port, clients, size, pids)
                        show(measure)
                        if server not in best or measure.seconds < best[server].seconds:
                            best[server] = measure
                results.append((best["service"], best["nginx"]))
            print("peak resident memory: " + ", ".join(
                f"{server} {peak_memory_mb(pids):.0f} MB"
                for server, (_port, pids) in servers.items()), flush=True)
            return results
        finally:
            stop(nginx)
    finally:
        stop(service)


def report(results: list[tuple[Measure, Measure]]) -> None:
    print()
    print(f"{'clients':>7} {'service MB/s':>13} {'nginx MB/s':>11} {'ratio':>7} "
          f"{'service slowest s':>18} {'nginx slowest s':>16}")
    for service, nginx in results:
        print(f"{service.clients:>7} {service.rate:>13.0f} {nginx.rate:>11.0f} "
              f"{service.rate / nginx.rate:>6.2f}x {service.slowest:>18.2f} "
              f"{nginx.slowest:>16.2f}")
    print()
    for service, nginx in results:
        print(f"{service.clients} client(s): the boot service serves the root at "
              f"{service.rate / nginx.rate:.2f}x nginx's rate ({service.rate:.0f} against "
              f"{nginx.rate:.0f} MB/s; higher is better, 1.00x = as fast as nginx); its slowest "
              f"machine waits {service.slowest:.2f} s against {nginx.slowest:.2f} s")
    print(f"load average after: {os.getloadavg()[0]:.1f} (other work on the machine slows "
          "both servers)")


def save(results: list[tuple[Measure, Measure]], folder: Path, size_mib: int | None) -> Path:
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = RESULTS / f"netboot-{stamp}.json"
    path.write_text(json.dumps({
        "files": str(folder) if size_mib is None else f"synthetic, {size_mib} MiB",
        "processors": os.cpu_count(),
        "results": [{"clients": service.clients, "ratio": service.rate / nginx.rate,
                     "service": asdict(service) | {"mb_per_s": service.rate},
                     "nginx": asdict(nginx) | {"mb_per_s": nginx.rate}}
                    for service, nginx in results]}, indent=2))
    return path


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise _Interrupted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=Path, default=DEFAULT_FILES,
                        help="a folder like out/netboot/ (the default)")
    parser.add_argument("--size", type=int, metavar="MIB",
                        help="a synthetic folder instead, with a root.erofs of MIB MiB")
    parser.add_argument("--clients", default="1,10,30",
                        help="comma-separated numbers of clients at once (1,10,30)")
    parser.add_argument("--runs", type=int, default=1, help="the best of RUNS counts")
    parser.add_argument("--save", action="store_true",
                        help="also write the figures into bench/results/")
    parser.add_argument("--serve-boot-files", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_boot_files is not None:  # the boot service's process, started below
        serve_boot_files(args.serve_boot_files, args.port)
        return 0
    try:
        counts = [int(count) for count in args.clients.split(",")]
    except ValueError:
        parser.error("--clients takes numbers separated by commas")
    if not counts or min(counts) < 1 or args.runs < 1 or (args.size is not None
                                                          and args.size < 1):
        parser.error("--clients, --runs and --size take positive numbers")
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with tempfile.TemporaryDirectory(prefix="reeeboot-bench-netboot-") as name:
            workdir = Path(name)
            folder = args.files
            if args.size is not None:
                folder = workdir / "files"
                folder.mkdir()
                print(f"making a synthetic root.erofs of {args.size} MiB", flush=True)
                synthetic_files(folder, args.size)
            elif not (folder / "netboot.json").exists():
                parser.error(f"no {folder}/netboot.json: build the image (image/build.sh), "
                             "give --files, or use --size MIB")
            results = run(folder, counts, args.runs, workdir)
            report(results)
            if args.save:
                print(f"saved: {save(results, folder, args.size)}")
    except (KeyboardInterrupt, _Interrupted):
        print("\ninterrupted; servers stopped and temporary files removed", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
