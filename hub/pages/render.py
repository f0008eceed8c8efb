"""A page answered in the reader's language: from ?lang=, then the cookie it sets, then the
browser's Accept-Language, French otherwise."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from hub.deps import SignedIn
from hub.store import PersonRow
from hub.web import page_gettext, preferred_language, render

LANGUAGE_COOKIE = "reeeboot_language"


def language(request: Request) -> str:
    return preferred_language(request.query_params.get("lang"),
                              request.cookies.get(LANGUAGE_COOKIE),
                              request.headers.get("accept-language", ""))


def page(request: Request, template: str, session: SignedIn | None, status: int = 200, *,
         csrf: str | None = None, **context: Any) -> HTMLResponse:
    """The template rendered for this reader; `csrf` is the form token of a page without a
    session (the sign-in form)."""
    chosen = language(request)
    person: PersonRow | None = session.person if session else None
    html = render(template, chosen, person=person,
                  csrf_token=session.csrf if session else csrf, path=request.url.path,
                  **context)
    response = HTMLResponse(html, status)
    if request.query_params.get("lang") == chosen:
        response.set_cookie(LANGUAGE_COOKIE, chosen, max_age=365 * 86400, samesite="lax")
    return response


def not_found(request: Request, session: SignedIn | None) -> HTMLResponse:
    _ = page_gettext(language(request))
    return page(request, "message.html", session, 404, title=_("Not found"),
                message=_("Nothing here, or not for your workshop."))
