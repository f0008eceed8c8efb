"""The hub's web application (FastAPI): the API's routers (hub/api/) and the pages' routers
(hub/pages/), on one Hub (hub/deps.py) that holds the store and the settings."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from hub import audit
from hub.api import arming, images, live, machines, netboot, reports, stations
from hub.deps import Hub, SignInFirst
from hub.headers import SecurityHeaders
from hub.images import ImageShelf
from hub.ingest import Refused
from hub.pages import account, certificates, session, totals
from hub.pages import board as board_page
from hub.pages import donor as donor_pages
from hub.pages import live as live_page
from hub.pages import lots as lot_pages
from hub.pages import machines as machine_pages
from hub.pages import public as public_pages
from hub.pages import reports as report_pages
from hub.pages import stations as station_pages
from hub.store import Store

ROUTERS = (stations.router, netboot.router, arming.router, reports.router, machines.router,
           live.router, images.router, session.router, live_page.router, board_page.router,
           report_pages.router, machine_pages.router, certificates.router, totals.router,
           station_pages.router, account.router, public_pages.router, donor_pages.router,
           lot_pages.router)


def create_app(database: str | Path | Store, images: Path | None = None,
               public_url: str | None = None) -> FastAPI:
    store = database if isinstance(database, Store) else Store(database)
    # The OpenAPI description is served; the interactive viewers are not: they load their
    # scripts from a third-party CDN.
    app = FastAPI(title="reeeboot hub", version="1", docs_url=None, redoc_url=None,
                  description="The regional platform: signed reports from refurbishing "
                              "stations, machines, live progress, certificates.")
    app.state.hub = Hub(store, ImageShelf(images) if images is not None else None, public_url)
    app.add_middleware(SecurityHeaders)
    app.add_exception_handler(Refused, _refused)  # type: ignore[arg-type]
    app.add_exception_handler(SignInFirst, _sign_in_first)  # type: ignore[arg-type]
    for router in ROUTERS:
        app.include_router(router)
    return app


async def _refused(request: Request, error: Refused) -> JSONResponse:
    if error.status == 403:  # a signature or key refused: someone may be trying keys
        audit.record("envelope_refused", request, reason=error.message)
    return JSONResponse({"detail": error.message}, error.status)


async def _sign_in_first(_request: Request, error: SignInFirst) -> Response:
    return RedirectResponse(f"/login?next={quote(error.path)}", 303)
