"""OS images for the install step: public, like a Debian mirror (no personal data)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from hub.deps import HubDep

router = APIRouter(prefix="/api/v1/images", tags=["images"])


@router.get("")
def images_list(hub: HubDep) -> list[dict[str, Any]]:
    return hub.images.manifests() if hub.images else []


@router.get("/files/{file}", response_class=FileResponse,
            responses={404: {"description": "no such file"}, 206: {"description": "a range"}})
def image_file(file: str, hub: HubDep) -> FileResponse:
    path = hub.images.file(file) if hub.images else None
    if path is None:
        raise HTTPException(404, "no such image file")
    return FileResponse(path, media_type="application/octet-stream")
