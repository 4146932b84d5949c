"""Retention (docs/metrics.md#retention): first-time or recurring cohorts; criterion on period N, on or
after N, or brackets; calendar days in the app timezone or rolling 24 h; day / week / month periods; any
number of periods; a WeChat preset. Cells whose period has not fully elapsed are null, never zero."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Literal

import ibis
from pydantic import BaseModel, Field, model_validator

from huoli.analytics.frame import EventSelector, Frame, MetricQuery, first_order
from huoli.analytics.registry import Part, Strict, metric
from huoli.analytics.rollup import OPEN_EVENTS  # an open on a day: either start event
from huoli.analytics.timebase import (
    day_date,
    day_number,
    epoch_s,
    month_number,
    month_start,
    week_number,
    week_start,
)

if TYPE_CHECKING:
    from huoli.runtime import Runtime

MAX_PERIODS = 400
WECHAT_KEYS = [0, 1, 2, 3, 4, 5, 6, 7, 14, 30]


class RetentionSpec(BaseModel):
    cohort: Literal["first_time", "recurring"] = "first_time"
    start_event: EventSelector | None = None  # None: any event
    return_event: EventSelector | None = None  # None: any event
    period: Literal["day", "week", "month"] = "day"
    periods: int = Field(default=7, ge=0, le=MAX_PERIODS)  # columns 0..periods
    criterion: Literal["on", "on_or_after"] = "on"
    brackets: list[tuple[int, int]] | None = None  # e.g. [(1, 1), (2, 7), (8, 14)]; replaces the columns
    day_model: Literal["calendar", "rolling_24h"] = "calendar"
    preset: Literal["wechat_new", "wechat_active"] | None = None

    @model_validator(mode="after")
    def _check(self) -> RetentionSpec:
        if self.day_model == "rolling_24h" and self.period == "month":
            raise ValueError("rolling_24h works with day or week periods (a month has no fixed length)")
        for a, b in self.brackets or []:
            if not 0 <= a <= b <= MAX_PERIODS:
                raise ValueError(f"bracket ({a}, {b}) must satisfy 0 <= from <= to <= {MAX_PERIODS}")
        if self.preset:
            # We分析: 新增留存 (new users) / 活跃留存 (active users), natural days, opens, keys 0–7, 14, 30.
            self.cohort = "first_time" if self.preset == "wechat_new" else "recurring"
            self.period, self.day_model, self.criterion = "day", "calendar", "on"
            self.start_event = self.return_event = None
            self.periods, self.brackets = 30, None
        return self


class RetentionRequest(MetricQuery, RetentionSpec, Strict):
    pass


def _period_of_day(
    day: ibis.IntegerValue, period: str, frame: Frame, ts: ibis.TimestampValue
) -> ibis.IntegerValue:
    if period == "day":
        return day
    if period == "week":
        return ((day + 3) // 7).cast("int64")
    local = ts + (
        frame.tb.local_seconds(ts, day_date(frame.start_day - 4000), day_date(frame.end_day + 400))
        - epoch_s(ts)
    ).as_interval("s")
    return (local.year() * 12 + local.month() - 1).cast("int64")


def _period_number(d: dt.date, period: str) -> int:
    return {"day": day_number(d), "week": week_number(day_number(d)), "month": month_number(d)}[period]


def _period_label(p: int, period: str) -> str:
    return {"day": day_date, "week": week_start, "month": month_start}[period](p).isoformat()


def compute(frame: Frame, spec: RetentionSpec) -> dict[str, Any]:
    for sel, where in ((spec.start_event, "start_event"), (spec.return_event, "return_event")):
        if sel is not None:
            frame.check_selector(sel, where)
    period = spec.period
    p_first = _period_number(frame.query.start, period)
    p_last = _period_number(frame.query.end, period)
    n_max = max(b for _, b in spec.brackets) if spec.brackets else spec.periods
    open_only = spec.preset is not None
    # The last period with complete data: the one before "now" (local); cells after it are null.
    today = day_number(frame.now.astimezone(frame.tb.zone).date())
    p_done = _period_number(day_date(today), period) - 1
    horizon_day = today  # returns are read up to now, so on_or_after sees returns after the range
    ev_all = frame.events(
        first_day=frame.start_day, last_day=horizon_day, history=spec.cohort == "first_time"
    )
    names = OPEN_EVENTS if open_only else None

    def pick(t: ibis.Table, sel: EventSelector | None) -> ibis.Table:
        if sel is not None:
            return t.filter(frame.selected(t, sel))
        if names is not None:
            return t.filter(t.name.isin(names))
        return t

    starts = pick(ev_all, spec.start_event)
    calendar = spec.day_model == "calendar"
    # Any-event (or open) cohorts without breakdown: the user-day rollup has exactly the (actor, day) pairs.
    rolled = (
        calendar
        and frame.rollup_ok()
        and spec.start_event is None
        and spec.return_event is None
        and not frame.query.breakdown
    )
    if rolled:
        days = frame.user_days(last_day=horizon_day, history=spec.cohort == "first_time")
        if open_only:
            days = days.filter(days.opens > 0)
        ud = days.select("actor", "day", p=_period_of_day(days.day, period, frame, days.first_ts))
        if spec.cohort == "first_time":
            coh = ud.group_by("actor").aggregate(cp=ud.p.min())
        else:
            coh = ud.select("actor", cp=ud.p).distinct()
    elif calendar:
        # Calendar periods only need who was there on which day: one pass down to distinct (actor, day) pairs
        # feeds cohorts and returns (grouping the raw events twice cost ~4x as much at 45M events).
        ud = starts.select("actor", "day", p=_period_of_day(starts.day, period, frame, starts.ts)).distinct()
        if spec.cohort == "first_time":
            coh = ud.group_by("actor").aggregate(cp=ud.p.min())
        else:
            coh = ud.select("actor", cp=ud.p).distinct()
    else:
        starts = starts.mutate(p=_period_of_day(starts.day, period, frame, starts.ts))
        if spec.cohort == "first_time":
            coh = starts.group_by("actor").aggregate(cp=starts.p.min(), anchor=starts.ts.min())
        else:
            coh = starts.group_by("actor", "p").aggregate(anchor=starts.ts.min()).rename(cp="p")
    coh = coh.filter((coh.cp >= p_first) & (coh.cp <= p_last))
    if frame.query.breakdown:
        if calendar:
            starts = starts.mutate(p=_period_of_day(starts.day, period, frame, starts.ts))
        bd_src = frame.breakdown_of(starts.filter((starts.p >= p_first) & (starts.p <= p_last)))
        key = ["actor"] if spec.cohort == "first_time" else ["actor", "p"]
        bd = bd_src.group_by(key).aggregate(bd=bd_src.bd.argmin(first_order(bd_src)))
        if spec.cohort != "first_time":
            bd = bd.rename(cp="p")
        coh = coh.left_join(bd, ["actor", "cp"] if spec.cohort != "first_time" else ["actor"]).select(
            coh, "bd"
        )
        coh = coh.mutate(bd=coh.bd.fill_null("(none)"))
    else:
        coh = coh.mutate(bd=ibis.literal("(all)"))
    if calendar:
        if spec.return_event == spec.start_event:
            back = ud
        else:
            r = pick(ev_all, spec.return_event)
            back = r.select("actor", "day", p=_period_of_day(r.day, period, frame, r.ts)).distinct()
        rets = back.filter(back.day >= frame.start_day).select("actor", rp="p").distinct()
        j = coh.join(rets, "actor").filter(lambda r: r.rp >= r.cp)
        j = j.mutate(n=(j.rp - j.cp).cast("int64"))
    else:
        rets = pick(ev_all.filter(ev_all.day >= frame.start_day), spec.return_event)
        span = 86400 * (7 if period == "week" else 1)
        j = coh.join(rets.select("actor", rts="ts"), "actor").filter(lambda r: r.rts >= r.anchor)
        j = j.mutate(n=((epoch_s(j.rts) - epoch_s(j.anchor)) // span).cast("int64"))
        j = j.select("actor", "cp", "bd", "n").distinct()
    sizes = coh.group_by("cp", "bd").aggregate(size=coh.count())

    def with_sizes(agg: ibis.Table) -> list[dict[str, Any]]:
        """The cells and the cohort sizes in one statement (k = -1 marks a size): the cohorts are built once."""
        both = agg.union(sizes.select("cp", "bd", k=ibis.literal(-1, "int64"), users=sizes.size))
        rows = frame.run(both)
        size_rows.extend({"cp": r["cp"], "bd": r["bd"], "size": r["users"]} for r in rows if r["k"] == -1)
        return [r for r in rows if r["k"] != -1]

    size_rows: list[dict[str, Any]] = []
    if spec.brackets:
        per_user = j.group_by("actor", "cp", "bd").aggregate(
            **{f"b{i}": ((j.n >= a) & (j.n <= b)).any() for i, (a, b) in enumerate(spec.brackets)}
        )
        agg = per_user.group_by("cp", "bd").aggregate(
            **{f"b{i}": per_user[f"b{i}"].cast("int64").sum() for i in range(len(spec.brackets))}
        )
        cells = {
            (r["cp"], r["bd"]): [int(r[f"b{i}"] or 0) for i in range(len(spec.brackets))]
            for r in frame.run(agg)
        }
        size_rows = frame.run(sizes)
        columns = [f"{a}" if a == b else f"{a}-{b}" for a, b in spec.brackets]
        col_last = [b for _, b in spec.brackets]
    elif spec.criterion == "on_or_after":
        per_user = j.group_by("actor", "cp", "bd").aggregate(mx=j.n.max())
        agg = per_user.group_by("cp", "bd", k=per_user.mx.cast("int64")).aggregate(users=per_user.count())
        cells = {}
        for r in with_sizes(agg):
            row = cells.setdefault((r["cp"], r["bd"]), [0] * (n_max + 1))
            for k in range(min(int(r["k"]), n_max) + 1):
                row[k] += int(r["users"])
        columns = [str(k) for k in range(n_max + 1)]
        col_last = list(range(n_max + 1))
    else:
        jj = j.filter(j.n <= n_max)
        agg = jj.group_by("cp", "bd", k=jj.n).aggregate(users=jj.count())
        cells = {}
        for r in with_sizes(agg):
            cells.setdefault((r["cp"], r["bd"]), [0] * (n_max + 1))[int(r["k"])] = int(r["users"])
        columns = [str(k) for k in range(n_max + 1)]
        col_last = list(range(n_max + 1))
    keys = WECHAT_KEYS if spec.preset else None
    rows: list[dict[str, Any]] = []
    totals: dict[str, tuple[list[int], list[int]]] = {}
    for r in sorted(size_rows, key=lambda x: (x["bd"], x["cp"])):
        cp, bd, size = int(r["cp"]), r["bd"], int(r["size"])
        counts = cells.get((cp, bd), [0] * len(columns))
        values: list[int | None] = [
            c if cp + last <= p_done else None for c, last in zip(counts, col_last, strict=True)
        ]
        if keys is not None:
            values = [values[k] for k in keys]
        rows.append(
            {
                "cohort": _period_label(cp, period),
                "breakdown": bd,
                "size": size,
                "retained": values,
                "rate": [None if v is None else (v / size if size else None) for v in values],
            }
        )
        num, den = totals.setdefault(bd, ([0] * len(values), [0] * len(values)))
        for i, v in enumerate(values):
            if v is not None:
                num[i] += v
                den[i] += size
    cols = [str(k) for k in keys] if keys is not None else columns
    mean = [
        {
            "breakdown": bd,
            "rate": [n / d if d else None for n, d in zip(num, den, strict=True)],
            "cohort_users": den,
        }
        for bd, (num, den) in sorted(totals.items())
    ]
    return {"period": period, "columns": cols, "rows": rows, "weighted_mean": mean}


def _table(result: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    cols = ["cohort", "breakdown", "size"] + [f"{result['period'][0]}{c}" for c in result["columns"]]
    out = [[r["cohort"], r["breakdown"], r["size"], *r["retained"]] for r in result["rows"]]
    for m in result["weighted_mean"]:
        out.append(
            [
                "weighted mean %",
                m["breakdown"],
                None,
                *[None if x is None else round(100 * x, 2) for x in m["rate"]],
            ]
        )
    return cols, out


@metric(
    "retention",
    request=RetentionRequest,
    title="Retention cohorts",
    order=30,
    rollup=True,
    table=_table,
    # The dashboard's retention is WeChat's new-user preset, without the previous period.
    dashboard=[
        Part(lambda f, r: compute(f, RetentionSpec(preset="wechat_new")), with_previous=False, cost=40)
    ],
)
def run(frame: Frame, req: RetentionRequest, runtime: Runtime | None) -> dict[str, Any]:
    return compute(frame, req)
