"""The weekly review report: one ISO week (local Monday–Sunday in the app timezone) against the week before.

Every KPI is read from the analytics metrics (`huoli.analytics.service.run`), so the report and the
dashboard can never disagree; movers, experiments, campaigns and findings are read from their domains.
Nothing here writes: the report is a pure function of the stores and the clock.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import ibis

from huoli.analytics import service as analytics
from huoli.analytics.frame import Frame, MetricQuery, ratio, scene_groups
from huoli.analytics.rollup import PROMOTION_EVENTS
from huoli.analytics.timebase import day_number
from huoli.db import read_only
from huoli.diagnosis import service as diagnosis
from huoli.errors import ValidationFailed
from huoli.experiments import service as experiments
from huoli.promotions import service as promotions
from huoli.reports.weeks import IsoWeek, week_bounds_utc
from huoli.work import Caller, work_in

if TYPE_CHECKING:
    from huoli.apps.models import App
    from huoli.runtime import Runtime

Kind = Literal["count", "rate", "fen", "ms", "number"]
Label = dict[str, str]

MOVERS_TOP = 5
# A value must reach this many (users, views or events) in one of the two weeks, and this share of the
# dimension's weekly total, before its change is news: tiny counts swing by 100 % on noise.
MOVERS_MIN_COUNT = 20
MOVERS_MIN_SHARE = 0.005

# Participation events per promotion mechanic (the promotions domain's events; see docs/promotions.md).
MECHANICS: dict[str, tuple[Label, list[str]]] = {
    "coupons": ({"zh": "优惠券", "en": "Coupons"}, ["coupon_claimed", "coupon_redeemed"]),
    "flashsale": ({"zh": "秒杀", "en": "Flash sales"}, ["flashsale_reserved", "flashsale_paid"]),
    "groupbuy": ({"zh": "拼团", "en": "Group buys"}, ["group_opened", "group_joined"]),
    "bargain": ({"zh": "砍价", "en": "Bargains"}, ["bargain_started", "bargain_helped"]),
    "referral": ({"zh": "邀请有礼", "en": "Referrals"}, ["referral_bound", "referral_rewarded"]),
    "distribution": ({"zh": "分销", "en": "Distribution"}, ["distribution_bound", "commission_created"]),
}
assert set(PROMOTION_EVENTS) <= {e for _, evs in MECHANICS.values() for e in evs}


@dataclass
class Kpi:
    key: str
    group: str
    label: Label
    kind: Kind
    current: float | None
    previous: float | None
    good: Literal["up", "down"] = "up"
    change: float | None = None  # current − previous (points for rates)
    change_pct: float | None = None  # relative change; None when the previous value is 0 or unknown

    def __post_init__(self) -> None:
        if self.current is not None and self.previous is not None:
            self.change = self.current - self.previous
            self.change_pct = ratio(self.change, abs(self.previous)) if self.previous else None

    @property
    def trend(self) -> Literal["better", "worse", "flat", "unknown"]:
        if self.change is None:
            return "unknown"
        if self.change == 0:
            return "flat"
        return "better" if (self.change > 0) == (self.good == "up") else "worse"


@dataclass
class Mover:
    value: str
    label: str
    current: int
    previous: int
    change: int
    change_pct: float | None
    # This value's share of the dimension's total, this week minus last (points as a fraction): when
    # everything falls 20 %, the value whose share moved is the one that behaved differently.
    share_change: float | None = None


@dataclass
class MoverGroup:
    key: str
    label: Label
    measure: Label
    min_volume: int
    rows: list[Mover]


@dataclass
class WeeklyReport:
    app_id: str
    app_name: str
    tz: str
    week: IsoWeek
    previous_week: IsoWeek
    generated_at: dt.datetime
    kpis: list[Kpi]
    daily: list[dict[str, Any]]  # per local day of both weeks: date, week ("current"|"previous"), dau, …
    movers: list[MoverGroup]
    experiments: list[dict[str, Any]]
    promotions: dict[str, Any]
    findings: dict[str, Any]  # the doctor's diagnosis (Diagnosis.to_dict()) of the window ending on Sunday
    timings_ms: dict[str, float] = field(default_factory=dict)
    # the week's promotion activities with their results (promotions.activity_results), biggest GMV first
    activities: dict[str, Any] = field(default_factory=lambda: {"rows": [], "more": 0})

    def kpi(self, key: str) -> Kpi:
        return next(k for k in self.kpis if k.key == key)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["week"] = self.week.label
        out["previous_week"] = self.previous_week.label
        out["start"], out["end"] = self.week.monday.isoformat(), self.week.sunday.isoformat()
        out["generated_at"] = self.generated_at.isoformat()
        for k, kpi in zip(out["kpis"], self.kpis, strict=True):
            k["trend"] = kpi.trend
        return out


# ---- KPIs ---------------------------------------------------------------------------------------------


def _metric(runtime: Runtime, app: App, tz: str, name: str, week: IsoWeek, **spec: Any) -> tuple[Any, Any]:
    """(this week's result, the previous week's) for one analytics metric."""
    body = {"start": week.monday.isoformat(), "end": week.sunday.isoformat(), "tz": tz, "compare": True}
    res = analytics.run(runtime, app, name, {**body, **spec})
    return res["result"], res["previous"]["result"]


def _first(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return rows[0] if rows else {}


def _activity_kpis(cur: dict[str, Any], prev: dict[str, Any]) -> list[Kpi]:
    def summary(r: dict[str, Any]) -> dict[str, float | None]:
        s, t = r["series"], _first(r["totals"])
        sticky = [d["stickiness"] for d in s if d["stickiness"] is not None]
        return {
            "dau_avg": statistics.fmean(d["dau"] for d in s),
            "wau": s[-1]["wau"],
            "mau": s[-1]["mau"],
            "stickiness": statistics.fmean(sticky) if sticky else None,
            "new_users": t.get("new_visitors", 0),
            "opens": t.get("opens", 0),
            "page_visits": t.get("page_visits", 0),
            "stay_per_open_ms": t.get("stay_per_open_ms"),
            "visit_depth": t.get("visit_depth"),
            "bounce_rate": t.get("bounce_rate"),
        }

    c, p = summary(cur), summary(prev)
    spec: list[tuple[str, str, str, Kind, Literal["up", "down"]]] = [
        ("dau_avg", "日活（周均）", "DAU (weekly mean)", "number", "up"),
        ("wau", "周活跃用户", "WAU", "count", "up"),
        ("mau", "月活跃用户（周日）", "MAU (on Sunday)", "count", "up"),
        ("stickiness", "粘性 DAU/MAU（周均）", "Stickiness DAU/MAU (mean)", "rate", "up"),
        ("new_users", "新用户", "New users", "count", "up"),
        ("opens", "打开次数", "Opens", "count", "up"),
        ("page_visits", "访问次数", "Page visits", "count", "up"),
        ("stay_per_open_ms", "次均停留时长", "Stay per open", "ms", "up"),
        ("visit_depth", "平均访问深度", "Visit depth (pages per open)", "number", "up"),
        ("bounce_rate", "跳出率", "Bounce rate", "rate", "down"),
    ]
    return [
        Kpi(k, "activity", {"zh": zh, "en": en}, kind, c[k], p[k], good) for k, zh, en, kind, good in spec
    ]


def _retention_rate(result: dict[str, Any], period: int) -> float | None:
    mean = _first(result["weighted_mean"])
    rates = mean.get("rate") or []
    return rates[period] if len(rates) > period else None


def _kpis(
    runtime: Runtime, app: App, tz: str, week: IsoWeek, timings: dict[str, float]
) -> tuple[list[Kpi], list[dict[str, Any]]]:
    """The KPIs, and the daily activity of both weeks (for the chart)."""

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        try:
            return fn()
        finally:
            timings[name] = round((time.perf_counter() - t0) * 1000, 1)

    act_c, act_p = timed("activity", lambda: _metric(runtime, app, tz, "activity", week))
    kpis = _activity_kpis(act_c, act_p)
    daily = _daily(act_c, act_p)
    # D1 of this week's new users; D7 of last week's (their 7th day falls in this week, so it is complete).
    d1_c, d1_p = timed("retention_d1", lambda: _metric(runtime, app, tz, "retention", week, periods=1))
    d7_c, d7_p = timed(
        "retention_d7", lambda: _metric(runtime, app, tz, "retention", week.previous(), periods=7)
    )
    kpis += [
        Kpi(
            "d1_retention",
            "retention",
            {"zh": "新用户次日留存", "en": "New users' D1 retention"},
            "rate",
            _retention_rate(d1_c, 1),
            _retention_rate(d1_p, 1),
        ),
        Kpi(
            "d7_retention",
            "retention",
            {"zh": "上周新用户 7 日留存", "en": "Last week's new users' D7 retention"},
            "rate",
            _retention_rate(d7_c, 7),
            _retention_rate(d7_p, 7),
        ),
    ]
    conv_c, conv_p = timed("conversion", lambda: _metric(runtime, app, tz, "conversion", week))
    c, p = _first(conv_c), _first(conv_p)
    conv: list[tuple[str, str, str, Kind, Literal["up", "down"]]] = [
        ("order_rate", "下单转化率", "Order conversion", "rate", "up"),
        ("orders", "订单数", "Orders", "count", "up"),
        ("gmv_fen", "成交额 GMV", "GMV", "fen", "up"),
        ("aov_fen", "客单价", "Average order value", "fen", "up"),
        ("arpu_fen", "人均消费 ARPU", "ARPU", "fen", "up"),
        ("repurchase_rate", "复购率", "Repurchase rate", "rate", "up"),
        ("refunds_fen", "退款额", "Refunds", "fen", "down"),
        ("coupon_redeem_rate", "优惠券核销率", "Coupon redemption", "rate", "up"),
        ("promotion_participation_rate", "活动参与率", "Promotion participation", "rate", "up"),
    ]
    kpis += [
        Kpi(k, "conversion", {"zh": zh, "en": en}, kind, c.get(k), p.get(k), good)
        for k, zh, en, kind, good in conv
    ]
    int_c, int_p = timed("interaction", lambda: _metric(runtime, app, tz, "interaction", week))
    c, p = _first(int_c), _first(int_p)
    for k, zh, en in (
        ("share", "分享率", "Share rate"),
        ("favorite", "收藏率", "Favorite rate"),
        ("comment", "评论率", "Comment rate"),
    ):
        kpis.append(
            Kpi(
                f"{k}_rate",
                "interaction",
                {"zh": zh, "en": en},
                "rate",
                c[k]["rate"] if c else None,
                p[k]["rate"] if p else None,
            )
        )
    acq_c, acq_p = timed("acquisition", lambda: _metric(runtime, app, tz, "acquisition", week))
    sc, sp = acq_c["sharing"], acq_p["sharing"]
    kpis += [
        Kpi(
            "share_opens",
            "interaction",
            {"zh": "分享回流量", "en": "Opens from shares"},
            "count",
            sc["share_opens"],
            sp["share_opens"],
        ),
        Kpi(
            "k_factor",
            "interaction",
            {"zh": "K 因子", "en": "K factor"},
            "number",
            sc["k_factor"],
            sp["k_factor"],
        ),
    ]
    return kpis, daily


def _daily(cur: dict[str, Any], prev: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for label, result in (("previous", prev), ("current", cur)):
        for d in result["series"]:
            out.append(
                {
                    "date": d["date"],
                    "week": label,
                    "weekday": dt.date.fromisoformat(d["date"]).isoweekday(),
                    "dau": d["dau"],
                    "new_users": d["new_visitors"],
                    "opens": d["opens"],
                }
            )
    return out


# ---- movers -------------------------------------------------------------------------------------------


def _frame(runtime: Runtime, app: App, tz: str, start: dt.date, end: dt.date) -> Frame:
    return Frame(
        engine=analytics.engine_for(runtime),
        app_id=app.id,
        query=MetricQuery(start=start, end=end, tz=tz),
        tz=tz,
        now=runtime.clock(),
        known_events=analytics.known_events(runtime, app.id),
    )


def _scene_label(value: str) -> str:
    if value == "(none)":
        return value
    for g in scene_groups().values():
        if int(value) in g["scenes"]:
            return f"{value} · {g['zh']} / {g['en']}"
    return value


def rank_movers(counts: dict[str, tuple[int, int]], top: int = MOVERS_TOP) -> tuple[int, list[Mover]]:
    """(minimum volume, the `top` values whose count changed most) from value → (current, previous)."""
    total_c, total_p = sum(c for c, _ in counts.values()), sum(p for _, p in counts.values())
    min_volume = max(MOVERS_MIN_COUNT, round(max(total_c, total_p) * MOVERS_MIN_SHARE))

    def share_change(c: int, p: int) -> float | None:
        sc, sp = ratio(c, total_c), ratio(p, total_p)
        return None if sc is None or sp is None else sc - sp

    rows = [
        Mover(v, v, c, p, c - p, ratio(c - p, p), share_change(c, p))
        for v, (c, p) in counts.items()
        if max(c, p) >= min_volume and c != p
    ]
    rows.sort(key=lambda m: (-abs(m.change), m.value))
    return min_volume, rows[:top]


def _movers(runtime: Runtime, app: App, tz: str, week: IsoWeek) -> list[MoverGroup]:
    prev = week.previous()
    frame = _frame(runtime, app, tz, prev.monday, week.sunday)
    ev = frame.events()
    ev = ev.mutate(cur=ev.day >= day_number(week.monday))
    dims: list[tuple[str, Label, Label, ibis.Table, ibis.Value, bool]] = [
        (
            "channel",
            {"zh": "渠道", "en": "Channels"},
            {"zh": "活跃用户", "en": "active users"},
            ev,
            ev.channel,
            True,
        ),
        (
            "scene",
            {"zh": "场景值", "en": "Scenes"},
            {"zh": "活跃用户", "en": "active users"},
            ev,
            ev.scene.cast("string"),
            True,
        ),
    ]
    pv = ev.filter(ev.name == "page_view")
    dims.append(
        ("page", {"zh": "页面", "en": "Pages"}, {"zh": "浏览次数", "en": "page views"}, pv, pv.page, False)
    )
    dims.append(
        ("event", {"zh": "事件", "en": "Events"}, {"zh": "事件数", "en": "events"}, ev, ev.name, False)
    )
    groups = []
    for key, label, measure, t, value, users in dims:
        t = t.mutate(v=value.fill_null("(none)"))
        n = t.actor.nunique() if users else t.count()
        rows = frame.run(t.group_by("v", "cur").aggregate(n=n))
        counts: dict[str, list[int]] = {}
        for r in rows:
            counts.setdefault(str(r["v"]), [0, 0])[0 if r["cur"] else 1] = int(r["n"])
        min_volume, movers = rank_movers({v: (c, p) for v, (c, p) in counts.items()})
        if key == "scene":
            for m in movers:
                m.label = _scene_label(m.value)
        groups.append(MoverGroup(key, label, measure, min_volume, movers))
    return groups


# ---- experiments and promotions -----------------------------------------------------------------------


def _experiments(runtime: Runtime, app: App, tz: str, week: IsoWeek) -> list[dict[str, Any]]:
    """Experiments live at any moment of the week, with the verdict as of the week's end (or their stop)."""
    start, end = week_bounds_utc(week, tz)
    now = runtime.clock()
    with read_only(runtime.sessions, app_id=app.id) as db:
        exps = [
            e
            for e in experiments.list_experiments(db=db)
            if e.started_at is not None
            and e.started_at < end
            and (e.stopped_at is None or e.stopped_at >= start)
        ]
        db.expunge_all()  # read_only rolls back on exit, which would expire them
    out = []
    for e in sorted(exps, key=lambda e: (e.started_at or now, e.key)):
        assert e.started_at is not None
        started = start <= e.started_at < end
        stopped = e.stopped_at is not None and e.stopped_at < end
        as_of = min(e.stopped_at or end, end, now)
        res = experiments.results(runtime.store, e, as_of=as_of, tz=tz)
        out.append(
            {
                "key": e.key,
                "name": e.name,
                "status": e.status,
                "phase": "started_stopped"
                if started and stopped
                else "started"
                if started
                else "stopped"
                if stopped
                else "running",
                "started_at": e.started_at.isoformat(),
                "stopped_at": e.stopped_at.isoformat() if e.stopped_at else None,
                "shipped_variant": e.shipped_variant,
                "as_of": as_of.isoformat(),
                "users": res["srm"]["users"],
                "srm_warning": bool(res["srm"]["warning"]),
                "verdict": {"decision": res["verdict"]["decision"], "text": res["verdict"]["text"]},
            }
        )
    return out


def _promotions(runtime: Runtime, app: App, tz: str, week: IsoWeek) -> dict[str, Any]:
    """Participation per mechanic from the event log, and the campaigns that were live during the week."""
    prev = week.previous()
    frame = _frame(runtime, app, tz, prev.monday, week.sunday)
    names = [n for _, evs in MECHANICS.values() for n in evs]
    ev = frame.events(names=names)
    ev = ev.mutate(cur=ev.day >= day_number(week.monday))
    rows = frame.run(ev.group_by("name", "cur").aggregate(events=ev.count(), users=ev.actor.nunique()))
    per: dict[tuple[str, bool], dict[str, int]] = {
        (r["name"], bool(r["cur"])): {"events": int(r["events"]), "users": int(r["users"])} for r in rows
    }
    # Users per mechanic need their own distinct count (a user may claim and redeem).
    mech_of = ibis.cases(*[(ev.name.isin(evs), key) for key, (_, evs) in MECHANICS.items()], else_="other")
    um = ev.mutate(m=mech_of)
    users = {
        (r["m"], bool(r["cur"])): int(r["users"])
        for r in frame.run(um.group_by("m", "cur").aggregate(users=um.actor.nunique()))
    }
    mechanics = []
    for key, (label, evs) in MECHANICS.items():
        mechanics.append(
            {
                "key": key,
                "label": label,
                "users": users.get((key, True), 0),
                "previous_users": users.get((key, False), 0),
                "events": {n: per.get((n, True), {}).get("events", 0) for n in evs},
                "previous_events": {n: per.get((n, False), {}).get("events", 0) for n in evs},
            }
        )
    start, end = week_bounds_utc(week, tz)
    with read_only(runtime.sessions, app_id=app.id) as db:
        campaigns = promotions.live_campaigns(db, start=start, end=end)
    return {"mechanics": mechanics, "campaigns": campaigns}


ACTIVITIES_TOP = 20  # the table's rows; a month of daily 秒杀 sessions would drown the rest


def _activities(runtime: Runtime, app: App, week: IsoWeek) -> dict[str, Any]:
    """Every promotion activity live during the week with its funnel, cost and sharing as of now, and the
    equal period before it (what the activity-results page shows), biggest GMV first."""
    rows: list[dict[str, Any]] = []
    with read_only(runtime.sessions, app_id=app.id) as db:
        work = work_in(db, runtime, app, Caller("job", "weekly-report"))
        for a in promotions.activities(work, week.monday, week.sunday):
            r = promotions.activity_results(work, a.kind, a.id)
            fu, prev = r.funnel, r.previous.funnel
            rows.append(
                {
                    "kind": a.kind,
                    "id": a.id,
                    "name": a.name,
                    "state": a.state,
                    "starts_at": a.starts_at.isoformat() if a.starts_at else None,
                    "ends_at": a.ends_at.isoformat() if a.ends_at else None,
                    "participants": fu.participants,
                    "converted": fu.converted,
                    "orders": fu.orders,
                    "gmv_fen": fu.gmv_fen,
                    "discount_fen": r.cost.discount_fen,
                    "commission_fen": r.cost.commission_fen,
                    "points": r.cost.points,
                    "new_users": r.sharing.new_users,
                    "k_factor": r.sharing.k_factor,
                    "previous_participants": prev.participants,
                    "previous_gmv_fen": prev.gmv_fen,
                }
            )
    rows.sort(key=lambda x: (-x["gmv_fen"], -x["participants"], x["kind"], x["id"]))
    return {"rows": rows[:ACTIVITIES_TOP], "more": max(0, len(rows) - ACTIVITIES_TOP)}


# ---- findings -----------------------------------------------------------------------------------------


def _findings(runtime: Runtime, app: App, tz: str, week: IsoWeek) -> dict[str, Any]:
    """The doctor's diagnosis of the window ending on the week's Sunday, with its playbooks' titles."""
    out = diagnosis.diagnose(runtime, app, end=week.sunday, tz=tz).to_dict()
    for f in out["findings"]:
        f["playbook_titles"] = [diagnosis.playbook_title(p) for p in f["playbooks"]]
    return out


# ---- the report ---------------------------------------------------------------------------------------


def build(runtime: Runtime, app: App, week: IsoWeek, *, tz: str | None = None) -> WeeklyReport:
    tz = tz or app.timezone
    ends = week_bounds_utc(week, tz)[1]
    if ends > runtime.clock():
        raise ValidationFailed(
            f"week {week.label} has not ended yet",
            details=[{"field": "week", "message": f"it ends {ends.isoformat()}; ask for a complete week"}],
        )
    timings: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        try:
            return fn()
        finally:
            timings[name] = round((time.perf_counter() - t0) * 1000, 1)

    started = time.perf_counter()
    kpis, daily = _kpis(runtime, app, tz, week, timings)
    report = WeeklyReport(
        app_id=app.id,
        app_name=app.name,
        tz=tz,
        week=week,
        previous_week=week.previous(),
        generated_at=runtime.clock(),
        kpis=kpis,
        daily=daily,
        movers=timed("movers", lambda: _movers(runtime, app, tz, week)),
        experiments=timed("experiments", lambda: _experiments(runtime, app, tz, week)),
        promotions=timed("promotions", lambda: _promotions(runtime, app, tz, week)),
        findings=timed("findings", lambda: _findings(runtime, app, tz, week)),
        timings_ms=timings,
        activities=timed("activities", lambda: _activities(runtime, app, week)),
    )
    timings["total"] = round((time.perf_counter() - started) * 1000, 1)
    return report
