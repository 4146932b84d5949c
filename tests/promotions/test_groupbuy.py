"""Group buying (拼团): paid joins, the deadline state machine, fill policy, automatic idempotent refunds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from tests.fakes.wechatpay_server import FakeWeChatPay, fake_wechatpay, fake_wechatpay_server
from tests.promotions.helpers import at, race

from huoli.promotions import flows, groupbuy
from huoli.promotions.models import Group, GroupMember, Refund
from huoli.promotions.schemas import GroupCampaignIn

__all__ = ["fake_wechatpay", "fake_wechatpay_server"]
APP = "shop"
NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


def campaign(uow, **kw) -> str:  # type: ignore[no-untyped-def]
    spec = {
        "id": "g3",
        "name": "3人拼团享8折",
        "item_id": "sku-9",
        "original_price_fen": 10000,
        "group_price_fen": 8000,
        "leader_price_fen": 7000,
        "size": 3,
        "duration_s": 3600,
    } | kw
    with uow() as db:
        return groupbuy.create_campaign(at(db, uow.runtime, NOW), spec=GroupCampaignIn(**spec)).id


def join(uow, runtime, group_id, user, trade, fen, now=NOW):  # type: ignore[no-untyped-def]
    with uow() as db:
        m, g = groupbuy.join(
            at(db, runtime, now),
            campaign_id="g3",
            group_id=group_id,
            user_id=user,
            out_trade_no=trade,
            paid_fen=fen,
        )
        return m.id, m.status, (g.id if g else None), (g.status if g else None)


def pay_refunds(runtime, fake: FakeWeChatPay) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with fake.client(qps=100) as pay:
        return flows.process_refunds(runtime, pay_for=lambda _app: pay, clock=lambda: NOW)


def test_group_fills_and_succeeds(uow, runtime) -> None:  # type: ignore[no-untyped-def]
    campaign(uow)
    _, st, gid, gst = join(uow, runtime, None, "leader", "T000001", 7000)
    assert (st, gst) == ("joined", "open")
    assert (
        join(uow, runtime, gid, "leader", "T000001", 7000)[0:2]
        == join(uow, runtime, gid, "x", "T000001", 1)[0:2]
    )
    join(uow, runtime, gid, "m1", "T000002", 8000)
    _, st, _, gst = join(uow, runtime, gid, "m1", "T000003", 8000)  # same user again: refunded
    assert st == "rejected" and gst == "open"
    _, st, _, gst = join(uow, runtime, gid, "m2", "T000004", 8000)
    assert (st, gst) == ("joined", "succeeded")
    _, st, _, _ = join(uow, runtime, gid, "m3", "T000005", 8000)  # full
    assert st == "rejected"
    _, st, _, _ = join(uow, runtime, gid, "m4", "T000006", 100)  # wrong amount
    assert st == "rejected"
    with uow() as db:
        assert db.get(Group, gid).member_count == 3  # type: ignore[union-attr]
        reasons = sorted(db.scalars(select(Refund.reason)).all())
        assert reasons == ["already_member", "amount_mismatch", "group_succeeded"]


def test_deadline_fails_the_group_and_refunds_everyone_once(uow, runtime, fake_wechatpay) -> None:  # type: ignore[no-untyped-def]
    campaign(uow)
    _, _, gid, _ = join(uow, runtime, None, "leader", "T100001", 7000)
    join(uow, runtime, gid, "m1", "T100002", 8000)
    fake_wechatpay.add_order("T100001", 7000)
    fake_wechatpay.add_order("T100002", 8000)
    after = NOW + timedelta(hours=1)
    with uow() as db:
        assert groupbuy.close_due(at(db, runtime, after)) == {"failed": 1, "filled": 0}
    with uow() as db:
        assert groupbuy.close_due(at(db, runtime, after)) == {"failed": 0, "filled": 0}
    _, st, _, gst = join(uow, runtime, gid, "late", "T100003", 8000, now=after)
    assert (st, gst) == ("rejected", "failed")
    fake_wechatpay.add_order("T100003", 8000)
    fake_wechatpay.fail_next(1, "SYSTEM_ERROR")
    first = pay_refunds(runtime, fake_wechatpay)
    assert first["succeeded"] == 2 and first["retry"] == 1
    assert pay_refunds(runtime, fake_wechatpay)["succeeded"] == 1
    assert pay_refunds(runtime, fake_wechatpay) == dict.fromkeys(
        ("succeeded", "processing", "retry", "failed", "not_configured"), 0
    )
    for trade, fen in (("T100001", 7000), ("T100002", 8000), ("T100003", 8000)):
        assert fake_wechatpay.refunded_fen(trade) == fen  # refunded exactly once
    with uow() as db:
        assert set(db.scalars(select(GroupMember.status)).all()) == {"refunded"}


def test_refund_crash_after_wechat_accepted_is_not_a_double_refund(uow, runtime, fake_wechatpay) -> None:  # type: ignore[no-untyped-def]
    campaign(uow)
    join(uow, runtime, None, "leader", "T200001", 7000)
    fake_wechatpay.add_order("T200001", 7000)
    with uow() as db:
        groupbuy.close_due(at(db, runtime, NOW + timedelta(hours=2)))
        out_refund_no = db.scalars(select(Refund.out_refund_no)).one()
    with fake_wechatpay.client() as pay:  # WeChat got it, but we "crashed" before recording it
        pay.refund(out_trade_no="T200001", out_refund_no=out_refund_no, refund_fen=7000, total_fen=7000)
    assert pay_refunds(runtime, fake_wechatpay)["succeeded"] == 1
    assert fake_wechatpay.refunded_fen("T200001") == 7000 and len(fake_wechatpay.refunds) == 1


def processing_refund(uow, runtime, fake: FakeWeChatPay, trade: str) -> None:  # type: ignore[no-untyped-def]
    """A lone leader's group fails at its deadline; WeChat Pay takes the refund as PROCESSING."""
    campaign(uow)
    join(uow, runtime, None, "leader", trade, 7000)
    fake.add_order(trade, 7000)
    fake.processing = True
    with uow() as db:
        groupbuy.close_due(at(db, runtime, NOW + timedelta(hours=2)))
    assert pay_refunds(runtime, fake)["processing"] == 1


def test_processing_refunds_are_queried_until_done(uow, runtime, fake_wechatpay) -> None:  # type: ignore[no-untyped-def]
    processing_refund(uow, runtime, fake_wechatpay, "T300001")
    fake_wechatpay.settle()
    assert pay_refunds(runtime, fake_wechatpay)["succeeded"] == 1
    assert fake_wechatpay.calls["refund"] == 1 and fake_wechatpay.calls["query"] == 1


def test_fill_policy_succeeds_without_paying_fillers(uow, runtime) -> None:  # type: ignore[no-untyped-def]
    campaign(uow, fill_policy="fill", fill_min_real=2)
    _, _, gid, _ = join(uow, runtime, None, "leader", "T400001", 7000)
    join(uow, runtime, gid, "m1", "T400002", 8000)
    with uow() as db:
        assert groupbuy.close_due(at(db, runtime, NOW + timedelta(hours=1)))["filled"] == 1
        g = db.get(Group, gid)
        assert g is not None and (g.status, g.member_count, g.filled_count) == ("succeeded", 2, 1)
        assert db.scalar(select(func.count()).select_from(GroupMember)) == 2  # fillers are no members
        assert db.scalar(select(func.count()).select_from(Refund)) == 0
    with pytest.raises(ValueError):
        GroupCampaignIn(
            id="x",
            name="x",
            item_id="i",
            original_price_fen=2,
            group_price_fen=1,
            size=3,
            fill_policy="fill",
            fill_min_real=0,
        )


def test_concurrent_joins_at_the_deadline_have_one_outcome(uow, runtime) -> None:  # type: ignore[no-untyped-def]
    for round_ in range(6):
        with uow() as db:
            for g in db.scalars(select(Group).where(Group.status == "open")):
                g.status = "failed"
        cid = f"g3r{round_}"
        campaign(uow, id=cid)
        with uow() as db:
            _, g = groupbuy.join(
                at(db, runtime, NOW),
                campaign_id=cid,
                group_id=None,
                user_id="leader",
                out_trade_no=f"L{round_:05d}",
                paid_fen=7000,
            )
            gid = g.id  # type: ignore[union-attr]
        deadline = NOW + timedelta(hours=1)

        def act(
            i: int, cid: str = cid, gid: str = gid, round_: int = round_, deadline: datetime = deadline
        ) -> object:
            with uow() as db:
                if i == 0:
                    return groupbuy.close_due(at(db, runtime, deadline))
                return groupbuy.join(
                    at(db, runtime, deadline - timedelta(milliseconds=1)),
                    campaign_id=cid,
                    group_id=gid,
                    user_id=f"m{i}",
                    out_trade_no=f"J{round_}{i:05d}",
                    paid_fen=8000,
                )[0].status

        results = race(6, act)
        assert not any(isinstance(r, Exception) for r in results), results
        with uow() as db:
            g = db.get(Group, gid)
            assert g is not None and g.status in ("succeeded", "failed")
            members = db.scalars(select(GroupMember).where(GroupMember.group_id == gid)).all()
            seated = [m for m in members if m.status in ("joined", "refunding")]
            refunds = {
                r.source: r.reason
                for r in db.scalars(
                    select(Refund).where(Refund.out_trade_no.in_([m.out_trade_no for m in members]))
                )
            }
            if g.status == "succeeded":
                assert g.member_count == 3 == len([m for m in members if m.status == "joined"])
                assert all(m.id in refunds for m in members if m.status != "joined")
            else:
                assert all(m.id in refunds for m in members)  # every paid member gets money back
                assert g.member_count == len(seated)
            assert len(refunds) == len(members) - (3 if g.status == "succeeded" else 0)
