"""Live figures and results (C1) agree with the rows the mechanics wrote: one activity of each kind is run
through the real services over a few days, and every figure is recomputed here from those rows with the
definitions of docs/promotions.md ("Figures") — never a hard-coded answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from tests.promotions.helpers import at

from huoli.db import insert_or_ignore
from huoli.promotions import bargain, coupons, distribution, flashsale, groupbuy, referrals, service
from huoli.promotions.models import (
    Bargain,
    BargainHelp,
    Commission,
    Coupon,
    FlashItem,
    FlashReservation,
    Group,
    GroupMember,
    InviteCode,
    PaidOrder,
    ReferralBinding,
)
from huoli.promotions.schemas import (
    BargainCampaignIn,
    CartLine,
    CouponTemplateIn,
    DistributionConfigIn,
    FlashItemIn,
    FlashSessionIn,
    GroupCampaignIn,
    ReferralProgramIn,
)
from huoli.users.models import User

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # counting, not races

NOW = datetime.now(UTC).replace(microsecond=0)
T0 = NOW - timedelta(days=3)  # the activities started three days ago and run for a week
WEEK = {"starts_at": T0, "ends_at": T0 + timedelta(days=7)}
OLD, NEW = T0 - timedelta(days=30), T0 + timedelta(hours=1)  # first seen long before / during the activities
USERS = {"A": OLD, "B": OLD, "C": OLD, "D": OLD, "E": OLD, "F": NEW, "G": OLD, "H": NEW, "R": OLD, "N": NEW}
USERS |= {"X": OLD, "Z": OLD, "H2": OLD}


def run_everything(uow: Any, runtime: Any) -> dict[str, str]:
    """The activities and what users did with them; returns the ids the test needs."""
    ids: dict[str, str] = {}

    def w(db: Any, t: datetime) -> Any:
        return at(db, runtime, t)

    with uow() as db:
        for uid, seen in USERS.items():
            insert_or_ignore(
                db,
                User,
                {"id": uid, "app_id": "shop", "openid": f"o{uid}", "created_at": seen, "last_login_at": seen},
            )
        s = w(db, T0 - timedelta(days=1))
        coupon = {"kind": "fixed", "amount_fen": 500, "valid_from": T0, "valid_until": T0 + timedelta(days=7)}
        coupons.create_template(s, CouponTemplateIn(id="c1", name="立减5元", **coupon))
        for tid in ("ra", "rb"):
            coupons.create_template(
                s,
                CouponTemplateIn(
                    id=tid, name=tid, kind="fixed", amount_fen=300, valid_days=30, claim_trigger="reward"
                ),
            )
        flash = {"item_id": "tea", "price_fen": 990, "original_price_fen": 1990, "stock": 5}
        for sid, start in (("s0", T0 - timedelta(hours=2)), ("s1", T0)):
            flashsale.create_session(
                s, FlashSessionIn(id=sid, name=sid, starts_at=start, ends_at=start + timedelta(hours=2))
            )
            flashsale.create_item(s, FlashItemIn(id=f"f-{sid}", session_id=sid, **flash))
        groupbuy.create_campaign(
            s,
            GroupCampaignIn(
                id="gc",
                name="2人团",
                item_id="cup",
                original_price_fen=1000,
                group_price_fen=800,
                size=2,
                **WEEK,
            ),
        )
        bargain.create_campaign(
            s,
            BargainCampaignIn(
                id="bc", name="砍价", item_id="pot", price_fen=3000, floor_fen=1000, helpers_needed=2, **WEEK
            ),
        )
        referrals.create_program(
            s,
            ReferralProgramIn(
                id="rp",
                name="邀请有礼",
                qualifying_action="registration",
                referrer_template_id="ra",
                invitee_template_id="rb",
                **WEEK,
            ),
        )
        distribution.configure(s, DistributionConfigIn(level1_bp=1000))
        distribution.join(s, user_id="X")
    with uow() as db:  # coupons: A and B claim, A pays with it
        t = T0 + timedelta(hours=1)
        ids["cA"] = coupons.claim(w(db, t), template_id="c1", user_id="A", claim_key="kA")[0].id
        coupons.claim(w(db, t), template_id="c1", user_id="B", claim_key="kB")
    with uow() as db:
        t = T0 + timedelta(hours=2)
        coupons.lock(
            w(db, t),
            user_id="A",
            order_id="o1",
            coupon_ids=[ids["cA"]],
            cart=[CartLine(item_id="x", price_fen=10000)],
        )
        service.order_paid(
            w(db, t),
            order_id="o1",
            user_id="A",
            paid_fen=9500,
            coupon_ids=[ids["cA"]],
            flash_reservation_id=None,
        )
    with (
        uow() as db
    ):  # 秒杀: Z in the session before (the baseline), C and D in this one; C (X's customer) pays
        z = flashsale.attempt(
            w(db, T0 - timedelta(minutes=90)), flash_item_id="f-s0", user_id="Z", quantity=1
        )
        service.order_paid(
            w(db, T0 - timedelta(minutes=89)),
            order_id="oz",
            user_id="Z",
            paid_fen=990,
            coupon_ids=[],
            flash_reservation_id=z.id,
        )
    with uow() as db:
        t = T0 + timedelta(minutes=10)
        distribution.bind_customer(w(db, t), customer_user_id="C", distributor_user_id="X")
        c = flashsale.attempt(w(db, t), flash_item_id="f-s1", user_id="C", quantity=1)
        flashsale.attempt(w(db, t + timedelta(minutes=1)), flash_item_id="f-s1", user_id="D", quantity=1)
        service.order_paid(
            w(db, t + timedelta(minutes=2)),
            order_id="o2",
            user_id="C",
            paid_fen=990,
            coupon_ids=[],
            flash_reservation_id=c.id,
        )
    with uow() as db:  # 拼团: E opens, F (new) joins through E's share
        g = service.join_group(
            w(db, T0 + timedelta(hours=1)),
            campaign_id="gc",
            group_id=None,
            user_id="E",
            out_trade_no="T0000001",
            paid_fen=800,
        )
        service.join_group(
            w(db, T0 + timedelta(hours=2)),
            campaign_id="gc",
            group_id=g["group_id"],
            user_id="F",
            out_trade_no="T0000002",
            paid_fen=800,
        )
    with uow() as db:  # 砍价: G starts, H (new) and H2 help it to the floor
        b = bargain.start(w(db, T0 + timedelta(hours=1)), campaign_id="bc", user_id="G")
        for n, helper in enumerate(("H", "H2")):
            bargain.help_bargain(
                w(db, T0 + timedelta(hours=2, minutes=n)), bargain_id=b.id, helper_user_id=helper
            )
    with uow() as db:  # 邀请有礼: N (new) binds to R's code and is rewarded; N then pays with the reward
        code = referrals.invite_code(w(db, T0 + timedelta(hours=1)), program_id="rp", user_id="R").code
        t = T0 + timedelta(hours=2)
        referrals.bind(w(db, t), code=code, invitee_user_id="N", invitee_created_at=NEW)
        referrals.qualify(w(db, t), invitee_user_id="N", action="registration")
    with uow() as db:
        t = T0 + timedelta(days=1)
        reward = db.scalars(select(Coupon.id).where(Coupon.user_id == "N", Coupon.template_id == "rb")).one()
        coupons.lock(
            w(db, t),
            user_id="N",
            order_id="o3",
            coupon_ids=[reward],
            cart=[CartLine(item_id="y", price_fen=5000)],
        )
        service.order_paid(
            w(db, t),
            order_id="o3",
            user_id="N",
            paid_fen=4700,
            coupon_ids=[reward],
            flash_reservation_id=None,
        )
    return ids


def paid(db: Any, order_ids: set[str]) -> int:
    return int(
        db.scalar(
            select(func.coalesce(func.sum(PaidOrder.paid_fen), 0)).where(PaidOrder.order_id.in_(order_ids))
        )
    )


def new_users(db: Any, user_ids: set[str], start: datetime, end: datetime) -> int:
    seen = dict(db.execute(select(User.id, User.created_at).where(User.id.in_(user_ids))).all())
    return sum(1 for u in user_ids if start <= seen[u] < end)


def expected(db: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """Each activity's figures recomputed from its rows with the documented definitions."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    window_end = min(T0 + timedelta(days=7), NOW)

    def coupon_figures(rows: list[Any], stock_left: int | None) -> dict[str, Any]:
        redeemed = [c for c in rows if c.status == "redeemed"]
        return {
            "participants": len({c.user_id for c in rows}),
            "orders": len({c.order_id for c in redeemed}),
            "gmv_fen": paid(db, {c.order_id for c in redeemed}),
            "discount_fen": sum(c.discount_fen for c in redeemed),
            "refunds": 0,
            "new_users_shared": 0,
            "stock_left": stock_left,
        }

    for tid in ("c1", "ra", "rb"):
        out[("coupon-templates", tid)] = coupon_figures(
            list(db.scalars(select(Coupon).where(Coupon.template_id == tid))), None
        )
    for sid in ("s0", "s1"):
        items = list(db.scalars(select(FlashItem).where(FlashItem.session_id == sid)))
        res = list(
            db.scalars(
                select(FlashReservation).where(FlashReservation.flash_item_id.in_([i.id for i in items]))
            )
        )
        price = {i.id: (i.original_price_fen, i.price_fen) for i in items}
        won = [r for r in res if r.status == "paid"]
        out[("flash-sessions", sid)] = {
            "participants": len({r.user_id for r in res}),
            "orders": len(won),
            "gmv_fen": paid(db, {r.order_id for r in won}),
            "discount_fen": sum(
                (price[r.flash_item_id][0] - price[r.flash_item_id][1]) * r.quantity for r in won
            ),
            "refunds": 0,
            "new_users_shared": 0,
            "stock_left": sum(i.stock for i in items),
        }
    members = list(
        db.scalars(
            select(GroupMember).join(Group, Group.id == GroupMember.group_id).where(Group.campaign_id == "gc")
        )
    )
    out[("group-campaigns", "gc")] = {
        "participants": len({m.user_id for m in members}),
        "orders": len(members),
        "gmv_fen": sum(m.paid_fen for m in members),
        "discount_fen": sum(1000 - m.paid_fen for m in members),
        "refunds": 0,
        "new_users_shared": new_users(db, {m.user_id for m in members if not m.is_leader}, T0, window_end),
        "stock_left": None,
    }
    bargains = list(db.scalars(select(Bargain).where(Bargain.campaign_id == "bc")))
    done = [b for b in bargains if b.status == "completed"]
    helpers = set(db.scalars(select(BargainHelp.helper_user_id)))
    out[("bargain-campaigns", "bc")] = {
        "participants": len({b.user_id for b in bargains}),
        "orders": len(done),
        "gmv_fen": sum(b.current_price_fen for b in done),
        "discount_fen": sum(b.price_fen - b.current_price_fen for b in done),
        "refunds": 0,
        "new_users_shared": new_users(db, helpers, T0, window_end),
        "stock_left": None,
    }
    bindings = list(db.scalars(select(ReferralBinding).where(ReferralBinding.program_id == "rp")))
    invitees = {b.invitee_user_id for b in bindings}
    orders = list(db.scalars(select(PaidOrder).where(PaidOrder.user_id.in_(invitees))))
    rewards = [f"ref:{b.id}:{side}" for b in bindings for side in ("invitee", "referrer")]
    reward_off = db.scalar(
        select(func.coalesce(func.sum(Coupon.discount_fen), 0)).where(
            Coupon.claim_key.in_(rewards), Coupon.status == "redeemed"
        )
    )
    out[("referral-programs", "rp")] = {
        "participants": int(db.scalar(select(func.count()).select_from(InviteCode))),
        "orders": len(orders),
        "gmv_fen": sum(o.paid_fen for o in orders),
        "discount_fen": int(reward_off),
        "refunds": 0,
        "new_users_shared": len(invitees),  # bindings: a program binds only new users
        "stock_left": None,
    }
    return out


def test_list_figures_and_results_match_the_rows(uow: Any, runtime: Any) -> None:
    run_everything(uow, runtime)
    with uow() as db:
        want = expected(db)
        # the scenario is not degenerate: each mechanic has takers, orders and (where it can) new users
        assert all(f["participants"] and f["orders"] for k, f in want.items() if k[1] not in ("ra",))
        assert want[("group-campaigns", "gc")]["new_users_shared"] == 1
        work = at(db, runtime, NOW)
        got = service.activities(work, (T0 - timedelta(days=1)).date(), NOW.date())
        assert {(a.kind, a.id): a.figures.model_dump() for a in got} == want

        # results of the 秒杀 session: funnel, cost with the commission C's order earned, the baseline before
        r = service.activity_results(work, "flash-sessions", "s1")
        s1 = want[("flash-sessions", "s1")]
        res = list(db.scalars(select(FlashReservation).where(FlashReservation.flash_item_id == "f-s1")))
        buyers = {x.user_id for x in res if x.status == "paid"}
        assert r.funnel.model_dump() == {
            "participants": s1["participants"],
            "converted": len({x.user_id for x in res} & buyers),
            "orders": s1["orders"],
            "gmv_fen": s1["gmv_fen"],
        }
        commission = db.scalar(
            select(func.sum(Commission.amount_fen)).where(
                Commission.order_id.in_({x.order_id for x in res if x.order_id})
            )
        )
        assert (r.cost.discount_fen, r.cost.commission_fen, r.cost.points) == (
            s1["discount_fen"],
            commission,
            0,
        )
        assert commission and commission > 0
        length = r.period_end - r.period_start
        before = [
            x
            for x in db.scalars(select(FlashReservation))
            if r.period_start - length <= x.reserved_at < r.period_start
        ]
        assert (r.previous.funnel.participants, r.previous.funnel.orders) == (
            len({x.user_id for x in before}),
            sum(1 for x in before if x.status == "paid"),
        )
        assert r.previous.funnel.orders > 0
        assert (
            sum(d.orders for d in r.daily) == s1["orders"]
            and sum(d.gmv_fen for d in r.daily) == s1["gmv_fen"]
        )

        # results of the 拼团: sharing counts the joins through a leader's share; K = new users / participants
        g = service.activity_results(work, "group-campaigns", "gc")
        gc = want[("group-campaigns", "gc")]
        joins = list(
            db.scalars(
                select(GroupMember)
                .join(Group, Group.id == GroupMember.group_id)
                .where(Group.campaign_id == "gc")
            )
        )
        assert g.sharing.model_dump() == {
            "sharers": len({m.group_id for m in joins if not m.is_leader}),
            "share_opens": sum(1 for m in joins if not m.is_leader),
            "new_users": gc["new_users_shared"],
            "k_factor": round(gc["new_users_shared"] / gc["participants"], 4),
        }
        first, last = (t.astimezone(work.tz).date() for t in (g.period_start, g.period_end))
        assert [d.day for d in g.daily] == [first + timedelta(days=n) for n in range((last - first).days + 1)]
        assert sum(d.participants for d in g.daily) == gc["participants"]  # each joined on one day
