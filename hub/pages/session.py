"""Signing in and out, with a login throttle and a CSRF token on the sign-in form itself."""

from __future__ import annotations

import math
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hub import audit
from hub.accounts import check_login
from hub.deps import SESSION_COOKIE, CheckedForm, HubDep, clean
from hub.pages.render import language, page
from hub.web import page_gettext

LOGIN_CSRF_COOKIE = "reeeboot_login_csrf"
SESSION_HOURS = 12

router = APIRouter(include_in_schema=False)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def local(target: str) -> str:
    """Only a path on this hub may follow the sign-in (no open redirect)."""
    return target if target.startswith("/") and not target.startswith("//") else "/live"


@router.get("/", include_in_schema=False)
def home() -> Response:
    return RedirectResponse("/live", 303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/live") -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = page(request, "login.html", None, csrf=token, next=local(next), error=None)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=_secure(request))
    return response


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, hub: HubDep, email: Annotated[str, Form()] = "",
          password: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = "",
          next: Annotated[str, Form()] = "/live") -> Response:
    _ = page_gettext(language(request))
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not expected or not secrets.compare_digest(expected, csrf_token):
        return page(request, "login.html", None, 403, next=local(next),
                    error=_("The form expired; please sign in again."))
    account = (clean(email) or "").strip().lower()
    address = request.client.host if request.client is not None else ""
    wait = hub.login_throttle.wait_seconds(account, address)
    person_id = check_login(hub.store, account, password) if not wait else None
    if person_id is None:
        if not wait:
            hub.login_throttle.failed(account, address)
        audit.record("sign_in_throttled" if wait else "sign_in_failed", request,
                     account=account)
        fresh = secrets.token_urlsafe(24)
        seconds = math.ceil(wait)
        response = page(
            request, "login.html", None, 429 if wait else 401, csrf=fresh, next=local(next),
            error=_("Too many attempts: wait {seconds} s, then sign in again.").format(
                seconds=seconds) if wait else _("Wrong e-mail address or password."))
        if wait:
            response.headers["Retry-After"] = str(seconds)
        response.set_cookie(LOGIN_CSRF_COOKIE, fresh, httponly=True, samesite="strict",
                            secure=_secure(request))
        return response
    hub.login_throttle.succeeded(account)
    audit.record("signed_in", request, account=account)
    token, _csrf = hub.store.open_session(person_id)
    redirect = RedirectResponse(local(next), 303)
    redirect.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax",
                        secure=_secure(request), max_age=SESSION_HOURS * 3600)
    redirect.delete_cookie(LOGIN_CSRF_COOKIE)
    return redirect


@router.post("/logout")
def logout(request: Request, hub: HubDep, session: CheckedForm) -> Response:
    hub.store.close_session(request.cookies.get(SESSION_COOKIE, ""))
    audit.record("signed_out", request, account=session.person.email)
    response = RedirectResponse("/login", 303)
    response.delete_cookie(SESSION_COOKIE)
    return response
