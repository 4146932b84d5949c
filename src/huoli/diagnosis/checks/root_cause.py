"""Root-cause hints: staleness, slow pages, a deep path to the core action, silence, unanswered feedback,
next-day retention below the benchmark."""

from __future__ import annotations

import datetime as dt
from typing import Final

import ibis

from huoli.analytics import retention, value
from huoli.analytics.frame import ratio
from huoli.analytics.timebase import day_date
from huoli.diagnosis import stats
from huoli.diagnosis.checks import register
from huoli.diagnosis.checks.base import Candidate, Check, Context, day_number, iso, series_drill, window_drill

SIGNAL: Final = "root_cause"


class Staleness(Check):
    """Nothing new used: no item (view_item) or page first seen in the last `stale_days` days."""

    id = "root_cause.staleness"
    signal = SIGNAL
    unit = "days"
    reads = ("view_item.item_id", "page_view.page")

    def run(self, ctx: Context) -> list[Candidate]:
        th = ctx.th
        cur, _ = ctx.window_data()
        f = ctx.frame(ctx.cur[0], ctx.end)
        ev = f.events(names=["view_item", "page_view"], history=True)
        key = ibis.ifelse(
            ev.name == "view_item", "item:" + ev.item_id.fill_null(""), "page:" + ev.page.fill_null("")
        )
        first = ev.mutate(k=key).group_by("k").aggregate(first=lambda x: x.day.min())
        rows = f.run(first.aggregate(things=first.count(), newest=first.first.max()))
        things = int(rows[0]["things"] or 0) if rows else 0
        if things == 0 or cur["users"] < th.min_sample:
            return self.skip(ctx, "no items or pages seen")
        newest = day_date(int(rows[0]["newest"]))
        age = (ctx.end - newest).days
        return [
            self.candidate(
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
                drilldown=series_drill(
                    "activity", ctx.span_request(), "result.series", "date", "page_visits"
                ),
                detail={
                    "newest_first_seen": newest.isoformat(),
                    "items_and_pages": things,
                    "threshold": th.stale_days,
                },
            )
        ]


class SlowPages(Check):
    """Share of opens whose landing loads in `slow_load_ms` or more, when slow landings bounce more."""

    id = "root_cause.slow_pages"
    signal = SIGNAL
    unit = "rate"
    reads = ("experience.bounce_by_load", "experience.pages")

    def run(self, ctx: Context) -> list[Candidate]:
        th = ctx.th
        exp = value.experience(ctx.frame(*ctx.cur))
        limit = th.slow_load_ms
        buckets = exp["bounce_by_load"]
        edges = [0, *value.LOAD_BUCKETS_MS]
        slow = [b for b, lo in zip(buckets, edges, strict=True) if lo >= limit]
        fast = [b for b, lo in zip(buckets, edges, strict=True) if lo < limit]
        s_n, s_b = sum(b["sessions"] for b in slow), sum(b["bounced"] for b in slow)
        f_n, f_b = sum(b["sessions"] for b in fast), sum(b["bounced"] for b in fast)
        total = s_n + f_n
        if total < th.min_sample or s_n == 0 or f_n < th.min_sample:
            return self.skip(ctx, "too few sessions with load times (or none slow)")
        share = s_n / total
        ev = stats.two_proportions(s_b, s_n, f_b, f_n, "up")
        ev["test"] = "two-proportion z-test: bounce of slow vs fast landings"
        slow_pages = [p for p in exp["pages"] if (p.get("p75_ms") or 0) > limit]
        return [
            self.candidate(
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
                drilldown=window_drill(
                    "experience", ctx.win_requests(), ["result.bounce_by_load"], reduce=f"slow_share>={limit}"
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
        ]


class DeepPath(Check):
    """Page views in a session before its first core action (e.g. order_paid)."""

    id = "root_cause.deep_path"
    signal = SIGNAL
    unit = "pages"
    reads = ("page_view", "core_event", "paths")

    def run(self, ctx: Context) -> list[Candidate]:
        th = ctx.th
        f = ctx.frame(*ctx.cur)
        ev = f.events(names=["page_view", th.core_event])
        ev = ev.filter(ev.session_id.notnull())
        core = ev.filter(ev.name == th.core_event).group_by("session_id").aggregate(tc=lambda x: x.ts.min())
        j = ev.filter(ev.name == "page_view").join(core, "session_id").filter(lambda r: r.ts <= r.tc)
        per = j.group_by("session_id").aggregate(n=lambda x: x.count())
        per = core.left_join(per, "session_id").mutate(n=lambda x: x.n.fill_null(0).cast("float64"))
        (r,) = f.run(per.aggregate(sessions=per.count(), s=per.n.sum(), sq=(per.n * per.n).sum()))
        n = int(r["sessions"] or 0)
        if n < th.min_sample:
            return self.skip(ctx, f"too few sessions reaching {th.core_event}")
        s = float(r["s"] or 0)
        mean = s / n
        return [
            self.candidate(
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
                drilldown=series_drill(
                    "paths",
                    {
                        "start": iso(ctx.cur[0]),
                        "end": iso(ctx.end),
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
        ]


def _message_counts(ctx: Context) -> dict[tuple[str, bool], int]:
    """Message, feedback and reply events over the span, by name and whether in the current window."""

    def compute() -> dict[tuple[str, bool], int]:
        th = ctx.th
        f = ctx.frame(*ctx.span)
        ev = f.events(names=[*th.message_events, th.feedback_event, th.feedback_reply_event])
        ev = ev.mutate(cur=ev.day >= day_number(ctx.cur[0]))
        rows = f.run(ev.group_by("name", "cur").aggregate(n=lambda x: x.count()))
        return {(r["name"], bool(r["cur"])): int(r["n"]) for r in rows}

    return ctx.memo("message_counts", compute)


class Silence(Check):
    """No message sent to users over the current and baseline windows."""

    id = "root_cause.silence"
    signal = SIGNAL
    unit = "count"
    reads = ("message_events",)

    def run(self, ctx: Context) -> list[Candidate]:
        th = ctx.th
        cur, _ = ctx.window_data()
        counts = _message_counts(ctx)
        msgs = sum(v for (name, _), v in counts.items() if name in th.message_events)
        if cur["users"] < th.min_sample:
            return self.skip(ctx, "too few active users")
        days = (ctx.span[1] - ctx.span[0]).days + 1
        return [
            self.candidate(
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
                # The series the finding is about: users sent a message per day (activity on those events
                # alone), not the app's daily active users.
                drilldown={
                    **series_drill(
                        "activity",
                        ctx.span_request(
                            {"filters": [{"field": "name", "op": "in", "value": th.message_events}]}
                        ),
                        "result.series",
                        "date",
                        "dau",
                    ),
                    "label": {"zh": "每日收到消息的用户数", "en": "Users sent a message per day"},
                },
                detail={
                    "message_events": th.message_events,
                    "note": "message sending arrives with the messaging domain",
                },
            )
        ]


class FeedbackUnanswered(Check):
    """Replies ÷ feedback in the current window, against `feedback_min_reply_rate`."""

    id = "root_cause.feedback_unanswered"
    signal = SIGNAL
    unit = "rate"
    reads = ("feedback_event", "feedback_reply_event")

    def run(self, ctx: Context) -> list[Candidate]:
        th = ctx.th
        counts = _message_counts(ctx)
        asked = counts.get((th.feedback_event, True), 0)
        answered = counts.get((th.feedback_reply_event, True), 0)
        if asked < th.min_sample:
            return self.skip(ctx, "too little feedback in the window")
        answered = min(answered, asked)
        rate = answered / asked
        return [
            self.below(
                title={"zh": "用户反馈无人回复", "en": "Feedback left unanswered"},
                metric=f"events.count({th.feedback_reply_event})/count({th.feedback_event})",
                current=rate,
                evidence=stats.rate_vs_threshold(answered, asked, th.feedback_min_reply_rate, "down"),
                threshold=th.feedback_min_reply_rate,
                users_affected=asked - answered,
                drilldown=series_drill("activity", ctx.span_request(), "result.series", "date", "dau"),
                detail={"feedback": asked, "replies": answered, "threshold": th.feedback_min_reply_rate},
            )
        ]


class NextDayRetention(Check):
    """Benchmark gap: new users' next-day retention (WeChat 新增留存 day 1) below the benchmark."""

    id = "root_cause.next_day_retention"
    signal = SIGNAL
    unit = "rate"
    reads = ("retention.rows.retained[1]",)

    def run(self, ctx: Context) -> list[Candidate]:
        th = ctx.th
        start, last = ctx.cur[0] - dt.timedelta(days=1), ctx.end - dt.timedelta(days=1)
        spec = retention.RetentionSpec(periods=1)
        res = retention.compute(ctx.frame(start, last), spec)
        size = sum(r["size"] for r in res["rows"] if r["retained"][1] is not None)
        kept = sum(r["retained"][1] for r in res["rows"] if r["retained"][1] is not None)
        if size < th.min_sample:
            return self.skip(ctx, "too few new users with a complete next day")
        rate = kept / size
        return [
            self.below(
                title={
                    "zh": f"次日留存低于 {th.next_day_retention_min:.0%}",
                    "en": f"Next-day retention below {th.next_day_retention_min:.0%}",
                },
                metric="retention.weighted_mean.rate[1]",
                current=rate,
                evidence=stats.rate_vs_threshold(kept, size, th.next_day_retention_min, "down"),
                threshold=th.next_day_retention_min,
                users_affected=size - kept,
                drilldown=series_drill(
                    "retention",
                    {"start": iso(ctx.span[0]), "end": iso(last), "periods": 1},
                    "result.rows",
                    "cohort",
                    "rate.1",
                ),
                detail={
                    "threshold": th.next_day_retention_min,
                    "cohort_users": size,
                    "retained_day_1": kept,
                    "cohorts": [iso(start), iso(last)],
                },
            )
        ]


register(Staleness(), SlowPages(), DeepPath(), Silence(), FeedbackUnanswered(), NextDayRetention())
