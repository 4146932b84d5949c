"""Activity lifecycle (C1): every kind can be paused, resumed and ended from the admin API, answers with its
list row (state, window, figures), and the mini-program refuses a paused, ended or not-yet-started activity
with 409 `activity_not_running`; create bodies take a tz-aware window whose end is after its start."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.promotions.test_routes import IDS, WX_APPID, WX_SECRET, admin, signed, user

from huoli.runtime import Runtime

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # API rules, not SQL races

NOW = datetime.now(UTC)
WEEK = {"starts_at": (NOW - timedelta(days=1)).isoformat(), "ends_at": (NOW + timedelta(days=6)).isoformat()}


@pytest.fixture
def app(make_app, fake_wechat):  # type: ignore[no-untyped-def]
    fake_wechat.register_app(WX_APPID, WX_SECRET)
    return make_app("shop", wx_appid=WX_APPID, wx_secret=WX_SECRET)


def post(client: TestClient, app: Any, path: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(path, headers=admin(app), json=body)


def setup(client: TestClient, app: Any) -> None:
    """One activity of every kind, running now."""
    coupon = {
        "kind": "fixed",
        "amount_fen": 500,
        "valid_from": WEEK["starts_at"],
        "valid_until": WEEK["ends_at"],
    }
    for tid, trigger in (("c1", "user_claim"), ("ra", "reward"), ("rb", "reward")):
        r = post(
            client,
            app,
            "/admin/promotions/coupon-templates",
            {"id": tid, "name": tid, "claim_trigger": trigger, **coupon},
        )
        assert r.status_code == 201, r.text
    bodies: list[tuple[str, dict[str, Any]]] = [
        ("/admin/promotions/gift-packs", {"id": "gp", "name": "新人礼包", "template_ids": ["ra"], **WEEK}),
        ("/admin/promotions/flash/sessions", {"id": "fs", "name": "秒杀", **WEEK}),
        (
            "/admin/promotions/flash/items",
            {
                "id": "fi",
                "session_id": "fs",
                "item_id": "sku",
                "price_fen": 990,
                "original_price_fen": 1990,
                "stock": 5,
            },
        ),
        (
            "/admin/promotions/group-campaigns",
            {
                "id": "gc",
                "name": "2人团",
                "item_id": "sku",
                "original_price_fen": 1000,
                "group_price_fen": 800,
                "size": 2,
                **WEEK,
            },
        ),
        (
            "/admin/promotions/bargain-campaigns",
            {
                "id": "bc",
                "name": "砍价",
                "item_id": "sku",
                "price_fen": 3000,
                "floor_fen": 0,
                "helpers_needed": 2,
                **WEEK,
            },
        ),
        (
            "/admin/promotions/referral-programs",
            {
                "id": "rp",
                "name": "邀请有礼",
                "referrer_template_id": "ra",
                "invitee_template_id": "rb",
                **WEEK,
            },
        ),
    ]
    for path, body in bodies:
        r = post(client, app, path, body)
        assert r.status_code == 201, r.text


WECHAT: list[Any] = []

# what a user does with each kind, and whether the answer is a refusal of a not-running activity
Try = Callable[[TestClient, Runtime, Any, int], Any]


def _claim(client: TestClient, runtime: Runtime, app: Any, n: int) -> Any:
    u = user(runtime, app.id, f"c{n}", f"oc{n}")
    return client.post(
        "/v1/promotions/coupons/claim", headers=u, json={"template_id": "c1", "request_id": f"r{n}"}
    )


def _gift(client: TestClient, runtime: Runtime, app: Any, n: int) -> Any:
    WECHAT[0].add_user(f"og{n}", appid=WX_APPID)  # the gift asks WeChat's risk rank first
    return client.post("/v1/promotions/gift-packs/gp/claim", headers=user(runtime, app.id, f"g{n}", f"og{n}"))


def _flash(client: TestClient, runtime: Runtime, app: Any, n: int) -> Any:
    return client.post(
        "/v1/promotions/flash/items/fi/attempt", headers=user(runtime, app.id, f"f{n}", f"of{n}"), json={}
    )


def _group(client: TestClient, runtime: Runtime, app: Any, n: int) -> Any:
    user(runtime, app.id, f"j{n}", f"oj{n}")
    body = {
        "campaign_id": "gc",
        "openid": f"oj{n}",
        "out_trade_no": f"T{n:07d}",
        "paid_fen": 800,
        "group_id": None,
    }
    r = signed(client, app, "/v1/server/promotions/groups/join", body)
    # a paid join is never refused (the money is in): it is rejected and refunded, with the reason
    assert r.status_code == 200, r.text
    return r


def _bargain(client: TestClient, runtime: Runtime, app: Any, n: int) -> Any:
    return client.post(
        "/v1/promotions/bargains?campaign_id=bc", headers=user(runtime, app.id, f"b{n}", f"ob{n}")
    )


def _invite(client: TestClient, runtime: Runtime, app: Any, n: int) -> Any:
    return client.post("/v1/promotions/referrals/rp/code", headers=user(runtime, app.id, f"i{n}", f"oi{n}"))


KINDS: list[tuple[str, str, Try]] = [
    ("coupon-templates", "c1", _claim),
    ("gift-packs", "gp", _gift),
    ("flash-sessions", "fs", _flash),
    ("group-campaigns", "gc", _group),
    ("bargain-campaigns", "bc", _bargain),
    ("referral-programs", "rp", _invite),
]


def refused(r: Any) -> bool:
    body = r.json()
    if (
        r.status_code == 200 and isinstance(body, dict) and body.get("status") == "rejected"
    ):  # a group join: rejected and refunded
        return True
    return r.status_code == 409 and body["code"] == "activity_not_running"


def test_pause_resume_end_for_every_kind(
    client: TestClient, runtime: Runtime, app: Any, fake_wechat: Any
) -> None:
    WECHAT[:] = [fake_wechat]
    setup(client, app)
    n = 0
    took_part: dict[str, list[int]] = {}  # per kind, the users whose call went through
    for kind, aid, act in KINDS:
        base = f"/admin/promotions/{kind}/{aid}"
        n += 1
        ok = act(client, runtime, app, n)
        assert ok.status_code == 200 and not refused(ok), (kind, ok.text)
        took_part[kind] = [n]

        paused = post(client, app, f"{base}/pause")
        assert paused.status_code == 200, (kind, paused.text)
        row = paused.json()
        assert (row["id"], row["state"]) == (aid, "paused")
        assert {"starts_at", "ends_at", "figures", "item_ids"} <= set(row)
        assert row["figures"]["participants"] == 1, (kind, row["figures"])
        n += 1
        no = act(client, runtime, app, n)
        assert refused(no), (kind, no.text)
        if no.status_code == 409:
            assert no.json()["details"]["state"] == "paused"

        assert post(client, app, f"{base}/resume").json()["state"] == "running"
        n += 1
        assert not refused(act(client, runtime, app, n)), kind
        took_part[kind].append(n)

        ended = post(client, app, f"{base}/end")
        assert ended.status_code == 200 and ended.json()["state"] == "ended"
        assert post(client, app, f"{base}/end").json()["state"] == "ended"  # idempotent
        for verb in ("pause", "resume"):
            r = post(client, app, f"{base}/{verb}")
            assert (r.status_code, r.json()["code"]) == (409, "activity_ended"), (kind, verb)
        n += 1
        assert refused(act(client, runtime, app, n)), kind

        assert post(client, app, f"/admin/promotions/{kind}/nope/pause").status_code == 404
        analyst = {"Authorization": f"Bearer {app.keys['analyst']}"}
        assert client.post(f"{base}/pause", headers=analyst).status_code == 403
    assert post(client, app, "/admin/promotions/nonsense/x/pause").status_code == 404
    day = NOW.date().isoformat()
    listed = client.get(f"/admin/promotions/activities?start={day}&end={day}", headers=admin(app)).json()
    assert sorted((a["kind"], a["id"], a["state"]) for a in listed["items"]) == sorted(
        [(k, i, "ended") for k, i, _ in KINDS] + [("coupon-templates", t, "running") for t in ("ra", "rb")]
    )
    for kind, aid, _ in KINDS:
        r = client.get(f"/admin/promotions/{kind}/{aid}/results", headers=admin(app))
        assert r.status_code == 200 and r.json()["state"] == "ended", r.text
    # the program's referrers: the users who took a code while it ran, none rewarded yet
    referrers = client.get("/admin/promotions/referral-programs/rp/referrers", headers=admin(app)).json()
    expected = sorted(IDS[f"i{k}"] for k in took_part["referral-programs"])
    assert sorted(r["user_id"] for r in referrers["items"]) == expected
    assert all(r["rewarded"] == 0 and r["invitees"] == {} for r in referrers["items"])
    assert (
        client.get("/admin/promotions/referral-programs/nope/referrers", headers=admin(app)).status_code
        == 404
    )


def test_a_scheduled_activity_is_refused_until_its_window_opens(
    client: TestClient, runtime: Runtime, app: Any, clock: Any
) -> None:
    now = datetime.now(UTC)  # sessions last an hour: the window is within it
    later = {
        "starts_at": (now + timedelta(minutes=10)).isoformat(),
        "ends_at": (now + timedelta(minutes=20)).isoformat(),
    }
    body = {
        "id": "bc",
        "name": "砍价",
        "item_id": "sku",
        "price_fen": 3000,
        "floor_fen": 0,
        "helpers_needed": 2,
    }
    assert post(client, app, "/admin/promotions/bargain-campaigns", {**body, **later}).status_code == 201
    (row,) = client.get("/admin/promotions/bargain-campaigns", headers=admin(app)).json()["items"]
    assert (row["state"], row["starts_at"][:16]) == ("scheduled", later["starts_at"][:16])
    r = _bargain(client, runtime, app, 1)
    assert r.status_code == 409 and r.json()["details"]["state"] == "scheduled"
    clock.set(now + timedelta(minutes=15))
    assert _bargain(client, runtime, app, 2).status_code == 200
    clock.set(now + timedelta(minutes=25))
    r = _bargain(client, runtime, app, 3)
    assert r.status_code == 409 and r.json()["details"]["state"] == "ended"
    # a window that ended by itself is final too
    assert (
        post(client, app, "/admin/promotions/bargain-campaigns/bc/resume").json()["code"] == "activity_ended"
    )


def test_a_window_must_be_tz_aware_and_end_after_it_starts(client: TestClient, app: Any) -> None:
    body = {
        "id": "gc",
        "name": "团",
        "item_id": "x",
        "original_price_fen": 1000,
        "group_price_fen": 800,
        "size": 2,
    }
    start = NOW + timedelta(days=1)
    backwards = {"starts_at": start.isoformat(), "ends_at": (start - timedelta(hours=1)).isoformat()}
    r = post(client, app, "/admin/promotions/group-campaigns", {**body, **backwards})
    assert r.status_code == 422 and [d["field"] for d in r.json()["details"]] == ["ends_at"]
    naive = {"starts_at": start.replace(tzinfo=None).isoformat()}
    r = post(client, app, "/admin/promotions/group-campaigns", {**body, **naive})
    assert r.status_code == 422 and [d["field"] for d in r.json()["details"]] == ["starts_at"]
    assert client.get("/admin/promotions/group-campaigns", headers=admin(app)).json()["items"] == []


def test_paused_distribution_binds_no_one_and_earns_nothing(
    client: TestClient, runtime: Runtime, app: Any
) -> None:
    assert post(client, app, "/admin/promotions/distribution/pause").status_code == 404  # not configured yet
    r = client.put("/admin/promotions/distribution", headers=admin(app), json={"level1_bp": 1000})
    assert r.status_code == 200, r.text
    seller, buyer, other = (user(runtime, app.id, a, f"o{a}") for a in ("seller", "buyer", "other"))
    assert client.post("/v1/promotions/distribution/join", headers=seller).status_code == 200
    assert post(client, app, "/admin/promotions/distribution/pause").json()["state"] == "paused"
    bound = client.post(
        f"/v1/promotions/distribution/bind?distributor_user_id={IDS['seller']}", headers=buyer
    )
    assert bound.json() == {"distributor_user_id": None}
    assert post(client, app, "/admin/promotions/distribution/resume").json()["state"] == "running"
    bound = client.post(
        f"/v1/promotions/distribution/bind?distributor_user_id={IDS['seller']}", headers=buyer
    )
    assert bound.json() == {"distributor_user_id": IDS["seller"]}
    del other
    post(client, app, "/admin/promotions/distribution/pause")
    paid = signed(
        client, app, "/v1/server/orders/paid", {"order_id": "o-1", "openid": "obuyer", "paid_fen": 10000}
    )
    assert paid.status_code == 200, paid.text
    assert client.get("/admin/promotions/distribution", headers=admin(app)).json()["commissions"] == {}
    post(client, app, "/admin/promotions/distribution/resume")
    paid = signed(
        client, app, "/v1/server/orders/paid", {"order_id": "o-2", "openid": "obuyer", "paid_fen": 10000}
    )
    view = client.get("/admin/promotions/distribution", headers=admin(app)).json()
    assert view["commissions"] == {"frozen": {"count": 1, "amount_fen": 1000}}
    # the console's lists: distributors with their customers and commissions, commissions by status
    (seller,) = client.get("/admin/promotions/distribution/distributors", headers=admin(app)).json()["items"]
    assert {k: seller[k] for k in ("user_id", "level", "customers", "frozen_fen", "credited_fen")} == {
        "user_id": IDS["seller"],
        "level": 1,
        "customers": 1,
        "frozen_fen": view["commissions"]["frozen"]["amount_fen"],
        "credited_fen": 0,
    }
    listed = client.get("/admin/promotions/distribution/commissions?status=frozen", headers=admin(app)).json()
    assert [(c["order_id"], c["buyer_user_id"], c["amount_fen"]) for c in listed["items"]] == [
        ("o-2", IDS["buyer"], 1000)
    ]
    credited = client.get("/admin/promotions/distribution/commissions?status=credited", headers=admin(app))
    assert credited.json()["items"] == []
    bad = client.get("/admin/promotions/distribution/commissions?status=nope", headers=admin(app))
    assert bad.status_code == 422
