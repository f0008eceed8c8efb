"""`reeeboot-hub netboot`: a workshop's network boot service.

PCs on the workshop's LAN boot from the network into the same live system the stick carries.
The service is dnsmasq (proxy DHCP and TFTP: hub/netboot/dnsmasq.py) beside a small HTTP server
(hub/netboot/bootserver.py); it needs no database. Its identity is a station key of its own,
made and kept like a stick's (agent/report/station.py) and enrolled once with the hub, where the
station was created as a boot service: the hub then trusts the boot credentials it signs.
"""

from __future__ import annotations

import importlib.resources
import logging
import re
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TextIO

import requests
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.applications import Starlette

from agent.config import load_config
from agent.i18n import _
from agent.report.hubclient import HubClient, HubError
from agent.report.station import load_or_create_key
from hub.netboot.bootserver import (
    MAX_COMMAND_LINE,
    BootService,
    CanonicalHeaderNames,
    ManifestError,
    boot_log,
    create_app,
    load_manifest,
    longest_command_line,
)
from hub.netboot.dnsmasq import (
    Dnsmasq,
    DnsmasqError,
    InterfaceAddress,
    check_configuration,
    check_tftp_files,
    configuration,
    dnsmasq_program,
    interface_address,
    prepare_tftp_root,
)

DEFAULT_STATE = Path("/var/lib/reeeboot-netboot")
DEFAULT_FILES = Path("out/netboot")
DEFAULT_PORT = 8070
TFTP_FOLDER = "tftp"
DNSMASQ_CONF = "dnsmasq.conf"
DNSMASQ_PID = "dnsmasq.pid"
# On SIGTERM, downloads still running get this long before the service stops anyway.
GRACEFUL_SECONDS = 5
_FILES_URL = re.compile(r"^http://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$")


class ServiceError(Exception):
    """Why the service does not start, or stopped, in words for the workshop."""


class _Stopped(Exception):
    """SIGTERM, or a hangup before uvicorn serves: stop as Ctrl+C does."""


@dataclass(frozen=True)
class ServiceSettings:
    interface: str
    hub_url: str
    name: str  # the service's station name on the hub
    token: str = ""  # the one-time enrollment token, needed until the service is enrolled
    files: Path = DEFAULT_FILES
    port: int = DEFAULT_PORT
    config: Path | None = None  # the workshop's reeeboot.toml for the machines
    state: Path = DEFAULT_STATE
    kernel_options: str = ""  # added to the machines' kernel command line
    files_url: str = ""  # the boot files on a plain web server instead of this service's


def check_files_url(url: str) -> None:
    """It goes into the machines' iPXE and GRUB scripts: plain HTTP (neither loader checks a
    certificate), one host, and nothing either script language would read as its own."""
    if url and not _FILES_URL.match(url):
        raise ServiceError(_("--files-url takes an address such as http://192.168.1.10/netboot "
                             "(http://, a host, an optional port and path; no spaces, quotes "
                             "or $)."))


def check_kernel_options(options: str) -> None:
    """They go into one line of the machines' iPXE script: a line break would add commands."""
    if not options.isascii() or not options.isprintable():
        raise ServiceError(_("--kernel-options takes printable characters on one line."))


def workshop_config(path: Path | None) -> bytes:
    """The configuration the machines get: the workshop's file, checked with the agent's own
    rules (a mistake would send every machine back to the defaults), or the commented
    defaults."""
    if path is None:
        return importlib.resources.files("agent").joinpath("data/reeeboot.toml").read_bytes()
    _config, problems = load_config(path)
    if problems:
        raise ServiceError(_("The configuration {path} has mistakes: {problems}").format(
            path=path, problems="; ".join(problem.describe() for problem in problems)))
    return path.read_bytes()


def enrolled_key(settings: ServiceSettings) -> Ed25519PrivateKey:
    """The service's station key, enrolled with the hub (once: the hub's answer is kept)."""
    try:
        if not settings.state.exists():
            # Open to others: dnsmasq, no longer root, reads its TFTP folder inside. The key
            # file itself is the owner's only.
            settings.state.mkdir(parents=True)
            settings.state.chmod(0o755)
        key = load_or_create_key(settings.state)
    except (OSError, ValueError) as error:
        raise ServiceError(_("The service's key in {folder} cannot be made or read: {error}")
                           .format(folder=settings.state, error=error)) from error
    try:
        HubClient(settings.hub_url, settings.state, key).enroll(settings.name, settings.token)
    except HubError as error:
        if not settings.token:
            raise ServiceError(_("The service is not enrolled with the hub {url} yet: give the "
                                 "enrollment token of the station {name} with --token (reeeboot-"
                                 "hub station add {name} --workshop WORKSHOP --boot-service "
                                 "prints one).").format(url=settings.hub_url, name=settings.name)
                               ) from error
        raise ServiceError(_("The hub refused the enrollment: {error}").format(error=error)
                           ) from error
    except requests.RequestException as error:
        raise ServiceError(_("The hub {url} cannot be reached: {error}").format(
            url=settings.hub_url, error=error)) from error
    return key


def _listener(lan: InterfaceAddress, port: int) -> socket.socket:
    """The HTTP socket, bound before dnsmasq starts: a port already taken is said first."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((lan.ip, port))
    except OSError as error:
        listener.close()
        raise ServiceError(_("Cannot listen on {address}:{port}: {error}").format(
            address=lan.ip, port=port, error=error.strerror or error)) from error
    return listener


class _Server(uvicorn.Server):
    """uvicorn that also stops when dnsmasq does: a service without its DHCP and TFTP side
    boots nothing, and its supervisor should see it fail."""

    def __init__(self, config: uvicorn.Config, dnsmasq: Dnsmasq) -> None:
        super().__init__(config)
        self.dnsmasq = dnsmasq

    async def on_tick(self, counter: int) -> bool:
        if self.dnsmasq.exit_code() is not None:
            return True
        return await super().on_tick(counter)


def _stop(_signum: int, _frame: FrameType | None) -> None:
    raise _Stopped


def serve(app: Starlette, listener: socket.socket, dnsmasq: Dnsmasq) -> None:
    """dnsmasq, then HTTP, until Ctrl+C, SIGTERM or a hangup (or dnsmasq's end); dnsmasq is
    stopped with the service whatever ends it (but SIGKILL)."""
    # h11, which keeps the header names' case that GRUB needs (CanonicalHeaderNames).
    config = uvicorn.Config(CanonicalHeaderNames(app), http="h11", log_level="warning",
                            access_log=False, lifespan="off",
                            timeout_graceful_shutdown=GRACEFUL_SECONDS)
    server = _Server(config, dnsmasq)

    def hang_up(signum: int, frame: FrameType | None) -> None:
        # The terminal closed: stop as on SIGTERM, gracefully once uvicorn serves.
        if not server.started:
            raise _Stopped
        server.handle_exit(signal.SIGTERM, frame)

    # uvicorn catches SIGINT and SIGTERM while it serves, then raises them again once shut
    # down: SIGTERM then comes here, as it does when it arrives before.
    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, _stop),
                signal.SIGHUP: signal.signal(signal.SIGHUP, hang_up)}
    dnsmasq_code: int | None = None
    try:
        dnsmasq.start()
        server.run(sockets=[listener])
        dnsmasq_code = dnsmasq.exit_code()
    except (KeyboardInterrupt, _Stopped):
        pass
    except DnsmasqError as error:
        raise ServiceError(str(error)) from error
    finally:
        dnsmasq.stop()
        for number, handler in previous.items():
            signal.signal(number, handler)
        listener.close()
    if dnsmasq_code is not None:
        raise ServiceError(_("dnsmasq stopped (exit code {code}): the boot service stops "
                             "too.").format(code=dnsmasq_code))


def run_service(settings: ServiceSettings, out: TextIO = sys.stdout) -> None:
    """Check everything that needs no hub first, enroll, then serve until stopped."""
    try:
        manifest = load_manifest(settings.files)
        check_tftp_files(settings.files)
        check_kernel_options(settings.kernel_options)
        check_files_url(settings.files_url)
        config_text = workshop_config(settings.config)
        dnsmasq_program()
        lan = interface_address(settings.interface)
        key = enrolled_key(settings)
        base_url = f"http://{lan.ip}:{settings.port}"
        service = BootService(settings.name, key, settings.hub_url.rstrip("/"), base_url,
                              manifest, config_text, settings.kernel_options,
                              settings.files_url)
        length = longest_command_line(service)
        if length > MAX_COMMAND_LINE:
            raise ServiceError(_("The machines' kernel command line would be {length} bytes, "
                                 "more than Linux reads ({limit}): shorten the hub's address or "
                                 "the service's name.").format(length=length,
                                                               limit=MAX_COMMAND_LINE))
        listener = _listener(lan, settings.port)
        try:
            tftp_root = settings.state / TFTP_FOLDER
            prepare_tftp_root(settings.files, tftp_root, base_url)
            config_file = settings.state / DNSMASQ_CONF
            config_file.write_text(configuration(lan, tftp_root,
                                                 pid_file=settings.state / DNSMASQ_PID))
            check_configuration(config_file)
        except BaseException:
            listener.close()
            raise
    except (ManifestError, DnsmasqError) as error:
        raise ServiceError(str(error)) from error
    for line in (
        _("Network boot on {interface}, address {address} (proxy DHCP and TFTP).").format(
            interface=lan.interface, address=lan.address),
        _("Boot files: version {version} ({folder}).").format(version=manifest.version,
                                                            folder=settings.files),
        _("Boot service: {url}").format(url=base_url),
        *([_("Kernel, initrd and root from: {url}").format(url=settings.files_url)]
          if settings.files_url else []),
        _("Hub: {url} (station {name})").format(url=service.hub_url, name=settings.name),
    ):
        print(line, file=out, flush=True)
    handler = logging.StreamHandler(out)
    boot_log.addHandler(handler)
    boot_log.setLevel(logging.INFO)
    try:
        serve(create_app(service), listener, Dnsmasq(config_file))
    finally:
        boot_log.removeHandler(handler)
