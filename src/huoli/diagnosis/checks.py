"""The doctor's checks: each reads analytics metrics for the current window and the baseline windows
and proposes a candidate (value, baseline, test, effect gate); `service` decides which become findings.
Check ids, formulas and thresholds are documented in docs/diagnosis.md."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

import ibis

from huoli.analytics import acquisition, activity, funnels, lifecycle, retention, value
from huoli.analytics.engines import Engine
from huoli.analytics.frame import Frame, MetricQuery, ratio
from huoli.analytics.timebase import day_date
from huoli.diagnosis import stats
from huoli.diagnosis.thresholds import Thresholds
from huoli.errors import HuoliError

# What the checks report, in the order findings are listed (docs/diagnosis.md).
Signal = Literal[
    "activity_decline",
    "churn_outrunning_growth",
    "interaction_near_zero",
    "conversion_stalling",
    "root_cause",
]
SIGNALS: list[str] = [
    "activity_decline",
    "churn_outrunning_growth",
    "interaction_near_zero",
    "conversion_stalling",
    "root_cause",
]


@dataclass
class Candidate:
    """A test result before noise control decides whether it becomes a finding."""

    id: str
    signal: Signal
    title: dict[str, str]
    metric: str
    current: float
    baseline: float | None
    evidence: dict[str, Any]
    gate: bool  # the effect is large enough / beyond the threshold
    shortfall: float  # relative distance in the bad direction (severity)
    users_affected: int
    drilldown: dict[str, Any]
    detail: dict[str, Any] = field(default_factory=dict)


def _iso(d: dt.date) -> str:
    return d.isoformat()


class Doctor:
    def __init__(
        self,
        engine: Engine,
        app_id: str,
        tz: str,
        end: dt.date,
        now: dt.datetime,
        th: Thresholds,
        known_events: frozenset[str],
    ) -> None:
        self.engine, self.app_id, self.tz, self.end, self.now, self.th = engine, app_id, tz, end, now, th
        self.known = known_events
        d = th.current_days
        self.cur = (end - dt.timedelta(days=d - 1), end)
        # Baseline windows, oldest first, each as long as the current one.
        self.base = [
            (end - dt.timedelta(days=(i + 1) * d - 1), end - dt.timedelta(days=i * d))
            for i in range(th.baseline_windows, 0, -1)
        ]
        self.span = (self.base[0][0], end)
        self.candidates: list[Candidate] = []
        self.checked: list[str] = []
        self.skipped: dict[str, str] = {}
        self.notes: list[str] = []

    # ---- plumbing ---------------------------------------------------------------------------------------
    def frame(self, start: dt.date, end: dt.date) -> Frame:
        return Frame(
            engine=self.engine,
            app_id=self.app_id,
            query=MetricQuery(start=start, end=end, tz=self.tz),
            tz=self.tz,
            now=self.now,
            known_events=self.known,
        )

    def windows(self) -> list[tuple[dt.date, dt.date]]:
        return [*self.base, self.cur]

    def win_requests(self, extra: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return [
            {"label": f"{_iso(s)}–{_iso(e)}", "body": {"start": _iso(s), "end": _iso(e), **(extra or {})}}
            for s, e in self.windows()
        ]

    def span_request(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"start": _iso(self.span[0]), "end": _iso(self.span[1]), **(extra or {})}

    def add(self, c: Candidate) -> None:
        self.candidates.append(c)

    def skip(self, check: str, why: str) -> None:
        self.skipped[check] = why

    def ran(self, check: str) -> None:
        self.checked.append(check)

    def change_candidate(
        self,
        *,
        id: str,
        signal: Signal,
        title: dict[str, str],
        metric: str,
        current: float,
        baseline: float,
        evidence: dict[str, Any],
        direction: stats.Direction,
        users_affected: int,
        drilldown: dict[str, Any],
        detail: dict[str, Any] | None = None,
    ) -> None:
        change = (current - baseline) / baseline if baseline else 0.0
        bad = -change if direction == "down" else change
        self.add(
            Candidate(
                id=id,
                signal=signal,
                title=title,
                metric=metric,
                current=current,
                baseline=baseline,
                evidence=evidence,
                gate=bad >= self.th.min_effect,
                shortfall=max(bad, 0.0),
                users_affected=max(int(users_affected), 0),
                drilldown=drilldown,
                detail=detail or {},
            )
        )

    # ---- data -------------------------------------------------------------------------------------------
    def window_data(self, f: Frame) -> dict[str, Any]:
        """Per window: opens per active user (with its spread), one-open users, stay per open, core users,
        interaction, conversion, sharing — every value read from the analytics metric modules."""
        ev = f.events()
        actors = ev.select("actor").distinct()
        o = activity.opens_by(ev, "actor")
        j = actors.left_join(o, "actor")
        n_open = j.opens.fill_null(0).cast("float64")
        agg = j.aggregate(
            users=j.count(),
            opens=n_open.sum(),
            sq=(n_open * n_open).sum(),
            ones=(n_open == 1).sum(),
        )
        (a,) = f.run(agg)
        hide = ev.filter(ev.name == "app_hide", ev.duration_ms.notnull())
        dur = hide.duration_ms.cast("float64")
        (h,) = f.run(hide.aggregate(n=hide.count(), s=dur.sum(), sq=(dur * dur).sum()))
        freq = activity.frequency(f)["distribution"]
        core = sum(r["users"] for r in freq if r["active_days"] >= self.th.core_min_days)
        users = int(a["users"] or 0)
        opens = float(a["opens"] or 0)
        n_h, s_h = int(h["n"] or 0), float(h["s"] or 0)
        return {
            "users": users,
            "opens": opens,
            "opens_var": stats.variance(opens, float(a["sq"] or 0), users),
            "ones": int(a["ones"] or 0),
            "hides": n_h,
            "stay_ms": s_h,
            "stay_var": stats.variance(s_h, float(h["sq"] or 0), n_h),
            "core": core,
            "interaction": _first(value.interaction(f)),
            "conversion": _first(value.conversion(f, self.th.promotion_events)),
            "sharing": acquisition.sharing(f),
        }

    # ---- checks -----------------------------------------------------------------------------------------
    def trim_to_history(self) -> None:
        """Drop baseline windows that start before the app's first event: an empty week is no baseline."""
        f = self.frame(*self.span)
        ev = f.events(history=True)
        (r,) = f.run(ev.aggregate(first=ev.day.min()))
        if r["first"] is None:
            return
        first = day_date(int(r["first"]))
        kept = [w for w in self.base if w[0] >= first]
        if len(kept) < len(self.base):
            self.notes.append(
                f"{len(self.base) - len(kept)} baseline window(s) start before the first event ({first}); "
                f"using {len(kept)}"
            )
        self.base = kept
        self.span = (self.base[0][0] if self.base else self.cur[0], self.end)

    def run(self) -> None:
        self.trim_to_history()
        wins = [self.window_data(self.frame(s, e)) for s, e in self.windows()]
        cur, base = wins[-1], wins[:-1]
        span = self.frame(*self.span)
        daily = activity.active_users(span)
        access = activity.daily_access(span)
        life = lifecycle.compute(span, "day")["rows"]
        self.activity_checks(cur, base, daily)
        self.churn_checks(cur, base, access, life)
        self.interaction_checks(cur, base)
        self.conversion_checks(cur, base)
        self.root_causes(cur)

    def _split(
        self, rows: list[dict[str, Any]], key: str, date_key: str = "date"
    ) -> tuple[list[float], list[float]]:
        cur_start = _iso(self.cur[0])
        c = [float(r[key] or 0) for r in rows if r[date_key] >= cur_start]
        b = [float(r[key] or 0) for r in rows if r[date_key] < cur_start]
        return c, b

    def activity_checks(
        self, cur: dict[str, Any], base: list[dict[str, Any]], daily: list[dict[str, Any]]
    ) -> None:
        th = self.th
        # Daily active users.
        c, b = self._split(daily, "dau")
        if sum(b) / max(len(b), 1) >= th.min_sample:
            self.ran("activity.dau")
            ev = stats.daily_series(c, b, "down")
            mc, mb = sum(c) / len(c), sum(b) / len(b)
            self.change_candidate(
                id="activity.dau",
                signal="activity_decline",
                title={"zh": "日活下降", "en": "Daily active users falling"},
                metric="activity.series.dau",
                current=mc,
                baseline=mb,
                evidence=ev,
                direction="down",
                users_affected=round(mb - mc),
                drilldown=_series_drill("activity", self.span_request(), "result.series", "date", "dau"),
            )
        else:
            self.skip("activity.dau", "too few daily active users")
        users0 = sum(w["users"] for w in base)
        if cur["users"] < th.min_sample or users0 < th.min_sample:
            for k in ("activity.opens_per_user", "activity.one_time_share", "activity.stay_per_open"):
                self.skip(k, "too few active users")
            return
        # Opens per active user: the same mean as activity totals' opens ÷ active_users.
        self.ran("activity.opens_per_user")
        m1 = cur["opens"] / cur["users"]
        m0 = sum(w["opens"] for w in base) / users0
        var0 = stats.pooled_variance(base, "opens", "opens_var", "users")
        self.change_candidate(
            id="activity.opens_per_user",
            signal="activity_decline",
            title={"zh": "人均打开次数下降", "en": "Opens per user falling"},
            metric="activity.totals.opens/active_users",
            current=m1,
            baseline=m0,
            evidence=stats.welch(m1, cur["opens_var"], cur["users"], m0, var0, users0, "down"),
            direction="down",
            users_affected=cur["users"],
            drilldown=_window_drill(
                "activity", self.win_requests(), ["result.totals.0.opens", "result.totals.0.active_users"]
            ),
            detail={
                "windows": _windows(
                    self.windows(), [w["opens"] / w["users"] if w["users"] else None for w in [*base, cur]]
                )
            },
        )
        # Share of active users who opened only once.
        self.ran("activity.one_time_share")
        k0 = sum(w["ones"] for w in base)
        p1, p0 = cur["ones"] / cur["users"], k0 / users0
        self.change_candidate(
            id="activity.one_time_share",
            signal="activity_decline",
            title={"zh": "只打开一次的用户占比上升", "en": "More users opening only once"},
            metric="activity.opens_per_user=1 share",
            current=p1,
            baseline=p0,
            evidence=stats.two_proportions(cur["ones"], cur["users"], k0, users0, "up"),
            direction="up",
            users_affected=cur["ones"],
            drilldown=_window_drill(
                "activity", self.win_requests(), ["result.totals.0.opens", "result.totals.0.active_users"]
            ),
            detail={
                "windows": _windows(
                    self.windows(), [w["ones"] / w["users"] if w["users"] else None for w in [*base, cur]]
                )
            },
        )
        # Session length: stay per open (activity totals' stay_per_open_ms); tested on app_hide durations.
        hides0 = sum(w["hides"] for w in base)
        opens0 = sum(w["opens"] for w in base)
        if cur["hides"] < th.min_sample or hides0 < th.min_sample or not cur["opens"] or not opens0:
            self.skip("activity.stay_per_open", "too few sessions with a duration")
            return
        self.ran("activity.stay_per_open")
        s1, s0 = cur["stay_ms"] / cur["opens"], sum(w["stay_ms"] for w in base) / opens0
        e = stats.welch(
            cur["stay_ms"] / cur["hides"],
            cur["stay_var"],
            cur["hides"],
            sum(w["stay_ms"] for w in base) / hides0,
            stats.pooled_variance(base, "stay_ms", "stay_var", "hides"),
            hides0,
            "down",
        )
        self.change_candidate(
            id="activity.stay_per_open",
            signal="activity_decline",
            title={"zh": "单次停留时长变短", "en": "Shorter sessions"},
            metric="activity.totals.stay_per_open_ms",
            current=s1,
            baseline=s0,
            evidence=e,
            direction="down",
            users_affected=cur["users"],
            drilldown=_window_drill("activity", self.win_requests(), ["result.totals.0.stay_per_open_ms"]),
            detail={
                "windows": _windows(
                    self.windows(), [w["stay_ms"] / w["opens"] if w["opens"] else None for w in [*base, cur]]
                )
            },
        )

    def churn_checks(
        self,
        cur: dict[str, Any],
        base: list[dict[str, Any]],
        access: list[dict[str, Any]],
        life: list[dict[str, Any]],
    ) -> None:
        th = self.th
        cur_start = _iso(self.cur[0])
        # Pulse over the current window from the daily lifecycle: (new + resurrecting) ÷ dormant.
        lc = [r for r in life if r["period"] >= cur_start]
        lb = [r for r in life if r["period"] < cur_start]
        inflow = sum(r["new"] + r["resurrecting"] for r in lc)
        outflow = sum(r["dormant"] for r in lc)
        b_in = sum(r["new"] + r["resurrecting"] for r in lb)
        b_out = sum(r["dormant"] for r in lb)
        life_drill = _series_drill(
            "lifecycle", self.span_request({"period": "day"}), "result.rows", "period", "dormant"
        )
        if inflow + outflow >= th.min_sample and outflow:
            self.ran("churn.pulse")
            pulse = inflow / outflow
            # Under Pulse = 1 each flow is equally likely to be an arrival: inflow | total ~ Binomial(total, ½).
            res = stats.rate_vs_threshold(inflow, inflow + outflow, th.pulse_min / (1 + th.pulse_min), "down")
            res["test"] = "exact binomial test of inflow share vs Pulse threshold"
            self.add(
                Candidate(
                    id="churn.pulse",
                    signal="churn_outrunning_growth",
                    title={"zh": "流失超过增长（Pulse < 1）", "en": "Churn outrunning growth (Pulse < 1)"},
                    metric="lifecycle.rows.pulse",
                    current=pulse,
                    baseline=b_in / b_out if b_out else None,
                    evidence=res,
                    gate=pulse < th.pulse_min,
                    shortfall=max(0.0, (th.pulse_min - pulse) / th.pulse_min),
                    users_affected=outflow - inflow,
                    drilldown=life_drill,
                    detail={"inflow": inflow, "dormant": outflow, "net_growth": inflow - outflow},
                )
            )
        else:
            self.skip("churn.pulse", "too few lifecycle movements")
        # New users per day falling.
        c, b = self._split(access, "new_visitors")
        if sum(b) >= th.min_sample:
            self.ran("churn.new_users")
            mc, mb = sum(c) / len(c), sum(b) / len(b)
            self.change_candidate(
                id="churn.new_users",
                signal="churn_outrunning_growth",
                title={"zh": "新增用户减少", "en": "Fewer new users"},
                metric="activity.series.new_visitors",
                current=mc,
                baseline=mb,
                evidence=stats.daily_series(c, b, "down"),
                direction="down",
                users_affected=round((mb - mc) * len(c)),
                drilldown=_series_drill(
                    "activity", self.span_request(), "result.series", "date", "new_visitors"
                ),
            )
        else:
            self.skip("churn.new_users", "too few new users in the baseline")
        # Newly dormant users per day rising.
        c = [float(r["dormant"]) for r in lc]
        b = [float(r["dormant"]) for r in lb]
        if sum(b) >= th.min_sample:
            self.ran("churn.dormant")
            mc, mb = sum(c) / len(c), sum(b) / len(b)
            self.change_candidate(
                id="churn.dormant",
                signal="churn_outrunning_growth",
                title={"zh": "新沉睡用户增加", "en": "More users going dormant"},
                metric="lifecycle.rows.dormant",
                current=mc,
                baseline=mb,
                evidence=stats.daily_series(c, b, "up"),
                direction="up",
                users_affected=round((mc - mb) * len(c)),
                drilldown=life_drill,
            )
        else:
            self.skip("churn.dormant", "too few dormant users in the baseline")
        # The most engaged users shrinking.
        b_core = sum(w["core"] for w in base)
        if th.core_min_days > th.current_days:
            self.skip("churn.core_users", "core_min_days exceeds the window length")
        elif b_core >= th.min_sample:
            self.ran("churn.core_users")
            mb = b_core / len(base)
            self.change_candidate(
                id="churn.core_users",
                signal="churn_outrunning_growth",
                title={"zh": "核心活跃用户减少", "en": "Most engaged users shrinking"},
                metric=f"activity.distribution.active_days>={th.core_min_days}",
                current=float(cur["core"]),
                baseline=mb,
                evidence=stats.counts_ratio(cur["core"], b_core, len(base), "down"),
                direction="down",
                users_affected=round(mb - cur["core"]),
                drilldown=_window_drill(
                    "activity",
                    self.win_requests(),
                    ["result.distribution"],
                    reduce=f"active_days>={th.core_min_days}",
                ),
                detail={
                    "core_min_days": th.core_min_days,
                    "windows": _windows(self.windows(), [w["core"] for w in [*base, cur]]),
                },
            )
        else:
            self.skip("churn.core_users", "too few engaged users in the baseline")

    def interaction_checks(self, cur: dict[str, Any], base: list[dict[str, Any]]) -> None:
        th = self.th
        row = cur["interaction"]
        if row is None or row["active_users"] < th.min_sample:
            for k in ("comment", "share", "favorite"):
                self.skip(f"interaction.{k}_rate", "too few active users")
        else:
            active = int(row["active_users"])
            names = {
                "comment": ("评论", "Comment"),
                "share": ("分享", "Share"),
                "favorite": ("收藏", "Favorite"),
            }
            for k in ("comment", "share", "favorite"):
                cid = f"interaction.{k}_rate"
                self.ran(cid)
                users = int(row[k]["users"])
                rate = users / active
                b_act = sum(int(w["interaction"]["active_users"]) for w in base if w["interaction"])
                b_users = sum(int(w["interaction"][k]["users"]) for w in base if w["interaction"])
                zh, en = names[k]
                self.add(
                    Candidate(
                        id=cid,
                        signal="interaction_near_zero",
                        title={"zh": f"{zh}率接近零", "en": f"{en} rate near zero"},
                        metric=f"interaction.{k}.rate",
                        current=rate,
                        baseline=b_users / b_act if b_act else None,
                        evidence=stats.rate_vs_threshold(users, active, th.interaction_min_rate, "down"),
                        gate=rate < th.interaction_min_rate,
                        shortfall=(th.interaction_min_rate - rate) / th.interaction_min_rate,
                        users_affected=active - users,
                        drilldown=_window_drill("interaction", self.win_requests(), [f"result.0.{k}.rate"]),
                        detail={"threshold": th.interaction_min_rate, "users": users, "active_users": active},
                    )
                )
        sh = cur["sharing"]
        if sh["shares"] < th.min_sample:
            self.skip("interaction.share_reflow", "too few shares")
            return
        self.ran("interaction.share_reflow")
        reflow = sh["share_opens"] / sh["shares"]
        b_sh = sum(w["sharing"]["shares"] for w in base)
        b_op = sum(w["sharing"]["share_opens"] for w in base)
        self.add(
            Candidate(
                id="interaction.share_reflow",
                signal="interaction_near_zero",
                title={"zh": "分享回流弱", "en": "Weak share reflow"},
                metric="acquisition.sharing.reflow_ratio",
                current=reflow,
                baseline=b_op / b_sh if b_sh else None,
                evidence=stats.poisson_vs_threshold(sh["share_opens"], sh["shares"], th.share_reflow_min),
                gate=reflow < th.share_reflow_min,
                shortfall=(th.share_reflow_min - reflow) / th.share_reflow_min,
                users_affected=sh["sharers"],
                drilldown=_window_drill("acquisition", self.win_requests(), ["result.sharing.reflow_ratio"]),
                detail={
                    "threshold": th.share_reflow_min,
                    "shares": sh["shares"],
                    "share_opens": sh["share_opens"],
                },
            )
        )

    def conversion_checks(self, cur: dict[str, Any], base: list[dict[str, Any]]) -> None:
        th = self.th
        c = cur["conversion"]
        bs = [w["conversion"] for w in base if w["conversion"]]
        specs = [
            (
                "conversion.promotion_participation",
                "promotion_participation_rate",
                "active_users",
                None,
                {"zh": "活动参与率下降", "en": "Promotion participation falling"},
            ),
            (
                "conversion.order_rate",
                "order_rate",
                "active_users",
                "order_users",
                {"zh": "下单率下降", "en": "Order rate falling"},
            ),
            (
                "conversion.coupon_redemption",
                "coupon_redeem_rate",
                "coupons_claimed",
                "coupons_redeemed",
                {"zh": "优惠券核销率下降", "en": "Coupon redemption falling"},
            ),
        ]
        extra = {"promotion_events": th.promotion_events} if th.promotion_events else {}
        for cid, key, den_key, num_key, title in specs:
            n1 = int(c[den_key]) if c else 0
            n0 = sum(int(w[den_key]) for w in bs)
            if n1 < th.min_sample or n0 < th.min_sample:
                self.skip(cid, f"too few {den_key.replace('_', ' ')}")
                continue

            def num(row: dict[str, Any], key: str = key, num_key: str | None = num_key) -> int:
                if num_key is not None:
                    return int(row[num_key])
                return round((row[key] or 0) * int(row["active_users"]))  # participants = rate × active

            k1, k0 = num(c), sum(num(w) for w in bs)
            if k0 == 0:
                self.skip(cid, "nothing to compare with in the baseline")
                continue
            self.ran(cid)
            p1, p0 = k1 / n1, k0 / n0
            self.change_candidate(
                id=cid,
                signal="conversion_stalling",
                title=title,
                metric=f"conversion.{key}",
                current=p1,
                baseline=p0,
                evidence=stats.two_proportions(k1, n1, k0, n0, "down"),
                direction="down",
                users_affected=round((p0 - p1) * n1) if num_key != "coupons_redeemed" else n1 - k1,
                drilldown=_window_drill("conversion", self.win_requests(extra), [f"result.0.{key}"]),
                # Every window, empty ones as None: `bs` drops them, so it cannot be paired with windows().
                detail={
                    "windows": _windows(
                        self.windows(),
                        [w["conversion"][key] if w["conversion"] else None for w in [*base, cur]],
                    )
                },
            )
        # Core path: a step losing more than max_step_loss of the previous step's users.
        steps = [s.model_dump() for s in th.core_path]
        try:
            fr = funnels.compute(self.frame(*self.cur), funnels.FunnelSpec.model_validate({"steps": steps}))
        except HuoliError as exc:
            self.skip("conversion.funnel_step", exc.message)
            return
        rows = fr["steps"]
        for k in range(1, len(rows)):
            cid = f"conversion.funnel_step_{k + 1}"
            prev, now = int(rows[k - 1]["users"]), int(rows[k]["users"])
            if prev < th.min_sample:
                self.skip(cid, "too few users reached the previous step")
                continue
            self.ran(cid)
            conv = now / prev
            keep = 1 - th.max_step_loss
            self.add(
                Candidate(
                    id=cid,
                    signal="conversion_stalling",
                    title={
                        "zh": f"核心路径第 {k + 1} 步（{rows[k]['event']}）流失过半",
                        "en": f"Core path step {k + 1} ({rows[k]['event']}) loses over half its users",
                    },
                    metric=f"funnel.steps.{k}.conversion_from_previous",
                    current=conv,
                    baseline=None,
                    evidence=stats.rate_vs_threshold(now, prev, keep, "down"),
                    gate=conv < keep,
                    shortfall=(keep - conv) / keep,
                    users_affected=prev - now,
                    drilldown=_window_drill(
                        "funnel",
                        self.win_requests({"steps": steps}),
                        [f"result.steps.{k}.conversion_from_previous"],
                    ),
                    detail={
                        "step": k + 1,
                        "event": rows[k]["event"],
                        "from": rows[k - 1]["event"],
                        "users_before": prev,
                        "users_after": now,
                        "max_step_loss": th.max_step_loss,
                    },
                )
            )

    def root_causes(self, cur: dict[str, Any]) -> None:
        self.staleness(cur)
        self.slow_pages()
        self.deep_path()
        self.silence(cur)
        self.next_day_retention()

    def staleness(self, cur: dict[str, Any]) -> None:
        """Nothing new used: no item (view_item) or page first seen in the last `stale_days` days."""
        th = self.th
        f = self.frame(self.cur[0], self.end)
        ev = f.events(names=["view_item", "page_view"], history=True)
        key = ibis.ifelse(
            ev.name == "view_item", "item:" + ev.item_id.fill_null(""), "page:" + ev.page.fill_null("")
        )
        first = ev.mutate(k=key).group_by("k").aggregate(first=lambda x: x.day.min())
        rows = f.run(first.aggregate(things=first.count(), newest=first.first.max()))
        things = int(rows[0]["things"] or 0) if rows else 0
        if things == 0 or cur["users"] < self.th.min_sample:
            self.skip("root_cause.staleness", "no items or pages seen")
            return
        self.ran("root_cause.staleness")
        newest = day_date(int(rows[0]["newest"]))
        age = (self.end - newest).days
        self.add(
            Candidate(
                id="root_cause.staleness",
                signal="root_cause",
                title={"zh": f"{age} 天没有新内容被使用", "en": f"Nothing new used for {age} days"},
                metric="events.first_seen(view_item.item_id, page_view.page)",
                current=float(age),
                baseline=None,  # a level check: the threshold is in detail
                evidence={
                    "test": "exact count: no item or page first seen in the window",
                    "statistic": age,
                    "p_value": 0.0 if age >= th.stale_days else 1.0,
                    "n": things,
                },
                gate=age >= th.stale_days,
                shortfall=(age - th.stale_days) / th.stale_days if age >= th.stale_days else 0.0,
                users_affected=cur["users"],
                drilldown=_series_drill(
                    "activity", self.span_request(), "result.series", "date", "page_visits"
                ),
                detail={
                    "newest_first_seen": newest.isoformat(),
                    "items_and_pages": things,
                    "threshold": th.stale_days,
                },
            )
        )

    def slow_pages(self) -> None:
        th = self.th
        exp = value.experience(self.frame(*self.cur))
        limit = th.slow_load_ms
        buckets = exp["bounce_by_load"]
        edges = [0, *value.LOAD_BUCKETS_MS]
        slow = [b for b, lo in zip(buckets, edges, strict=True) if lo >= limit]
        fast = [b for b, lo in zip(buckets, edges, strict=True) if lo < limit]
        s_n, s_b = sum(b["sessions"] for b in slow), sum(b["bounced"] for b in slow)
        f_n, f_b = sum(b["sessions"] for b in fast), sum(b["bounced"] for b in fast)
        total = s_n + f_n
        if total < th.min_sample or s_n == 0 or f_n < th.min_sample:
            self.skip("root_cause.slow_pages", "too few sessions with load times (or none slow)")
            return
        self.ran("root_cause.slow_pages")
        share = s_n / total
        ev = stats.two_proportions(s_b, s_n, f_b, f_n, "up")
        ev["test"] = "two-proportion z-test: bounce of slow vs fast landings"
        slow_pages = [p for p in exp["pages"] if (p.get("p75_ms") or 0) > limit]
        self.add(
            Candidate(
                id="root_cause.slow_pages",
                signal="root_cause",
                title={
                    "zh": f"页面加载超过 {limit / 1000:g} 秒导致跳出",
                    "en": f"Pages loading over {limit / 1000:g} s cause bounces",
                },
                metric="experience.bounce_by_load",
                current=share,
                baseline=None,  # a level check: the threshold is in detail
                evidence=ev,
                gate=share >= th.slow_share_min and s_b / s_n > (f_b / f_n if f_n else 0),
                shortfall=(share - th.slow_share_min) / th.slow_share_min
                if share >= th.slow_share_min
                else 0.0,
                users_affected=s_n,
                drilldown=_window_drill(
                    "experience",
                    self.win_requests(),
                    ["result.bounce_by_load"],
                    reduce=f"slow_share>={limit}",
                ),
                detail={
                    "threshold": th.slow_share_min,
                    "slow_sessions": s_n,
                    "sessions": total,
                    "bounce_slow": s_b / s_n,
                    "bounce_fast": ratio(f_b, f_n),
                    "slow_pages": [
                        {"page": p["page"], "p75_ms": p.get("p75_ms"), "samples": p["samples"]}
                        for p in slow_pages[:10]
                    ],
                    "users_affected_is": "sessions",
                },
            )
        )

    def deep_path(self) -> None:
        """Page views in a session before its first core action (e.g. order_paid)."""
        th = self.th
        f = self.frame(*self.cur)
        ev = f.events(names=["page_view", th.core_event])
        ev = ev.filter(ev.session_id.notnull())
        core = ev.filter(ev.name == th.core_event).group_by("session_id").aggregate(tc=lambda x: x.ts.min())
        j = ev.filter(ev.name == "page_view").join(core, "session_id").filter(lambda r: r.ts <= r.tc)
        per = j.group_by("session_id").aggregate(n=lambda x: x.count())
        per = core.left_join(per, "session_id").mutate(n=lambda x: x.n.fill_null(0).cast("float64"))
        (r,) = f.run(per.aggregate(sessions=per.count(), s=per.n.sum(), sq=(per.n * per.n).sum()))
        n = int(r["sessions"] or 0)
        if n < th.min_sample:
            self.skip("root_cause.deep_path", f"too few sessions reaching {th.core_event}")
            return
        self.ran("root_cause.deep_path")
        s = float(r["s"] or 0)
        mean = s / n
        self.add(
            Candidate(
                id="root_cause.deep_path",
                signal="root_cause",
                title={
                    "zh": f"到达核心行为需要 {mean:.1f} 个页面",
                    "en": f"{mean:.1f} pages to the core action",
                },
                metric=f"paths.pages_before({th.core_event})",
                current=mean,
                baseline=None,  # a level check: the threshold is in detail
                evidence=stats.mean_vs_threshold(
                    mean, stats.variance(s, float(r["sq"] or 0), n), n, th.max_steps_to_core
                ),
                gate=mean > th.max_steps_to_core,
                shortfall=(mean - th.max_steps_to_core) / th.max_steps_to_core,
                users_affected=n,
                drilldown=_series_drill(
                    "paths",
                    {
                        "start": _iso(self.cur[0]),
                        "end": _iso(self.end),
                        "anchor": th.core_event,
                        "direction": "before",
                        "kind": "events",
                        "depth": 10,
                    },
                    "result.levels",
                    "level",
                    "transitions[].sessions",
                ),
                detail={
                    "sessions": n,
                    "core_event": th.core_event,
                    "threshold": th.max_steps_to_core,
                    "users_affected_is": "sessions",
                },
            )
        )

    def silence(self, cur: dict[str, Any]) -> None:
        th = self.th
        f = self.frame(*self.span)
        names = [*th.message_events, th.feedback_event, th.feedback_reply_event]
        ev = f.events(names=names)
        ev = ev.mutate(cur=ev.day >= _day(self.cur[0]))
        rows = f.run(ev.group_by("name", "cur").aggregate(n=lambda x: x.count()))
        counts: dict[tuple[str, bool], int] = {(r["name"], bool(r["cur"])): int(r["n"]) for r in rows}
        msgs = sum(v for (name, _), v in counts.items() if name in th.message_events)
        if cur["users"] >= th.min_sample:
            self.ran("root_cause.silence")
            days = (self.span[1] - self.span[0]).days + 1
            self.add(
                Candidate(
                    id="root_cause.silence",
                    signal="root_cause",
                    title={
                        "zh": f"{days} 天未向用户发送任何消息",
                        "en": f"No messages sent to users in {days} days",
                    },
                    metric="events.count(" + ",".join(th.message_events) + ")",
                    current=float(msgs),
                    baseline=None,
                    evidence={
                        "test": "exact count of message events",
                        "statistic": msgs,
                        "p_value": 0.0 if msgs == 0 else 1.0,
                        "n": days,
                    },
                    gate=msgs == 0,
                    shortfall=1.0 if msgs == 0 else 0.0,
                    users_affected=cur["users"],
                    drilldown=_series_drill("activity", self.span_request(), "result.series", "date", "dau"),
                    detail={
                        "message_events": th.message_events,
                        "note": "message sending arrives with the messaging domain",
                    },
                )
            )
        else:
            self.skip("root_cause.silence", "too few active users")
        asked = counts.get((th.feedback_event, True), 0)
        answered = counts.get((th.feedback_reply_event, True), 0)
        if asked < th.min_sample:
            self.skip("root_cause.feedback_unanswered", "too little feedback in the window")
            return
        self.ran("root_cause.feedback_unanswered")
        answered = min(answered, asked)
        rate = answered / asked
        self.add(
            Candidate(
                id="root_cause.feedback_unanswered",
                signal="root_cause",
                title={"zh": "用户反馈无人回复", "en": "Feedback left unanswered"},
                metric=f"events.count({th.feedback_reply_event})/count({th.feedback_event})",
                current=rate,
                baseline=None,  # a level check: the threshold is in detail
                evidence=stats.rate_vs_threshold(answered, asked, th.feedback_min_reply_rate, "down"),
                gate=rate < th.feedback_min_reply_rate,
                shortfall=(th.feedback_min_reply_rate - rate) / th.feedback_min_reply_rate,
                users_affected=asked - answered,
                drilldown=_series_drill("activity", self.span_request(), "result.series", "date", "dau"),
                detail={"feedback": asked, "replies": answered, "threshold": th.feedback_min_reply_rate},
            )
        )

    def next_day_retention(self) -> None:
        """Benchmark gap: new users' next-day retention (WeChat 新增留存 day 1) below the benchmark."""
        th = self.th
        start, last = self.cur[0] - dt.timedelta(days=1), self.end - dt.timedelta(days=1)
        spec = retention.RetentionSpec(periods=1)
        res = retention.compute(self.frame(start, last), spec)
        size = sum(r["size"] for r in res["rows"] if r["retained"][1] is not None)
        kept = sum(r["retained"][1] for r in res["rows"] if r["retained"][1] is not None)
        if size < th.min_sample:
            self.skip("root_cause.next_day_retention", "too few new users with a complete next day")
            return
        self.ran("root_cause.next_day_retention")
        rate = kept / size
        self.add(
            Candidate(
                id="root_cause.next_day_retention",
                signal="root_cause",
                title={
                    "zh": f"次日留存低于 {th.next_day_retention_min:.0%}",
                    "en": f"Next-day retention below {th.next_day_retention_min:.0%}",
                },
                metric="retention.weighted_mean.rate[1]",
                current=rate,
                baseline=None,  # a level check: the threshold is in detail
                evidence=stats.rate_vs_threshold(kept, size, th.next_day_retention_min, "down"),
                gate=rate < th.next_day_retention_min,
                shortfall=(th.next_day_retention_min - rate) / th.next_day_retention_min,
                users_affected=size - kept,
                drilldown=_series_drill(
                    "retention",
                    {"start": _iso(self.span[0]), "end": _iso(last), "periods": 1},
                    "result.rows",
                    "cohort",
                    "rate.1",
                ),
                detail={
                    "threshold": th.next_day_retention_min,
                    "cohort_users": size,
                    "retained_day_1": kept,
                    "cohorts": [_iso(start), _iso(last)],
                },
            )
        )


def _first(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    return rows[0] if rows else None


def _day(d: dt.date) -> int:
    return (d - dt.date(1970, 1, 1)).days


def _windows(wins: list[tuple[dt.date, dt.date]], values: list[Any]) -> list[dict[str, Any]]:
    return [{"start": _iso(s), "end": _iso(e), "value": v} for (s, e), v in zip(wins, values, strict=True)]


def _series_drill(metric: str, body: dict[str, Any], path: str, x: str, y: str) -> dict[str, Any]:
    """Drill-down to one analytics request whose result holds a series (POST /admin/analytics/<metric>)."""
    return {
        "metric": metric,
        "kind": "series",
        "requests": [{"label": metric, "body": body}],
        "path": path,
        "x": x,
        "y": y,
    }


def _window_drill(
    metric: str, requests: list[dict[str, Any]], pick: list[str], reduce: str | None = None
) -> dict[str, Any]:
    """Drill-down to the metric per window: one request each; `pick` is a value path (or numerator and
    denominator paths); `reduce` names a rule the console applies to the picked value."""
    return {"metric": metric, "kind": "windows", "requests": requests, "pick": pick, "reduce": reduce}
