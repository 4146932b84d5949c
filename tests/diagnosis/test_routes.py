"""`/admin/diagnosis*` on SQLite and PostgreSQL: findings from the app's event store, per-app thresholds
(defaults, replace, 422 with field reasons and no change), roles, bad dates, the playbook catalog."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from huoli.analytics.engines import DuckDBEngine
from huoli.diagnosis import playbooks
from huoli.diagnosis.service import diagnose_engine
from huoli.diagnosis.simulate import Scenario, generate
from huoli.runtime import Runtime


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_diagnosis_routes(
    client: TestClient, runtime: Runtime, make_app: Callable[..., Any], clock: Any
) -> None:
    app = make_app("shop")
    other = make_app("other")
    sc = Scenario(seed=4, app_id="shop")
    events = generate(sc)
    runtime.store.append([events])
    clock.set(sc.now.astimezone(dt.UTC))
    analyst, operator = _auth(app.keys["analyst"]), _auth(app.keys["operator"])

    r = client.get("/admin/diagnosis", headers=analyst)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["end"] == sc.end.isoformat() and d["current"] == [
        (sc.end - dt.timedelta(days=6)).isoformat(),
        sc.end.isoformat(),
    ]
    assert d["baseline"] == [
        (sc.end - dt.timedelta(days=34)).isoformat(),
        (sc.end - dt.timedelta(days=7)).isoformat(),
    ]
    assert d["findings"] == [] and len(d["checked"]) >= 20
    # The API reads the live event store and gives exactly what the engine-level doctor gives.
    ref = diagnose_engine(DuckDBEngine.from_arrow(events), "shop", tz="Asia/Shanghai", now=sc.now, end=sc.end)
    assert d["checked"] == ref.checked

    # Thresholds: defaults, then a bad document is refused field by field and changes nothing.
    s = client.get("/admin/diagnosis/settings", headers=analyst).json()
    assert s["fdr"] == 0.01 and s["current_days"] == 7 and s["interaction_min_rate"] == 0.01
    bad = client.put(
        "/admin/diagnosis/settings",
        headers=operator,
        json={
            "fdr": 2,
            "current_days": 0,
            "interaction_min_rate": "lots",
            "bogus": 1,
            "core_path": [{"event": "a"}],
        },
    )
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.json()["details"]}
    assert {"fdr", "current_days", "interaction_min_rate", "bogus", "core_path"} <= fields, fields
    assert client.get("/admin/diagnosis/settings", headers=analyst).json() == s
    assert client.put("/admin/diagnosis/settings", headers=analyst, json={}).status_code == 403

    # A stricter per-app threshold turns the same healthy data into interaction findings — for this app only.
    r = client.put("/admin/diagnosis/settings", headers=operator, json={"interaction_min_rate": 0.5})
    assert r.status_code == 200 and r.json()["interaction_min_rate"] == 0.5
    d = client.get("/admin/diagnosis", headers=analyst).json()
    ids = {f["id"] for f in d["findings"]}
    assert {"interaction.comment_rate", "interaction.share_rate", "interaction.favorite_rate"} <= ids
    assert all(f["signal"] == "interaction_near_zero" for f in d["findings"])
    assert (
        client.get("/admin/diagnosis/settings", headers=_auth(other.keys["analyst"])).json()[
            "interaction_min_rate"
        ]
        == 0.01
    )

    # Dates: a malformed end and an unfinished day are 422 with the field named.
    r = client.get("/admin/diagnosis", headers=analyst, params={"end": "yesterday"})
    assert r.status_code == 422 and r.json()["details"][0]["field"].endswith("end")
    r = client.get(
        "/admin/diagnosis", headers=analyst, params={"end": (sc.end + dt.timedelta(days=1)).isoformat()}
    )
    assert r.status_code == 422 and r.json()["details"] == [
        {"field": "end", "message": f"must be before {sc.end + dt.timedelta(days=1)}"}
    ]
    r = client.get("/admin/diagnosis", headers=analyst, params={"tz": "Mars/Olympus"})
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "tz"
    assert client.get("/admin/diagnosis").status_code == 401


def test_playbook_catalog(client: TestClient, make_app: Callable[..., Any]) -> None:
    app = make_app("shop")
    r = client.get("/admin/diagnosis/playbooks", headers=_auth(app.keys["analyst"]))
    assert r.status_code == 200
    body = r.json()
    ids = {p["id"] for p in body["playbooks"]}
    for finding, books in body["for_finding"].items():
        assert books and set(books) <= ids, finding
    for p in body["playbooks"]:
        assert p["title"]["zh"] and p["title"]["en"] and p["capability"]
    # Every check the doctor runs maps to at least one playbook (prefix rules included).
    for check in [
        "activity.dau",
        "activity.opens_per_user",
        "activity.one_time_share",
        "activity.stay_per_open",
        "churn.pulse",
        "churn.new_users",
        "churn.dormant",
        "churn.core_users",
        "interaction.comment_rate",
        "interaction.share_rate",
        "interaction.favorite_rate",
        "interaction.share_reflow",
        "conversion.promotion_participation",
        "conversion.order_rate",
        "conversion.coupon_redemption",
        "conversion.funnel_step_2",
        "root_cause.staleness",
        "root_cause.slow_pages",
        "root_cause.deep_path",
        "root_cause.silence",
        "root_cause.feedback_unanswered",
        "root_cause.next_day_retention",
    ]:
        assert playbooks.for_finding(check), check
    assert playbooks.for_finding("interaction.share_reflow") == ["group_buying", "referral_rewards"]
