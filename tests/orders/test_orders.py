"""The orders calls end to end on SQLite and PostgreSQL: one signed call settles points, coupons, flash
reservations, commissions and the event in one transaction; repeats answer the same; a failure in the last step
leaves nothing; refunds and cancellations follow the state rules; apps stay apart; duplicates race safely."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.events.helpers import count, logged, signed_headers
from tests.loyalty.helpers import mp_headers, race
from tests.promotions.helpers import at

from huoli.app import create_app
from huoli.db import insert_or_ignore, unit_of_work
from huoli.loyalty.models import PointsTransfer
from huoli.orders.models import Order, OrderRefund
from huoli.promotions import distribution
from huoli.promotions.models import Commission, Coupon, Distributor, FlashReservation
from huoli.promotions.schemas import DistributionConfigIn
from huoli.runtime import Runtime
from huoli.users.models import User

PAID, REFUNDED, CANCELLED = (
    "/v1/server/orders/paid",
    "/v1/server/orders/refunded",
    "/v1/server/orders/cancelled",
)


def signed(client: TestClient, app: Any, path: str, body: dict[str, Any]) -> Any:
    raw = orjson.dumps(body)
    return client.post(path, content=raw, headers=signed_headers(app.id, app.server_secret, path, raw))


def admin(app: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {app.keys['operator']}"}


def member(runtime: Runtime, app_id: str, user_id: str) -> dict[str, str]:
    """A logged-in mini-program user (the users row promotions' new-user rules read)."""
    now = datetime.now(UTC)
    with unit_of_work(runtime.sessions, app_id=app_id) as db:
        insert_or_ignore(
            db,
            User,
            {
                "id": user_id,
                "app_id": app_id,
                "openid": f"o_{user_id}",
                "created_at": now,
                "last_login_at": now,
            },
            ["id"],
        )
    return mp_headers(runtime, app_id, user_id)


def coupon(client: TestClient, runtime: Runtime, app: Any, user_id: str, order_id: str) -> str:
    """A 20-yuan coupon claimed by the user and locked for the order."""
    if client.get("/admin/promotions/coupon-templates", headers=admin(app)).json()["items"] == []:
        r = client.post(
            "/admin/promotions/coupon-templates",
            headers=admin(app),
            json={"id": "m100", "name": "满100减20", "kind": "threshold", "amount_fen": 2000,
                  "threshold_fen": 10000, "valid_days": 7, "per_user_limit": 5},
        )  # fmt: skip
        assert r.status_code == 201, r.text
    h = member(runtime, app.id, user_id)
    c = client.post(
        "/v1/promotions/coupons/claim", headers=h, json={"template_id": "m100", "request_id": order_id}
    )
    assert c.status_code == 200, c.text
    cid = str(c.json()["id"])
    cart = [{"item_id": "sku1", "price_fen": 6000, "quantity": 2}]
    lock = client.post(
        "/v1/promotions/coupons/lock",
        headers=h,
        json={"order_id": order_id, "coupon_ids": [cid], "cart": cart},
    )
    assert lock.status_code == 200, lock.text
    return cid


def distributors(runtime: Runtime, app_id: str, buyer: str) -> None:
    """top ← mid ← buyer: 10 % to mid, 3 % to top, frozen 7 days."""
    now = runtime.clock()
    spec = DistributionConfigIn(levels=2, level1_bp=1000, level2_bp=300, freeze_days=7, min_withdraw_fen=1000)
    with unit_of_work(runtime.sessions, app_id=app_id) as db:
        distribution.configure(at(db, runtime, now), spec=spec)
        distribution.join(at(db, runtime, now), user_id="top")
        distribution.join(at(db, runtime, now), user_id="mid", invited_by="top")
        distribution.bind_customer(at(db, runtime, now), customer_user_id=buyer, distributor_user_id="mid")


def points(client: TestClient, runtime: Runtime, app_id: str, user_id: str) -> int:
    r = client.get("/v1/loyalty/points", headers=mp_headers(runtime, app_id, user_id))
    assert r.status_code == 200, r.text
    return int(r.json()["available"])


def frozen(runtime: Runtime, app_id: str, user_id: str) -> int:
    with unit_of_work(runtime.sessions, app_id=app_id) as db:
        d = db.scalars(select(Distributor).where(Distributor.user_id == user_id)).one()
        return d.frozen_fen


def wait_logged(runtime: Runtime, app_id: str, name: str, n: int) -> None:
    deadline = time.monotonic() + 5
    while runtime.store.count(app_id=app_id, name=name) != n:
        assert time.monotonic() < deadline, f"{name}: {runtime.store.count(app_id=app_id, name=name)} != {n}"
        time.sleep(0.02)


def test_one_call_settles_points_coupon_commission_and_event(
    client: TestClient, runtime: Runtime, make_app
) -> None:  # type: ignore[no-untyped-def]
    app = make_app("shop")
    cid = coupon(client, runtime, app, "buyer", "o1")
    distributors(runtime, app.id, "buyer")
    body = {"order_id": "o1", "user_id": "buyer", "paid_fen": 10000, "coupon_ids": [cid],
            "items": [{"sku": "sku1", "qty": 2, "price_fen": 5000}]}  # fmt: skip
    r = signed(client, app, PAID, body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status"] == "paid" and out["paid_fen"] == 10000 and "idempotent-replayed" not in r.headers
    assert out["loyalty"]["points"] == 100 and out["loyalty"]["applied"] is True
    assert out["promotions"]["redeemed_coupons"] == [cid]
    assert {c["distributor_user_id"]: c["amount_fen"] for c in out["promotions"]["commissions"]} == {
        "mid": 1000,
        "top": 300,
    }
    assert points(client, runtime, app.id, "buyer") == 100
    assert count(runtime, app.id, Coupon, Coupon.id == cid, Coupon.status == "redeemed") == 1
    assert (frozen(runtime, app.id, "mid"), frozen(runtime, app.id, "top")) == (1000, 300)
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        order = db.scalars(select(Order)).one()
        assert order.items == [{"sku": "sku1", "qty": 2, "price_fen": 5000}]
        assert order.paid_at is not None and order.paid_at.tzinfo is not None

    again = signed(client, app, PAID, body)
    assert again.status_code == 200 and again.json() == out
    assert again.headers["idempotent-replayed"] == "true"
    assert points(client, runtime, app.id, "buyer") == 100
    assert (frozen(runtime, app.id, "mid"), frozen(runtime, app.id, "top")) == (1000, 300)
    assert count(runtime, app.id, Order) == 1
    wait_logged(runtime, app.id, "order_paid", 1)
    assert logged(runtime, app.id, "order_paid") == 1

    other = signed(client, app, PAID, body | {"paid_fen": 9000})
    assert other.status_code == 409 and other.json()["code"] == "order_mismatch"


def test_a_failure_in_the_last_step_leaves_nothing(runtime: Runtime, make_app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    app = make_app("shop")
    with TestClient(create_app(runtime=runtime), raise_server_exceptions=False) as client:
        cid = coupon(client, runtime, app, "buyer", "o1")
        distributors(runtime, app.id, "buyer")
        before = {n: logged(runtime, app.id, n) for n in ("order_paid", "points_earned", "coupon_redeemed")}

        def broken(**_: Any) -> Any:
            raise RuntimeError("commissions are down")

        monkeypatch.setattr(distribution, "on_order_paid", broken)
        body = {"order_id": "o1", "user_id": "buyer", "paid_fen": 10000, "coupon_ids": [cid]}
        r = signed(client, app, PAID, body)
        assert r.status_code == 500
        assert points(client, runtime, app.id, "buyer") == 0
        assert count(runtime, app.id, PointsTransfer) == 0
        assert count(runtime, app.id, Coupon, Coupon.id == cid, Coupon.status == "locked") == 1
        assert count(runtime, app.id, Order) == 0
        assert count(runtime, app.id, Commission) == 0
        time.sleep(0.2)  # the relay would have moved anything committed by now
        assert {n: logged(runtime, app.id, n) for n in before} == before

        monkeypatch.undo()
        ok = signed(client, app, PAID, body)  # the merchant retries: everything happens once
        assert ok.status_code == 200, ok.text
        assert ok.json()["promotions"]["redeemed_coupons"] == [cid]
        assert points(client, runtime, app.id, "buyer") == 100


def test_refunds_partial_then_full_reverse_points_and_commissions(
    client: TestClient, runtime: Runtime, make_app
) -> None:  # type: ignore[no-untyped-def]
    app = make_app("shop")
    cid = coupon(client, runtime, app, "buyer", "o1")
    distributors(runtime, app.id, "buyer")
    paid = signed(
        client, app, PAID, {"order_id": "o1", "user_id": "buyer", "paid_fen": 10000, "coupon_ids": [cid]}
    )
    assert paid.status_code == 200, paid.text

    part = {"order_id": "o1", "refund_id": "r1", "amount_fen": 4000}
    r1 = signed(client, app, REFUNDED, part)
    assert r1.status_code == 200, r1.text
    assert r1.json()["status"] == "partly_refunded" and r1.json()["refunded_fen"] == 4000
    assert r1.json()["loyalty"]["clawed_back"] == 40
    assert r1.json()["promotions"] == {"commissions_reduced": 2}
    assert points(client, runtime, app.id, "buyer") == 60
    assert (frozen(runtime, app.id, "mid"), frozen(runtime, app.id, "top")) == (600, 180)
    assert count(runtime, app.id, Coupon, Coupon.id == cid, Coupon.status == "redeemed") == 1

    replay = signed(client, app, REFUNDED, part)
    assert replay.status_code == 200 and replay.json() == r1.json()
    assert replay.headers["idempotent-replayed"] == "true"
    assert points(client, runtime, app.id, "buyer") == 60
    assert signed(client, app, REFUNDED, part | {"amount_fen": 1}).json()["code"] == "refund_mismatch"

    too_much = signed(client, app, REFUNDED, {"order_id": "o1", "refund_id": "r2", "amount_fen": 6001})
    assert too_much.status_code == 422 and too_much.json()["code"] == "refund_exceeds_order"
    assert too_much.json()["details"] == [{"field": "amount_fen", "message": "at most 6000"}]
    assert count(runtime, app.id, OrderRefund) == 1

    rest = signed(client, app, REFUNDED, {"order_id": "o1", "refund_id": "r2", "amount_fen": 6000})
    assert rest.status_code == 200, rest.text
    assert rest.json()["status"] == "refunded" and rest.json()["refunded_fen"] == 10000
    assert rest.json()["promotions"] == {"coupons_returned": 1, "commissions_reversed": 2}
    assert points(client, runtime, app.id, "buyer") == 0
    assert (frozen(runtime, app.id, "mid"), frozen(runtime, app.id, "top")) == (0, 0)
    assert count(runtime, app.id, Coupon, Coupon.id == cid, Coupon.status == "available") == 1
    more = signed(client, app, REFUNDED, {"order_id": "o1", "refund_id": "r3", "amount_fen": 1})
    assert more.status_code == 422 and more.json()["details"][0]["field"] == "amount_fen"

    unknown = signed(client, app, REFUNDED, {"order_id": "nope", "refund_id": "r1", "amount_fen": 1})
    assert unknown.status_code == 404 and unknown.json()["code"] == "order_not_found"
    wait_logged(runtime, app.id, "order_refunded", 2)


def test_cancel_releases_the_flash_reservation_and_is_final(
    client: TestClient, runtime: Runtime, make_app
) -> None:  # type: ignore[no-untyped-def]
    app = make_app("shop")
    now = runtime.clock()
    for path, body in (
        ("/admin/promotions/flash/sessions",
         {"id": "s1", "name": "10点秒杀", "starts_at": (now - timedelta(minutes=1)).isoformat(),
          "ends_at": (now + timedelta(hours=1)).isoformat()}),
        ("/admin/promotions/flash/items",
         {"id": "f1", "session_id": "s1", "item_id": "sku1", "price_fen": 100, "original_price_fen": 500,
          "stock": 1, "per_user_limit": 1}),
    ):  # fmt: skip
        assert client.post(path, headers=admin(app), json=body).status_code in (200, 201)
    h = member(runtime, app.id, "buyer")
    res = client.post("/v1/promotions/flash/items/f1/attempt", headers=h, json={"quantity": 1})
    assert res.status_code == 200, res.text
    rid = res.json()["id"]

    c = signed(client, app, CANCELLED, {"order_id": "o1", "user_id": "buyer", "flash_reservation_id": rid})
    assert c.status_code == 200, c.text
    assert c.json()["status"] == "cancelled" and c.json()["promotions"]["flash_units_returned"] == 1
    assert count(runtime, app.id, FlashReservation, FlashReservation.status == "cancelled") == 1
    again = signed(client, app, CANCELLED, {"order_id": "o1", "flash_reservation_id": rid})
    assert again.status_code == 200 and again.json() == c.json()
    late = signed(client, app, PAID, {"order_id": "o1", "user_id": "buyer", "paid_fen": 100})
    assert late.status_code == 409 and late.json()["code"] == "order_cancelled"
    refund = signed(client, app, REFUNDED, {"order_id": "o1", "refund_id": "r", "amount_fen": 1})
    assert refund.status_code == 409 and refund.json()["code"] == "order_cancelled"

    assert (
        signed(client, app, PAID, {"order_id": "o2", "user_id": "buyer", "paid_fen": 100}).status_code == 200
    )
    paid_then_cancel = signed(client, app, CANCELLED, {"order_id": "o2"})
    assert paid_then_cancel.status_code == 409 and paid_then_cancel.json()["code"] == "order_paid"
    wait_logged(runtime, app.id, "order_cancelled", 1)


def test_two_apps_with_the_same_order_and_user_ids_stay_apart(
    client: TestClient, runtime: Runtime, make_app
) -> None:  # type: ignore[no-untyped-def]
    a, b = make_app("shop_a"), make_app("shop_b")
    body = {"order_id": "o1", "user_id": "u1", "paid_fen": 5000}
    assert signed(client, a, PAID, body).json()["loyalty"]["points"] == 50
    rb = signed(client, b, PAID, body | {"paid_fen": 7000})
    assert rb.status_code == 200 and "idempotent-replayed" not in rb.headers
    assert rb.json()["loyalty"]["points"] == 70
    assert (
        signed(client, a, REFUNDED, {"order_id": "o1", "refund_id": "r1", "amount_fen": 5000}).status_code
        == 200
    )
    assert points(client, runtime, a.id, "u1") == 0
    assert points(client, runtime, b.id, "u1") == 70
    with unit_of_work(runtime.sessions, app_id=b.id) as db:
        order = db.scalars(select(Order)).one()
        assert (order.status, order.refunded_fen, order.paid_fen) == ("paid", 0, 7000)
    over = signed(client, b, REFUNDED, {"order_id": "o1", "refund_id": "r1", "amount_fen": 7000})
    assert over.status_code == 200 and "idempotent-replayed" not in over.headers


def test_bad_input_is_a_field_error_and_writes_nothing(
    client: TestClient, runtime: Runtime, make_app
) -> None:  # type: ignore[no-untyped-def]
    app = make_app("shop")
    naive = datetime.now().replace(microsecond=0).isoformat()  # naive on purpose
    cases = [
        ({"order_id": "o1", "paid_fen": 1}, ""),
        ({"order_id": "o1", "user_id": "u", "openid": "x", "paid_fen": 1}, ""),
        ({"order_id": "o1", "user_id": "u", "paid_fen": -1}, "paid_fen"),
        ({"order_id": "o1", "user_id": "u", "paid_fen": 2**31}, "paid_fen"),
        ({"order_id": "", "user_id": "u", "paid_fen": 1}, "order_id"),
        ({"order_id": "o1", "user_id": "u", "paid_fen": 1, "paid_at": naive}, "paid_at"),
        ({"order_id": "o1", "user_id": "u", "paid_fen": 1, "items": [{"sku": "a", "qty": 0, "price_fen": 1}]},
         "items.0.qty"),
        ({"order_id": "o1", "user_id": "u", "paid_fen": 1, "items": [{"sku": "a", "qty": 1, "price_fen": 2**63}]},
         "items.0.price_fen"),
        ({"order_id": "o1", "user_id": "u", "paid_fen": 1,
          "paid_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()}, "paid_at"),
        ({"order_id": "o1", "user_id": "u", "paid_fen": 1,
          "paid_at": (datetime.now(UTC) - timedelta(days=30)).isoformat()}, "paid_at"),
    ]  # fmt: skip
    for body, field in cases:
        r = signed(client, app, PAID, body)
        assert r.status_code == 422, (body, r.text)
        fields = [d["field"] for d in r.json()["details"]]
        assert any(f.endswith(field) for f in fields), (body, fields)
    bad_refund = signed(client, app, REFUNDED, {"order_id": "o1", "refund_id": "r", "amount_fen": 0})
    assert bad_refund.status_code == 422 and bad_refund.json()["details"][0]["field"].endswith("amount_fen")
    coupon_of_nobody = signed(client, app, PAID, {"order_id": "o1", "user_id": "u", "paid_fen": 1,
                                                  "flash_reservation_id": "nope"})  # fmt: skip
    assert coupon_of_nobody.status_code == 404
    assert count(runtime, app.id, Order) == 0
    assert count(runtime, app.id, PointsTransfer) == 0
    assert logged(runtime, app.id, "order_paid") == 0


def test_old_doors_still_work_and_share_the_idempotency(
    client: TestClient, runtime: Runtime, make_app
) -> None:  # type: ignore[no-untyped-def]
    app = make_app("shop")
    old = signed(
        client, app, "/v1/server/loyalty/orders/paid", {"order_id": "o1", "user_id": "u1", "amount_fen": 3000}
    )
    assert old.status_code == 200 and old.json()["points"] == 30
    promo = signed(
        client,
        app,
        "/v1/server/promotions/orders/paid",
        {"order_id": "o1", "user_id": "u1", "paid_fen": 3000},
    )
    assert promo.status_code == 200, promo.text
    # The same order through the new door afterwards: loyalty and promotions find it settled already.
    new = signed(client, app, PAID, {"order_id": "o1", "user_id": "u1", "paid_fen": 3000})
    assert new.status_code == 200 and new.json()["loyalty"]["applied"] is False
    assert points(client, runtime, app.id, "u1") == 30
    paths = client.get("/openapi.json").json()["paths"]
    assert paths["/v1/server/loyalty/orders/paid"]["post"].get("deprecated") is True
    assert paths["/v1/server/promotions/orders/paid"]["post"].get("deprecated") is True
    assert not paths[PAID]["post"].get("deprecated")


def test_concurrent_duplicates_settle_once(runtime: Runtime, make_app, database_url: str) -> None:  # type: ignore[no-untyped-def]
    app = make_app("shop")
    distributors(runtime, app.id, "buyer")
    body = {"order_id": "o1", "user_id": "buyer", "paid_fen": 10000}
    with TestClient(create_app(runtime=runtime)) as client:
        results = race(8, lambda _i: signed(client, app, PAID, body))
        assert all(not isinstance(r, Exception) for r in results), results
        assert [r.status_code for r in results] == [200] * 8, [r.text for r in results]
        answers = {orjson.dumps(r.json()) for r in results}
        assert len(answers) == 1
        assert sum(r.headers.get("idempotent-replayed") == "true" for r in results) == 7
        assert points(client, runtime, app.id, "buyer") == 100
        assert frozen(runtime, app.id, "mid") == 1000
        assert count(runtime, app.id, Commission) == 2
        assert count(runtime, app.id, PointsTransfer) == 1
        # Concurrent refunds of one order never exceed what was paid.
        refunds = race(
            6,
            lambda i: signed(
                client, app, REFUNDED, {"order_id": "o1", "refund_id": f"r{i}", "amount_fen": 3000}
            ),
        )
        assert sorted(r.status_code for r in refunds) == [200] * 3 + [422] * 3
        assert points(client, runtime, app.id, "buyer") == 10
        with unit_of_work(runtime.sessions, app_id=app.id) as db:
            assert db.scalars(select(Order)).one().refunded_fen == 9000


@pytest.mark.parametrize("via", ["user_id", "openid"])
def test_user_by_openid_or_id(client: TestClient, runtime: Runtime, make_app, via: str) -> None:  # type: ignore[no-untyped-def]
    app = make_app("shop")
    ref = {"user_id": "u1"} if via == "user_id" else {"openid": "oX"}
    r = signed(client, app, PAID, {"order_id": "o1", "paid_fen": 100} | ref)
    assert r.status_code == 200, r.text
    assert (r.json()["user_id"] == "u1") is (via == "user_id")
