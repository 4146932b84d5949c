"""/console serving: the built console (index.html, hashed assets, precompressed), CSP, caching, and
nothing outside the allowed folders."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

from huoli.app import create_app
from huoli.console import service
from huoli.runtime import build_runtime
from huoli.settings import Settings

JS = "/console/assets/index-abc123.js"
INDEX = """<!doctype html><html><head><script type="module" crossorigin src="/console/assets/index-abc123.js">
</script><link rel="stylesheet" crossorigin href="/console/assets/index-abc123.css"></head><body></body></html>
"""


@pytest.fixture
def fake_dist(tmp_path: Path) -> Path:
    """A console/dist as Vite writes it, so these tests don't depend on the build."""
    dist = tmp_path / "dist"
    assets = dist / "assets"
    assets.mkdir(parents=True)
    (dist / "index.html").write_text(INDEX)
    (assets / "index-abc123.js").write_text("export const version = 'test';\n" * 50)
    (assets / "index-abc123.js.gz").write_bytes(gzip.compress(b"export const version = 'test';\n" * 50))
    (assets / "index-abc123.css").write_text("body{margin:0}")
    (assets / "font.woff2").write_bytes(b"wOF2")
    (tmp_path / "outside.js").write_text("secret")
    (assets / "link.js").symlink_to(tmp_path / "outside.js")
    (assets / "map.js.map").write_text("{}")  # source maps are not served
    return dist


def _client(tmp_path: Path, dist: Path) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path / "var",
        database_url=f"sqlite:///{tmp_path / 'huoli.db'}",
        event_store_url=f"duckdb:///{tmp_path / 'events.duckdb'}",
        secret_key="console-test-secret",
        console_dist=dist,
    )
    rt = build_runtime(settings)
    try:
        with TestClient(create_app(runtime=rt)) as c:
            yield c
    finally:
        rt.close()


@pytest.fixture
def console_client(tmp_path: Path, fake_dist: Path) -> Iterator[TestClient]:
    yield from _client(tmp_path, fake_dist)


@pytest.mark.parametrize(
    ("path", "content_type", "cache"),
    [
        ("/console/", "text/html; charset=utf-8", "no-cache"),
        (JS, "text/javascript; charset=utf-8", "immutable"),
        ("/console/assets/index-abc123.css", "text/css; charset=utf-8", "immutable"),
        ("/console/assets/font.woff2", "font/woff2", "immutable"),
        ("/console/static/icon.svg", "image/svg+xml", "no-cache"),
    ],
)
def test_files_are_served_with_their_type_csp_and_caching(
    console_client: TestClient, path: str, content_type: str, cache: str
) -> None:
    r = console_client.get(path)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == content_type
    assert cache in r.headers["cache-control"]
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self';" in csp and "connect-src 'self'" in csp
    # templates are compiled at build time: the console needs no eval
    assert "unsafe-eval" not in csp and "http" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert console_client.head(path).status_code == 200


def test_assets_go_out_gzipped_to_browsers_that_take_it(console_client: TestClient) -> None:
    r = console_client.get(JS, headers={"Accept-Encoding": "gzip, br"})
    assert r.headers["content-encoding"] == "gzip" and "accept-encoding" in r.headers["vary"].lower()
    assert r.text.startswith("export const version")  # the client decoded it: a valid gzip of the file
    plain = console_client.get(JS, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.text == r.text
    # a file without a .gz is sent as is
    css = console_client.get("/console/assets/index-abc123.css", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in css.headers and css.text == "body{margin:0}"


def test_unchanged_files_revalidate_with_304(console_client: TestClient, fake_dist: Path) -> None:
    first = console_client.get("/console/")
    etag = first.headers["etag"]
    again = console_client.get("/console/", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    (fake_dist / "index.html").write_text(INDEX.replace("abc123", "def456"))
    changed = console_client.get("/console/", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and b"def456" in changed.content and changed.headers["etag"] != etag


def test_the_built_shell_has_no_inline_script_or_outside_url() -> None:
    """The real build (make install): one module script from this origin, nothing inline, no CDN."""
    index = service.index_file(service.DEFAULT_DIST)
    assert index is not None, "console/dist is missing: run make install"
    html = index.read_text()
    assert "http://" not in html and "https://" not in html
    assert html.count("<script") == 1 and 'type="module"' in html and 'src="/console/assets/' in html
    assert "<style" not in html


def test_console_redirects_to_the_shell(console_client: TestClient) -> None:
    r = console_client.get("/console", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/console/"


def test_an_unbuilt_console_says_how_to_build_it(tmp_path: Path) -> None:
    for client in _client(tmp_path, tmp_path / "no-dist"):
        r = client.get("/console/")
        assert r.status_code == 503 and "make install" in r.text
        assert "script" not in r.text


def raw_get(app: Any, raw_path: str) -> tuple[int, bytes]:
    """GET a path byte for byte at the ASGI level, the way uvicorn hands it over (path = unquoted raw path).

    HTTP clients (httpx included) collapse "..", so they cannot send what an attacker's client would.
    """
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": unquote(raw_path),
        "raw_path": raw_path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1234),
    }
    status: list[int] = []
    body: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    # In its own thread: Playwright's sync API may already run an event loop in this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, app(scope, receive, send)).result()
    return status[0], b"".join(body)


def test_raw_get_reaches_files(console_client: TestClient) -> None:
    # the helper itself works: the same route with a clean path answers 200
    assert raw_get(console_client.app, JS)[0] == 200
    assert raw_get(console_client.app, "/console/static/icon.svg")[0] == 200


@pytest.mark.parametrize(
    "path",
    [
        "/console/assets/../index.html",
        "/console/assets/..%2Findex.html",
        "/console/assets/%2e%2e/index.html",
        "/console/assets/../../outside.js",
        "/console/assets/../../../../pyproject.toml",
        "/console/assets/link.js",  # a symlink pointing outside the folder
        "/console/assets/map.js.map",  # not a served type
        "/console/assets/index-abc123.js.gz",  # only as the encoding of its file
        "/console/assets/.hidden.js",
        "/console/assets/missing.js",
        "/console/assets/%2Fetc%2Fpasswd",
        "/console/assets//etc/passwd",
        "/console/static/../routes.py",
        "/console/static/..%2Froutes.py",
        "/console/static/%2Fetc%2Fpasswd",
        "/console/static//etc/passwd",
        "/console/static/app.js",  # the old shell is gone; static/ holds the icon only
        "/console/pages.json",
        "/console/pages/events/i18n.json",
    ],
)
def test_anything_outside_the_folders_is_404(console_client: TestClient, path: str) -> None:
    status, body = raw_get(console_client.app, path)
    assert status == 404, (path, status, body[:200])
    assert b"secret" not in body and b"SECRET" not in body


def test_every_domain_page_is_in_the_build() -> None:
    """Each domain's console/index.js lists .vue files that exist; the build bundled a chunk for each."""
    import re

    listed = 0
    for index in sorted(service.PACKAGE_DIR.glob("*/console/index.js")):
        for module in re.findall(r'import\("\./([A-Za-z0-9_]+)\.vue"\)', index.read_text()):
            assert (index.parent / f"{module}.vue").is_file(), (index, module)
            chunks = list((service.DEFAULT_DIST / "assets").glob(f"{module}-*.js"))
            assert chunks, f"{module}.vue is not in console/dist: run make install"
            listed += 1
    assert listed >= 2
    # no page is left as an old plain-JS page module (render(root, ctx)) that nothing loads any more
    old = [p for p in service.PACKAGE_DIR.glob("*/console/**/*.js") if "render(root, ctx)" in p.read_text()]
    assert not old, old
