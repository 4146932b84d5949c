"""What the living demo adds on top of the history (issue 23): experiments whose verdicts come from the
statistics on the generated data, a demo-only WeChat login and the failed group's refund paid — read over HTTP.

One build of 6,000 users over 30 days (enough for the finished experiment's effect to be found); the demo's
fake WeChat runs for the module, as `huoli demo run` runs it."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from huoli.app import create_app
from huoli.demo import service as demo
from huoli.demo.generator import EXPERIMENTS
from huoli.demo.wechat import DemoWeChat
from huoli.runtime import Runtime, build_runtime
from huoli.settings import Settings

NOW = dt.datetime(2026, 11, 16, 2, 30, tzinfo=dt.UTC)  # 10:30 on 16 November in Shanghai
BUILD = {"users": 6_000, "days": 30, "seed": 42, "members": 15, "backup": False}
APP = {"X-Huoli-App-Id": demo.DEMO_APP_ID}


def _settings(tmp: Path, **more: Any) -> Settings:
    return Settings(
        data_dir=tmp / "var",
        database_url=f"sqlite:///{tmp / 'huoli.db'}",
        event_store_url=f"duckdb:///{tmp / 'events.duckdb'}",
        secret_key="demo-living-" + secrets.token_hex(16),
        **more,
    )


@pytest.fixture(scope="module")
def living(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Runtime, demo.DemoState, TestClient]]:
    tmp = tmp_path_factory.mktemp("demo-living")
    with DemoWeChat(demo.wechat_keys(_settings(tmp))) as fake:
        settings = _settings(tmp, wechat_api_base=fake.url, wechatpay_base_url=fake.url)
        rt = build_runtime(settings, clock=lambda: NOW)
        try:
            state = demo.ensure_demo(rt, wechat=fake, **BUILD)
            with TestClient(create_app(settings, runtime=rt)) as client:
                yield rt, state, client
        finally:
            rt.close()


def _admin(state: demo.DemoState, role: str = "analyst") -> dict[str, str]:
    return {"Authorization": f"Bearer {state.keys[role]}"}


def _results(client: TestClient, state: demo.DemoState, key: str) -> dict[str, Any]:
    r = client.get(f"/admin/experiments/{key}/results", headers=_admin(state))
    assert r.status_code == 200, r.text
    return dict(r.json())


def _primary(result: dict[str, Any]) -> dict[str, Any]:
    return next(m for m in result["metrics"] if m["role"] == "primary")


# --- experiments ----------------------------------------------------------------------------------------


def test_the_finished_experiment_has_its_verdict_from_the_statistics(
    living: tuple[Runtime, demo.DemoState, TestClient],
) -> None:
    _, state, client = living
    assert state.summary is not None and state.summary.experiments == {
        "checkout-copy": "stopped",
        "home-feed": "running",
    }
    finished = next(e for e in EXPERIMENTS if e.stops_back is not None)
    res = _results(client, state, finished.key)
    assert res["status"] == "stopped" and not res["srm"]["warning"]
    assert min(res["srm"]["users"].values()) > 500
    paid = _primary(res)
    (comparison,) = paid["comparisons"]
    control, variant = (v["value"] for v in paid["variants"])
    # Non-zero metrics on both sides, and the variant the generator made convert more carts is the winner.
    assert control > 0 and variant > control
    assert comparison["better"] and comparison["relative"]["lift"] > 0
    assert all(v["value"] > 0 for m in res["metrics"] for v in m["variants"])
    assert res["verdict"]["decision"] == "ship"
    assert res["verdict"]["variant"] == finished.variants[1][0]


def test_the_running_experiment_is_not_conclusive_yet(
    living: tuple[Runtime, demo.DemoState, TestClient],
) -> None:
    _, state, client = living
    running = next(e for e in EXPERIMENTS if e.stops_back is None)
    res = _results(client, state, running.key)
    assert res["status"] == "running"
    paid = _primary(res)
    (comparison,) = paid["comparisons"]
    assert all(v["value"] > 0 for v in paid["variants"])
    # Neither a winner nor a loser yet: keep running, or no effect big enough to matter at this traffic.
    assert not comparison["better"] and not comparison["worse"]
    assert res["verdict"]["decision"] in ("keep_running", "no_effect")


def test_the_running_flag_serves_each_user_the_variant_of_their_history(
    living: tuple[Runtime, demo.DemoState, TestClient],
) -> None:
    rt, state, client = living
    running = next(e for e in EXPERIMENTS if e.stops_back is None)
    rows = rt.store.query(
        "SELECT user_id, json_extract_string(properties, '$.variant') AS v FROM events "
        "WHERE app_id = 'demo' AND name = 'experiment_exposure' "
        "AND json_extract_string(properties, '$.experiment') = ? ORDER BY user_id LIMIT 60",
        [running.key],
    ).to_pylist()
    assert {r["v"] for r in rows} == {k for k, _ in running.variants}
    for row in rows:
        r = client.post("/admin/flags/evaluate", json={"user_id": row["user_id"]}, headers=_admin(state))
        assert r.status_code == 200, r.text
        detail = r.json()["details"][running.flag]
        assert (detail["experiment"], detail["variant"]) == (running.key, row["v"])


# --- the failed group's refund, paid through the demo merchant -------------------------------------------


def test_the_failed_group_is_refunded(living: tuple[Runtime, demo.DemoState, TestClient]) -> None:
    _, state, client = living
    assert state.summary is not None and state.summary.refunds["succeeded"] == 1
    r = client.get("/admin/promotions/overview", headers=_admin(state))
    assert r.status_code == 200, r.text
    overview = r.json()
    assert overview["groups"]["failed"] == 1
    assert overview["refunds"] == {"succeeded": 1}
    r = client.get("/admin/promotions/wechatpay", headers=_admin(state, "owner"))
    assert r.status_code == 200 and r.json()["source"] == "app", r.text


# --- the demo-only WeChat login --------------------------------------------------------------------------


def test_any_code_logs_in_as_the_demo_shopper(living: tuple[Runtime, demo.DemoState, TestClient]) -> None:
    _, _, client = living
    first = client.post("/v1/auth/wechat", json={"code": "any-code-" + secrets.token_hex(4)}, headers=APP)
    assert first.status_code == 200, first.text
    again = client.post("/v1/auth/wechat", json={"code": "another-code"}, headers=APP)
    assert again.status_code == 200, again.text
    assert again.json()["user_id"] == first.json()["user_id"] and not again.json()["is_new"]
    token = again.json()["token"]
    r = client.get("/v1/loyalty/points", headers={**APP, "Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text


def test_a_normal_server_has_no_fake_wechat(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert settings.wechat_api_base == "https://api.weixin.qq.com"
    assert settings.wechatpay_base_url == "https://api.mch.weixin.qq.com"
    rt = build_runtime(settings)
    try:
        with TestClient(create_app(settings, runtime=rt)) as client:
            assert client.get("/sns/jscode2session", params={"js_code": "x"}).status_code == 404
            assert client.post("/cgi-bin/stable_token", json={}).status_code == 404
            assert client.post("/v3/refund/domestic/refunds", json={}).status_code == 404
    finally:
        rt.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_huoli_demo_run_serves_the_demo_login_over_http(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "HUOLI_DATA_DIR": str(tmp_path / "var"),
        "HUOLI_SECRET_KEY": "demo-run-" + secrets.token_hex(16),
    }
    env.pop("HUOLI_WECHAT_API_BASE", None)
    cmd = [
        sys.executable,
        "-m",
        "huoli",
        "demo",
        "run",
        "--users",
        "300",
        "--days",
        "14",
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "huoli demo run did not start serving"
            time.sleep(0.5)
        r = httpx.post(f"{base}/v1/auth/wechat", json={"code": "devtools-code"}, headers=APP, timeout=10)
        assert r.status_code == 200, r.text
        again = httpx.post(f"{base}/v1/auth/wechat", json={"code": "next-code"}, headers=APP, timeout=10)
        assert again.json()["user_id"] == r.json()["user_id"]
        # The fake is the demo process's own listener on another port: the API itself never serves it.
        assert httpx.get(f"{base}/sns/jscode2session", timeout=5).status_code == 404
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
