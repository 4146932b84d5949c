"""Coupons on SQLite and PostgreSQL: templates, claim → lock → redeem → roll back, limits under races."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select
from tests.promotions.helpers import at, race

from huoli.errors import Conflict, HuoliError, ValidationFailed
from huoli.events.models import OutboxEvent
from huoli.promotions import coupons
from huoli.promotions.common import get_named
from huoli.promotions.models import Coupon, CouponTemplate
from huoli.promotions.schemas import CartLine, CouponTemplateIn

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
APP = "shop"


def tpl(**kw):  # type: ignore[no-untyped-def]
    base = {"id": "t10", "name": "无门槛10元", "kind": "fixed", "amount_fen": 1000, "valid_days": 7}
    return CouponTemplateIn(**(base | kw))


def make(uow, runtime, **kw):  # type: ignore[no-untyped-def]
    with uow() as db:
        return coupons.create_template(at(db, runtime, NOW), spec=tpl(**kw)).id


def claim(uow, runtime, tid, user, key, now=NOW):  # type: ignore[no-untyped-def]
    with uow() as db:
        c, created = coupons.claim(at(db, runtime, now), template_id=tid, user_id=user, claim_key=key)
        return c.id, created


CART = [CartLine(item_id="sku1", category_id="food", price_fen=6000, quantity=2)]


def test_discounts_per_kind_scope_and_cap() -> None:
    fixed = CouponTemplate(kind="fixed", amount_fen=1000, scope="all", scope_ids="[]")
    assert coupons.discount_for(fixed, CART) == 1000
    small = [CartLine(item_id="x", price_fen=500)]
    assert coupons.discount_for(fixed, small) == 500  # never more than the goods in scope
    thr = CouponTemplate(kind="threshold", amount_fen=2000, threshold_fen=10000, scope="all", scope_ids="[]")
    assert coupons.discount_for(thr, CART) == 2000
    assert coupons.discount_for(thr, [CartLine(item_id="x", price_fen=9999)]) == 0
    pct = CouponTemplate(kind="percent", percent_off=10, max_discount_fen=1000, scope="all", scope_ids="[]")
    assert coupons.discount_for(pct, [CartLine(item_id="x", price_fen=5000)]) == 500
    assert coupons.discount_for(pct, CART) == 1000  # capped
    cat = CouponTemplate(kind="fixed", amount_fen=100, scope="category", scope_ids='["drinks"]')
    assert coupons.discount_for(cat, CART) == 0
    items = CouponTemplate(kind="fixed", amount_fen=100, scope="items", scope_ids='["sku1"]')
    assert coupons.discount_for(items, CART) == 100


def test_template_validation_and_compliance() -> None:
    with pytest.raises(ValueError):
        tpl(kind="threshold", amount_fen=2000, threshold_fen=1000)
    with pytest.raises(ValueError):
        tpl(valid_days=None)  # neither a window nor N days
    with pytest.raises(ValueError):
        tpl(scope="items")
    from huoli.promotions import compliance

    assert compliance.check_coupon_template(tpl(claim_trigger="share"))
    assert compliance.check_coupon_template(tpl(show_rules=False))
    text = compliance.coupon_rules_text(
        tpl(kind="threshold", amount_fen=2000, threshold_fen=10000, total_limit=100)
    )
    assert "满100元减20元" in text and "领取后7天内有效" in text and "共100张" in text


def test_claim_is_idempotent_and_limits_hold(uow, runtime) -> None:  # type: ignore[no-untyped-def]
    tid = make(uow, runtime, per_user_limit=2, total_limit=3)
    a = claim(uow, runtime, tid, "u1", "k1")
    assert a[1] is True and claim(uow, runtime, tid, "u1", "k1") == (a[0], False)
    claim(uow, runtime, tid, "u1", "k2")
    with pytest.raises(Conflict) as e:
        claim(uow, runtime, tid, "u1", "k3")
    assert e.value.code == "per_user_limit"
    claim(uow, runtime, tid, "u2", "k4")
    with pytest.raises(Conflict) as e:
        claim(uow, runtime, tid, "u3", "k5")
    assert e.value.code == "sold_out"
    with uow() as db:
        assert get_named(db, CouponTemplate, tid).issued_count == 3  # type: ignore[union-attr]
        assert db.scalar(select(func.count()).select_from(Coupon)) == 3
        c = db.get(Coupon, a[0])
        assert c is not None and c.valid_until - c.valid_from == timedelta(days=7)
        names = db.scalars(select(OutboxEvent.payload)).all()
        assert sum('"coupon_claimed"' in p for p in names) == 3


def test_lifecycle_lock_redeem_rollback_release(uow, runtime) -> None:  # type: ignore[no-untyped-def]
    tid = make(uow, runtime, kind="threshold", amount_fen=2000, threshold_fen=10000)
    cid, _ = claim(uow, runtime, tid, "u1", "k1")
    with uow() as db:
        q = coupons.lock(at(db, runtime, NOW), user_id="u1", order_id="o1", coupon_ids=[cid], cart=CART)
        assert (q.subtotal_fen, q.discount_fen, q.payable_fen) == (12000, 2000, 10000)
    with uow() as db:  # retry of the same checkout: same answer, nothing new
        coupons.lock(at(db, runtime, NOW), user_id="u1", order_id="o1", coupon_ids=[cid], cart=CART)
    with pytest.raises(Conflict), uow() as db:  # locked coupons can't go to another order
        coupons.lock(at(db, runtime, NOW), user_id="u1", order_id="o2", coupon_ids=[cid], cart=CART)
    with uow() as db:
        assert coupons.redeem(at(db, runtime, NOW), order_id="o1") == [cid]
    with uow() as db:
        assert coupons.redeem(at(db, runtime, NOW), order_id="o1") == []  # retried
        assert db.get(Coupon, cid).status == "redeemed"  # type: ignore[union-attr]
    with uow() as db:
        assert coupons.roll_back(at(db, runtime, NOW), order_id="o1") == [cid]
        assert coupons.roll_back(at(db, runtime, NOW), order_id="o1") == []
    with uow() as db:
        coupons.lock(at(db, runtime, NOW), user_id="u1", order_id="o3", coupon_ids=[cid], cart=CART)
        assert coupons.release(at(db, runtime, NOW), order_id="o3") == [cid]
        assert db.get(Coupon, cid).status == "available"  # type: ignore[union-attr]
    with pytest.raises(HuoliError) as e, uow() as db:  # threshold not met
        coupons.lock(
            at(db, runtime, NOW),
            user_id="u1",
            order_id="o4",
            coupon_ids=[cid],
            cart=[CartLine(item_id="x", price_fen=100)],
        )
    assert e.value.code == "coupon_not_applicable"
    with pytest.raises(HuoliError), uow() as db:  # someone else's coupon
        coupons.quote(at(db, runtime, NOW), user_id="u2", coupon_ids=[cid], cart=CART)


def test_stacking_rules(uow, runtime) -> None:  # type: ignore[no-untyped-def]
    a = make(uow, runtime, id="a", stackable=True)
    b = make(uow, runtime, id="b", stackable=True, kind="percent", amount_fen=0, percent_off=10)
    x = make(uow, runtime, id="x", stackable=False)
    ca = claim(uow, runtime, a, "u1", "ka")[0]
    cb = claim(uow, runtime, b, "u1", "kb")[0]
    cx = claim(uow, runtime, x, "u1", "kx")[0]
    with uow() as db:
        q = coupons.quote(at(db, runtime, NOW), user_id="u1", coupon_ids=[ca, cb], cart=CART)
        assert q.discounts == {ca: 1000, cb: 1200}
        with pytest.raises(HuoliError) as e:
            coupons.quote(at(db, runtime, NOW), user_id="u1", coupon_ids=[ca, cx], cart=CART)
        assert e.value.code == "stacking_not_allowed"


def test_validity_window_expiry_and_expiring_soon(uow, runtime) -> None:  # type: ignore[no-untyped-def]
    tid = make(uow, runtime, valid_days=None, valid_from=NOW, valid_until=NOW + timedelta(days=2))
    cid, _ = claim(uow, runtime, tid, "u1", "k1")
    with uow() as db:
        soon = coupons.expiring_soon(db=db, within=timedelta(days=3), now=NOW, user_id="u1")
        assert [c.id for c in soon] == [cid]
        assert coupons.expiring_soon(db=db, within=timedelta(days=1), now=NOW) == []
    later = NOW + timedelta(days=2, seconds=1)
    with pytest.raises(HuoliError), uow() as db:
        coupons.quote(at(db, runtime, later), user_id="u1", coupon_ids=[cid], cart=CART)
    with uow() as db:
        assert coupons.expire(at(db, runtime, later))["expired"] == 1
    with uow() as db:
        assert coupons.expire(at(db, runtime, later))["expired"] == 0
        assert db.get(Coupon, cid).status == "expired"  # type: ignore[union-attr]
    with pytest.raises(HuoliError) as e:
        claim(uow, runtime, tid, "u2", "k2", now=later)
    # the template's window (its validity) is over: the activity has ended
    assert (e.value.code, e.value.details["state"]) == ("activity_not_running", "ended")


def test_targeted_issue_and_gift_pack(uow, runtime) -> None:  # type: ignore[no-untyped-def]
    from huoli.promotions.schemas import GiftPackIn

    tid = make(
        uow, runtime, id="vip9", kind="percent", amount_fen=0, percent_off=10, claim_trigger="targeted"
    )
    with pytest.raises(HuoliError) as e:
        claim(uow, runtime, tid, "u1", "self")
    assert e.value.code == "not_claimable"
    with uow() as db:
        r = coupons.issue_to_users(
            at(db, runtime, NOW), template_id=tid, user_ids=["u1", "u2"], batch_key="b1"
        )
        assert r.issued == ["u1", "u2"]
    with uow() as db:
        r = coupons.issue_to_users(
            at(db, runtime, NOW), template_id=tid, user_ids=["u1", "u3"], batch_key="b1"
        )
        assert (r.issued, r.already) == (["u3"], ["u1"])
    g1 = make(uow, runtime, id="g1", claim_trigger="new_user")
    g2 = make(
        uow, runtime, id="g2", kind="threshold", amount_fen=500, threshold_fen=3000, claim_trigger="new_user"
    )
    with uow() as db:
        coupons.create_gift_pack(
            at(db, runtime, NOW), spec=GiftPackIn(id="newbie", name="新人礼包", template_ids=[g1, g2])
        )
    for _ in range(2):
        with uow() as db:
            got = coupons.grant_gift_pack(
                at(db, runtime, NOW), pack_id="newbie", user_id="n1", user_created_at=NOW - timedelta(days=1)
            )
            assert len(got) == 2
    with uow() as db:
        assert db.scalar(select(func.count()).select_from(Coupon).where(Coupon.user_id == "n1")) == 2
        with pytest.raises(HuoliError):
            coupons.grant_gift_pack(
                at(db, runtime, NOW),
                pack_id="newbie",
                user_id="old",
                user_created_at=NOW - timedelta(days=30),
            )


def test_bad_template_is_refused_and_changes_nothing(uow, runtime) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as e, uow() as db:
        coupons.create_template(at(db, runtime, NOW), spec=tpl(claim_trigger="share"))
    assert e.value.code == "compliance_rejected"
    with uow() as db:
        assert db.scalar(select(func.count()).select_from(CouponTemplate)) == 0


def test_concurrent_claims_respect_total_and_per_user_limits(uow, runtime) -> None:  # type: ignore[no-untyped-def]
    tid = make(uow, runtime, total_limit=10, per_user_limit=2)
    # 40 claims by 8 users (5 distinct keys each) + key retries: at most 2 per user, at most 10 in all.
    results = race(40, lambda i: claim(uow, runtime, tid, f"u{i % 8}", f"k{i % 8}-{i // 8}"), threads=20)
    ok = [r for r in results if isinstance(r, tuple)]
    errors = [r for r in results if not isinstance(r, tuple)]
    assert all(isinstance(e, Conflict) and e.code in ("sold_out", "per_user_limit") for e in errors), errors
    with uow() as db:
        rows = db.execute(select(Coupon.user_id, func.count()).group_by(Coupon.user_id)).all()
        assert sum(n for _, n in rows) == 10 == len(ok)
        assert max(n for _, n in rows) <= 2
        assert get_named(db, CouponTemplate, tid).issued_count == 10  # type: ignore[union-attr]


def test_concurrent_retries_of_one_claim_issue_one_coupon(uow, runtime) -> None:  # type: ignore[no-untyped-def]
    tid = make(uow, runtime, total_limit=5, per_user_limit=3)
    results = race(12, lambda i: claim(uow, runtime, tid, "u1", "same-key"))
    assert all(isinstance(r, tuple) for r in results), results
    assert len({r[0] for r in results}) == 1 and sum(r[1] for r in results) == 1
    with uow() as db:
        assert get_named(db, CouponTemplate, tid).issued_count == 1  # type: ignore[union-attr]


def test_retried_and_concurrent_redemption_uses_the_coupon_once(uow, runtime) -> None:  # type: ignore[no-untyped-def]
    tid = make(uow, runtime)
    cid, _ = claim(uow, runtime, tid, "u1", "k1")

    def redeem(i: int) -> list[str]:
        with uow() as db:  # half retry order o1, half try to spend it on other orders
            return coupons.redeem(at(db, runtime, NOW), order_id=f"o{i % 2}", coupon_ids=[cid], user_id="u1")

    results = race(10, redeem)
    with uow() as db:
        c = db.get(Coupon, cid)
        assert c is not None and c.status == "redeemed"
        winner = c.order_id
        redeemed_events = [p for p in db.scalars(select(OutboxEvent.payload)) if '"coupon_redeemed"' in p]
    assert len(redeemed_events) == 1
    assert sum(r == [cid] for r in results) == 1
    for i, r in enumerate(results):
        if f"o{i % 2}" == winner:
            assert isinstance(r, list)  # the winner and its retries succeed
        else:
            assert isinstance(r, Conflict), r


def test_lock_is_one_read_one_update_and_its_event(uow, runtime) -> None:  # type: ignore[no-untyped-def]
    tid = make(uow, runtime, kind="threshold", amount_fen=2000, threshold_fen=10000, per_user_limit=2)
    first, _ = claim(uow, runtime, tid, "u1", "k1")
    second, _ = claim(uow, runtime, tid, "u1", "k2")
    with uow() as db:  # loads the template's terms into the process cache
        coupons.lock(at(db, runtime, NOW), user_id="u1", order_id="o1", coupon_ids=[first], cart=CART)
    seen: list[str] = []

    def count(_c, _cur, statement, *_a) -> None:  # type: ignore[no-untyped-def]
        # the outbox relay shares the engine: count this domain's statements and the outbox inserts
        if "promo_coupon" in statement or statement.startswith("INSERT INTO event_outbox"):
            seen.append(statement.split()[0])

    event.listen(runtime.engine, "before_cursor_execute", count)
    try:
        with uow() as db:
            q = coupons.lock(
                at(db, runtime, NOW), user_id="u1", order_id="o2", coupon_ids=[second], cart=CART
            )
    finally:
        event.remove(runtime.engine, "before_cursor_execute", count)
    assert q.discounts == {second: 2000}
    assert seen == ["SELECT", "UPDATE", "INSERT"]
    with uow() as db:
        assert db.get(Coupon, second).status == "locked"  # type: ignore[union-attr]
        assert db.get(Coupon, second).order_id == "o2"  # type: ignore[union-attr]
