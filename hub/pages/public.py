"""The new owner's passport: `/p/<token>`, readable without an account by whoever holds the link
(the QR code on the machine's sticker), withdrawable by its workshop from the signed-in passport.

It shows what hub/public_view.py picks of the machine's latest report, and nothing else: the
template gets that view and the workshop's name, never the stored row."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from hub import views
from hub.deps import HubDep, clean
from hub.pages.render import language, page
from hub.public_view import public_passport
from hub.web import page_gettext

# Longer than any token the hub makes (32 characters): answered without a database query.
MAX_TOKEN_LENGTH = 64
# Passports are for whoever holds the link, not for search engines: the header on every answer
# of /p/, and the passport's own meta tag for those that read only the page.
NOT_INDEXED = "noindex, nofollow"

router = APIRouter(include_in_schema=False)


@router.get("/p/{token}", response_class=HTMLResponse)
def public_page(request: Request, token: str, hub: HubDep) -> HTMLResponse:
    chosen = language(request)
    _ = page_gettext(chosen)
    token = clean(token) or ""
    found = hub.store.public_passport(token) if 0 < len(token) <= MAX_TOKEN_LENGTH else None
    row = hub.store.report(found.latest_report_id) if found and not found.withdrawn else None
    if found is not None and found.withdrawn:
        response = page(request, "message.html", None, 404, title=_("This link was withdrawn"),
                        message=_("The workshop has replaced this passport's link: ask it for "
                                  "the new one."))
    elif found is None or row is None:
        response = page(request, "message.html", None, 404, title=_("Not found"),
                        message=_("There is no passport at this address."))
    else:
        response = page(request, "public_passport.html", None, workshop=found.workshop,
                        passport=public_passport(orjson.loads(row["payload"]), _, chosen),
                        co2=views.CO2_KG_PER_MACHINE, water=views.WATER_L_PER_MACHINE,
                        ore=views.ORE_KG_PER_MACHINE, robots=NOT_INDEXED)
    response.headers["X-Robots-Tag"] = NOT_INDEXED
    return response
