"""The demo app's operational state, built through the same service functions the API's routes and flows call.

The generator writes the mini-program's own events; the facts a server decides (a check-in, a claimed coupon,
a paid order and the coupon it used) are taken out of the import and replayed here, in time order, through
loyalty, promotions and the orders flow, each with `now` = the moment the generator chose. So the points,
streaks, tiers, coupons, referrals and commissions the console shows are what those services made of the
history, and the events they emit (through the outbox) are the ones the dashboard counts.

Deterministic for a spec: every choice below is a function of the spec and the generated rows; ids the
services draw at random (coupon, reservation ids) are never used to decide anything.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
from sqlalchemy.orm import Session

from huoli.apps import service as apps
from huoli.apps.models import App
from huoli.apps.schemas import AppUpdate
from huoli.audit import service as audit
from huoli.backup import service as backup
from huoli.db import unit_of_work
from huoli.demo import catalog as demo_catalog
from huoli.demo.generator import EXPERIMENTS, DemoExperiment, experiment_window
from huoli.demo.marketing import plan_calendar
from huoli.demo.wechat import DEMO_MCHID, DEMO_MERCHANT_SERIAL, DEMO_PLATFORM_KEY_ID, DEMO_WX_APPID, DemoKeys
from huoli.errors import HuoliError, ValidationFailed
from huoli.events.service import relay_outbox
from huoli.experiments import service as experiments
from huoli.experiments.schemas import ExperimentCreate, HoldoutCreate
from huoli.flags import service as flags
from huoli.flags.schemas import FlagCreate
from huoli.loyalty import badges, checkin, mall, members, tasks
from huoli.loyalty import service as loyalty
from huoli.loyalty.context import Ctx, load_rules, save_rules
from huoli.loyalty.schemas import BadgeIn, LoyaltyRules, MallItemIn, Reward, TaskIn
from huoli.orders import flows as orders
from huoli.orders.schemas import GroupBuyIn, OrderPaidIn
from huoli.privacy import consents
from huoli.privacy import flows as privacy_flows
from huoli.promotions import bargain, coupons, distribution, flashsale, groupbuy, payments, referrals
from huoli.promotions import flows as promotion_flows
from huoli.promotions import service as promotions
from huoli.promotions.schemas import (
    BargainCampaignIn,
    CouponTemplateIn,
    DistributionConfigIn,
    FlashItemIn,
    FlashSessionIn,
    GroupCampaignIn,
    ReferralProgramIn,
)
from huoli.runtime import Runtime
from huoli.work import Caller, Work, open_work, work_in

# Server facts of the generated history: replayed through the services instead of imported.
REPLAYED = ("checkin", "coupon_claimed", "coupon_redeemed", "order_paid")

_DAY = dt.timedelta(days=1)
_CALLER = Caller("cli", "demo")  # the demo builder, as a CLI command would be recorded
# Every buyer of the last LIVE_DAYS days (inside the 7 the orders API accepts a paid_at in) and MEMBERS check-in
# regulars go through the services; the rest of the history is imported, as `huoli import` would load it.
LIVE_DAYS = 3
MEMBERS = 40


@dataclass
class StateSummary:
    checkins: int = 0
    coupons_claimed: int = 0
    orders_paid: int = 0
    coupons_redeemed: int = 0
    orders_without_coupon: int = 0  # the coupon had expired by the order: paid without it, as a shop would
    referrals_bound: int = 0
    distribution_bindings: int = 0
    events_relayed: int = 0
    experiments: dict[str, str] = field(default_factory=dict)  # key → stopped / running / why not created
    refunds: dict[str, int] = field(default_factory=dict)  # promotions' process_refunds outcome counts
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Fact:
    ts: dt.datetime
    kind: str
    user_id: str
    ref: str | None = None  # order id, generated coupon id, sharer
    amount_fen: int = 0
    coupon: str | None = None  # generated coupon id redeemed on an order
    template: str | None = None


def _pick(key: str, n: int) -> int:
    """A stable choice in range(n) from a string (never Python's salted hash)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % n


def _cast_sql(parts: str, recent_since: dt.datetime, members: int) -> str:
    """The users whose server facts the services replay: every buyer of the last week, plus `members` of the
    check-in regulars (chosen by a hash of their id, so the same for a spec)."""
    return f"""
        SELECT DISTINCT user_id FROM read_parquet('{parts}')
        WHERE name = 'order_paid' AND ts >= TIMESTAMPTZ '{recent_since.isoformat()}'
        UNION
        (SELECT user_id FROM read_parquet('{parts}') WHERE name = 'checkin'
         GROUP BY user_id ORDER BY md5(user_id) LIMIT {members})
    """


def read_facts(
    parts: str, *, recent_since: dt.datetime, members: int
) -> tuple[list[_Fact], dict[str, dt.datetime], list[str]]:
    """The cast's replayed facts and every share open (time order), each user's first event time, the cast."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"CREATE TABLE cast_users AS {_cast_sql(parts, recent_since, members)}")
        names = ", ".join(f"'{n}'" for n in REPLAYED)
        rows = con.execute(
            f"""
            SELECT ts, name, user_id, order_id, amount_fen, coupon_id,
                   json_extract_string(properties, '$.template_id')
            FROM read_parquet('{parts}')
            WHERE name IN ({names}) AND user_id IN (SELECT user_id FROM cast_users)
            ORDER BY ts, user_id, name
            """
        ).fetchall()
        shares = con.execute(
            f"SELECT ts, user_id, sharer_id FROM read_parquet('{parts}') WHERE name = 'share_open' "
            "ORDER BY ts, user_id"
        ).fetchall()
        first_seen = dict(
            con.execute(f"SELECT user_id, min(ts) FROM read_parquet('{parts}') GROUP BY 1").fetchall()
        )
        cast = [u for (u,) in con.execute("SELECT user_id FROM cast_users ORDER BY 1").fetchall()]
    finally:
        con.close()
    redeemed = {r[3]: r[5] for r in rows if r[1] == "coupon_redeemed"}  # order id → coupon it used
    facts: list[_Fact] = []
    for ts, name, user, order_id, amount, coupon, template in rows:
        if name == "checkin":
            facts.append(_Fact(ts, "checkin", user))
        elif name == "coupon_claimed":
            facts.append(_Fact(ts, "claim", user, ref=coupon, template=template))
        elif name == "order_paid":
            facts.append(
                _Fact(ts, "order", user, ref=order_id, amount_fen=int(amount), coupon=redeemed.get(order_id))
            )
    for ts, user, sharer in shares:
        facts.append(_Fact(ts, "share_open", user, ref=sharer))
    facts.sort(key=lambda f: (f.ts, f.user_id, f.kind))
    return facts, first_seen, cast


def write_client_events(parts: str, out: Path, cast: list[str]) -> Path:
    """The generated events minus the cast's replayed server facts, as one Parquet file to import."""
    names = ", ".join(f"'{n}'" for n in REPLAYED)
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE cast_users (user_id VARCHAR)")
        con.executemany("INSERT INTO cast_users VALUES (?)", [(u,) for u in cast])
        con.execute(
            f"COPY (SELECT * FROM read_parquet('{parts}') "
            f"WHERE NOT (name IN ({names}) AND user_id IN (SELECT user_id FROM cast_users))) "
            f"TO '{out}' (FORMAT parquet, COMPRESSION zstd)"
        )
    finally:
        con.close()
    return out


# --- configuration: what a shop's operator would set up on its first day -----------------------------


def _templates(start: dt.datetime, end: dt.datetime) -> list[CouponTemplateIn]:
    """The generator's five coupon templates plus the reward templates the loyalty and referral rules issue."""
    mid = start + (end - start) * 0.6

    def t(tid: str, name: str, off: int, threshold: int = 0, **more: Any) -> CouponTemplateIn:
        kind = "threshold" if threshold else "fixed"
        base = {"per_user_limit": 20} | more
        return CouponTemplateIn(id=tid, name=name, kind=kind, amount_fen=off, threshold_fen=threshold, **base)

    return [
        t("cpn_new_user_500", "新人无门槛5元", 500, valid_days=7),
        t("cpn_full_99_10", "满99减10", 1000, 9900, valid_days=14),
        t("cpn_full_199_30", "满199减30", 3000, 19900, valid_days=5),
        # A finished campaign: its window closed before the end of the history.
        t("cpn_double11_50", "双十一满299减50", 5000, 29900, valid_from=start, valid_until=mid),
        t("cpn_free_ship", "包邮券", 600, valid_days=2),
        t("checkin_7", "连续签到7天奖励", 300, valid_days=14, claim_trigger="reward"),
        t("ref_referrer", "邀请有礼·邀请人", 1000, valid_days=30, per_user_limit=100, claim_trigger="reward"),
        t("ref_invitee", "邀请有礼·新人", 800, valid_days=30, per_user_limit=1, claim_trigger="reward"),
    ]


def _rules(rules: LoyaltyRules) -> LoyaltyRules:
    """Tier thresholds a 30-day-old shop's members can reach (the defaults are for a year of spending)."""
    doc = rules.model_dump()
    for level, growth in zip(doc["tiers"]["levels"], (0, 150, 600, 2000), strict=False):
        level["min_growth"] = growth
    # 会员日: the 8th of each month, order points doubled
    doc["tiers"].update(member_day=8, member_day_multiplier=2.0, member_day_note="全场会员价再享 95 折")
    # tier coupons from the demo's own templates (the defaults name templates a new shop creates first)
    for level, monthly in zip(
        doc["tiers"]["levels"], ([], [], ["cpn_free_ship"], ["cpn_free_ship", "cpn_full_99_10"]), strict=False
    ):
        level.update(monthly_coupons=monthly, birthday_gift=None)
    # a first rung members reach in their first week, before the 7-day coupon
    doc["checkin"]["streak_rewards"].insert(0, {"day": 3, "reward": {"type": "points", "amount": 10}})
    return LoyaltyRules.model_validate(doc)


# The tasks members see from day one (sharing itself is never a task: the invite task counts the invitee's order).
_TASKS = [
    TaskIn(
        code="daily_checkin",
        name="每日签到",
        kind="daily",
        event="checkin",
        rewards=[Reward(type="points", amount=2)],
    ),
    TaskIn(
        code="first_order",
        name="完成首单",
        kind="newcomer",
        event="order_paid",
        rewards=[Reward(type="points", amount=50), Reward(type="badge", ref="first_order")],
    ),
    TaskIn(
        code="invite_first_order",
        name="邀请好友完成首单",
        kind="achievement",
        event="order_paid",
        credit="inviter",
        rewards=[Reward(type="coupon", ref="ref_referrer")],
    ),
]


_BADGES = [
    BadgeIn(code="checkin_30", name="签到达人", description="连续签到30天"),
    BadgeIn(code="first_order", name="首单达成", description="完成第一笔订单"),
    BadgeIn(code="big_spender", name="剁手王", description="累计消费满500元"),
]


# --- the replay ---------------------------------------------------------------------------------------


class _Builder:
    def __init__(self, rt: Runtime, app: App, summary: StateSummary) -> None:
        self.rt, self.app, self.summary = rt, app, summary
        self.settings = rt.settings
        self.coupon_of: dict[str, str] = {}  # generated coupon id → the coupon the service issued
        self.first_seen: dict[str, dt.datetime] = {}
        self.spent: dict[str, int] = {}
        self.distributors: set[str] = set()
        self.codes: dict[str, str] = {}  # referrer → invite code

    @contextmanager
    def unit(self) -> Iterator[Session]:
        with unit_of_work(self.rt.sessions, app_id=self.app.id) as db:
            yield db

    def w(self, db: Session, now: dt.datetime) -> Work:
        """The unit's Work at one moment of the history (each replayed fact has its own `now`)."""
        return work_in(db, self.rt, self.app, _CALLER, now)

    def ctx(self, db: Session, now: dt.datetime) -> Ctx:
        return loyalty.context_for(db, app_id=self.app.id, now=now, settings=self.settings, app=self.app)

    def configure(self, start: dt.datetime, end: dt.datetime, sharers: list[str]) -> None:
        with self.unit() as db:
            for spec in _templates(start, end):
                coupons.create_template(self.w(db, start), spec=spec)
            save_rules(db, self.app.id, _rules(load_rules(db, self.app.id)), start)
            ctx = self.ctx(db, start)
            for b in _BADGES:
                badges.define(db, ctx, b)
            for task in _TASKS:
                tasks.define(db, ctx, task)
            referrals.create_program(
                self.w(db, start),
                spec=ReferralProgramIn(
                    id="invite_friends",
                    name="邀请好友首单各得红包",
                    referrer_template_id="ref_referrer",
                    invitee_template_id="ref_invitee",
                    new_user_window_s=7 * 86400,
                ),
            )
            distribution.configure(
                self.w(db, start),
                spec=DistributionConfigIn(levels=2, level1_bp=800, level2_bp=200, freeze_days=7),
            )
            # The most active sharers are the shop's distributors (分销员) and referrers from day one.
            for i, user in enumerate(sharers):
                parent = sharers[0] if i > 0 and i % 4 == 0 else None
                distribution.join(self.w(db, start), user_id=user, invited_by=parent)
                self.distributors.add(user)
                code = referrals.invite_code(self.w(db, start), program_id="invite_friends", user_id=user)
                self.codes[user] = code.code

    def batch(self, facts: list[_Fact]) -> None:
        """Check-ins, claims and share opens of one stretch between two orders, in one unit of work."""
        if not facts:
            return
        with self.unit() as db:
            for f in facts:
                if f.kind == "checkin":
                    checkin.check_in(db, self.ctx(db, f.ts), user_id=f.user_id)
                    self.summary.checkins += 1
                elif f.kind == "claim":
                    self.claim(db, f)
                elif f.kind == "share_open":
                    self.share_open(db, f)

    def claim(self, db: Session, f: _Fact) -> None:
        assert f.ref is not None and f.template is not None
        template = f.template
        if template == "cpn_double11_50":
            t = coupons.get_template(db, template)
            if t.valid_until is not None and f.ts >= t.valid_until:
                template = "cpn_full_99_10"  # the 双十一 campaign is over: the banner shows the everyday one
        coupon, _ = coupons.claim(
            self.w(db, f.ts), template_id=template, user_id=f.user_id, claim_key=f"demo:{f.ref}"
        )
        self.coupon_of[f.ref] = coupon.id
        self.summary.coupons_claimed += 1

    def share_open(self, db: Session, f: _Fact) -> None:
        sharer = f.ref
        if sharer is None or sharer not in self.distributors:
            return
        first = self.first_seen.get(f.user_id)
        if first is not None and f.ts - first < dt.timedelta(minutes=1):  # a new user arriving on the card
            try:
                referrals.bind(
                    self.w(db, f.ts),
                    code=self.codes[sharer],
                    invitee_user_id=f.user_id,
                    invitee_created_at=first,
                )
                self.summary.referrals_bound += 1
            except HuoliError:
                pass  # self-referral or no longer new: the page shows the refusal, nothing is written
        if distribution.bind_customer(
            self.w(db, f.ts), customer_user_id=f.user_id, distributor_user_id=sharer
        ):
            self.summary.distribution_bindings += 1

    def order(self, f: _Fact, *, group_buy: GroupBuyIn | None = None, flash: str | None = None) -> Any:
        """One signed order-paid call through the orders flow, as the merchant backend makes it."""
        assert f.ref is not None
        coupon = self.coupon_of.get(f.coupon) if f.coupon else None
        body = OrderPaidIn(
            order_id=f.ref,
            user_id=f.user_id,
            paid_fen=f.amount_fen,
            paid_at=f.ts,
            coupon_ids=[coupon] if coupon else [],
            group_buy=group_buy,
            flash_reservation_id=flash,
        )
        server = Caller(
            "server"
        )  # the merchant backend's signed call; one unit per order, as its route opens
        try:
            with open_work(self.rt, self.app, server, now=f.ts) as work:
                out, _ = orders.settle_paid(work, body, f.user_id, None)
        except HuoliError as exc:
            if exc.code != "coupon_unavailable":
                raise
            # The coupon expired before the order: the shopper pays full price (the unit rolled back whole).
            body = body.model_copy(update={"coupon_ids": []})
            with open_work(self.rt, self.app, server, now=f.ts) as work:
                out, _ = orders.settle_paid(work, body, f.user_id, None)
            self.summary.orders_without_coupon += 1
        self.summary.orders_paid += 1
        self.summary.coupons_redeemed += len(out.promotions["redeemed_coupons"])
        before = self.spent.get(f.user_id, 0)
        self.spent[f.user_id] = before + f.amount_fen
        if before == 0 or (before < 50_000 <= before + f.amount_fen):
            with self.unit() as db:
                ctx = self.ctx(db, f.ts)
                badges.award(
                    db,
                    ctx,
                    user_id=f.user_id,
                    code="first_order" if before == 0 else "big_spender",
                    source="demo",
                )
        return out

    def replay(self, facts: list[_Fact]) -> None:
        pending: list[_Fact] = []
        for f in facts:
            if f.kind == "order":
                self.batch(pending)
                pending = []
                self.order(f)
            else:
                pending.append(f)
        self.batch(pending)


# --- what is live today ---------------------------------------------------------------------------------


def _live(b: _Builder, now: dt.datetime, regulars: list[str], tz: ZoneInfo) -> None:
    """Today's campaigns: a running flash sale with stock sold, a group buy filling up and one that failed, a
    bargain half helped, a targeted coupon batch; then the periodic jobs (expiries, commission credits)."""
    today = dt.datetime.combine(now.astimezone(tz).date(), dt.time(), tzinfo=tz)
    with b.unit() as db:
        flashsale.create_session(
            b.w(db, now - _DAY),
            spec=FlashSessionIn(
                id="flash-today",
                name="今日10点秒杀",
                starts_at=now - dt.timedelta(hours=1),
                ends_at=now + dt.timedelta(hours=3),
            ),
        )
        flashsale.create_item(
            b.w(db, now - _DAY),
            spec=FlashItemIn(
                id="flash-airpods",
                session_id="flash-today",
                item_id="sku_00042",
                price_fen=59_900,
                original_price_fen=99_900,
                stock=50,
            ),
        )
        flashsale.create_session(
            b.w(db, now - _DAY),
            spec=FlashSessionIn(
                id="flash-tomorrow",
                name="明日10点秒杀",
                starts_at=today + _DAY + dt.timedelta(hours=10),
                ends_at=today + _DAY + dt.timedelta(hours=12),
            ),
        )
        flashsale.create_item(
            b.w(db, now - _DAY),
            spec=FlashItemIn(
                id="flash-coffee",
                session_id="flash-tomorrow",
                item_id="sku_00007",
                price_fen=1_990,
                original_price_fen=4_990,
                stock=300,
            ),
        )
        for spec in (
            GroupCampaignIn(
                id="group-tea",
                name="三人团·明前龙井",
                item_id="sku_00011",
                original_price_fen=12_800,
                group_price_fen=8_800,
                size=3,
                duration_s=2 * 86400,
                # this week's 拼团: opened three days ago, runs to the end of the week
                starts_at=now - 3 * _DAY,
                ends_at=today + 4 * _DAY,
            ),
            BargainCampaignIn(
                id="bargain-kettle",
                name="砍价免费拿·保温杯",
                item_id="sku_00023",
                price_fen=9_900,
                floor_fen=0,
                helpers_needed=5,
                duration_s=2 * 86400,
                starts_at=now - 3 * _DAY,
                ends_at=today + 7 * _DAY,
            ),
            # last week's 砍价, over: the calendar and the list show it ended
            BargainCampaignIn(
                id="bargain-teaset",
                name="砍价0元拿·旅行茶具",
                item_id="sku_00031",
                price_fen=15_900,
                floor_fen=0,
                helpers_needed=8,
                starts_at=today - 10 * _DAY,
                ends_at=today - 3 * _DAY,
            ),
        ):
            if isinstance(spec, GroupCampaignIn):
                groupbuy.create_campaign(b.w(db, now - 3 * _DAY), spec=spec)
            else:
                bargain.create_campaign(b.w(db, min(now - 3 * _DAY, spec.starts_at or now)), spec=spec)
    # Flash sale: 38 of 50 units sold in the first hour; the last winners are still in their 15-minute pay window.
    t = now - dt.timedelta(minutes=55)
    for i, user in enumerate(regulars[:38]):
        with b.unit() as db:
            r = flashsale.attempt(b.w(db, t), flash_item_id="flash-airpods", user_id=user, quantity=1)
        if i < 33:
            b.order(
                _Fact(t + dt.timedelta(minutes=2), "order", user, ref=f"of{i:05d}", amount_fen=59_900),
                flash=r.id,
            )
        t += dt.timedelta(seconds=80)
    # Group buys: one opened two days ago that never filled (failed, refund owed), one filling now.
    failed = b.order(
        _Fact(now - dt.timedelta(days=2, hours=3), "order", regulars[40], ref="og00001", amount_fen=8_800),
        group_buy=GroupBuyIn(campaign_id="group-tea"),
    )
    live = b.order(
        _Fact(now - dt.timedelta(hours=5), "order", regulars[41], ref="og00002", amount_fen=8_800),
        group_buy=GroupBuyIn(campaign_id="group-tea"),
    )
    gid = live.promotions["group_buy"]["group_id"]
    b.order(
        _Fact(now - dt.timedelta(hours=2), "order", regulars[42], ref="og00003", amount_fen=8_800),
        group_buy=GroupBuyIn(campaign_id="group-tea", group_id=gid),
    )
    assert failed.promotions["group_buy"]["group_id"] != gid
    # Bargain: started this morning, two of five friends helped.
    with b.unit() as db:
        br = bargain.start(
            b.w(db, now - dt.timedelta(hours=4)), campaign_id="bargain-kettle", user_id=regulars[43]
        )
        for k, helper in enumerate(regulars[44:46]):
            bargain.help_bargain(
                b.w(db, now - dt.timedelta(hours=3 - k)), bargain_id=br.id, helper_user_id=helper
            )
        coupons.issue_to_users(
            b.w(db, now - dt.timedelta(hours=6)),
            template_id="cpn_full_199_30",
            user_ids=regulars[:20],
            batch_key="demo-vip-recall",
        )
        # Last week's free-shipping recall went mostly unused: those coupons expire at the job below.
        coupons.issue_to_users(
            b.w(db, now - 5 * _DAY),
            template_id="cpn_free_ship",
            user_ids=regulars[20:40],
            batch_key="demo-ship-recall",
        )
        # Consents: everyone active lately authorised the privacy guide; some said yes to marketing, a few opted out.
        for i, user in enumerate(regulars):
            decisions = [consents.Decision("privacy_policy", True, "2026-01")]
            if i % 3 == 0:
                decisions.append(consents.Decision("marketing_messages", True, "2026-01"))
            if i % 11 == 5:
                decisions.append(consents.Decision("personalised_recommendations", False, "2026-01"))
            consents.record(
                db,
                user_id=user,
                decisions=decisions,
                origin=consents.Origin("sdk"),
                now=now - dt.timedelta(days=1),
            )
    # The periodic jobs, as the scheduler would have run them by now.
    with b.unit() as db:
        promotions.run_jobs(b.w(db, now))
    with b.unit() as db:
        ctx = b.ctx(db, now)
        for job in ("tiers", "compact-boards"):
            loyalty.run_job(db, ctx, job=job)


def _mall_items(now: dt.datetime) -> list[MallItemIn]:
    return [
        MallItemIn(
            id="mall_cpn_99_10",
            name="满99减10券",
            kind="coupon",
            ref="cpn_full_99_10",
            points=200,
            stock=500,
            per_user_limit=2,
            starts_at=now - 20 * _DAY,
        ),
        MallItemIn(
            id="mall_tote",
            name="品牌帆布袋",
            kind="goods",
            ref="sku_00063",
            points=1500,
            stock=50,
            per_user_limit=1,
        ),
        MallItemIn(id="mall_vip_service", name="专属客服 30 天", kind="privilege", points=800, active=False),
        MallItemIn(
            id="mall_1212",
            name="双12 满199减30券",
            kind="coupon",
            ref="cpn_full_199_30",
            points=600,
            stock=200,
            per_user_limit=1,
            starts_at=now + 4 * _DAY,
            ends_at=now + 6 * _DAY,
        ),
    ]


def _loyalty_mall(b: _Builder, now: dt.datetime) -> None:
    """积分商城 items, the biggest spenders redeeming what their points buy, and a few operator changes to members
    (a tier set by hand, a badge awarded), each with its reason."""
    spenders = sorted(b.spent, key=lambda u: (-b.spent[u], u))
    with b.unit() as db:
        ctx = b.ctx(db, now - 25 * _DAY)
        for item in _mall_items(now):
            mall.upsert_item(db, ctx, item)
    for i, user in enumerate(spenders[:40]):
        item_id = "mall_tote" if i % 5 == 0 else "mall_cpn_99_10"
        try:
            with b.unit() as db:
                at = now - (i % 7 + 1) * _DAY
                mall.redeem(db, b.ctx(db, at), user_id=user, item_id=item_id, key=f"demo-{i}")
        except HuoliError:
            pass  # not enough points, or the limit: the member keeps the points, nothing is written
    with b.unit() as db:
        ctx = b.ctx(db, now - 2 * _DAY)
        if spenders:
            members.set_tier(
                db, ctx, user_id=spenders[0], tier="black", until=now + 60 * _DAY, reason="大客户专享"
            )
            members.award_badge(
                db, ctx, user_id=spenders[0], code="checkin_30", key="demo-top", reason="线下签到打卡活动冠军"
            )


def _flags_and_experiments(b: _Builder, inp: BuildInput) -> None:
    """Targeted flags, a finished experiment with its verdict and a running one (on the imported history)."""
    app_id, settings, now = b.app.id, b.settings, inp.now
    with b.unit() as db:
        flags.create_flag(
            db=db,
            app_id=app_id,
            flag_in=FlagCreate.model_validate(
                {
                    "key": "new_checkout",
                    "type": "bool",
                    "default_value": False,
                    "client_visible": True,
                    "rules": [
                        {
                            "id": "vip",
                            "description": "金卡以上先用新结算页",
                            "condition": {"tier": {"$in": ["gold", "black"]}},
                            "value": True,
                        },
                        {
                            "id": "staff",
                            "description": "员工灰度",
                            "condition": {"city": "杭州"},
                            "value": True,
                            "rollout": 0.5,
                        },
                    ],
                }
            ),
            now=now - 10 * _DAY,
            settings=settings,
        )
        for key, default in (("home_layout", "grid"), ("checkout_copy", "立即支付")):
            flags.create_flag(
                db=db,
                app_id=app_id,
                flag_in=FlagCreate.model_validate(
                    {"key": key, "type": "string", "default_value": default, "client_visible": True}
                ),
                now=inp.start,
                settings=settings,
            )
    for exp in EXPERIMENTS:
        _experiment(b, inp, exp)


# The demo experiments' metrics, each over the user's first 7 days in the experiment.
METRICS: dict[str, dict[str, Any]] = {
    "paid": {"kind": "conversion", "event": "order_paid", "window_days": 7},
    "checkout": {
        "kind": "ratio",
        "event": "order_paid",
        "denominator_event": "add_to_cart",
        "window_days": 7,
    },
    "cart": {"kind": "conversion", "event": "add_to_cart", "window_days": 7},
    "revenue": {"kind": "mean", "event": "order_paid", "property": "amount_fen", "window_days": 7},
}


def _experiment(b: _Builder, inp: BuildInput, exp: DemoExperiment) -> None:
    """Create, start (at its real start in the history) and, if it has ended, stop one of the generator's
    experiments: the exposures and the effect are in the history, the verdict is the statistics' own."""
    tz = ZoneInfo(b.app.timezone)
    days = (inp.end.astimezone(tz).date() - inp.start.astimezone(tz).date()).days
    window = experiment_window(days, exp)
    if window is None:
        b.summary.experiments[exp.key] = "outside the history"
        return
    start_day, stop_day = (inp.start.astimezone(tz).date() + dt.timedelta(days=d) for d in window)
    started = dt.datetime.combine(start_day, dt.time(), tzinfo=tz)
    stopped = dt.datetime.combine(stop_day, dt.time(), tzinfo=tz) if exp.stops_back is not None else None
    metrics = [{"key": k, **m} for k, m in METRICS.items()]
    spec = ExperimentCreate.model_validate(
        {
            "key": exp.key,
            "name": exp.name,
            "hypothesis": exp.hypothesis,
            "flag": exp.flag,
            "coverage": exp.coverage,
            "variants": [
                {"key": k, "value": v, "weight": w}
                for (k, v), w in zip(exp.variants, exp.weights, strict=True)
            ],
            "metrics": {
                "primary": [m for m in metrics if m["key"] == exp.primary],
                "secondary": [m for m in metrics if m["key"] != exp.primary],
            },
            "stats": {"method": exp.method, "sequential_tuning": 10_000},
            "planned_days": 14,
        }
    )
    try:
        with b.unit() as db:
            experiments.create(
                db=db, store=b.rt.store, app_id=b.app.id, exp_in=spec, now=started - dt.timedelta(hours=2)
            )
            experiments.start(db=db, key=exp.key, now=started, settings=b.settings, started_at=started)
            if stopped is not None:
                experiments.stop(db=db, key=exp.key, now=stopped, settings=b.settings)
    except ValidationFailed as exc:  # a tiny demo has too few users for the traffic check: no experiment
        b.summary.experiments[exp.key] = f"not created: {exc.details}"
        return
    b.summary.experiments[exp.key] = "stopped" if stopped is not None else "running"


def _holdout_and_privacy(b: _Builder, inp: BuildInput, regulars: list[str]) -> None:
    """A campaign holdout (who later campaigns leave out, to measure their uplift) and one member's data
    export (a PIPL request answered the way the console's button answers it)."""
    with b.unit() as db:
        experiments.create_holdout(
            db=db,
            app_id=b.app.id,
            holdout_in=HoldoutCreate(
                key="campaigns-5pct", name="营销活动留存组 5%", scope="campaign", percent=0.05
            ),
        )
    if regulars:
        with b.unit() as db:
            privacy_flows.export_in(db, b.rt, app_id=b.app.id, user_id=regulars[0], actor=audit.Actor.cli())


# --- demo only: the app's WeChat is the demo process's fake (demo/wechat.py) -----------------------------


def configure_wechat(rt: Runtime, app_id: str, keys: DemoKeys, now: dt.datetime) -> None:
    """The demo app logs in through the fake's jscode2session and refunds through its WeChat Pay merchant."""
    with unit_of_work(rt.sessions) as db:
        apps.update(
            db=db,
            app_id=app_id,
            changes=AppUpdate(wx_appid=DEMO_WX_APPID, wx_secret=keys.wx_secret),
        )
    with unit_of_work(rt.sessions, app_id=app_id) as db:
        row = payments.get(db, app_id)
        if row is None or row.platform_public_key_pem != keys.platform_public_pem:
            merchant = payments.MerchantIn(
                mch_id=DEMO_MCHID,
                merchant_serial=DEMO_MERCHANT_SERIAL,
                private_key_pem=keys.merchant_private_pem,
                api_v3_key=keys.api_v3_key,
                platform_key_id=DEMO_PLATFORM_KEY_ID,
                platform_public_key_pem=keys.platform_public_pem,
            )
            payments.put(db=db, app_id=app_id, spec=merchant, now=now)
    rt.app_cache.forget(app_id)


def pay_refunds(rt: Runtime, app_id: str, pay_url: str, now: dt.datetime) -> dict[str, int]:
    """The refunds owed (the failed group's) paid as the promotions.refunds job pays them, to the fake."""
    with promotion_flows.merchants(rt, base_url=pay_url) as merchants:
        return promotion_flows.process_refunds(
            rt, pay_for=lambda a: merchants(a) if a == app_id else None, clock=lambda: now
        )


@dataclass(frozen=True)
class BuildInput:
    parts: str  # glob of the generated Parquet parts
    start: dt.datetime  # first local midnight of the history
    end: dt.datetime  # local midnight after its last day
    now: dt.datetime
    wechat: tuple[DemoKeys, str] | None = (
        None  # the demo fake's keys and URL: pay the refunds owed through it
    )


def build(
    rt: Runtime, app: App, inp: BuildInput, *, facts: list[_Fact], first_seen: dict[str, dt.datetime]
) -> StateSummary:
    summary = StateSummary()
    b = _Builder(rt, app, summary)
    b.first_seen = first_seen
    tz = ZoneInfo(app.timezone)
    t0 = time.perf_counter()
    share_count: dict[str, int] = {}
    for f in facts:
        if f.kind == "share_open" and f.ref:
            share_count[f.ref] = share_count.get(f.ref, 0) + 1
    sharers = sorted(share_count, key=lambda u: (-share_count[u], u))[:30]
    b.configure(inp.start, inp.end, sharers)
    with b.unit() as db:  # the shop's catalog, synced by its backend this morning
        demo_catalog.sync(b.w(db, inp.now - dt.timedelta(hours=2)))
    b.replay(facts)
    summary.seconds["replay"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    recent = inp.end - 7 * _DAY
    active = sorted({f.user_id for f in facts if f.ts >= recent and f.kind == "order"})
    others = sorted({f.user_id for f in facts if f.ts >= recent} - set(active))
    rest = sorted(set(first_seen) - set(active) - set(others), key=lambda u: _pick(u, 1 << 30))
    regulars = (active + others + rest)[:60]  # today's shoppers: last week's buyers first
    _live(b, inp.now, regulars, tz)
    _loyalty_mall(b, inp.now)
    _flags_and_experiments(b, inp)
    _holdout_and_privacy(b, inp, regulars)
    if inp.wechat is not None:
        keys, url = inp.wechat
        configure_wechat(rt, app.id, keys, inp.now)
        summary.refunds = pay_refunds(rt, app.id, url, inp.now + dt.timedelta(minutes=1))
    summary.seconds["live"] = time.perf_counter() - t0
    plan_calendar(b.unit, b.w, inp.now)
    t0 = time.perf_counter()
    summary.events_relayed = relay_outbox(factory=rt.sessions, writer=rt.writer)
    summary.seconds["relay"] = time.perf_counter() - t0
    return summary


def take_backup(rt: Runtime, now: dt.datetime) -> Path:
    return backup.create_online(rt, now=now).path


__all__ = [
    "REPLAYED",
    "BuildInput",
    "StateSummary",
    "build",
    "configure_wechat",
    "pay_refunds",
    "read_facts",
    "take_backup",
    "write_client_events",
]
