"""`GET /admin/diagnosis` on an app without events says "not enough data" in both languages, with how much
history is needed and how much there is; the playbook catalog carries console links or instructions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from huoli.diagnosis.simulate import Scenario, generate
from huoli.runtime import Runtime


def test_an_empty_app_is_not_enough_data_in_the_api(
    client: TestClient, runtime: Runtime, make_app: Callable[..., Any], clock: Any
) -> None:
    app = make_app("fresh")
    auth = {"Authorization": f"Bearer {app.keys['analyst']}"}
    d = client.get("/admin/diagnosis", headers=auth).json()
    assert d["checked"] == [] and d["findings"] == []
    assert d["data"] == {
        "first_event_day": None,
        "last_event_day": None,
        "history_days": 0,
        "needed_days": 14,
        "active_users": 0,
        "min_sample": 30,
        "enough": False,
    }
    assert (
        d["text"]["zh"]["verdict"].startswith("数据不足") and "需要至少 14 天" in d["text"]["zh"]["verdict"]
    )
    assert d["text"]["en"]["verdict"].startswith("Not enough data")
    books = client.get("/admin/diagnosis/playbooks", headers=auth).json()["playbooks"]
    coupon = next(p for p in books if p["id"] == "coupon_redesign")
    assert coupon["links"][0] == {
        "page": "promo-coupons",
        "href": "#/promo-coupons",
        "label": {"zh": "优惠券与礼包", "en": "Coupons & gift packs"},
    }


def test_findings_carry_their_text_in_both_languages(
    client: TestClient, runtime: Runtime, make_app: Callable[..., Any], clock: Any
) -> None:
    app = make_app("shop")
    sc = Scenario(seed=13, inject=frozenset(["interaction"]), app_id="shop")
    runtime.store.append([generate(sc)])
    clock.set((sc.now + dt.timedelta(days=9)).astimezone(dt.UTC))  # the data stopped 9 days ago
    auth = {"Authorization": f"Bearer {app.keys['analyst']}"}
    d = client.get("/admin/diagnosis", headers=auth).json()
    assert d["end"] == sc.end.isoformat() and d["end_source"] == "last_event_day" and d["data"]["enough"]
    f = next(f for f in d["findings"] if f["id"] == "interaction.comment_rate")
    assert f["unit"] == "rate" and f["severity"] == "high"
    assert f["text"]["zh"]["severity"] == "严重" and f["text"]["en"]["severity"] == "High"
    assert f["text"]["en"]["current"] == f"{f['current'] * 100:.1f}%"
    assert f["text"]["en"]["p"] == "p < 0.001" and f["evidence"]["p_value"] < 0.001
    assert "发现" in d["text"]["zh"]["verdict"] and "严重" in d["text"]["zh"]["verdict"]
