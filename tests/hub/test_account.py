"""A person changes their own password: the current one is asked, the policy holds, and every
other session of the account ends."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.hub.helpers import PASSWORD, Hub
from tests.hub.test_pages import sign_in

NEW_PASSWORD = "a lantern by the river"


def change(client: TestClient, csrf: str, current: str, new: str,
           again: str | None = None) -> tuple[int, str]:
    answer = client.post("/account/password?lang=en", data={
        "csrf_token": csrf, "current": current, "new": new,
        "again": new if again is None else again})
    return answer.status_code, answer.text


def test_a_person_changes_their_password_and_other_sessions_end(hub: Hub) -> None:
    email = hub.person("lyon@example.org", "workshop", "Lyon")
    here, elsewhere = TestClient(hub.client.app), TestClient(hub.client.app)
    csrf = hub.login(here, email)
    hub.login(elsewhere, email)
    assert "/account/password" in here.get("/live").text

    assert change(here, "guess", PASSWORD, NEW_PASSWORD)[0] == 403
    status, text = change(here, csrf, "not the password", NEW_PASSWORD)
    assert status == 400 and "current password is not right" in text
    status, text = change(here, csrf, PASSWORD, NEW_PASSWORD, "something else entirely")
    assert status == 400 and "differ" in text
    status, text = change(here, csrf, PASSWORD, "azerty123456")
    assert status == 400 and "first ones anybody tries" in text
    status, text = change(here, csrf, PASSWORD, "short")
    assert status == 400 and "12 characters" in text

    status, text = change(here, csrf, PASSWORD, NEW_PASSWORD)
    assert status == 200 and "was changed" in text
    assert here.get("/live", follow_redirects=False).status_code == 200
    assert elsewhere.get("/live", follow_redirects=False).status_code == 303
    assert sign_in(TestClient(hub.client.app), email, PASSWORD).status_code == 401
    assert sign_in(TestClient(hub.client.app), email, NEW_PASSWORD).status_code == 303


def test_guessing_the_current_password_is_throttled(hub: Hub) -> None:
    email = hub.person("admin@example.org")
    client = TestClient(hub.client.app)
    csrf = hub.login(client, email)
    answers = [change(client, csrf, f"guess-{n}", NEW_PASSWORD)[0] for n in range(8)]
    assert answers == [400] * 8
    # The throttle now holds the account: even the right password is not checked.
    status, _text = change(client, csrf, PASSWORD, NEW_PASSWORD)
    assert status == 400
    assert sign_in(TestClient(hub.client.app), email, NEW_PASSWORD).status_code != 303
