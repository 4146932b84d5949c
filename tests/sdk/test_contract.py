"""The mini-program SDK against the real server: what the SDK sends, the server accepts and stores.

The SDK runs in node with the simulated `wx` forwarding wx.request over HTTP to `huoli serve`; its login goes
through huoli to the fake WeChat server. Nothing is mocked between the SDK and the event store.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from tests.events.test_durability import _free_port, _start_server
from tests.fakes.wechat_server import FakeWeChat

ROOT = Path(__file__).resolve().parents[2]
WX_APPID, WX_SECRET = "wx00000000000000aa", "contract-secret-0123456789"


def _huoli(*args: str, env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "huoli.cli", *args], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout


@pytest.mark.skipif(
    shutil.which("node") is None, reason="node is required for the SDK (make test installs it)"
)
def test_sdk_events_are_accepted_and_stored(tmp_path: Path, fake_wechat: FakeWeChat) -> None:
    fake_wechat.register_app(WX_APPID, WX_SECRET)
    fake_wechat.issue_code(
        "oCONTRACT", appid=WX_APPID, code="wxcode-1"
    )  # the code the simulated wx.login returns
    env = {
        **os.environ,
        "HUOLI_DATA_DIR": str(tmp_path / "var"),
        "HUOLI_WECHAT_API_BASE": fake_wechat.url,
        "COLUMNS": "200",
    }
    # the AppSecret from the environment: never on the command line
    _huoli(
        "apps",
        "create",
        "shop",
        "--name",
        "Shop",
        "--wx-appid",
        WX_APPID,
        env={**env, "HUOLI_WX_SECRET": WX_SECRET},
    )
    key = _huoli("keys", "create", "--app", "shop", "--role", "analyst", env=env).strip().splitlines()[-1]
    port = _free_port()
    server = _start_server(env, port)
    try:
        run = subprocess.run(
            ["node", str(ROOT / "sdk/miniprogram/scripts/contract.js"), f"http://127.0.0.1:{port}", "shop"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        summary = json.loads(run.stdout)
        time.sleep(0.3)  # the server relays the login event from its outbox every 50–1000 ms
        deadline = time.monotonic() + 10
        while True:
            stored = httpx.get(
                f"http://127.0.0.1:{port}/admin/events/recent",
                params={"limit": 100},
                headers={"Authorization": f"Bearer {key}"},
            ).json()
            if any(e["name"] == "login" for e in stored) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)

    event_posts = [r for r in summary["responses"] if r["url"] == "/v1/events"]
    assert event_posts and all(r["status"] == 200 for r in event_posts), event_posts
    assert all(r["body"]["rejected"] == [] for r in event_posts), "the server rejected SDK events"
    assert summary["queued"] == 0
    assert summary["login"]["userId"] == summary["userId"] and summary["userId"].startswith("u_"), summary[
        "login"
    ]
    assert "hl_share_id=" in summary["sharePath"] and "hl_sharer=" in summary["sharePath"]

    by_name: dict[str, list[dict]] = {}
    for e in stored:
        by_name.setdefault(e["name"], []).append(e)
    for name in (
        "app_launch",
        "app_show",
        "share_open",
        "page_view",
        "perf",
        "share",
        "search",
        "view_item",
        "page_leave",
        "app_hide",
        "login",
    ):
        assert name in by_name, f"{name} missing; stored: {sorted(by_name)}"
    opened = by_name["share_open"][0]
    assert (opened["sharer_id"], opened["share_id"], opened["scene"], opened["channel"]) == (
        "u_sharer",
        "sh-contract",
        1007,
        "kol",
    )
    assert by_name["page_view"][0]["page"] == "pages/item/detail"
    # Before login the device id identifies events; after it, the server-issued user id does.
    assert (
        by_name["search"][0]["user_id"] is None
        and by_name["search"][0]["anonymous_id"] == summary["anonymousId"]
    )
    assert (
        by_name["view_item"][0]["user_id"] == summary["userId"]
        and by_name["view_item"][0]["item_id"] == "sku-42"
    )
    assert by_name["login"][0]["anonymous_id"] == summary["anonymousId"]
    assert by_name["app_hide"][0]["duration_ms"] >= 0
