"""A machine booted from the workshop's network (docs/netboot.md) has no stick: its settings come
from the boot service, its station identity from the hub, and its key, journals and outbox live
in RAM until it is switched off.

The boot service puts three things on the kernel command line: its own address
(`reeeboot.bootsvc=`), the hub's (`reeeboot.hub=`) and a boot credential (`reeeboot.boot=`,
agent/report/bootcredential.py) that lets this machine, and no other, enroll once as the station
the credential names. Network-booted runs are attended: the command line's unattended switch and
the settings' `unattended` are ignored (an office PC that boots from the network by accident
must never be erased without a person).
"""

from __future__ import annotations

import base64
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path

from agent.config import CONFIG_NAME, StationConfig
from agent.fsutil import write_durably
from agent.report.bootcredential import CredentialError, normal_mac, read_claims

ENROLL_PATH = "/api/v1/netboot/enroll"
TIMEOUT = 30
ENROLL_ATTEMPTS = 4
RETRY_SECONDS = 3
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


def enroll(boot: NetworkBoot, state_dir: Path) -> None:
    """Present the boot credential with this machine's new key; remembered like a stick's
    enrollment, so the reports are signed and accepted."""
    import requests

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
    # The same key presenting the same credential again is answered as a repeat, so a request
    # that timed out (a busy hub, thirty machines enrolling at once) is simply sent again.
    for attempt in range(1, ENROLL_ATTEMPTS + 1):
        try:
            response = requests.post(f"{boot.hub_url}{ENROLL_PATH}", json=body,
                                     timeout=TIMEOUT)
        except OSError as error:
            if attempt == ENROLL_ATTEMPTS:
                raise JoinError(f"the platform did not answer: {error}") from error
            time.sleep(RETRY_SECONDS * attempt)
            continue
        if response.status_code < 500 or attempt == ENROLL_ATTEMPTS:
            break
        time.sleep(RETRY_SECONDS * attempt)
    if response.status_code not in (200, 201):
        raise JoinError(
            f"the platform refused this machine ({response.status_code}): {response.text[:300]}")
    client.remember_enrolled(key)


def join(boot: NetworkBoot, data_dir: Path, state_dir: Path) -> None:
    fetch_settings(boot, data_dir)
    enroll(boot, state_dir)
