"""The domains' privacy hooks on SQLite and PostgreSQL, seeded through the domains' own services: every table
that names a user is covered; promotions keeps money rows anonymised (amounts still add up per distributor)
and deletes the rest; other people's records keep their shape; Redis leaderboards lose the member."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from tests.promotions.helpers import at

from huoli.audit.service import Actor
from huoli.db import unit_of_work
from huoli.loyalty import leaderboards
from huoli.loyalty.context import make_ctx, save_rules
from huoli.models import Base
from huoli.privacy import flows, service
from huoli.promotions import bargain, coupons, distribution, referrals
from huoli.promotions.models import (
    Bargain,
    BargainHelp,
    Commission,
    DistributionBinding,
    Distributor,
    InviteCode,
    ReferralBinding,
)
from huoli.promotions.schemas import (
    BargainCampaignIn,
    CouponTemplateIn,
    DistributionConfigIn,
    ReferralProgramIn,
)
from huoli.runtime import Runtime

APP = "shop"
# Columns that hold a user's id (or a value standing for one) by their name.
USER_COLUMN = re.compile(r"(^|_)user_id$|^openid$|^unionid$|^unit_id$|^subject$|^attribute_value$")
# Tables that name a user and why no hook exports them.
NOT_EXPORTED = {"privacy_requests": "the record of the requests themselves, kept on purpose"}
# Tables whose rows name users another way (JSON, a payload, a primary key called id).
ALSO_COVERED = {"audit_entries", "event_outbox", "users"}


@pytest.fixture
def shop(make_app):  # type: ignore[no-untyped-def]
    return make_app(APP)


def uow(runtime: Runtime) -> Any:
    return unit_of_work(runtime.sessions, app_id=APP)


def erase(runtime: Runtime, user_id: str) -> dict[str, Any]:
    row = flows.erase(runtime, app_id=APP, user_id=user_id, actor=Actor.cli(), action="test erase")
    assert row.status == "completed" and row.result is not None
    return row.result


def test_every_table_that_names_a_user_has_a_hook(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    with uow(runtime) as db:
        exported = {
            t for tables in service.export_operational(db, app_id=APP, user_id="u_x").values() for t in tables
        }
    naming = {
        t.name for t in Base.metadata.sorted_tables if any(USER_COLUMN.search(c.name) for c in t.columns)
    }
    assert naming - exported - set(NOT_EXPORTED) == set(), "a table names users but no privacy hook covers it"
    assert exported >= ALSO_COVERED
    assert "server_nonces" not in exported  # merchant-backend request ids, not people


def test_promotions_delete_participation_and_anonymise_money(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    now = runtime.clock()
    with uow(runtime) as db:
        distribution.configure(
            at(db, runtime, now),
            spec=DistributionConfigIn(
                levels=2, level1_bp=1000, level2_bp=300, freeze_days=7, min_withdraw_fen=1000
            ),
        )
        distribution.join(at(db, runtime, now), user_id="top")
        distribution.join(at(db, runtime, now), user_id="mid", invited_by="top")
        distribution.bind_customer(at(db, runtime, now), customer_user_id="buyer", distributor_user_id="mid")
        for tid in ("ref_a", "ref_b"):
            coupons.create_template(
                at(db, runtime, now),
                spec=CouponTemplateIn(
                    id=tid,
                    name="邀请奖励",
                    kind="fixed",
                    amount_fen=500,
                    valid_days=30,
                    per_user_limit=100,
                    claim_trigger="reward",
                ),
            )
        referrals.create_program(
            at(db, runtime, now),
            spec=ReferralProgramIn(
                id="inv",
                name="邀请有礼",
                referrer_template_id="ref_a",
                invitee_template_id="ref_b",
                max_rewards_per_referrer=2,
            ),
        )
        code = referrals.invite_code(at(db, runtime, now), program_id="inv", user_id="mid").code
        referrals.bind(at(db, runtime, now), code=code, invitee_user_id="buyer", invitee_created_at=now)
        bargain.create_campaign(
            at(db, runtime, now),
            spec=BargainCampaignIn(
                id="b3",
                name="砍价",
                item_id="cup",
                price_fen=9900,
                floor_fen=0,
                helpers_needed=3,
                duration_s=86400,
            ),
        )
        mine = bargain.start(at(db, runtime, now), campaign_id="b3", user_id="mid").id
        theirs = bargain.start(at(db, runtime, now), campaign_id="b3", user_id="top").id
    with uow(runtime) as db:
        bargain.help_bargain(at(db, runtime, now), bargain_id=mine, helper_user_id="top")
        bargain.help_bargain(at(db, runtime, now), bargain_id=theirs, helper_user_id="mid")
        distribution.on_order_paid(
            at(db, runtime, now), order_id="o1", buyer_user_id="buyer", paid_fen=20_000
        )

    def commissions(db: Session) -> list[tuple[str, str, int]]:
        q = select(Commission.distributor_user_id, Commission.buyer_user_id, Commission.amount_fen)
        return sorted((d, b, int(a)) for d, b, a in db.execute(q))

    with uow(runtime) as db:
        assert commissions(db) == sorted([("mid", "buyer", 2000), ("top", "buyer", 600)])

    res = erase(runtime, "mid")["operational"]["promotions"]
    assert res["promo_distributors:anonymised"] == 1 and res["promo_commissions:anonymised"] == 1
    assert res["promo_bargains"] == 1 and res["promo_bargain_helps"] == 1  # hers, and top's help on it
    assert res["promo_bargain_helps:anonymised"] == 1  # her help on top's bargain
    assert res["promo_invite_codes"] == 1 and res["promo_referral_bindings:anonymised"] == 1
    with uow(runtime) as db:
        got = commissions(db)
        token = next(d for d, _, _ in got if d.startswith("erased_"))
        assert got == sorted([(token, "buyer", 2000), ("top", "buyer", 600)])  # amounts and levels kept
        d = db.scalars(select(Distributor).where(Distributor.user_id == token)).one()
        assert d.parent_user_id == "top" and d.frozen_fen == 2000
        assert db.scalars(select(DistributionBinding.distributor_user_id)).one() == token  # buyer's binding
        assert db.scalars(select(ReferralBinding.referrer_user_id)).one() == token
        assert db.scalar(select(func.count()).select_from(InviteCode)) == 0
        assert db.scalars(select(Bargain.user_id)).all() == ["top"]
        help_ = db.scalars(select(BargainHelp)).one()  # her cut in top's price stays, by nobody
        assert help_.bargain_id == theirs and help_.helper_user_id == token
        assert "mid" not in str(service.export_operational(db, app_id=APP, user_id="mid")["promotions"])

    res = erase(runtime, "buyer")["operational"]["promotions"]
    assert res["promo_distribution_bindings"] == 1 and res["promo_referral_bindings"] == 1
    assert res["promo_commissions:anonymised"] == 2
    with uow(runtime) as db:
        buyers = {b for _, b, _ in commissions(db)}
        assert len(buyers) == 1 and buyers.pop().startswith("erased_")
    res = erase(runtime, "top")["operational"]["promotions"]
    assert res["promo_distributors:anonymised"] == 2  # top's own row, and the parent link of the erased mid
    with uow(runtime) as db:
        assert not db.scalars(select(Distributor).where(Distributor.user_id == "top")).all()
        assert all(
            r.parent_user_id is None or r.parent_user_id.startswith("erased_")
            for r in db.scalars(select(Distributor))
        )


def test_redis_leaderboards_lose_the_member_after_the_commit(runtime: Runtime, shop) -> None:  # type: ignore[no-untyped-def]
    import redis

    prefix = f"t-{uuid.uuid4().hex[:8]}:"
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail("Redis is not running on 127.0.0.1:6379 (make test starts it)")
    with uow(runtime) as db:
        ctx = make_ctx(db, app_id=APP, now=runtime.clock(), settings=runtime.settings)
        rules = ctx.rules.model_copy(deep=True)
        rules.leaderboards.backend, rules.leaderboards.key_prefix = "redis", prefix
        save_rules(db, APP, rules, ctx.now)
    try:
        with uow(runtime) as db:
            ctx = make_ctx(db, app_id=APP, now=runtime.clock(), settings=runtime.settings)
            leaderboards.record(db, ctx, user_id="ann", board="steps", value=50)
            leaderboards.record(db, ctx, user_id="ben", board="steps", value=20)
        keys = sorted(k.decode() for k in client.scan_iter(match=f"{prefix}*"))
        assert len(keys) == 4 and all(client.zscore(k, "ann") == 50 for k in keys)
        with uow(runtime) as db:
            boards = service.export_operational(db, app_id=APP, user_id="ann")["loyalty"][
                "redis_leaderboards"
            ]
        assert sorted(b["period"] for b in boards)[0] == "all" and {b["board"] for b in boards} == {"steps"}
        assert all(b["score"] == 50 for b in boards) and any(b["period"].startswith("d:") for b in boards)
        res = erase(runtime, "ann")["operational"]["loyalty"]
        assert res["redis_leaderboards"] == 4
        assert all(client.zscore(k, "ann") is None and client.zscore(k, "ben") == 20 for k in keys)
    finally:
        for k in client.scan_iter(match=f"{prefix}*"):
            client.delete(k)
        client.close()
        with uow(runtime) as db:  # the rules cache is per process: leave the default back for other tests
            ctx = make_ctx(
                db, app_id=APP, now=runtime.clock() + timedelta(seconds=1), settings=runtime.settings
            )
            rules = ctx.rules.model_copy(deep=True)
            rules.leaderboards.backend = "sql"
            save_rules(db, APP, rules, ctx.now)
