"""What the hub's routes depend on, written once: the hub itself, who is asking (an API token or
a signed-in session), administrators only, the CSRF check, and the one visibility rule: a person
sees what belongs to their own workshop, an administrator sees every workshop.

The API's routes (hub/api/) and the pages (hub/pages/) both take these as FastAPI dependencies,
so a rule like "a workshop never sees another's report" cannot be written twice.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Form, HTTPException, Request

from hub import audit
from hub.images import ImageShelf
from hub.ingest import MAX_BODY_BYTES
from hub.models import ROLE_ADMIN
from hub.store import PersonRow, Store
from hub.throttle import LoginThrottle

SESSION_COOKIE = "reeeboot_session"


def clean(value: str | None) -> str | None:
    """Request text as the database may hold it (PostgreSQL text has no NUL character)."""
    return None if value is None else value.replace("\x00", "")


class Hub:
    """What every request needs: the store, the OS images' folder, the public address."""

    def __init__(self, store: Store, images: ImageShelf | None,
                 public_url: str | None = None) -> None:
        self.store = store
        self.images = images
        self.public_url = public_url.rstrip("/") if public_url else None
        self.login_throttle = LoginThrottle()

    def link(self, request: Request, path: str) -> str:
        """An address of the hub for outside readers (a passport's QR code, a certificate's
        link): on the configured public URL, never on the request's own Host header, which
        whoever sends the request chooses. Without one (a development hub), the request's."""
        base = self.public_url or str(request.base_url).rstrip("/")
        return base + path


def get_hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


HubDep = Annotated[Hub, Depends(get_hub)]


# -- who is asking -------------------------------------------------------------------------


def _session(hub: Hub, request: Request) -> tuple[PersonRow, str] | None:
    token = request.cookies.get(SESSION_COOKIE)
    return hub.store.person_for_session(clean(token) or "") if token else None


def _bearer(request: Request) -> str | None:
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return None


def api_person(request: Request, hub: HubDep) -> PersonRow:
    """Who calls the API: an API token (Authorization: Bearer) or a signed-in session."""
    token = _bearer(request)
    if token is not None:
        person = hub.store.person_for_api_token(clean(token) or "")
    else:
        found = _session(hub, request)
        person = found[0] if found else None
    if person is None:
        if token is not None:
            audit.record("api_token_refused", request)
        raise HTTPException(401, "sign in or send an API token (Authorization: Bearer)")
    return person


def api_writer(request: Request, hub: HubDep,
               person: Annotated[PersonRow, Depends(api_person)]) -> PersonRow:
    """Whoever calls an API route that changes something: through a session (not a token) a
    POST also needs the session's CSRF token in X-CSRF-Token."""
    if _bearer(request) is None and request.method == "POST":
        found = _session(hub, request)
        sent = request.headers.get("x-csrf-token")
        if sent is None or found is None or not secrets.compare_digest(sent, found[1]):
            audit.record("csrf_refused", request, person=person.email)
            raise HTTPException(403, "missing or wrong CSRF token")
    return person


def api_admin(request: Request, hub: HubDep,
              person: Annotated[PersonRow, Depends(api_person)]) -> PersonRow:
    """An administrator; through a session (not a token) a POST also needs the CSRF token."""
    require_admin(person, request)
    return api_writer(request, hub, person)


class SignInFirst(Exception):
    """A page asked for without a session: answered by a redirect to the sign-in form."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


@dataclass(frozen=True)
class SignedIn:
    """The person behind a page request and their session's CSRF token (for its forms)."""

    person: PersonRow
    csrf: str


def signed_in(request: Request, hub: HubDep) -> SignedIn:
    found = _session(hub, request)
    if found is None:
        raise SignInFirst(request.url.path)
    return SignedIn(*found)


def checked_form(request: Request, session: Annotated[SignedIn, Depends(signed_in)],
                 csrf_token: Annotated[str, Form()] = "") -> SignedIn:
    """A page's form that changes something: it must carry the session's CSRF token."""
    if not secrets.compare_digest(session.csrf, csrf_token):
        audit.record("csrf_refused", request, person=session.person.email)
        raise HTTPException(403, "missing or wrong CSRF token")
    return session


def require_admin(person: PersonRow, request: Request | None = None) -> None:
    if person.role != ROLE_ADMIN:
        audit.record("admin_only_refused", request, person=person.email)
        raise HTTPException(403, "administrators only")


Person = Annotated[PersonRow, Depends(api_person)]
Admin = Annotated[PersonRow, Depends(api_admin)]
Writer = Annotated[PersonRow, Depends(api_writer)]
Session = Annotated[SignedIn, Depends(signed_in)]
CheckedForm = Annotated[SignedIn, Depends(checked_form)]


# -- the visibility rule ---------------------------------------------------------------------


def workshop_scope(person: PersonRow) -> int | None:
    """What a person's lists are filtered on: None for an administrator (every workshop), else
    the person's own workshop. A workshop account without a workshop sees nothing: -1 matches
    no row."""
    if person.role == ROLE_ADMIN:
        return None
    return person.workshop_id if person.workshop_id is not None else -1


def may_see(person: PersonRow, workshop_id: int | None) -> bool:
    scope = workshop_scope(person)
    return scope is None or workshop_id == scope


def visible_report(hub: Hub, person: PersonRow, report_id: str) -> dict[str, Any] | None:
    """The stored report when this person may see it; None both when it does not exist and
    when it is another workshop's (the answer does not tell which)."""
    row = hub.store.report(clean(report_id) or "")
    return row if row is not None and may_see(person, row["workshop_id"]) else None


def visible_machine(hub: Hub, person: PersonRow, machine_id: str) -> dict[str, Any] | None:
    """The person's workshop's record of a machine (each workshop keeps its own)."""
    found = hub.store.machines(workshop_scope(person), clean(machine_id) or "")
    return found[0] if found else None


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, refused with 413 as soon as it passes the limit (never held whole)."""
    too_big = HTTPException(413, f"body over {limit} bytes")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise too_big
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)
