"""The operations console: the built Vue app at /console (index.html, hashed assets) and the icon.

Nothing here reads credentials: the browser sends the operator's key to the /admin API itself.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from huoli.console import service
from huoli.deps import RuntimeDep
from huoli.errors import NotFound

router = APIRouter(prefix="/console", tags=["console"], include_in_schema=False)

# Only this origin: no CDN, no inline script, no eval (templates are compiled at build time). Inline style
# *attributes* are allowed because Element Plus and ECharts position popups and tooltips with them.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# index.html names the current build's assets: revalidate it on every load, so a new release is picked up.
REVALIDATE = {**HEADERS, "Cache-Control": "no-cache"}
# An asset's name carries its content hash: it never changes, so the browser keeps it.
IMMUTABLE = {**HEADERS, "Cache-Control": "public, max-age=31536000, immutable"}


def _file(path: Path, request: Request, headers: dict[str, str]) -> Response:
    st = path.stat()
    etag = f'"{st.st_mtime_ns:x}-{st.st_size:x}"'
    headers = {**headers, "ETag": etag, "Vary": "Accept-Encoding"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    # The build writes each asset's .gz beside it (console/vite.config.mjs): sent as is to browsers taking gzip.
    gz = path.with_name(path.name + ".gz")
    if "gzip" in request.headers.get("accept-encoding", "") and gz.is_file():
        headers["Content-Encoding"] = "gzip"
        return Response(gz.read_bytes(), media_type=service.content_type(path), headers=headers)
    return Response(path.read_bytes(), media_type=service.content_type(path), headers=headers)


def _missing(what: str) -> NotFound:
    return NotFound(f"no console file {what!r}")


@router.api_route("", methods=["GET", "HEAD"])
def console_root() -> RedirectResponse:
    return RedirectResponse("/console/", status_code=307, headers=REVALIDATE)


@router.api_route("/", methods=["GET", "HEAD"])
def console_index(request: Request, runtime: RuntimeDep) -> Response:
    path = service.index_file(service.dist_root(runtime.settings))
    if path is None:
        return HTMLResponse(service.NOT_BUILT, status_code=503, headers=REVALIDATE)
    return _file(path, request, REVALIDATE)


@router.api_route("/assets/{name:path}", methods=["GET", "HEAD"])
def asset(name: str, request: Request, runtime: RuntimeDep) -> Response:
    path = service.asset_file(service.dist_root(runtime.settings), name)
    if path is None:
        raise _missing(f"assets/{name}")
    return _file(path, request, IMMUTABLE)


@router.api_route("/static/{name:path}", methods=["GET", "HEAD"])
def static(name: str, request: Request) -> Response:
    path = service.static_file(name)
    if path is None:
        raise _missing(name)
    return _file(path, request, REVALIDATE)
