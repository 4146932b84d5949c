"""What every check shares: the `Check` base, the `Candidate` it proposes, and the `Context` of one diagnosis
(the windows, analytics frames and the per-window and daily data several checks read, each computed once)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar
from zoneinfo import ZoneInfo

from huoli.analytics import acquisition, activity, lifecycle, value
from huoli.analytics.engines import Engine
from huoli.analytics.frame import Frame, MetricQuery
from huoli.analytics.timebase import day_date
from huoli.diagnosis import stats
from huoli.diagnosis.thresholds import Thresholds

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

T = TypeVar("T")


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
    unit: str = "count"  # how its values read (text.number): rate, count, ratio, ms, days, pages


class Check:
    """One check: `run` reads what it needs through the context and returns its candidates (one per finding
    id it tests; none when it cannot run, after `ctx.skip(id, why)`)."""

    id: ClassVar[str]  # the finding id, or the id prefix of a family (conversion.funnel_step)
    signal: ClassVar[Signal]
    reads: ClassVar[tuple[str, ...]]  # the analytics metrics / events behind it (docs/diagnosis.md)
    unit: ClassVar[str] = "count"  # how its values read: rate (a fraction shown as %), count, ratio, ms…

    def run(self, ctx: Context) -> list[Candidate]:
        raise NotImplementedError

    def skip(self, ctx: Context, why: str) -> list[Candidate]:
        """Record why the check cannot run; `run` returns this (no candidates)."""
        ctx.skip(self.id, why)
        return []

    def candidate(
        self,
        *,
        title: dict[str, str],
        metric: str,
        current: float,
        baseline: float | None,
        evidence: dict[str, Any],
        gate: bool,
        shortfall: float,
        users_affected: int,
        drilldown: dict[str, Any],
        detail: dict[str, Any] | None = None,
        id: str | None = None,
    ) -> Candidate:
        """A candidate under this check's id (or a family member's `id`), signal and unit."""
        return Candidate(
            id=id or self.id,
            signal=self.signal,
            unit=self.unit,
            title=title,
            metric=metric,
            current=current,
            baseline=baseline,
            evidence=evidence,
            gate=gate,
            shortfall=shortfall,
            users_affected=users_affected,
            drilldown=drilldown,
            detail=detail or {},
        )

    def below(
        self,
        *,
        title: dict[str, str],
        metric: str,
        current: float,
        threshold: float,
        evidence: dict[str, Any],
        users_affected: int,
        drilldown: dict[str, Any],
        detail: dict[str, Any],
        baseline: float | None = None,
        id: str | None = None,
    ) -> Candidate:
        """A level candidate that fires when `current` is under `threshold` (shortfall: the relative gap)."""
        return self.candidate(
            id=id,
            title=title,
            metric=metric,
            current=current,
            baseline=baseline,
            evidence=evidence,
            gate=current < threshold,
            shortfall=(threshold - current) / threshold,
            users_affected=users_affected,
            drilldown=drilldown,
            detail=detail,
        )

    def change(
        self,
        ctx: Context,
        *,
        title: dict[str, str],
        metric: str,
        current: float,
        baseline: float,
        evidence: dict[str, Any],
        direction: stats.Direction,
        users_affected: int,
        drilldown: dict[str, Any],
        detail: dict[str, Any] | None = None,
    ) -> list[Candidate]:
        """The check's one candidate, judged by its change against the baseline."""
        return [
            ctx.change_candidate(
                id=self.id,
                signal=self.signal,
                unit=self.unit,
                title=title,
                metric=metric,
                current=current,
                baseline=baseline,
                evidence=evidence,
                direction=direction,
                users_affected=users_affected,
                drilldown=drilldown,
                detail=detail,
            )
        ]


def iso(d: dt.date) -> str:
    return d.isoformat()


def day_number(d: dt.date) -> int:
    return (d - dt.date(1970, 1, 1)).days


class Context:
    """One diagnosis: app, windows, thresholds; data read once and shared by the checks that need it."""

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
        self.skipped: dict[str, str] = {}
        self.notes: list[str] = []
        self._memo: dict[str, Any] = {}

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
            {"label": f"{iso(s)}–{iso(e)}", "body": {"start": iso(s), "end": iso(e), **(extra or {})}}
            for s, e in self.windows()
        ]

    def span_request(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"start": iso(self.span[0]), "end": iso(self.span[1]), **(extra or {})}

    def skip(self, check: str, why: str) -> None:
        self.skipped[check] = why

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """Data several checks read (per-window aggregates, daily series) is queried once per diagnosis."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def change_candidate(
        self,
        *,
        id: str,
        signal: Signal,
        unit: str,
        title: dict[str, str],
        metric: str,
        current: float,
        baseline: float,
        evidence: dict[str, Any],
        direction: stats.Direction,
        users_affected: int,
        drilldown: dict[str, Any],
        detail: dict[str, Any] | None = None,
    ) -> Candidate:
        change = (current - baseline) / baseline if baseline else 0.0
        bad = -change if direction == "down" else change
        return Candidate(
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
            unit=unit,
        )

    def split(
        self, rows: list[dict[str, Any]], key: str, date_key: str = "date"
    ) -> tuple[list[float], list[float]]:
        """A daily series' values in the current window and in the baseline windows."""
        c, b = self.split_rows(rows, date_key)
        return [float(r[key] or 0) for r in c], [float(r[key] or 0) for r in b]

    def split_rows(
        self, rows: list[dict[str, Any]], date_key: str = "date"
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Daily rows in the current window and in the baseline windows."""
        cur_start = iso(self.cur[0])
        return [r for r in rows if r[date_key] >= cur_start], [r for r in rows if r[date_key] < cur_start]

    def per_window(self, value: Callable[[dict[str, Any]], Any]) -> list[dict[str, Any]]:
        """`value` of each window's aggregates (window_data), baseline windows first, with the window's dates."""
        cur, base = self.window_data()
        return windows_detail(self.windows(), [value(w) for w in [*base, cur]])

    # ---- history ----------------------------------------------------------------------------------------
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

    # ---- shared data ------------------------------------------------------------------------------------
    def window_data(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The current window's aggregates and the baseline windows', oldest first."""
        wins = self.memo("windows", lambda: [self._window(self.frame(s, e)) for s, e in self.windows()])
        return wins[-1], wins[:-1]

    def daily_active(self) -> list[dict[str, Any]]:
        return self.memo("daily_active", lambda: activity.active_users(self.frame(*self.span)))

    def daily_access(self) -> list[dict[str, Any]]:
        return self.memo("daily_access", lambda: activity.daily_access(self.frame(*self.span)))

    def lifecycle_days(self) -> list[dict[str, Any]]:
        return self.memo("lifecycle_days", lambda: lifecycle.compute(self.frame(*self.span), "day")["rows"])

    def _window(self, f: Frame) -> dict[str, Any]:
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


def event_bounds(
    engine: Engine, app_id: str, tz: str, now: dt.datetime, known: frozenset[str], up_to: dt.date
) -> tuple[dt.date | None, dt.date | None]:
    """The local days of the app's first and last events on or before `up_to` (None, None: no events)."""
    f = Frame(
        engine=engine,
        app_id=app_id,
        query=MetricQuery(start=up_to, end=up_to, tz=tz),
        tz=tz,
        now=now,
        known_events=known,
    )
    ev = f.events(history=True)
    (r,) = f.run(ev.aggregate(first=ev.ts.min(), last=ev.ts.max()))
    if r["first"] is None:
        return None, None
    zone = ZoneInfo(tz)
    return _aware(r["first"]).astimezone(zone).date(), _aware(r["last"]).astimezone(zone).date()


def _aware(ts: dt.datetime) -> dt.datetime:
    # DuckDB sessions run in UTC; a naive timestamp from an engine is UTC too
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=dt.UTC)


def _first(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    return rows[0] if rows else None


def windows_detail(wins: list[tuple[dt.date, dt.date]], values: list[Any]) -> list[dict[str, Any]]:
    return [{"start": iso(s), "end": iso(e), "value": v} for (s, e), v in zip(wins, values, strict=True)]


def series_drill(metric: str, body: dict[str, Any], path: str, x: str, y: str) -> dict[str, Any]:
    """Drill-down to one analytics request whose result holds a series (POST /admin/analytics/<metric>)."""
    return {
        "metric": metric,
        "kind": "series",
        "requests": [{"label": metric, "body": body}],
        "path": path,
        "x": x,
        "y": y,
    }


def window_drill(
    metric: str, requests: list[dict[str, Any]], pick: list[str], reduce: str | None = None
) -> dict[str, Any]:
    """Drill-down to the metric per window: one request each; `pick` is a value path (or numerator and
    denominator paths); `reduce` names a rule the console applies to the picked value."""
    return {"metric": metric, "kind": "windows", "requests": requests, "pick": pick, "reduce": reduce}
