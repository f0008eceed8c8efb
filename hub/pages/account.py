"""A person changes their own password (OWASP ASVS 2.1.5, 2.1.6): the current one is asked
again, the new one follows hub/passwords.py, and every other session of the account ends
(ASVS 3.3.3)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from hub import audit
from hub.accounts import check_login, hash_password
from hub.deps import SESSION_COOKIE, CheckedForm, HubDep, Session
from hub.pages.render import language, page
from hub.passwords import password_problem
from hub.web import page_gettext

router = APIRouter(include_in_schema=False)


@router.get("/account/password", response_class=HTMLResponse)
def password_form(request: Request, session: Session) -> HTMLResponse:
    return page(request, "password.html", session, error=None, done=False)


@router.post("/account/password", response_class=HTMLResponse)
def change_password(request: Request, hub: HubDep, session: CheckedForm,
                    current: Annotated[str, Form()] = "", new: Annotated[str, Form()] = "",
                    again: Annotated[str, Form()] = "") -> HTMLResponse:
    _ = page_gettext(language(request))
    person = session.person
    address = request.client.host if request.client is not None else ""
    # The current password is a guess like a sign-in's: the same throttle counts it.
    wait = hub.login_throttle.wait_seconds(person.email, address)
    error = None
    if wait or check_login(hub.store, person.email, current) != person.id:
        if not wait:
            hub.login_throttle.failed(person.email, address)
        error = _("The current password is not right.")
    elif new != again:
        error = _("The two new passwords differ.")
    else:
        problem = password_problem(new, person.email)
        error = _(problem) if problem else None
    if error is not None:
        audit.record("password_change_refused", request, account=person.email)
        return page(request, "password.html", session, 400, error=error, done=False)
    hub.store.set_password_hash(person.id, hash_password(new))
    hub.store.close_other_sessions(person.id, request.cookies.get(SESSION_COOKIE, ""))
    audit.record("password_changed", request, account=person.email)
    return page(request, "password.html", session, error=None, done=True)
