"""The API docs render in a real browser with no network beyond huoli itself."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.events.test_durability import _free_port, _start_server


def test_swagger_ui_renders_offline(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "HUOLI_DATA_DIR": str(tmp_path / "var")}
    port = _free_port()
    server = _start_server(env, port)
    try:
        page = browser.new_page()
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url))
        page.goto(f"http://127.0.0.1:{port}/docs")
        page.get_by_text("/v1/events", exact=True).first.wait_for(timeout=15000)
        assert page.locator(".swagger-ui").count() == 1
        assert "huoli" in page.title()
        page.get_by_text("Ingest a batch of mini-program events").first.wait_for(timeout=15000)
        page.close()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    local = (f"http://127.0.0.1:{port}/", f"blob:http://127.0.0.1:{port}/", "data:")
    outside = [u for u in requested if not u.startswith(local)]
    assert not outside, f"the docs fetched from outside huoli: {outside}"
