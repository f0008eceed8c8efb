"""`reeeboot-hub`: workshops, stations, people and migrations from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.accounts import check_login
from hub.cli import main
from hub.store import Store


def test_cli_sets_up_a_workshop_station_and_people(database_url: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--database", database_url, "migrate"]) == 0
    assert main(["--database", database_url, "workshop", "add", "Lyon"]) == 0
    capsys.readouterr()
    assert main(["--database", database_url, "station", "add", "lyon-3", "--workshop",
                 "Lyon"]) == 0
    token = capsys.readouterr().out.strip()
    assert len(token) >= 24
    assert main(["--database", database_url, "station", "add", "lyon-3"]) == 1
    assert "lyon-3" in capsys.readouterr().err
    assert main(["--database", database_url, "station", "add", "x", "--workshop",
                 "Nowhere"]) == 1
    password = tmp_path / "password"
    password.write_text("a long enough secret\n")
    assert main(["--database", database_url, "user", "add", "Chef@Example.org", "--role",
                 "workshop", "--workshop", "Lyon", "--password-file", str(password)]) == 0
    assert main(["--database", database_url, "user", "add", "nobody@example.org", "--role",
                 "workshop", "--password-file", str(password)]) == 2
    short = tmp_path / "short"
    short.write_text("short")
    assert main(["--database", database_url, "user", "add", "s@example.org", "--role",
                 "admin", "--password-file", str(short)]) == 2
    capsys.readouterr()
    assert main(["--database", database_url, "user", "token", "chef@example.org"]) == 0
    api_token = capsys.readouterr().out.strip()

    store = Store(database_url)
    try:
        station = store.station_by_token(token)
        assert station is not None and station.name == "lyon-3"
        assert store.workshop_id("Lyon") == station.workshop_id
        assert check_login(store, "chef@example.org", "a long enough secret") is not None
        assert check_login(store, "chef@example.org", "wrong") is None
        person = store.person_for_api_token(api_token)
        assert person is not None and person.role == "workshop"
        assert store.person_for_login("s@example.org") is None
    finally:
        store.close()

    assert main(["--database", database_url, "station", "revoke", "lyon-3"]) == 0
    assert main(["--database", database_url, "station", "revoke", "nowhere"]) == 1
    capsys.readouterr()
    assert main(["--database", database_url, "station", "token", "lyon-3"]) == 0
    fresh = capsys.readouterr().out.strip()
    assert fresh and fresh != token
    store = Store(database_url)
    try:
        renewed = store.station_by_token(fresh)
        assert renewed is not None and not renewed.revoked and renewed.public_key is None
    finally:
        store.close()


def test_cli_messages_are_french_by_default(database_url: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--database", database_url, "workshop", "add", "Nantes"]) == 0
    assert "Atelier Nantes créé." in capsys.readouterr().out


def test_tokens_expire_people_leave_and_api_tokens_can_be_revoked(
        database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    import hub.store as store_module
    from agent.report import dsse

    assert main(["--database", database_url, "station", "add", "lyon-3",
                 "--valid-days", "2"]) == 0
    token = capsys.readouterr().out.strip()
    store = Store(database_url)
    try:
        key = Ed25519PrivateKey.generate()
        raw, key_id = dsse.public_key_bytes(key.public_key()), dsse.key_id(key.public_key())
        # Three days later, the token enrolls nothing.
        later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=3)
        monkeypatch.setattr(store_module, "utcnow", lambda: later)
        with pytest.raises(LookupError, match="expired"):
            store.enroll(token, raw, key_id)
        monkeypatch.undo()
        assert main(["--database", database_url, "station", "token", "lyon-3"]) == 0
        assert store.enroll(capsys.readouterr().out.strip(), raw, key_id) == ("lyon-3", True)

        password = tmp_path / "password"
        password.write_text("a long enough secret\n")
        assert main(["--database", database_url, "user", "add", "chef@example.org", "--role",
                     "admin", "--password-file", str(password)]) == 0
        assert main(["--database", database_url, "user", "token", "chef@example.org"]) == 0
        capsys.readouterr()
        api_token = store.add_api_token("chef@example.org")
        assert store.person_for_api_token(api_token) is not None
        assert main(["--database", database_url, "user", "revoke-tokens",
                     "chef@example.org"]) == 0
        assert "2" in capsys.readouterr().out
        assert store.person_for_api_token(api_token) is None
        found = store.person_for_login("chef@example.org")
        assert found is not None
        session, _csrf = store.open_session(found[0])
        assert main(["--database", database_url, "user", "remove", "chef@example.org"]) == 0
        assert store.person_for_session(session) is None
        assert store.person_for_login("chef@example.org") is None
        assert main(["--database", database_url, "user", "remove", "chef@example.org"]) == 1
    finally:
        store.close()
