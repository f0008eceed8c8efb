"""Serving the hub with uvicorn, in one process or several workers sharing the port."""

from __future__ import annotations

import os
from pathlib import Path

import uvicorn

from hub import audit
from hub.app import create_app
from hub.database import database_url
from hub.store import Store


def app_from_environment() -> object:
    """The application each worker builds (uvicorn imports it by name in every process)."""
    audit.send_to_standard_error()
    images = os.environ.get("REEEBOOT_HUB_IMAGES")
    store = Store(os.environ["REEEBOOT_HUB_DATABASE"], apply_migrations=False)
    return create_app(store, Path(images) if images else None,
                      os.environ.get("REEEBOOT_HUB_PUBLIC_URL") or None)


def serve(database: str, *, host: str, port: int, workers: int = 1, images: Path | None = None,
          forwarded_allow_ips: str = "127.0.0.1", public_url: str | None = None) -> None:
    os.environ["REEEBOOT_HUB_DATABASE"] = database_url(database)
    if public_url:
        os.environ["REEEBOOT_HUB_PUBLIC_URL"] = public_url
    if images is not None:
        os.environ["REEEBOOT_HUB_IMAGES"] = str(images.resolve())
    uvicorn.run("hub.server:app_from_environment", factory=True, host=host, port=port,
                workers=workers, proxy_headers=True, forwarded_allow_ips=forwarded_allow_ips,
                log_level="warning", access_log=False)
