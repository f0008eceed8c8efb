"""A machine booted from the workshop's network (docs/netboot.md) has no stick: its settings come
from the boot service, its station identity from the hub, and its key, journals and outbox live
in RAM until it is switched off.

The boot service puts three things on the kernel command line: its own address
(`reeeboot.bootsvc=`), the hub's (`reeeboot.hub=`) and a boot credential (`reeeboot.boot=`,
agent/report/bootcredential.py) that lets this machine, and no other, enroll once as the station
the credential names. Network-booted runs are attended: the command line's unattended switch and
the settings' `unattended` are ignored (an office PC that boots from the network by accident
must never be erased without a person). Only the workshop can arm one for an unattended
erasure, on the hub, and its first screen then counts down where anyone can stop it
(agent/tui/screens/armed.py).

A boot service may ask for a person's approval of each machine: the hub then answers "pending"
until a person of the workshop accepts it on the live board, and the machine says so on its
console (this runs before its first screen) and asks again every 10 seconds.
"""

from __future__ import annotations

import base64
import datetime
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from agent.config import CONFIG_NAME, StationConfig, load_config
from agent.fsutil import write_durably
from agent.i18n import DEFAULT_LANGUAGE, N_, translator
from agent.report.bootcredential import LIFETIME, CredentialError, normal_mac, read_claims

if TYPE_CHECKING:
    import requests

ENROLL_PATH = "/api/v1/netboot/enroll"
TIMEOUT = 30
ENROLL_ATTEMPTS = 4
RETRY_SECONDS = 3
# How often a machine waiting for a person's approval asks again: the board's "Accept" takes
# effect within this, and thirty waiting machines cost the hub three requests a second.
PENDING_RETRY_SECONDS = 10
# A hub that keeps answering "pending" past the credential's life (its clock is wrong) is not
# waited for forever: the machine stops once the credential's lifetime and this went by.
PENDING_GRACE = datetime.timedelta(minutes=2)
WAITING_FOR_APPROVAL = N_("This computer waits for the workshop to accept it on the "
                          "platform's live board (station {station}).")
NOT_ACCEPTED_IN_TIME = ("the workshop did not accept this machine on the platform's live board "
                        "before its boot credential expired: start it from the network again")
_PARAMETER = re.compile(r"(?:^|\s)reeeboot\.(bootsvc|hub|boot)=(\S+)")
_SYS_NET = Path("/sys/class/net")
_PRODUCT_UUID = Path("/sys/class/dmi/id/product_uuid")
_CMDLINE = Path("/proc/cmdline")


class JoinError(Exception):
    """The machine could not get its settings or its identity; the text is for the screen."""


@dataclass(frozen=True)
class NetworkBoot:
    boot_service: str  # http://ADDRESS:PORT of the boot service
    hub_url: str
    credential: str
    station: str  # the station name the credential enrolls as

    @classmethod
    def from_cmdline(cls, cmdline: str) -> NetworkBoot | None:
        """None for a stick boot; a network boot whose credential is unreadable is one too
        (the screen then says the settings are missing, and no hub is trusted)."""
        values = dict(_PARAMETER.findall(cmdline))
        if not values.get("bootsvc"):
            return None
        credential = values.get("boot", "")
        try:
            station = read_claims(credential).station
        except CredentialError:
            station = ""
        return cls(values["bootsvc"].rstrip("/"), values.get("hub", "").rstrip("/"),
                   credential, station)

    def applied_to(self, config: StationConfig) -> StationConfig:
        """The boot service's settings, with this machine's hub, station and no unattended
        run."""
        return replace(config, hub_url=self.hub_url, station_name=self.station,
                       enrollment_token="", unattended=False)


def network_boot(cmdline: Path = _CMDLINE) -> NetworkBoot | None:
    """This boot's network boot, or None when the system came from a stick (or is not the live
    system at all: a developer's machine)."""
    try:
        return NetworkBoot.from_cmdline(cmdline.read_text())
    except OSError:
        return None


def network_cards(sys_net: Path = _SYS_NET) -> list[str]:
    """The MAC addresses of the machine's own network cards (those with a device behind them:
    not the loopback, bridges or tunnels)."""
    addresses = []
    for interface in sorted(sys_net.iterdir()) if sys_net.is_dir() else []:
        if not (interface / "device").exists():
            continue
        try:
            addresses.append(normal_mac((interface / "address").read_text()))
        except (OSError, ValueError):
            continue
    return addresses


def firmware_uuid(path: Path = _PRODUCT_UUID) -> str:
    """The firmware's system UUID, "" when it has none (Linux shows no file for SMBIOS's "not
    set" values; the boot service drops them too)."""
    try:
        return path.read_text().strip().lower()
    except OSError:
        return ""


def fetch_settings(boot: NetworkBoot, data_dir: Path) -> None:
    """The workshop's settings for network-booted machines, written where a stick's are."""
    import requests

    try:
        response = requests.get(f"{boot.boot_service}/reeeboot.toml", timeout=TIMEOUT)
    except OSError as error:
        raise JoinError(f"the boot service did not answer: {error}") from error
    if response.status_code != 200:
        raise JoinError(f"the boot service refused the settings ({response.status_code})")
    write_durably(data_dir / CONFIG_NAME, response.content, mode=0o600)


def enroll(boot: NetworkBoot, state_dir: Path, *, language: str = DEFAULT_LANGUAGE,
           pending_retry_seconds: float = PENDING_RETRY_SECONDS) -> None:
    """Present the boot credential with this machine's new key; remembered like a stick's
    enrollment, so the reports are signed and accepted.

    When the boot service asks for a person's approval, the hub answers 202 "pending": the
    machine says so once on its console, in `language`, and asks again with the same
    credential and key every `pending_retry_seconds` (a dot each time) until it is accepted
    (then it carries on), refused, or its credential expired (JoinError)."""
    from agent.report.dsse import public_key_bytes
    from agent.report.hubclient import HubClient
    from agent.report.station import load_or_create_key

    if not boot.hub_url:
        raise JoinError("the boot service gave no hub address")
    key = load_or_create_key(state_dir)
    client = HubClient(boot.hub_url, state_dir, key)
    body = {"credential": boot.credential,
            "public_key": base64.b64encode(public_key_bytes(key.public_key())).decode(),
            "macs": network_cards(), "uuid": firmware_uuid()}
    url = f"{boot.hub_url}{ENROLL_PATH}"
    # Measured on this machine's own steady clock: its wall clock may be anything.
    give_up = time.monotonic() + (_lifetime(boot.credential) + PENDING_GRACE).total_seconds()
    waited = False
    while True:
        response = _send_enrollment(url, body)
        if not _pending(response):
            break
        if waited:
            print(".", end="", flush=True)
        else:
            print(translator(language).gettext(WAITING_FOR_APPROVAL).format(
                station=boot.station), flush=True)
            waited = True
        if time.monotonic() > give_up:
            print(flush=True)
            raise JoinError(NOT_ACCEPTED_IN_TIME)
        time.sleep(pending_retry_seconds)
    if waited:
        print(flush=True)  # ends the line of dots
    if response.status_code not in (200, 201):
        reason = _reason(response)
        if waited and response.status_code == 403 and "expired" in reason:
            raise JoinError(NOT_ACCEPTED_IN_TIME)
        raise JoinError(
            f"the platform refused this machine ({response.status_code}): {reason}")
    client.remember_enrolled(key)


def _send_enrollment(url: str, body: Mapping[str, object]) -> requests.Response:
    """The hub's answer to one enrollment request. The same key presenting the same credential
    again is answered as a repeat (or as the same request waiting for approval), so a request
    that timed out (a busy hub, thirty machines enrolling at once) is simply sent again."""
    import requests

    attempt = 1
    while True:
        try:
            response = requests.post(url, json=body, timeout=TIMEOUT)
        except OSError as error:
            if attempt == ENROLL_ATTEMPTS:
                raise JoinError(f"the platform did not answer: {error}") from error
        else:
            if response.status_code < 500 or attempt == ENROLL_ATTEMPTS:
                return response
        time.sleep(RETRY_SECONDS * attempt)
        attempt += 1


def _pending(response: requests.Response) -> bool:
    """Whether the hub says the machine waits for a person of the workshop to accept it."""
    if response.status_code != 202:
        return False
    try:
        answer = response.json()
    except ValueError:
        return False
    return isinstance(answer, dict) and answer.get("status") == "pending"


def _reason(response: requests.Response) -> str:
    """What the hub said in its refusal: its `detail` when it gave one in words."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    return (detail if isinstance(detail, str) else response.text)[:300]


def _lifetime(credential: str) -> datetime.timedelta:
    """How long the credential was given for (30 minutes unless the service says otherwise)."""
    try:
        claims = read_claims(credential)
        return (datetime.datetime.fromisoformat(claims.expires_at)
                - datetime.datetime.fromisoformat(claims.issued_at))
    except (CredentialError, ValueError):  # unreadable, or its times not ISO 8601
        return LIFETIME


def join(boot: NetworkBoot, data_dir: Path, state_dir: Path, *,
         pending_retry_seconds: float = PENDING_RETRY_SECONDS) -> None:
    fetch_settings(boot, data_dir)
    # The settings just fetched say the station's language, for what the console shows while
    # the machine waits for a person's approval.
    config, _problems = load_config(data_dir / CONFIG_NAME)
    enroll(boot, state_dir, language=config.language,
           pending_retry_seconds=pending_retry_seconds)
