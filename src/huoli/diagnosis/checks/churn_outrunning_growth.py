"""Churn outrunning growth: Pulse, new users, newly dormant users, the most engaged users."""

from __future__ import annotations

from typing import Any, Final

from huoli.diagnosis import stats
from huoli.diagnosis.checks import register
from huoli.diagnosis.checks.base import (
    Candidate,
    Check,
    Context,
    series_drill,
    window_drill,
)

SIGNAL: Final = "churn_outrunning_growth"


LIFECYCLE_LABELS = {
    "pulse": {
        "zh": "每日 Pulse（新增 + 回流）÷ 新沉睡",
        "en": "Daily Pulse (new + resurrected) ÷ newly dormant",
    },
    "dormant": {"zh": "每日新沉睡用户", "en": "Newly dormant users per day"},
}


def _lifecycle_drill(ctx: Context, field: str) -> dict[str, Any]:
    return {
        **series_drill("lifecycle", ctx.span_request({"period": "day"}), "result.rows", "period", field),
        "label": LIFECYCLE_LABELS[field],
    }


class Pulse(Check):
    """Pulse over the current window from the daily lifecycle: (new + resurrecting) ÷ dormant."""

    id = "churn.pulse"
    signal = SIGNAL
    unit = "ratio"
    reads = ("lifecycle.rows.new", "lifecycle.rows.resurrecting", "lifecycle.rows.dormant")

    def run(self, ctx: Context) -> list[Candidate]:
        th = ctx.th
        lc, lb = ctx.split_rows(ctx.lifecycle_days(), "period")
        inflow = sum(r["new"] + r["resurrecting"] for r in lc)
        outflow = sum(r["dormant"] for r in lc)
        b_in = sum(r["new"] + r["resurrecting"] for r in lb)
        b_out = sum(r["dormant"] for r in lb)
        if inflow + outflow < th.min_sample or not outflow:
            return self.skip(ctx, "too few lifecycle movements")
        pulse = inflow / outflow
        # Under Pulse = 1 each flow is equally likely to be an arrival: inflow | total ~ Binomial(total, ½).
        res = stats.rate_vs_threshold(inflow, inflow + outflow, th.pulse_min / (1 + th.pulse_min), "down")
        res["test"] = "exact binomial test of inflow share vs Pulse threshold"
        return [
            self.candidate(
                title={"zh": "流失超过增长（Pulse < 1）", "en": "Churn outrunning growth (Pulse < 1)"},
                metric="lifecycle.rows.pulse",
                current=pulse,
                baseline=b_in / b_out if b_out else None,
                evidence=res,
                gate=pulse < th.pulse_min,
                shortfall=max(0.0, (th.pulse_min - pulse) / th.pulse_min),
                users_affected=outflow - inflow,
                drilldown=_lifecycle_drill(ctx, "pulse"),
                detail={"inflow": inflow, "dormant": outflow, "net_growth": inflow - outflow},
            )
        ]


class NewUsers(Check):
    """New users per day falling."""

    id = "churn.new_users"
    signal = SIGNAL
    unit = "count"
    reads = ("activity.series.new_visitors",)

    def run(self, ctx: Context) -> list[Candidate]:
        c, b = ctx.split(ctx.daily_access(), "new_visitors")
        if sum(b) < ctx.th.min_sample:
            return self.skip(ctx, "too few new users in the baseline")
        mc, mb = sum(c) / len(c), sum(b) / len(b)
        return self.change(
            ctx,
            title={"zh": "新增用户减少", "en": "Fewer new users"},
            metric="activity.series.new_visitors",
            current=mc,
            baseline=mb,
            evidence=stats.daily_series(c, b, "down"),
            direction="down",
            users_affected=round((mb - mc) * len(c)),
            drilldown=series_drill("activity", ctx.span_request(), "result.series", "date", "new_visitors"),
        )


class Dormant(Check):
    """Newly dormant users per day rising."""

    id = "churn.dormant"
    signal = SIGNAL
    unit = "count"
    reads = ("lifecycle.rows.dormant",)

    def run(self, ctx: Context) -> list[Candidate]:
        c, b = ctx.split(ctx.lifecycle_days(), "dormant", "period")
        if sum(b) < ctx.th.min_sample:
            return self.skip(ctx, "too few dormant users in the baseline")
        mc, mb = sum(c) / len(c), sum(b) / len(b)
        return self.change(
            ctx,
            title={"zh": "新沉睡用户增加", "en": "More users going dormant"},
            metric="lifecycle.rows.dormant",
            current=mc,
            baseline=mb,
            evidence=stats.daily_series(c, b, "up"),
            direction="up",
            users_affected=round((mc - mb) * len(c)),
            drilldown=_lifecycle_drill(ctx, "dormant"),
        )


class CoreUsers(Check):
    """The most engaged users (active on at least `core_min_days` days of the window) shrinking."""

    id = "churn.core_users"
    signal = SIGNAL
    unit = "count"
    reads = ("activity.distribution",)

    def run(self, ctx: Context) -> list[Candidate]:
        th = ctx.th
        cur, base = ctx.window_data()
        b_core = sum(w["core"] for w in base)
        if th.core_min_days > th.current_days:
            return self.skip(ctx, "core_min_days exceeds the window length")
        if b_core < th.min_sample:
            return self.skip(ctx, "too few engaged users in the baseline")
        mb = b_core / len(base)
        return self.change(
            ctx,
            title={"zh": "核心活跃用户减少", "en": "Most engaged users shrinking"},
            metric=f"activity.distribution.active_days>={th.core_min_days}",
            current=float(cur["core"]),
            baseline=mb,
            evidence=stats.counts_ratio(cur["core"], b_core, len(base), "down"),
            direction="down",
            users_affected=round(mb - cur["core"]),
            drilldown=window_drill(
                "activity",
                ctx.win_requests(),
                ["result.distribution"],
                reduce=f"active_days>={th.core_min_days}",
            ),
            detail={
                "core_min_days": th.core_min_days,
                "windows": ctx.per_window(lambda w: w["core"]),
            },
        )


register(Pulse(), NewUsers(), Dormant(), CoreUsers())
