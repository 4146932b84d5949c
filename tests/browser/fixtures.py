"""Real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, for pages huoli serves.

Loaded for the whole suite from tests/conftest.py (``pytest_plugins``), so any domain's tests can use:
- ``browser``: one Chromium for the session;
- ``live_server``: huoli served by uvicorn in a thread on 127.0.0.1 (SQLite + DuckDB in tmp_path), with
  ``make_app()`` to create apps + keys and ``post_events()`` to send events through the real API;
- ``console``: a fresh browser context on /console, signed in with the owner key of app "shop";
  ``console_anon``: the same, not signed in. Both fail the test on any browser console error (unless the
  test declared it with ``allow_console_error``), on uncaught page errors, and on any request to a host
  other than the live server; screenshots go to var/test-artifacts/console/<test>/.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn

from huoli.app import create_app
from huoli.apps import service as apps
from huoli.apps.schemas import ApiKeyCreate, AppCreate, Role
from huoli.db import unit_of_work
from huoli.runtime import Runtime, build_runtime
from huoli.settings import Settings

CHROMIUM = os.environ.get("HUOLI_CHROMIUM", "/usr/bin/chromium")
# Flags from the machine notes: no background networking, so a closed network doesn't stall the browser.
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "console"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: `make test` installs Debian's chromium (run it as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    runtime: Runtime
    keys: dict[str, dict[str, str]] = field(default_factory=dict)  # app id → role → full key

    def make_app(
        self, app_id: str, name: str | None = None, *, timezone: str = "Asia/Shanghai"
    ) -> dict[str, str]:
        """Create an app with one key per role; returns {role: key}."""
        with unit_of_work(self.runtime.sessions) as db:
            apps.create(db=db, app_in=AppCreate(id=app_id, name=name or app_id, timezone=timezone))
        keys = {}
        with unit_of_work(self.runtime.sessions, app_id=app_id) as db:
            for role in Role:
                _, key = apps.issue_key(db=db, app_id=app_id, key_in=ApiKeyCreate(name=role.value, role=role))
                keys[role.value] = key
        self.keys[app_id] = keys
        return keys

    def post_events(self, app_id: str, events: list[dict[str, Any]]) -> None:
        """Send client events through POST /v1/events; returns once they are durable (200)."""
        r = httpx.post(
            f"{self.url}/v1/events",
            content=orjson.dumps({"events": events}),
            headers={"X-Huoli-App-Id": app_id, "Content-Type": "application/json"},
            timeout=30,
        )
        assert r.status_code == 200 and r.json()["accepted"] == len(events), r.text

    def api(self, key: str, method: str, path: str, **kw: Any) -> httpx.Response:
        return httpx.request(method, f"{self.url}{path}", headers={"Authorization": f"Bearer {key}"}, **kw)


def client_event(name: str, at: datetime, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "name": name,
        "ts": int(at.timestamp() * 1000),
        "anonymous_id": "anon-1",
        "session_id": "s1",
    }
    # the catalog's required properties for the names tests use most
    if name in ("page_view", "page_leave", "perf"):
        body["page"] = "pages/index/index"
    if name == "share":
        body["properties"] = {"share_id": "card-1"}
    body.update(fields)
    return body


CONSOLE_DIR = Path(__file__).resolve().parents[2] / "console"


def build_console(tmp_path: Path, pages: dict[str, tuple[str, str, str]]) -> Path:
    """A console built (Vite, the real shell and blocks) with only `pages`: id → (zh title, en title, the .vue
    source). Returns its dist folder, for `serve_live(…, console_dist=…)`. Pages that test the shell or the
    shared blocks live here, not in src/huoli."""
    folder = tmp_path / "domains" / "probe" / "console"
    folder.mkdir(parents=True)
    entries = []
    for page_id, (zh, en, sfc) in pages.items():
        name = "".join(part.title() for part in page_id.split("-"))
        (folder / f"{name}.vue").write_text(sfc)
        entries.append(
            f'  {{ id: "{page_id}", title: {{ zh: "{zh}", en: "{en}" }}, group: "probes", range: false, '
            f'component: () => import("./{name}.vue") }},'
        )
    (folder / "index.js").write_text("export default [\n" + "\n".join(entries) + "\n];\n")
    out = tmp_path / "dist"
    env = {**os.environ, "HUOLI_CONSOLE_DOMAINS": str(tmp_path / "domains"), "HUOLI_CONSOLE_OUT": str(out)}
    r = subprocess.run(
        ["npx", "vite", "build", "--logLevel", "warn"],
        cwd=CONSOLE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return out


@contextmanager
def serve_live(tmp_path: Path, **overrides: Any) -> Iterator[LiveServer]:
    """huoli on a free port in a thread (SQLite + DuckDB under tmp_path), with Settings overrides."""
    settings = Settings(
        data_dir=tmp_path / "var",
        database_url=f"sqlite:///{tmp_path / 'huoli.db'}",
        event_store_url=f"duckdb:///{tmp_path / 'events.duckdb'}",
        secret_key="browser-test-" + secrets.token_hex(8),
        outbox_relay_interval_s=0.2,
        # so tests can send a month of history through the real API
        event_max_age=timedelta(days=400),
        **overrides,
    )
    runtime = build_runtime(settings)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(runtime=runtime), host="127.0.0.1", port=port, log_level="warning", access_log=False
        )
    )
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("live server did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", runtime=runtime)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        runtime.close()


@pytest.fixture
def live_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    """huoli on a free port. Indirect parametrisation passes Settings overrides (e.g. console_dist)."""
    overrides: dict[str, Any] = dict(getattr(request, "param", {}) or {})
    tmp_path.mkdir(parents=True, exist_ok=True)
    with serve_live(tmp_path, **overrides) as server:
        yield server


class ConsoleSession:
    """One browser context on the console, with the guards every console test wants."""

    def __init__(self, context: Any, server: LiveServer, artifacts: Path) -> None:
        self.context = context
        self.server = server
        self.page = context.new_page()
        self.page.set_default_timeout(15_000)
        self.artifacts = artifacts
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.outside: list[str] = []
        self.requests: list[Any] = []
        self._allowed: list[re.Pattern[str]] = []
        self._shots = 0
        local = (f"{server.url}/", "data:", "blob:")
        self.page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        self.page.on("pageerror", lambda e: self.page_errors.append(str(e)))

        def on_request(r: Any) -> None:
            self.requests.append(r)
            if not r.url.startswith(local):
                self.outside.append(r.url)

        self.page.on("request", on_request)

    def allow_console_error(self, pattern: str) -> None:
        """Declare an error the test provokes on purpose (Chromium logs every 4xx response as an error)."""
        self._allowed.append(re.compile(pattern))

    def goto(self, hash_: str = "") -> None:
        self.page.goto(f"{self.server.url}/console/{hash_}")

    def sign_in(self, key: str) -> None:
        self.page.locator("#signin-key").fill(key)
        self.page.locator("#signin button[type=submit]").click()
        self.page.locator("#app-name").wait_for()
        self.wait_ready()

    def wait_ready(self) -> None:
        self.page.locator("#page-root[data-state=ready]").wait_for()

    def choose(self, select: str, option: str) -> None:
        """Picks `option` (its visible text, exact) in the Element Plus select whose input matches `select`.

        el-select is no native <select>: it opens a popper list teleported to <body>; the visible one is
        the list just opened.
        """
        # the input sits under the select's wrapper (placeholder, tags), which takes the click; `select` may
        # name the input (its id) or the el-select itself
        root = self.page.locator(select).locator(
            "xpath=ancestor-or-self::div[contains(concat(' ', normalize-space(@class), ' '), ' el-select ')][1]"
        )
        root.locator(".el-select__wrapper").first.click()
        # this select's own list (its input names it in aria-controls): another list still closing may be
        # visible too, and which popper comes last in <body> depends on when each was first opened
        listbox = root.locator("input").first.get_attribute("aria-controls")
        dropdown = (
            self.page.locator(f"[id='{listbox}']")
            if listbox
            else self.page.locator(".el-select-dropdown:visible, .el-select__popper:visible").last
        )
        item = dropdown.locator(
            ".el-select-dropdown__item", has_text=re.compile(f"^{re.escape(option)}$")
        ).first
        # a long list in a popper opened upward hides its lower options inside el-scrollbar: scroll there first,
        # as a person scrolls the list
        item.evaluate("el => el.scrollIntoView({block: 'nearest'})")
        try:
            item.click(timeout=3_000)
        except (
            Exception
        ) as exc:  # playwright's TimeoutError (imported lazily: the browser tests may be skipped)
            if type(exc).__name__ != "TimeoutError":
                raise
            # the popper's zoom-in transition can stall in headless Chromium (seen on the flags rule builder's
            # second condition: its options keep a zero height): the list is open, so send the option its click
            item.dispatch_event("click")

    def confirm(self) -> None:
        """Accepts the open confirmation box (a destructive action asks first)."""
        self.page.locator(
            ".el-message-box .el-button--primary, .el-message-box .el-button--danger"
        ).last.click()

    def shot(self, name: str) -> Path:
        self._shots += 1
        path = self.artifacts / f"{self._shots:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def api_requests(self, path: str) -> list[Any]:
        return [r for r in self.requests if r.url.split("?")[0] == f"{self.server.url}{path}"]

    def check(self) -> None:
        unexpected = [e for e in self.console_errors if not any(p.search(e) for p in self._allowed)]
        assert not self.page_errors, f"uncaught errors in the page: {self.page_errors}"
        assert not unexpected, f"browser console errors: {unexpected}"
        assert not self.outside, f"requests outside huoli: {self.outside}"


def _artifacts_dir(request: pytest.FixtureRequest) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    path = ARTIFACTS / name
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.png"):
        old.unlink()
    return path


@pytest.fixture
def open_console(
    browser: Any, live_server: LiveServer, request: pytest.FixtureRequest
) -> Iterator[Callable[..., ConsoleSession]]:
    """Factory: ``open_console(key=None)`` → a ConsoleSession on /console (signed in when a key is given)."""
    sessions: list[ConsoleSession] = []
    artifacts = _artifacts_dir(request)

    def open_(key: str | None = None) -> ConsoleSession:
        context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")
        session = ConsoleSession(context, live_server, artifacts)
        sessions.append(session)
        session.goto()
        if key is None:
            session.page.locator("#signin-key").wait_for()
        else:
            session.sign_in(key)
        return session

    yield open_
    for s in sessions:
        try:
            s.shot("final")
        finally:
            s.context.close()
    for s in sessions:
        s.check()


@pytest.fixture
def console(live_server: LiveServer, open_console: Callable[..., ConsoleSession]) -> ConsoleSession:
    """Signed in to app "shop" (name 小店) with its owner key."""
    keys = live_server.make_app("shop", "小店")
    return open_console(keys["owner"])


@pytest.fixture
def console_anon(live_server: LiveServer, open_console: Callable[..., ConsoleSession]) -> ConsoleSession:
    live_server.make_app("shop", "小店")
    return open_console()
