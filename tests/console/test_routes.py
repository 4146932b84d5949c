"""/console static serving and page discovery: content types, CSP, and nothing outside the allowed folders."""

from __future__ import annotations

import asyncio
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

ECHARTS = "/console/vendor/echarts/echarts.esm.min.mjs"


@pytest.fixture
def fake_node_modules(tmp_path: Path) -> Path:
    """A node_modules with just the file the shell imports, so these tests don't depend on `npm ci`."""
    root = tmp_path / "node_modules"
    dist = root / "echarts" / "dist"
    dist.mkdir(parents=True)
    (dist / "echarts.esm.min.mjs").write_text("export const version = 'test';\n")
    (dist / "echarts.esm.min.mjs.map").write_text("{}")
    (root / "echarts" / "package.json").write_text('{"name": "echarts"}')
    (tmp_path / "outside.js").write_text("secret")
    (dist / "link.js").symlink_to(tmp_path / "outside.js")
    return root


@pytest.fixture
def console_client(tmp_path: Path, fake_node_modules: Path) -> Iterator[TestClient]:
    # Static files need no operational database beyond the one the runtime always opens: SQLite only.
    settings = Settings(
        data_dir=tmp_path / "var",
        database_url=f"sqlite:///{tmp_path / 'huoli.db'}",
        event_store_url=f"duckdb:///{tmp_path / 'events.duckdb'}",
        secret_key="console-test-secret",
        console_node_modules=fake_node_modules,
    )
    rt = build_runtime(settings)
    try:
        with TestClient(create_app(runtime=rt)) as c:
            yield c
    finally:
        rt.close()


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/console/", "text/html; charset=utf-8"),
        ("/console/static/app.js", "text/javascript; charset=utf-8"),
        ("/console/static/lib/range.js", "text/javascript; charset=utf-8"),
        ("/console/static/style.css", "text/css; charset=utf-8"),
        ("/console/static/icon.svg", "image/svg+xml"),
        ("/console/pages/events/overview.js", "text/javascript; charset=utf-8"),
        ("/console/pages/events/i18n.json", "application/json"),
        ("/console/pages/console/keys.js", "text/javascript; charset=utf-8"),
        (ECHARTS, "text/javascript; charset=utf-8"),
        (ECHARTS + ".map", "application/json"),
        ("/console/pages.json", "application/json"),
    ],
)
def test_files_are_served_with_their_type_and_csp(
    console_client: TestClient, path: str, content_type: str
) -> None:
    r = console_client.get(path)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == content_type
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self';" in csp and "connect-src 'self'" in csp
    assert "unsafe-eval" not in csp and "http" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert console_client.head(path).status_code == 200


def test_unchanged_files_revalidate_with_304(console_client: TestClient, fake_node_modules: Path) -> None:
    first = console_client.get(ECHARTS)
    etag = first.headers["etag"]
    again = console_client.get(ECHARTS, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    (fake_node_modules / "echarts" / "dist" / "echarts.esm.min.mjs").write_text(
        "export const version = 'v2';\n"
    )
    changed = console_client.get(ECHARTS, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and b"v2" in changed.content and changed.headers["etag"] != etag


def test_shell_has_no_inline_script_or_outside_url(console_client: TestClient) -> None:
    html = console_client.get("/console/").text
    assert '<script type="module" src="/console/static/app.js"></script>' in html
    assert "http://" not in html and "https://" not in html
    assert html.count("<script") == 1


def test_console_redirects_to_the_shell(console_client: TestClient) -> None:
    r = console_client.get("/console", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/console/"


@pytest.mark.parametrize(
    "path",
    [
        "/console/pages/../../settings.py",
        "/console/pages/events/../../settings.py",
        "/console/pages/events/..%2F..%2Fsettings.py",
        "/console/pages/events/%2e%2e/routes.py",
        "/console/pages/console/../routes.py",
        "/console/pages/events/../../../../pyproject.toml",
        "/console/static/../routes.py",
        "/console/static/..%2Froutes.py",
        "/console/static/%2Fetc%2Fpasswd",
        "/console/static//etc/passwd",
        "/console/static/lib",
        "/console/pages/events/routes.py",  # a domain's Python is not a page file
        "/console/pages/nosuchdomain/overview.js",
        "/console/pages/migrations/env.py",
        "/console/pages/events/.hidden.js",
        "/console/pages/events/missing.js",
        "/console/vendor/zrender/zrender.js",  # only listed packages
        "/console/vendor/echarts/../package.json",
        "/console/vendor/echarts/..%2Fpackage.json",
        "/console/vendor/echarts/link.js",  # a symlink pointing outside the folder
    ],
)
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
    assert raw_get(console_client.app, "/console/pages/events/overview.js")[0] == 200
    assert raw_get(console_client.app, "/console/static/lib/api.js")[0] == 200


@pytest.mark.parametrize(
    "path",
    [
        "/console/pages/../../settings.py",
        "/console/pages/events/../../settings.py",
        "/console/pages/events/..%2F..%2Fsettings.py",
        "/console/pages/events/%2e%2e/routes.py",
        "/console/pages/console/../routes.py",
        "/console/pages/events/../../../../pyproject.toml",
        "/console/pages/events/lib/../overview.js",
        "/console/static/../routes.py",
        "/console/static/..%2Froutes.py",
        "/console/static/lib/../app.js",
        "/console/static/%2Fetc%2Fpasswd",
        "/console/static//etc/passwd",
        "/console/static/lib",
        "/console/pages/events/routes.py",  # a domain's Python is not a page file
        "/console/pages/nosuchdomain/overview.js",
        "/console/pages/migrations/env.py",
        "/console/pages/events/.hidden.js",
        "/console/pages/events/missing.js",
        "/console/vendor/zrender/zrender.js",  # only listed packages
        "/console/vendor/echarts/../package.json",
        "/console/vendor/echarts/..%2Fpackage.json",
        "/console/vendor/echarts/link.js",  # a symlink pointing outside the folder
    ],
)
def test_anything_outside_the_folders_is_404(console_client: TestClient, path: str) -> None:
    status, body = raw_get(console_client.app, path)
    assert status == 404, (path, status, body[:200])
    assert b"secret" not in body and b"SECRET" not in body


def test_pages_json_lists_every_domain_page(console_client: TestClient, fake_node_modules: Path) -> None:
    body = console_client.get("/console/pages.json").json()
    modules = [p["module"] for p in body["pages"]]
    assert {
        "/console/pages/console/keys.js",
        "/console/pages/events/events.js",
        "/console/pages/events/overview.js",
    } <= set(modules)
    assert modules == sorted(modules)
    assert all(
        p["module"] == f"/console/pages/{p['domain']}/{p['module'].rsplit('/', 1)[1]}" for p in body["pages"]
    )
    assert body["i18n"]["events"] == "/console/pages/events/i18n.json"
    assert body["vendor"] == {"echarts": ECHARTS}
    # every listed module is actually served
    for m in modules:
        assert console_client.get(m).status_code == 200


def test_pages_json_without_node_modules_says_so(console_client: TestClient, fake_node_modules: Path) -> None:
    (fake_node_modules / "echarts" / "dist" / "echarts.esm.min.mjs").unlink()
    assert console_client.get("/console/pages.json").json()["vendor"] == {"echarts": None}
    assert console_client.get(ECHARTS).status_code == 404


def test_discovery_rules(tmp_path: Path) -> None:
    """Top-level *.js in <domain>/console/ are pages; other files, subfolders and odd names are not."""
    pkg = tmp_path / "huoli"
    (pkg / "shop" / "console" / "lib").mkdir(parents=True)
    (pkg / "shop" / "console" / "b.js").write_text("")
    (pkg / "shop" / "console" / "a-list.js").write_text("")
    (pkg / "shop" / "console" / "i18n.json").write_text("{}")
    (pkg / "shop" / "console" / "lib" / "helper.js").write_text("")  # importable, but not a page
    (pkg / "shop" / "console" / ".draft.js").write_text("")
    (pkg / "shop" / "console" / "notes.md").write_text("")
    (pkg / "shop" / "console" / "x.js.bak").write_text("")
    (pkg / "plain" / "console").mkdir(parents=True)
    (pkg / "plain" / "console" / "page.js").write_text("")
    (pkg / "nopages").mkdir()
    out = service.manifest(tmp_path / "nm", package_dir=pkg, domains=["nopages", "plain", "shop"])
    assert out == {
        "pages": [
            {"domain": "plain", "module": "/console/pages/plain/page.js"},
            {"domain": "shop", "module": "/console/pages/shop/a-list.js"},
            {"domain": "shop", "module": "/console/pages/shop/b.js"},
        ],
        "i18n": {"shop": "/console/pages/shop/i18n.json"},
        "vendor": {"echarts": None},
    }


def test_a_domain_page_may_import_its_own_helper_modules(console_client: TestClient, tmp_path: Path) -> None:
    # page_file serves nested files of a domain's console folder (e.g. lib/helper.js) with the same checks
    assert service.page_file("events", "overview.js") == (service.PACKAGE_DIR / "events/console/overview.js")
    assert service.page_file("events", "lib/../overview.js") is None
    assert service.page_file("events", "") is None
