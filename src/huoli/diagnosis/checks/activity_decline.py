"""Activity decline: daily active users, opens per user, one-time users, session length."""

from __future__ import annotations

from typing import Any, Final

from huoli.diagnosis import stats
from huoli.diagnosis.checks import register
from huoli.diagnosis.checks.base import Candidate, Check, Context, series_drill, window_drill, windows_detail

SIGNAL: Final = "activity_decline"


def _per_user(ctx: Context, check: Check) -> tuple[dict[str, Any], list[dict[str, Any]], int] | None:
    """The windows' data when both the current window and the baseline have enough active users (else the
    check is skipped)."""
    cur, base = ctx.window_data()
    users0 = sum(w["users"] for w in base)
    if cur["users"] < ctx.th.min_sample or users0 < ctx.th.min_sample:
        check.skip(ctx, "too few active users")
        return None
    return cur, base, users0


class DailyActiveUsers(Check):
    id = "activity.dau"
    signal = SIGNAL
    unit = "count"
    reads = ("activity.series.dau",)

    def run(self, ctx: Context) -> list[Candidate]:
        c, b = ctx.split(ctx.daily_active(), "dau")
        if sum(b) / max(len(b), 1) < ctx.th.min_sample:
            return self.skip(ctx, "too few daily active users")
        mc, mb = sum(c) / len(c), sum(b) / len(b)
        return self.change(
            ctx,
            title={"zh": "日活下降", "en": "Daily active users falling"},
            metric="activity.series.dau",
            current=mc,
            baseline=mb,
            evidence=stats.daily_series(c, b, "down"),
            direction="down",
            users_affected=round(mb - mc),
            drilldown=series_drill("activity", ctx.span_request(), "result.series", "date", "dau"),
        )


class OpensPerUser(Check):
    """The same mean as activity totals' opens ÷ active_users."""

    id = "activity.opens_per_user"
    signal = SIGNAL
    unit = "ratio"
    reads = ("activity.totals.opens", "activity.totals.active_users")

    def run(self, ctx: Context) -> list[Candidate]:
        if (data := _per_user(ctx, self)) is None:
            return []
        cur, base, users0 = data
        m1 = cur["opens"] / cur["users"]
        m0 = sum(w["opens"] for w in base) / users0
        var0 = stats.pooled_variance(base, "opens", "opens_var", "users")
        return self.change(
            ctx,
            title={"zh": "人均打开次数下降", "en": "Opens per user falling"},
            metric="activity.totals.opens/active_users",
            current=m1,
            baseline=m0,
            evidence=stats.welch(m1, cur["opens_var"], cur["users"], m0, var0, users0, "down"),
            direction="down",
            users_affected=cur["users"],
            drilldown=window_drill(
                "activity", ctx.win_requests(), ["result.totals.0.opens", "result.totals.0.active_users"]
            ),
            detail={"windows": ctx.per_window(lambda w: w["opens"] / w["users"] if w["users"] else None)},
        )


class OneTimeShare(Check):
    """Share of active users who opened only once in the window."""

    id = "activity.one_time_share"
    signal = SIGNAL
    unit = "rate"
    reads = ("activity.opens_by(actor)", "activity.totals.active_users")

    def run(self, ctx: Context) -> list[Candidate]:
        if (data := _per_user(ctx, self)) is None:
            return []
        cur, base, users0 = data
        k0 = sum(w["ones"] for w in base)
        p1, p0 = cur["ones"] / cur["users"], k0 / users0
        shares = [w["ones"] / w["users"] if w["users"] else None for w in [*base, cur]]
        return self.change(
            ctx,
            title={"zh": "只打开一次的用户占比上升", "en": "More users opening only once"},
            metric="activity.opens_per_user=1 share",
            current=p1,
            baseline=p0,
            evidence=stats.two_proportions(cur["ones"], cur["users"], k0, users0, "up"),
            direction="up",
            users_affected=cur["ones"],
            # The series the finding is about: the one-open share per window. Analytics has no
            # opens-per-user distribution, so the doctor's own values are charted, beside each window's
            # active users from analytics (the share's denominator).
            drilldown={
                **window_drill("activity", ctx.win_requests(), ["result.totals.0.active_users"]),
                "values": shares,
                "label": {"zh": "只打开一次的用户占比", "en": "Share of users who opened once"},
                "context": {"zh": "活跃用户", "en": "Active users"},
            },
            detail={"windows": windows_detail(ctx.windows(), shares)},
        )


class StayPerOpen(Check):
    """Session length: stay per open (activity totals' stay_per_open_ms); tested on app_hide durations."""

    id = "activity.stay_per_open"
    signal = SIGNAL
    unit = "ms"
    reads = ("activity.totals.stay_per_open_ms", "app_hide.duration_ms")

    def run(self, ctx: Context) -> list[Candidate]:
        if (data := _per_user(ctx, self)) is None:
            return []
        cur, base, _ = data
        hides0 = sum(w["hides"] for w in base)
        opens0 = sum(w["opens"] for w in base)
        if cur["hides"] < ctx.th.min_sample or hides0 < ctx.th.min_sample or not cur["opens"] or not opens0:
            return self.skip(ctx, "too few sessions with a duration")
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
        return self.change(
            ctx,
            title={"zh": "单次停留时长变短", "en": "Shorter sessions"},
            metric="activity.totals.stay_per_open_ms",
            current=s1,
            baseline=s0,
            evidence=e,
            direction="down",
            users_affected=cur["users"],
            drilldown=window_drill("activity", ctx.win_requests(), ["result.totals.0.stay_per_open_ms"]),
            detail={"windows": ctx.per_window(lambda w: w["stay_ms"] / w["opens"] if w["opens"] else None)},
        )


register(DailyActiveUsers(), OpensPerUser(), OneTimeShare(), StayPerOpen())
