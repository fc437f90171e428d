"""The API docs page (`/api/docs`, Swagger UI) served entirely by the console: the page, its script,
stylesheet and icon come from the `swagger-ui-bundle-v2` package, never from a CDN, so the docs
work on a machine without internet access. Staff only (viewer and up), like the document itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from swagger_ui_bundle import swagger_ui_path

from console.auth import require
from console.roles import Role
from console.staff import StaffView

router = APIRouter(prefix="/api/docs", include_in_schema=False)
ASSETS = "/api/docs/assets"
# Only what the page loads: the bundle's demo index.html and initializer point at a public example.
SERVED = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}


@router.get("")
def api_docs(_staff: Annotated[StaffView, Depends(require(Role.VIEWER))]) -> HTMLResponse:
    """Swagger UI for the API, with every asset served from here."""
    return get_swagger_ui_html(
        openapi_url="/api/openapi.json",
        title="paychat console API",
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        # No request to the public validator service.
        swagger_ui_parameters={"validatorUrl": None},
    )


@router.get("/assets/{name}")
def api_docs_asset(name: str, _staff: Annotated[StaffView, Depends(require(Role.VIEWER))]) -> FileResponse:
    """One of Swagger UI's files from the installed package."""
    if name not in SERVED:
        raise HTTPException(404, "no such asset")
    return FileResponse(
        Path(str(swagger_ui_path)) / name,
        media_type=SERVED[name],
        headers={"Cache-Control": "private, max-age=86400"},
    )
