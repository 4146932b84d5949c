"""Acquisition, conversion and value, interaction and experience on hand-checkable logs, on every engine."""

from __future__ import annotations

from huoli.analytics import acquisition, value

from .conftest import Loader, frame
from .fixtures import at, ev, table

D = "2026-03-05"


def test_acquisition(load: Loader) -> None:
    rows = [
        ev("app_show", "u1", at(D, "09:00"), channel="ads", scene=1045),
        ev("share", "u1", at(D, "09:05"), share_id="s1"),
        ev("share", "u1", at(D, "09:06"), share_id="s2"),
        ev("share_open", "u2", at(D, "10:00"), share_id="s1", sharer_id="u1", channel="share", scene=1007),
        ev("order_paid", "u2", at("2026-03-09", "10:00"), order_id="o1", amount_fen=100),  # converted in 4 d
        ev("app_show", "u3", at(D, "11:00"), channel="ads", scene=1001),
        ev("order_paid", "u3", at("2026-03-20", "10:00"), order_id="o2", amount_fen=100),  # too late (15 d)
        ev("app_show", "u4", at("2026-03-01"), channel="ads"),  # not new in the range
        ev("app_show", "u4", at(D)),
    ]
    f = frame(load(table(rows)), D, D)
    out = acquisition.compute(f, key_event="order_paid", within_days=7, costs_fen={"ads": 1000, "kol": 500})
    nu = out["new_users"]
    assert nu["total"] == 3
    assert nu["by_channel"]["totals"] == [{"value": "ads", "users": 2}, {"value": "share", "users": 1}]
    assert {r["value"]: r["users"] for r in nu["by_scene_group"]["totals"]} == {"ads": 1, "session": 1, "recent": 1}
    assert out["sharing"] | {} == {
        "shares": 2, "sharers": 1, "share_opens": 1, "share_open_users": 1, "reflow_ratio": 0.5,
        "new_users_from_shares": 1, "k_factor": 1 / 3,
    }  # fmt: skip
    assert {r["channel"]: (r["new_users"], r["converted"]) for r in out["channel_conversion"]} == {
        "ads": (2, 0),
        "share": (1, 1),
    }
    assert {r["channel"]: r["cost_per_user_fen"] for r in out["cost_per_user"]} == {"ads": 500, "kol": None, "share": None}


def test_conversion_value_interaction(load: Loader) -> None:
    rows = [
        ev("app_show", "u1", at(D, "09:00")),
        ev("add_to_cart", "u1", at(D, "09:01"), item_id="i1"),
        ev("order_paid", "u1", at(D, "09:02"), order_id="o1", amount_fen=3000),
        ev("order_paid", "u1", at(D, "09:03"), order_id="o2", amount_fen=1000),
        ev("order_refunded", "u1", at(D, "09:04"), order_id="o2", amount_fen=1000),
        ev("coupon_claimed", "u1", at(D, "09:00"), coupon_id="c1"),
        ev("coupon_redeemed", "u1", at(D, "09:02"), coupon_id="c1"),
        ev("coupon_claimed", "u2", at(D, "10:00"), coupon_id="c2"),
        ev("order_paid", "u2", at(D, "10:05"), order_id="o3", amount_fen=2000),
        ev("favorite", "u2", at(D, "10:06")),
        ev("comment", "u2", at(D, "10:07")),
        ev("comment", "u2", at(D, "10:08")),
        ev("app_show", "u3", at(D, "11:00")),
        ev("app_show", "u4", at(D, "11:00")),
    ]
    f = frame(load(table(rows)), D, D)
    (c,) = value.conversion(f)
    assert c["active_users"] == 4 and c["orders"] == 3 and c["gmv_fen"] == 6000 and c["refunds_fen"] == 1000
    assert c["aov_fen"] == 2000 and c["arpu_fen"] == 1500 and c["order_rate"] == 0.5
    assert c["add_to_cart_rate"] == 0.25 and c["repurchase_rate"] == 0.5
    assert (c["coupons_claimed"], c["coupons_redeemed"], c["coupon_redeem_rate"]) == (2, 1, 0.5)
    assert c["promotion_participation_rate"] == 0.5
    (i,) = value.interaction(f)
    assert i["comment"] == {"users": 1, "events": 2, "rate": 0.25, "per_active_user": 0.5}
    assert i["share"]["rate"] == 0.0 and i["favorite"]["users"] == 1


def test_experience(load: Loader) -> None:
    rows = []
    for i, ms in enumerate([100, 200, 300, 400, 500, 600, 700, 800, 900, 5000]):
        sid = f"s{i}"
        rows.append(ev("perf", f"u{i}", at(D, f"10:{i:02d}"), page="home", load_ms=ms, session_id=sid))
        rows.append(ev("page_view", f"u{i}", at(D, f"10:{i:02d}:01"), page="home", session_id=sid))
        if ms < 500:  # fast landings go on to a second page
            rows.append(ev("page_view", f"u{i}", at(D, f"10:{i:02d}:30"), page="item", session_id=sid))
    f = frame(load(table(rows)), D, D)
    out = value.experience(f)
    (home,) = out["pages"]
    assert home | {} == {"page": "home", "samples": 10, "p50_ms": 500, "p75_ms": 800, "p90_ms": 900, "p95_ms": 5000, "p99_ms": 5000}
    b = {x["bucket"]: (x["sessions"], x["bounced"]) for x in out["bounce_by_load"]}
    assert b == {"<1s": (9, 5), "1–2s": (0, 0), "2–3s": (0, 0), "3–5s": (0, 0), "≥5s": (1, 1)}
