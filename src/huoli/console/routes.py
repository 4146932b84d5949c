"""The operations console: a static shell at /console plus the page modules each domain ships.

Nothing here reads credentials: the browser sends the operator's key to the /admin API itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from huoli.console import service
from huoli.deps import RuntimeDep
from huoli.errors import NotFound

router = APIRouter(prefix="/console", tags=["console"], include_in_schema=False)

# Only this origin: no CDN, no inline script. Inline style *attributes* are allowed because ECharts writes
# them into its tooltip markup; <style> elements and external styles stay refused.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # A new release must not run old shell code against a new API; files are small, revalidate each time.
    "Cache-Control": "no-cache",
}


def _file(path: Path, request: Request) -> Response:
    # Revalidated on every load (no-cache), so an ETag keeps reloads cheap: ECharts alone is ~1 MB.
    st = path.stat()
    etag = f'"{st.st_mtime_ns:x}-{st.st_size:x}"'
    headers = {**HEADERS, "ETag": etag}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(path.read_bytes(), media_type=service.content_type(path), headers=headers)


def _missing(what: str) -> NotFound:
    return NotFound(f"no console file {what!r}")


@router.api_route("", methods=["GET", "HEAD"])
def console_root() -> RedirectResponse:
    return RedirectResponse("/console/", status_code=307, headers=HEADERS)


@router.api_route("/", methods=["GET", "HEAD"])
def console_index(request: Request) -> Response:
    return _file(service.STATIC_DIR / "index.html", request)


@router.api_route("/pages.json", methods=["GET", "HEAD"])
def pages(runtime: RuntimeDep) -> Response:
    """The page modules found in src/huoli/<domain>/console/, and which vendor libraries are installed."""
    body: dict[str, Any] = service.manifest(service.vendor_root(runtime.settings))
    return Response(orjson.dumps(body), media_type="application/json", headers=HEADERS)


@router.api_route("/static/{name:path}", methods=["GET", "HEAD"])
def static(name: str, request: Request) -> Response:
    path = service.static_file(name)
    if path is None:
        raise _missing(name)
    return _file(path, request)


@router.api_route("/pages/{domain}/{name:path}", methods=["GET", "HEAD"])
def page_file(domain: str, name: str, request: Request) -> Response:
    path = service.page_file(domain, name)
    if path is None:
        raise _missing(f"{domain}/{name}")
    return _file(path, request)


@router.api_route("/vendor/{package}/{name:path}", methods=["GET", "HEAD"])
def vendor(package: str, name: str, request: Request, runtime: RuntimeDep) -> Response:
    path = service.vendor_file(service.vendor_root(runtime.settings), package, name)
    if path is None:
        raise _missing(f"vendor/{package}/{name}")
    return _file(path, request)
