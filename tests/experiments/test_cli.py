"""`huoli flags …` and `huoli experiments …` as users run them (real processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SPEC = """
key = "home-layout"
name = "Feed vs grid home"
hypothesis = "A feed layout makes more users add to cart."
flag = "home_layout"
expected_daily_users = 500

[[variants]]
key = "grid"
value = "grid"
weight = 0.5

[[variants]]
key = "feed"
value = "feed"
weight = 0.5

[[metrics.primary]]
key = "cart"
kind = "conversion"
event = "add_to_cart"
window_days = 3

[[metrics.guardrails]]
key = "refunds"
kind = "conversion"
event = "order_refunded"
direction = "decrease"
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "HUOLI_DATA_DIR": str(tmp_path / "var"), "COLUMNS": "200"}


def huoli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "huoli.cli", *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_flags_and_experiments_from_the_command_line(env: dict[str, str], tmp_path: Path) -> None:
    assert huoli("apps", "create", "shop", "--name", "Shop", env=env).returncode == 0
    r = huoli(
        "flags", "set", "home_layout", "--app", "shop", "--type", "string", "--default", "grid", env=env
    )
    assert r.returncode == 0, r.stderr
    rules = json.dumps([{"id": "vip", "condition": {"segment": "vip"}, "value": "list"}])
    assert huoli("flags", "set", "home_layout", "--app", "shop", "--rules", rules, env=env).returncode == 0
    bad = huoli(
        "flags", "set", "home_layout", "--app", "shop", "--rules", '[{"id": "x", "value": 3}]', env=env
    )
    assert bad.returncode == 1 and "rules[0].value" in bad.stderr and "Traceback" not in bad.stderr
    r = huoli(
        "flags", "evaluate", "--app", "shop", "--user", "u1", "--attr", "segment=vip", "--json", env=env
    )
    assert r.returncode == 0 and json.loads(r.stdout)["home_layout"]["value"] == "list"
    r = huoli("flags", "evaluate", "--app", "shop", "--user", "u1", env=env)
    assert "grid" in r.stdout and "defaultValue" in r.stdout
    listed = json.loads(huoli("flags", "list", "--app", "shop", "--json", env=env).stdout)
    assert listed[0]["key"] == "home_layout" and len(listed[0]["rules"]) == 1

    spec = tmp_path / "exp.toml"
    spec.write_text(SPEC)
    bad_spec = tmp_path / "bad.json"
    bad_spec.write_text(
        json.dumps(
            {
                **{k: v for k, v in __import__("tomllib").loads(SPEC).items()},
                "key": "bad",
                "variants": [
                    {"key": "a", "value": "grid", "weight": 0.7},
                    {"key": "b", "value": "feed", "weight": 0.7},
                ],
            }
        )
    )
    r = huoli("experiments", "create", str(bad_spec), "--app", "shop", env=env)
    assert r.returncode == 1 and "variants: weights must sum to 1" in r.stderr
    r = huoli("experiments", "create", str(spec), "--app", "shop", "--start", env=env)
    assert r.returncode == 0, r.stderr
    listed = json.loads(huoli("experiments", "list", "--app", "shop", "--json", env=env).stdout)
    assert listed == [
        {
            "key": "home-layout",
            "name": "Feed vs grid home",
            "flag": "home_layout",
            "status": "running",
            "shipped": None,
        }
    ]
    r = huoli("flags", "evaluate", "--app", "shop", "--user", "u7", "--json", env=env)
    assert json.loads(r.stdout)["home_layout"]["experiment"] == "home-layout"
    r = huoli("experiments", "results", "home-layout", "--app", "shop", "--json", env=env)
    assert r.returncode == 0 and json.loads(r.stdout)["verdict"]["decision"] == "keep_running"
    r = huoli("experiments", "results", "home-layout", "--app", "shop", env=env)
    assert "verdict: Keep running" in r.stdout
    r = huoli("experiments", "stop", "home-layout", "--app", "shop", "--ship", "feed", env=env)
    assert r.returncode == 0 and "shipped feed" in r.stdout
    r = huoli("flags", "evaluate", "--app", "shop", "--user", "u7", "--json", env=env)
    assert json.loads(r.stdout)["home_layout"]["value"] == "feed"
    assert huoli("experiments", "start", "nope", "--app", "shop", env=env).returncode == 1


def test_holdouts_from_the_command_line(env: dict[str, str]) -> None:
    assert huoli("apps", "create", "shop", "--name", "Shop", env=env).returncode == 0
    r = huoli(
        "experiments", "holdouts", "create", "q4", "--app", "shop", "--name", "Q4 campaigns", "--percent", "0.1",
        env=env,
    )  # fmt: skip
    assert r.returncode == 0 and "holding out 10.0%" in r.stdout, r.stderr
    bad = huoli(
        "experiments",
        "holdouts",
        "create",
        "big",
        "--app",
        "shop",
        "--name",
        "x",
        "--percent",
        "0.9",
        env=env,
    )
    assert bad.returncode == 1 and "percent" in bad.stderr and "Traceback" not in bad.stderr
    listed = json.loads(huoli("experiments", "holdouts", "list", "--app", "shop", "--json", env=env).stdout)
    assert listed == [{"key": "q4", "name": "Q4 campaigns", "scope": "campaign", "percent": 0.1}]
    answers = [
        huoli("experiments", "holdouts", "check", "q4", f"u{i}", "--app", "shop", env=env).stdout.strip()
        for i in range(12)
    ]
    assert set(answers) <= {"yes", "no"} and "no" in answers
    again = huoli("experiments", "holdouts", "check", "q4", "u3", "--app", "shop", env=env).stdout.strip()
    assert again == answers[3]  # deterministic
    unknown = huoli("experiments", "holdouts", "check", "nope", "u1", "--app", "shop", env=env)
    assert unknown.returncode == 1 and "unknown holdout 'nope'" in unknown.stderr


def test_a_past_start_and_results_as_of_from_the_command_line(env: dict[str, str], tmp_path: Path) -> None:
    """Backfilled exposures and orders from March 2024, an experiment started with --started-at, results
    --as-of a date (the end of that day in the app's timezone) with anonymous and multiple exposures."""
    from datetime import UTC, datetime, timedelta

    from tests.experiments.helpers import put_events

    from huoli.events.stores import open_store

    assert huoli("apps", "create", "shop", "--name", "Shop", env=env).returncode == 0
    flag = ("flags", "set", "home_layout", "--app", "shop", "--type", "string", "--default", "grid")
    assert huoli(*flag, env=env).returncode == 0
    spec = tmp_path / "exp.toml"
    spec.write_text(SPEC)
    assert huoli("experiments", "create", str(spec), "--app", "shop", env=env).returncode == 0
    t0 = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
    rows = []
    for i in range(40):
        exposure = {"experiment": "home-layout", "variant": "grid" if i % 2 else "feed"}
        rows.append((f"u{i}", "experiment_exposure", t0 + timedelta(hours=i), exposure))
        if i % 4 < 2:
            rows.append((f"u{i}", "add_to_cart", t0 + timedelta(hours=i + 1), {"item_id": f"i{i}"}))
    grid = {"experiment": "home-layout", "variant": "grid"}
    rows.append(("u0", "experiment_exposure", t0 + timedelta(hours=50), grid))  # u0 was in feed
    rows.append(("anon:guest", "experiment_exposure", t0, grid))
    store = open_store(f"duckdb:///{Path(env['HUOLI_DATA_DIR']) / 'events.duckdb'}")
    put_events(store, "shop", rows)
    store.close()

    start = ("experiments", "start", "home-layout", "--app", "shop", "--started-at")
    future = huoli(*start, "2999-01-01T00:00+08:00", env=env)
    assert future.returncode == 1 and "in the future" in future.stderr and "Traceback" not in future.stderr
    bad = huoli(*start, "March", env=env)
    assert bad.returncode == 1 and "--started-at" in bad.stderr and "Traceback" not in bad.stderr
    r = huoli(*start, "2024-03-01T09:00", env=env)
    assert r.returncode == 0 and "started 2024-03-01T09:00+08:00" in r.stdout, r.stderr  # the app's timezone

    results = ("experiments", "results", "home-layout", "--app", "shop", "--as-of")
    r = huoli(*results, "2024-03-02", "--json", env=env)
    res = json.loads(r.stdout)
    assert res["as_of"] == "2024-03-03T00:00:00+08:00"
    # Counted here from the rows: exposed before as_of, and carts within 3 days of exposure and before as_of.
    as_of = datetime.fromisoformat(res["as_of"])
    exposed: dict[str, tuple[datetime, str]] = {}
    for u, n, ts, p in rows:
        if n == "experiment_exposure" and ts < as_of and not u.startswith("anon:") and u not in exposed:
            exposed[u] = (ts, p["variant"])
    carts = {
        u
        for u, n, ts, _ in rows
        if n == "add_to_cart"
        and u in exposed
        and exposed[u][0] <= ts < min(as_of, exposed[u][0] + timedelta(days=3))
    }
    want = {}
    for v in ("grid", "feed"):
        users = [u for u, (_, x) in exposed.items() if x == v]
        want[v] = sum(u in carts for u in users) / len(users)
    assert sum(res["srm"]["users"].values()) == len(exposed) and res["exposures"]["multiple_variants"] == 0
    cart = {v["variant"]: v["value"] for v in res["metrics"][0]["variants"]}
    assert cart == want and all(want.values())
    r = huoli(*results, "2024-04-01", env=env)
    assert r.returncode == 0, r.stderr
    assert "1 exposures without a user id (anonymous) were skipped" in r.stdout
    assert "1 users were exposed to more than one variant" in r.stdout and "excluded" in r.stdout
    assert "started 2024-03-01T09:00+08:00" in r.stdout
    bad = huoli(*results, "soon", env=env)
    assert bad.returncode == 1 and "--as-of" in bad.stderr and "Traceback" not in bad.stderr
