"""A small seeded scenario generator for the doctor: a stationary shop (users arrive, churn at a constant
hazard, open the app, browse, interact, buy, claim coupons, get messages and answer feedback) with knobs
that inject each stagnation signal alone in the last `current_days` days.

Rows follow EVENT_SCHEMA, so a scenario can be appended to any event store or loaded into an engine.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from huoli.events.schema import EVENT_SCHEMA

if TYPE_CHECKING:
    from huoli.diagnosis.service import Diagnosis
    from huoli.diagnosis.thresholds import Thresholds

IntArray = npt.NDArray[np.int64]

# Injection → the finding ids that must appear (all of them) and those it may legitimately cause too.
INJECTIONS: dict[str, dict[str, set[str]]] = {
    "activity_decline": {
        "required": {"activity.opens_per_user", "activity.stay_per_open"},
        "allowed": {"activity.one_time_share"},
    },
    "churn": {
        "required": {"churn.pulse", "churn.new_users"},
        "allowed": {
            "churn.dormant",
            "churn.core_users",
            "activity.dau",
            "activity.one_time_share",
            "activity.opens_per_user",
            "root_cause.next_day_retention",
        },
    },
    "interaction": {
        "required": {"interaction.comment_rate", "interaction.share_rate", "interaction.favorite_rate"},
        "allowed": {"interaction.share_reflow"},
    },
    "reflow": {"required": {"interaction.share_reflow"}, "allowed": set()},
    "promotion": {
        "required": {"conversion.promotion_participation", "conversion.coupon_redemption"},
        "allowed": set(),
    },
    "funnel": {"required": {"conversion.funnel_step_3"}, "allowed": {"conversion.order_rate"}},
    "stale": {"required": {"root_cause.staleness"}, "allowed": set()},
    "slow": {"required": {"root_cause.slow_pages"}, "allowed": {"activity.stay_per_open"}},
    "deep": {"required": {"root_cause.deep_path"}, "allowed": set()},
    "silence": {"required": {"root_cause.silence", "root_cause.feedback_unanswered"}, "allowed": set()},
    "retention": {
        "required": {"root_cause.next_day_retention"},
        "allowed": {"activity.one_time_share", "churn.pulse", "churn.dormant", "activity.dau"},
    },
}
NAMES = [
    "app_show",
    "perf",
    "page_view",
    "app_hide",
    "view_item",
    "add_to_cart",
    "order_paid",
    "coupon_claimed",
    "coupon_redeemed",
    "group_joined",
    "share",
    "favorite",
    "comment",
    "share_open",
    "message_sent",
    "feedback_submitted",
    "feedback_replied",
]
PAGES = ["pages/index/index", "pages/list/list", "pages/item/detail", "pages/cart/cart", "pages/me/me"]


@dataclass(frozen=True)
class Scenario:
    seed: int
    inject: frozenset[str] = field(default_factory=frozenset)
    days: int = 49
    end: dt.date = dt.date(2026, 10, 31)
    current_days: int = 7
    app_id: str = "sim"
    tz: str = "Asia/Shanghai"
    arrivals_per_day: float = 18.0
    mean_lifetime_days: float = 60.0
    strength: float = 1.0  # 0 = healthy … 1 = the full injection (dose-response runs use values between)

    def __post_init__(self) -> None:
        unknown = set(self.inject) - set(INJECTIONS)
        if unknown:
            raise ValueError(f"unknown injections {sorted(unknown)}; one of {sorted(INJECTIONS)}")
        if not 0 <= self.strength <= 1:
            raise ValueError("strength must be between 0 and 1")
        if self.days < 5 * self.current_days + 14:
            raise ValueError("days must cover the current window, the baseline and two weeks of warm-up")

    @property
    def now(self) -> dt.datetime:
        """Noon of the day after `end`, local: the moment the doctor runs."""
        d = self.end + dt.timedelta(days=1)
        return dt.datetime(d.year, d.month, d.day, 12, tzinfo=ZoneInfo(self.tz))

    def on(self, name: str) -> bool:
        return name in self.inject

    def dose(self, name: str, healthy: float, injected: float) -> float:
        """The parameter's value: healthy unless `name` is injected, then moved `strength` of the way."""
        return healthy + self.strength * (injected - healthy) if self.on(name) else healthy


class _Events:
    """Column buffers: each add() appends one event type's rows as numpy arrays."""

    def __init__(self) -> None:
        self.cols: dict[str, list[npt.NDArray[np.generic]]] = {
            k: []
            for k in (
                "name",
                "ts",
                "user",
                "sess",
                "page",
                "dur",
                "load",
                "item",
                "amount",
                "order",
                "coupon",
                "share",
            )
        }

    def add(self, name: str, ts: IntArray, user: IntArray, **cols: npt.NDArray[np.generic]) -> None:
        n = len(ts)
        self.cols["name"].append(np.full(n, NAMES.index(name), dtype=np.int64))
        self.cols["ts"].append(ts.astype(np.int64))
        self.cols["user"].append(user.astype(np.int64))
        for k in ("sess", "page", "dur", "load", "item", "amount", "order", "coupon", "share"):
            v = cols.get(k)
            self.cols[k].append(np.full(n, -1, dtype=np.int64) if v is None else v.astype(np.int64))

    def table(self, app_id: str, seed: int) -> pa.Table:
        c = {k: np.concatenate(v) for k, v in self.cols.items()}
        n = len(c["ts"])
        order = np.argsort(c["ts"], kind="stable")
        c = {k: v[order] for k, v in c.items()}

        def ints(v: IntArray) -> pa.Array:
            return pa.array(np.where(v >= 0, v, 0), pa.int64(), mask=v < 0)

        def strs(prefix: str, v: IntArray) -> pa.Array:
            return pc.binary_join_element_wise(prefix, pc.cast(ints(v), pa.string()), "")

        def const(text: str) -> pa.Array:
            return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), pa.array([text])).cast(
                pa.string()
            )

        ts = pa.array(c["ts"], pa.timestamp("us", tz="UTC"))
        serial = pc.utf8_lpad(pc.cast(pa.array(np.arange(n)), pa.string()), 12, "0")
        cols: dict[str, pa.Array] = {
            "app_id": const(app_id),
            "event_id": pc.binary_join_element_wise(f"{seed % 10**8:08d}-0000-4000-8000-", serial, ""),
            "name": pa.array(NAMES).take(pa.array(c["name"])),
            "ts": ts,
            "user_id": strs("u", c["user"]),
            "anonymous_id": pa.nulls(n, pa.string()),
            "session_id": strs("s", c["sess"]),
            "page": pa.array(PAGES).take(ints(c["page"])),
            "scene": pa.array(np.full(n, 1001, dtype=np.int32)),
            "channel": const("organic"),
            "duration_ms": ints(c["dur"]),
            "load_ms": ints(c["load"]),
            "item_id": strs("item", c["item"]),
            "amount_fen": ints(c["amount"]),
            "order_id": strs("o", c["order"]),
            "coupon_id": strs("c", c["coupon"]),
            "sharer_id": pa.nulls(n, pa.string()),
            "share_id": strs("sh", c["share"]),
            "campaign": pa.nulls(n, pa.string()),
            "properties": pa.nulls(n, pa.string()),
            "source": const("import"),
            "received_at": ts,
        }
        return pa.table(cols, schema=EVENT_SCHEMA)


def generate(sc: Scenario) -> pa.Table:
    rng = np.random.default_rng([sc.seed, 20261031])
    D = sc.days
    cur0 = D - sc.current_days  # first day index of the current window
    zone = ZoneInfo(sc.tz)
    start = sc.end - dt.timedelta(days=D - 1)
    day_us = np.array(
        [
            int(dt.datetime.combine(start + dt.timedelta(days=d), dt.time(), zone).timestamp()) * 1_000_000
            for d in range(D)
        ],
        dtype=np.int64,
    )
    in_cur = np.arange(D) >= cur0

    # --- users: a stationary population (arrivals × mean lifetime) plus daily arrivals ----------------------
    n_pre = rng.poisson(sc.arrivals_per_day * sc.mean_lifetime_days)
    arr_rate = np.full(D, sc.arrivals_per_day)
    arr_rate[in_cur] *= sc.dose("churn", 1.0, 0.4)
    n_new = rng.poisson(arr_rate)
    arrival = np.concatenate([np.full(n_pre, -1), np.repeat(np.arange(D), n_new)]).astype(np.int64)
    n = len(arrival)
    hazard = np.full(D, 1 / sc.mean_lifetime_days)
    hazard[in_cur] *= sc.dose("churn", 1.0, 6.0)
    days = np.arange(D)[None, :]
    dies = (rng.random((n, D)) < hazard[None, :]) & (days > arrival[:, None])
    death = np.where(dies.any(axis=1), dies.argmax(axis=1), D)
    alive = (days >= arrival[:, None]) & (days < death[:, None])
    p_user = 0.08 + 0.6 * rng.beta(2, 3, n)
    act = alive & (rng.random((n, D)) < p_user[:, None])
    new_idx = np.nonzero(arrival >= 0)[0]
    act[new_idx, arrival[new_idx]] = True
    d1 = arrival[new_idx] + 1
    ok = d1 < D
    u1, d1 = new_idx[ok], d1[ok]
    p_d1 = np.where(d1 >= cur0, sc.dose("retention", 0.65, 0.12), 0.65)
    act[u1, d1] = alive[u1, d1] & (rng.random(len(u1)) < p_d1)
    if sc.on("retention"):
        # Later days of the injected cohorts fade too, so the drop is a retention drop, not a D1 blip.
        late = (arrival >= cur0 - 1)[:, None] & (days > arrival[:, None] + 1)
        act &= ~late | (rng.random((n, D)) < sc.dose("retention", 1.0, 0.3))

    U, Dd = np.nonzero(act)
    U, Dd = U.astype(np.int64), Dd.astype(np.int64)
    pairs = len(U)
    cur_pair = in_cur[Dd]

    # --- opens (sessions) ------------------------------------------------------------------------------------
    lam = np.where(cur_pair, sc.dose("activity_decline", 1.5, 0.25), 1.5)
    k = 1 + rng.poisson(lam)
    O_pair = np.repeat(np.arange(pairs), k)
    O_u, O_d = U[O_pair], Dd[O_pair]
    n_open = len(O_pair)
    sess = np.arange(n_open, dtype=np.int64)
    t0 = day_us[O_d] + rng.integers(8 * 3600, 21 * 3600, n_open) * 1_000_000
    o_cur = in_cur[O_d]
    load = rng.lognormal(np.log(np.where(o_cur, sc.dose("slow", 1100.0, 4200.0), 1100.0)), 0.35).astype(
        np.int64
    )
    bounce = rng.random(n_open) < np.where(load >= 3000, 0.6, 0.2)
    views = np.where(bounce, 1, 1 + rng.geometric(0.45, n_open))
    first_open = np.r_[True, O_pair[1:] != O_pair[:-1]]
    stay = rng.lognormal(
        np.log(np.where(o_cur, sc.dose("activity_decline", 90_000.0, 45_000.0), 90_000.0)), 0.6
    ).astype(np.int64)

    ev = _Events()
    ev.add("app_show", t0, O_u, sess=sess)
    ev.add("perf", t0 + 500_000, O_u, sess=sess, page=np.zeros(n_open, np.int64), load=load)

    # --- per active day: funnel, coupons, promotions, interactions, messages, feedback -------------------
    r = rng.random((pairs, 12))
    view = r[:, 0] < 0.55
    cart = view & (r[:, 1] < 0.65)
    p_order = np.where(cur_pair, sc.dose("funnel", 0.7, 0.25), 0.7)
    order = cart & (r[:, 2] < p_order)
    deep_extra = np.where(order & cur_pair, round(sc.dose("deep", 0, 10)), 0)
    # Orders happen in the day's first session; a deep path adds page views to it before the order.
    pair_of_first = O_pair[first_open]
    views = views.copy()
    views[first_open] += deep_extra[pair_of_first]
    pv_open = np.repeat(np.arange(n_open), views)
    pv_idx = np.arange(len(pv_open)) - np.repeat(np.cumsum(views) - views, views)
    pv_page = np.where(pv_idx == 0, 0, 1 + (pv_idx % (len(PAGES) - 1)))
    ev.add("page_view", t0[pv_open] + (2 + 15 * pv_idx) * 1_000_000, O_u[pv_open], sess=pv_open, page=pv_page)
    end_t = t0 + np.maximum(stay * 1000, (views * 15 + 30) * 1_000_000)
    ev.add("app_hide", end_t, O_u, sess=sess, dur=(end_t - t0) // 1000)

    first_sess = sess[first_open]  # the session of each pair's first open
    t_act = t0[first_open] + (views[first_open] * 15 + 5) * 1_000_000  # after that session's page views
    # Items: one new item every 2 days (the stale scenario stops adding them three weeks before the end).
    intro = np.arange(-10, D, 2)
    stale = round(sc.dose("stale", 0, 21))
    if stale:
        intro = intro[intro <= D - stale]
    n_avail = np.searchsorted(intro, Dd, side="right")
    recent = r[:, 3] < 0.3
    pick = np.where(
        recent, n_avail - 1 - (r[:, 4] * 3).astype(np.int64), (r[:, 5] * n_avail).astype(np.int64)
    )
    item = np.clip(pick, 0, n_avail - 1)
    w = np.nonzero(view)[0]
    ev.add("view_item", t_act[w], U[w], sess=first_sess[w], item=item[w])
    w = np.nonzero(cart)[0]
    ev.add("add_to_cart", t_act[w] + 1_000_000, U[w], sess=first_sess[w], item=item[w])
    w = np.nonzero(order)[0]
    ev.add(
        "order_paid",
        t_act[w] + 2_000_000,
        U[w],
        sess=first_sess[w],
        item=item[w],
        amount=rng.integers(990, 29_900, len(w)),
        order=w,
    )
    claim = r[:, 6] < np.where(cur_pair, sc.dose("promotion", 0.15, 0.05), 0.15)
    redeem = claim & (r[:, 7] < np.where(cur_pair, sc.dose("promotion", 0.5, 0.12), 0.5))
    w = np.nonzero(claim)[0]
    ev.add("coupon_claimed", t_act[w] + 3_000_000, U[w], coupon=w)
    w = np.nonzero(redeem)[0]
    ev.add("coupon_redeemed", t_act[w] + 3_600_000_000, U[w], coupon=w, order=w + pairs)
    group = r[:, 8] < np.where(cur_pair, sc.dose("promotion", 0.08, 0.02), 0.08)
    w = np.nonzero(group)[0]
    ev.add("group_joined", t_act[w] + 4_000_000, U[w])
    keep = np.where(cur_pair, sc.dose("interaction", 1.0, 0.0), 1.0)
    for j, (name, p) in enumerate((("share", 0.06), ("favorite", 0.05), ("comment", 0.04))):
        hit = rng.random(pairs) < p * keep
        w = np.nonzero(hit)[0]
        if name == "share":
            share_w = w
            ev.add("share", t_act[w] + 5_000_000, U[w], sess=first_sess[w], page=np.full(len(w), 2), share=w)
        else:
            ev.add(name, t_act[w] + (6 + j) * 1_000_000, U[w], sess=first_sess[w], item=item[w])
    # Share cards are opened by other active users of the same day.
    reflow = np.where(cur_pair[share_w], sc.dose("reflow", 1.2, 0.1), 1.2)
    n_opens = rng.poisson(reflow)
    src = np.repeat(share_w, n_opens)
    by_day = np.argsort(Dd, kind="stable")
    lo = np.searchsorted(Dd[by_day], Dd[src], side="left")
    hi = np.searchsorted(Dd[by_day], Dd[src], side="right")
    opener = by_day[lo + (rng.random(len(src)) * (hi - lo)).astype(np.int64)]
    ev.add("share_open", t_act[src] + 600_000_000, U[opener], share=src)
    msg = r[:, 9] < sc.dose("silence", 0.05, 0.0)
    w = np.nonzero(msg)[0]
    ev.add("message_sent", t_act[w] + 7_200_000_000, U[w])
    fb = r[:, 10] < 0.035
    w = np.nonzero(fb)[0]
    ev.add("feedback_submitted", t_act[w] + 8_000_000, U[w])
    replied = fb & (r[:, 11] < np.where(cur_pair, sc.dose("silence", 0.9, 0.1), 0.9))
    w = np.nonzero(replied)[0]
    ev.add("feedback_replied", t_act[w] + 1_800_000_000, U[w])
    return ev.table(sc.app_id, sc.seed)


@dataclass
class Run:
    """One scenario and what the doctor said about it."""

    scenario: Scenario
    diagnosis: Diagnosis

    @property
    def ids(self) -> set[str]:
        return {f.id for f in self.diagnosis.findings}


def matrix_scenarios(
    healthy_seeds: int = 9, seeds_per_signal: int = 1, strength: float = 1.0
) -> list[Scenario]:
    """Every signal injected alone (`seeds_per_signal` seeds each, at `strength`) and `healthy_seeds`
    healthy baselines."""
    out = [
        Scenario(seed=100 + 37 * k + i, inject=frozenset([name]), strength=strength)
        for k in range(seeds_per_signal)
        for i, name in enumerate(sorted(INJECTIONS))
    ]
    return out + [Scenario(seed=s) for s in range(1, healthy_seeds + 1)]


def run(sc: Scenario, thresholds: Thresholds | None = None) -> Run:
    # Ibis and the doctor load only when a scenario runs: generating its events needs numpy alone.
    from huoli.analytics.engines import DuckDBEngine
    from huoli.diagnosis.service import diagnose_engine

    engine = DuckDBEngine.from_arrow(generate(sc))
    return Run(
        sc, diagnose_engine(engine, sc.app_id, tz=sc.tz, now=sc.now, end=sc.end, thresholds=thresholds)
    )


def score(runs: list[Run]) -> dict[str, Any]:
    """Recall: injected scenarios whose required findings all appear. Precision: findings that belong to
    the injected signal (its required or allowed ids) among all findings, healthy scenarios included."""
    injected = [r for r in runs if r.scenario.inject]
    found = sum(1 for r in injected if all(INJECTIONS[i]["required"] <= r.ids for i in r.scenario.inject))
    total = tp = 0
    for r in runs:
        ok: set[str] = set()
        for i in r.scenario.inject:
            ok |= INJECTIONS[i]["required"] | INJECTIONS[i]["allowed"]
        total += len(r.ids)
        tp += len(r.ids & ok)
    return {
        "scenarios": len(runs),
        "injected": len(injected),
        "healthy": len(runs) - len(injected),
        "recall": found / len(injected) if injected else None,
        "precision": tp / total if total else 1.0,
        "findings": total,
        "false_findings": total - tp,
        "healthy_with_findings": sum(1 for r in runs if not r.scenario.inject and r.ids),
    }
