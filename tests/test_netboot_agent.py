"""A network-booted machine's side (agent/netboot.py): what it reads on its command line, and its
join: the workshop's settings from a real boot service, its station from a real hub."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent import netboot
from agent.config import CONFIG_NAME, StationConfig
from agent.flow import open_station
from agent.report.bootcredential import BootClaims, mint, new_claims, read_claims
from agent.report.hubclient import HubClient
from agent.report.station import load_or_create_key
from hub.netboot.bootserver import ROOT, BootFile, BootService, Manifest, create_app
from tests.hubserver import RunningHub, ServedApp, free_port

MAC = "52:54:00:ab:cd:ef"
UUID = "4c4c4544-0042-3510-8052-b3c04f4e5931"
SETTINGS = b'language = "en"\nunattended = true\n\n[station]\noperator = "Camille"\n'


def credential_for(station: str, mac: str = MAC) -> str:
    key = Ed25519PrivateKey.generate()
    return mint(new_claims(boot_service="lyon-boot", key_id="0" * 64, station=station, mac=mac,
                           uuid=UUID, ip="192.168.1.20"), key)


def test_a_stick_boot_is_not_a_network_boot() -> None:
    assert netboot.NetworkBoot.from_cmdline("root=PARTUUID=x ro reeeboot.unattended=1") is None


def test_the_command_line_names_service_hub_and_station() -> None:
    credential = credential_for("lyon-boot-525400abcdef")
    boot = netboot.NetworkBoot.from_cmdline(
        f"root=/dev/loop0 ro reeeboot.hub=http://10.1.2.3:8080/ "
        f"reeeboot.bootsvc=http://10.1.2.3:8070 reeeboot.boot={credential} "
        "reeeboot.root_sha256=" + "a" * 64)
    assert boot == netboot.NetworkBoot("http://10.1.2.3:8070", "http://10.1.2.3:8080",
                                       credential, "lyon-boot-525400abcdef")


def test_an_unreadable_credential_names_no_station() -> None:
    boot = netboot.NetworkBoot.from_cmdline("reeeboot.bootsvc=http://b reeeboot.boot=garbage")
    assert boot is not None and boot.station == ""


def test_the_settings_never_make_a_network_boot_unattended() -> None:
    boot = netboot.NetworkBoot("http://b", "http://h", "c", "lyon-boot-1")
    config = boot.applied_to(StationConfig(unattended=True, hub_url="https://elsewhere",
                                           station_name="stick-3", enrollment_token="t",
                                           operator="Camille"))
    assert (config.unattended, config.hub_url, config.station_name, config.enrollment_token,
            config.operator) == (False, "http://h", "lyon-boot-1", "", "Camille")


def test_network_cards_are_the_ones_with_a_device(tmp_path: Path) -> None:
    for name, mac, device in (("enp0s3", "52:54:00:AB:CD:EF\n", True), ("lo", "00:00:00:00:00:00",
                              False), ("br0", "02:11:22:33:44:55", False),
                              ("wlp2s0", "a4:c3:f0:11:22:33", True)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "address").write_text(mac)
        if device:
            (tmp_path / name / "device").mkdir()
    assert netboot.network_cards(tmp_path) == ["52:54:00:ab:cd:ef", "a4:c3:f0:11:22:33"]


@pytest.fixture
def workshop(tmp_path: Path) -> Iterator[tuple[RunningHub, str]]:
    """A real hub with a boot service station enrolled, and that boot service's HTTP side."""
    hub = RunningHub(tmp_path / "hub.sqlite3", free_port())
    hub.start()
    hub.database.add_workshop("Lyon")
    token = hub.database.add_station("lyon-boot", "Lyon", kind="boot_service")
    service_dir = tmp_path / "service"
    service_key = load_or_create_key(service_dir)
    HubClient(hub.url, service_dir, service_key).enroll("lyon-boot", token)
    port = free_port()
    service = BootService("lyon-boot", service_key, hub.url, f"http://127.0.0.1:{port}",
                          Manifest(tmp_path, "test", "ro", {ROOT: BootFile(
                              ROOT, tmp_path / ROOT, 0, "a" * 64)}), SETTINGS)
    served = ServedApp(create_app(service), port)
    served.start()
    yield hub, f"http://127.0.0.1:{port}"
    served.stop()
    hub.stop()


def booted(hub: RunningHub, service_url: str, mac: str = MAC) -> netboot.NetworkBoot:
    """What the machine's command line says after the service booted it."""
    script = requests.get(f"{service_url}/boot.ipxe", params={"mac": mac, "uuid": UUID},
                          timeout=10).text
    credential = script.split("reeeboot.boot=", 1)[1].split()[0]
    return netboot.NetworkBoot(service_url, hub.url, credential,
                               read_claims(credential).station)


def test_a_booted_machine_joins_its_workshop(workshop: tuple[RunningHub, str], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    hub, service_url = workshop
    boot = booted(hub, service_url)
    monkeypatch.setattr(netboot, "network_cards", lambda: ["02:00:00:00:00:01", MAC])
    monkeypatch.setattr(netboot, "firmware_uuid", lambda: UUID.upper())
    data_dir, state_dir = tmp_path / "srv", tmp_path / "state"
    netboot.join(boot, data_dir, state_dir)
    assert (data_dir / CONFIG_NAME).read_bytes() == SETTINGS
    stations = {row["name"]: row for row in hub.database.stations()}
    assert stations["lyon-boot-525400abcdef"]["workshop"] == "Lyon"
    assert stations["lyon-boot-525400abcdef"]["kind"] == "netbooted"
    # The station opens with the workshop's settings and this machine's identity, enrolled.
    monkeypatch.setattr(netboot, "network_boot", lambda: boot)
    monkeypatch.setattr("agent.flow.network_boot", lambda: boot)
    station = open_station(data_dir, state_dir)
    assert (station.config.language, station.config.operator, station.config.unattended,
            station.config.station_name) == ("en", "Camille", False, "lyon-boot-525400abcdef")
    client = HubClient(hub.url, state_dir, station.key)
    client.enroll(station.config.station_name, "")  # already enrolled: no token needed


def test_a_machine_that_is_not_the_booted_one_is_refused(
        workshop: tuple[RunningHub, str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    hub, service_url = workshop
    boot = booted(hub, service_url)
    monkeypatch.setattr(netboot, "network_cards", lambda: ["02:00:00:00:00:01"])
    monkeypatch.setattr(netboot, "firmware_uuid", lambda: UUID)
    with pytest.raises(netboot.JoinError, match="refused this machine \\(403\\)"):
        netboot.join(boot, tmp_path / "srv", tmp_path / "state")
    assert "lyon-boot-525400abcdef" not in {row["name"] for row in hub.database.stations()}


def test_an_unreachable_boot_service_is_said(tmp_path: Path) -> None:
    boot = netboot.NetworkBoot(f"http://127.0.0.1:{free_port()}", "http://127.0.0.1:1", "c", "s")
    with pytest.raises(netboot.JoinError, match="boot service did not answer"):
        netboot.join(boot, tmp_path / "srv", tmp_path / "state")


def test_an_enrollment_that_timed_out_is_sent_again(
        workshop: tuple[RunningHub, str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A busy hub answered too late: the same key sends the same credential again."""
    hub, service_url = workshop
    boot = booted(hub, service_url)
    monkeypatch.setattr(netboot, "network_cards", lambda: [MAC])
    monkeypatch.setattr(netboot, "firmware_uuid", lambda: UUID)
    monkeypatch.setattr(netboot.time, "sleep", lambda _seconds: None)
    real_post = requests.post
    calls: list[str] = []

    def first_one_lost(url: str, **kwargs: object) -> requests.Response:
        calls.append(url)
        answer = real_post(url, **kwargs)  # type: ignore[arg-type]
        if len(calls) == 1:  # the hub enrolled it, but the answer never came back
            raise requests.Timeout("read timed out")
        return answer

    monkeypatch.setattr(requests, "post", first_one_lost)
    netboot.join(boot, tmp_path / "srv", tmp_path / "state")
    assert len(calls) == 2
    [station] = [row for row in hub.database.stations()
                 if row["name"] == "lyon-boot-525400abcdef"]
    assert [key["status"] for key in station["keys"]] == ["current"]


def test_a_platform_that_never_answers_is_said_after_the_last_attempt(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(netboot.time, "sleep", lambda _seconds: None)
    monkeypatch.setattr(netboot, "network_cards", lambda: [MAC])
    boot = netboot.NetworkBoot("http://unused", f"http://127.0.0.1:{free_port()}",
                               credential_for("lyon-boot-525400abcdef"), "lyon-boot-525400abcdef")
    with pytest.raises(netboot.JoinError, match="platform did not answer"):
        netboot.enroll(boot, tmp_path / "state")


def decide_every_request(hub: RunningHub, accept: bool) -> None:
    """A person of the workshop clicks "Accept" (or "Refuse") for every machine asking."""
    lyon = hub.database.workshop_id("Lyon")
    assert lyon is not None
    for asking in hub.database.join_requests(lyon):
        assert hub.database.decide_join(lyon, asking.id, accept, "atelier@example.org")


def test_a_machine_waits_for_the_workshop_to_accept_it_then_joins(
        workshop: tuple[RunningHub, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    hub, service_url = workshop
    hub.database.set_enrollment("lyon-boot", "approval")
    boot = booted(hub, service_url)
    monkeypatch.setattr(netboot, "network_cards", lambda: [MAC])
    monkeypatch.setattr(netboot, "firmware_uuid", lambda: UUID)
    waits: list[float] = []

    def accepted_on_the_fourth_wait(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 4:
            decide_every_request(hub, accept=True)

    monkeypatch.setattr(netboot.time, "sleep", accepted_on_the_fourth_wait)
    real_post = requests.post
    calls: list[int] = []

    def second_answer_lost(url: str, **kwargs: object) -> requests.Response:
        answer = real_post(url, **kwargs)  # type: ignore[arg-type]
        calls.append(answer.status_code)
        if len(calls) == 2:  # the hub heard it, the answer never came back
            raise requests.Timeout("read timed out")
        return answer

    monkeypatch.setattr(requests, "post", second_answer_lost)
    netboot.join(boot, tmp_path / "srv", tmp_path / "state", pending_retry_seconds=0.25)
    # Asked, waited; asked again, its answer lost: sent again after the lost answers' wait;
    # waited twice more, accepted meanwhile.
    assert calls == [202, 202, 202, 202, 201]
    assert waits == [0.25, netboot.RETRY_SECONDS, 0.25, 0.25]
    stations = {row["name"]: row for row in hub.database.stations()}
    assert stations["lyon-boot-525400abcdef"]["kind"] == "netbooted"
    console = capsys.readouterr().out
    # Said once, in the station's language (the service's settings say English), then dots.
    assert console == ("This computer waits for the workshop to accept it on the platform's "
                       "live board (station lyon-boot-525400abcdef).\n..\n")
    console.encode("cp437")  # the Linux console's font has these characters


def test_a_machine_the_workshop_refused_is_told_why(
        workshop: tuple[RunningHub, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    hub, service_url = workshop
    hub.database.set_enrollment("lyon-boot", "approval")
    boot = booted(hub, service_url)
    monkeypatch.setattr(netboot, "network_cards", lambda: [MAC])
    monkeypatch.setattr(netboot, "firmware_uuid", lambda: UUID)
    monkeypatch.setattr(netboot.time, "sleep",
                        lambda _seconds: decide_every_request(hub, accept=False))
    with pytest.raises(netboot.JoinError,
                       match=r"refused this machine \(403\): refused by the workshop"):
        netboot.enroll(boot, tmp_path / "state", language="fr", pending_retry_seconds=0.01)
    assert "lyon-boot-525400abcdef" not in {row["name"] for row in hub.database.stations()}
    console = capsys.readouterr().out
    assert console.startswith("Cet ordinateur attend que l'atelier l'accepte sur le tableau "
                              "en direct de la plateforme (station lyon-boot-525400abcdef).")
    console.encode("cp437")


def test_a_machine_not_accepted_before_its_credential_expired_says_so(
        workshop: tuple[RunningHub, str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    hub, service_url = workshop
    hub.database.set_enrollment("lyon-boot", "approval")
    boot = booted(hub, service_url)
    monkeypatch.setattr(netboot, "network_cards", lambda: [MAC])
    monkeypatch.setattr(netboot, "firmware_uuid", lambda: UUID)

    def half_an_hour_went_by(_seconds: float) -> None:
        # Nobody clicked: the hub now finds the machine's credential expired.
        monkeypatch.setattr(BootClaims, "expired", lambda _claims, _now=None: True)

    monkeypatch.setattr(netboot.time, "sleep", half_an_hour_went_by)
    with pytest.raises(netboot.JoinError, match=r"did not accept this machine .* before its "
                                                r"boot credential expired"):
        netboot.enroll(boot, tmp_path / "state", pending_retry_seconds=0.01)


def test_a_hub_that_keeps_the_machine_waiting_past_its_credential_is_given_up(
        workshop: tuple[RunningHub, str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    hub, service_url = workshop
    hub.database.set_enrollment("lyon-boot", "approval")
    boot = booted(hub, service_url)
    monkeypatch.setattr(netboot, "network_cards", lambda: [MAC])
    monkeypatch.setattr(netboot, "firmware_uuid", lambda: UUID)
    # As if the credential's half hour had gone by on the machine's own steady clock.
    monkeypatch.setattr(netboot, "_lifetime",
                        lambda _credential: -netboot.PENDING_GRACE - datetime.timedelta(1))
    with pytest.raises(netboot.JoinError, match="before its boot credential expired"):
        netboot.enroll(boot, tmp_path / "state", pending_retry_seconds=0.01)
