"""Experiment results from the event log: one SQL pass per result, then the statistics on summaries.

Unit: the logged-in user (`user_id`). Exposure: the user's first `experiment_exposure` event for the
experiment (its variant and time t0). Each metric is a per-user value over events of that user, counted from
the user's own t0 — never from the experiment's `started_at`, so imported or backfilled history counts:
- conversion: 1 if `event` happened in [t0, t0 + window_days) (no window: [t0, as_of)), else 0;
- mean: Σ `property` (or the count) of `event` in that window — users without events count as 0;
- ratio: Σ numerator / Σ denominator over users in that window (delta-method variance);
- retention: 1 if the user had any event (or `event`) on local calendar day t0 + N (app timezone).
Everything stops at `as_of` (default now), so results on day d are what anyone would have seen on day d.
Exposures without a user id are counted and skipped; users exposed to more than one variant are counted and
excluded from every metric and from SRM (GrowthBook's `__multiple__` rule).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from huoli.errors import HuoliError
from huoli.events.stores import EventStore
from huoli.events.stores.clickhouse import literal
from huoli.experiments import stats
from huoli.experiments.models import Experiment
from huoli.experiments.schemas import MetricDef, MetricKind, metric_list

_NUMERIC_COLUMNS = {"amount_fen", "duration_ms", "load_ms"}
_SAFE = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")
MAX_TIMESERIES_POINTS = 31
# GrowthBook's multiple-exposures health check: unhealthy at ≥ 10 such users and ≥ 1 % of the analysed ones.
MULTIPLE_EXPOSURES_MIN_COUNT = 10
MULTIPLE_EXPOSURES_MIN_SHARE = 0.01
# Row keys for the two counts the statement returns beside the variants (variant keys start with a letter).
MULTIPLE = "__multiple__"
ANONYMOUS = "__anonymous__"


def _ident(name: str) -> str:
    # Names are validated at creation; checked again because they are spliced into SQL text.
    if not _SAFE.match(name):
        raise ValueError(f"unsafe identifier {name!r}")
    return name


@dataclass(frozen=True)
class Dialect:
    """The few spellings in which DuckDB and ClickHouse differ for this statement; the rest is shared SQL."""

    name: str
    arg_min: str
    json_text: str  # (doc, '$.key') → the value's text, NULL when absent
    to_double: str  # text → DOUBLE, NULL when not a number
    local_date: str  # {ts}, {tz} → the calendar date in that time zone


DUCKDB = Dialect(
    "duckdb", "arg_min", "json_extract_string", "TRY_CAST({x} AS DOUBLE)", "timezone({tz}, {ts})::DATE"
)
# JSON_VALUE gives NULL for an absent key under the store's function_json_value_return_type_allow_nullable.
CLICKHOUSE = Dialect("clickhouse", "argMin", "JSON_VALUE", "toFloat64OrNull({x})", "toDate({ts}, {tz})")
DIALECTS = {d.name: d for d in (DUCKDB, CLICKHOUSE)}


def _value(prop: str | None, d: Dialect) -> str:
    if prop is None:
        return "1"
    if prop in _NUMERIC_COLUMNS:
        return f"coalesce(ev.{prop}, 0)"
    text = f"{d.json_text}(ev.properties, '$.{_ident(prop)}')"
    return f"coalesce({d.to_double.format(x=text)}, 0)"


def _window(days: int | None) -> str:
    if days is None:  # no conversion window: from exposure to as_of (the event CTE stops at as_of)
        return "ev.ts >= x.t0"
    return f"ev.ts >= x.t0 AND ev.ts < x.t0 + INTERVAL {int(days)} DAY"


def metric_columns(
    i: int, m: MetricDef, cuped_days: int, d: Dialect = DUCKDB, tz: str = "$4"
) -> tuple[list[str], list[str]]:
    """(per-user expressions, per-variant aggregates) for metric i; `tz` is the time zone's SQL (a parameter
    or a literal)."""
    per_user: list[str] = []
    agg: list[str] = []
    if m.kind is MetricKind.retention:
        match = f"ev.name = '{_ident(m.event)}'" if m.event else "ev.name <> 'experiment_exposure'"
        day = (
            f"{d.local_date.format(ts='ev.ts', tz=tz)} = {d.local_date.format(ts='x.t0', tz=tz)} "
            f"+ {int(m.retention_day)}"
        )
        per_user.append(f"max(CASE WHEN {match} AND {day} THEN 1 ELSE 0 END) AS m{i}")
    elif m.kind is MetricKind.conversion:
        assert m.event
        per_user.append(
            f"max(CASE WHEN ev.name = '{_ident(m.event)}' AND {_window(m.window_days)} THEN 1 ELSE 0 END) AS m{i}"
        )
    else:
        assert m.event
        per_user.append(
            f"sum(CASE WHEN ev.name = '{_ident(m.event)}' AND {_window(m.window_days)} "
            f"THEN {_value(m.property, d)} ELSE 0 END) AS m{i}"
        )
    agg += [f"sum(m{i}) AS s{i}", f"sum(m{i} * m{i}) AS q{i}"]
    if m.kind is MetricKind.ratio:
        assert m.denominator_event
        per_user.append(
            f"sum(CASE WHEN ev.name = '{_ident(m.denominator_event)}' AND {_window(m.window_days)} "
            f"THEN {_value(m.denominator_property, d)} ELSE 0 END) AS d{i}"
        )
        agg += [f"sum(d{i}) AS ds{i}", f"sum(d{i} * d{i}) AS dq{i}", f"sum(m{i} * d{i}) AS x{i}"]
    if m.cuped:
        assert m.event
        pre = f"ev.ts >= x.t0 - INTERVAL {int(cuped_days)} DAY AND ev.ts < x.t0"
        per_user.append(
            f"sum(CASE WHEN ev.name = '{_ident(m.event)}' AND {pre} THEN {_value(m.property, d)} ELSE 0 END)"
            f" AS p{i}"
        )
        agg += [f"sum(p{i}) AS ps{i}", f"sum(p{i} * p{i}) AS pq{i}", f"sum(p{i} * m{i}) AS px{i}"]
    return per_user, agg


# DuckDB binds $n parameters; on ClickHouse the store renders values as literals, so they appear inline.
_DUCKDB_PARAMS = {"app": "$1", "experiment": "$2", "as_of": "$3", "tz": "$4"}


def build_sql(
    metrics: list[MetricDef],
    *,
    cuped_days: int,
    dialect: str = "duckdb",
    params: dict[str, str] | None = None,
) -> str:
    """The whole result as one statement: first exposures → per-user metric values → per-variant sums,
    plus two count rows: users exposed to several variants (MULTIPLE) and anonymous exposures (ANONYMOUS).

    DuckDB parameters: $1 app id, $2 experiment key, $3 as of, $4 time zone. Other dialects take `params`:
    the same four as SQL literals, keyed app/experiment/as_of/tz.
    """
    d = DIALECTS[dialect]
    p = _DUCKDB_PARAMS if params is None else params
    names: set[str] = set()
    any_event = False
    per_user: list[str] = []
    agg: list[str] = []
    for i, m in enumerate(metrics):
        pu, ag = metric_columns(i, m, cuped_days, d, p["tz"])
        per_user += pu
        agg += ag
        if m.kind is MetricKind.retention and m.event is None:
            any_event = True
        names.update(_ident(n) for n in (m.event, m.denominator_event) if n)
    name_filter = "" if any_event else "AND name IN (" + ", ".join(f"'{n}'" for n in sorted(names)) + ")"
    # Metric events start at the earliest exposure (less the CUPED pre-period): each user's window does the rest.
    pre = max(int(cuped_days), 0) if any(m.cuped for m in metrics) else 0
    sums = ", ".join(f"agg.{a.rsplit(' AS ', 1)[1]}" for a in agg)
    exposure = f"""app_id = {p["app"]} AND name = 'experiment_exposure' AND ts < {p["as_of"]}
      AND {d.json_text}(properties, '$.experiment') = {p["experiment"]}"""
    # Users without any metric event contribute 0 to every sum: aggregate only users with events (inner
    # join), and count users per variant from the exposures alone — no 10M-row outer join.
    return f"""
WITH x AS (
    SELECT user_id,
        CASE WHEN count(DISTINCT {d.json_text}(properties, '$.variant')) > 1 THEN '{MULTIPLE}'
             ELSE {d.arg_min}({d.json_text}(properties, '$.variant'), ts) END AS variant,
        min(ts) AS t0
    FROM events
    WHERE {exposure} AND user_id IS NOT NULL
    GROUP BY user_id
), ev AS (
    SELECT user_id, name, ts, amount_fen, duration_ms, load_ms, properties
    FROM events
    WHERE app_id = {p["app"]} AND user_id IS NOT NULL AND ts < {p["as_of"]} {name_filter}
      AND ts >= (SELECT min(t0) FROM x) - INTERVAL {pre} DAY
), u AS (
    SELECT x.variant, {", ".join(per_user)}
    FROM x JOIN ev ON ev.user_id = x.user_id
    WHERE x.variant <> '{MULTIPLE}'
    GROUP BY x.user_id, x.variant, x.t0
), agg AS (
    SELECT variant, {", ".join(agg)} FROM u GROUP BY variant
), n AS (
    SELECT variant, count(*) AS n FROM x GROUP BY variant
    UNION ALL
    SELECT '{ANONYMOUS}' AS variant, count(*) AS n FROM events WHERE {exposure} AND user_id IS NULL
)
SELECT n.variant, n.n, {sums} FROM n LEFT JOIN agg ON agg.variant = n.variant
"""


@dataclass(frozen=True)
class Summary:
    """Per-variant sums for every metric, as returned by the SQL, and the exposures left out of them."""

    rows: dict[str, dict[str, float]]
    multiple: int = 0  # users exposed to more than one variant (excluded)
    anonymous: int = 0  # exposure events without a user id (skipped)

    def users(self, variant: str) -> int:
        return int(self.rows.get(variant, {}).get("n", 0))

    def stat(self, variant: str, i: int, m: MetricDef) -> stats.Stat | None:
        r = self.rows.get(variant)
        if not r or not r.get("n"):
            return None
        n = int(r["n"])
        if m.kind in (MetricKind.conversion, MetricKind.retention):
            return stats.ProportionStat(n, float(r[f"s{i}"] or 0))
        if m.kind is MetricKind.ratio:
            return stats.RatioStat(
                n,
                float(r[f"s{i}"] or 0),
                float(r[f"q{i}"] or 0),
                float(r[f"ds{i}"] or 0),
                float(r[f"dq{i}"] or 0),
                float(r[f"x{i}"] or 0),
            )
        return stats.MeanStat(n, float(r[f"s{i}"] or 0), float(r[f"q{i}"] or 0))

    def cuped(self, variant: str, i: int) -> stats.CupedStat | None:
        r = self.rows.get(variant)
        if not r or not r.get("n"):
            return None
        return stats.CupedStat(
            int(r["n"]),
            float(r[f"s{i}"] or 0),
            float(r[f"q{i}"] or 0),
            float(r[f"ps{i}"] or 0),
            float(r[f"pq{i}"] or 0),
            float(r[f"px{i}"] or 0),
        )


def summarise(
    store: EventStore, exp: Experiment, *, as_of: datetime, tz: str, metrics: list[MetricDef] | None = None
) -> Summary:
    if store.dialect not in DIALECTS:
        raise HuoliError(
            f"experiment results are not supported on a {store.dialect} event store", code="not_supported"
        )
    ms = metrics if metrics is not None else [m for _, m in metric_list(exp.metrics)]
    cuped_days = int(exp.stats.get("cuped_days", 14))
    if store.dialect == "clickhouse":
        values = {"app": exp.app_id, "experiment": exp.key, "as_of": as_of, "tz": tz}
        sql = build_sql(
            ms,
            cuped_days=cuped_days,
            dialect="clickhouse",
            params={k: literal(v) for k, v in values.items()},
        )
        table = store.query(sql)
    else:
        sql = build_sql(ms, cuped_days=cuped_days)
        params: list[Any] = [exp.app_id, exp.key, as_of]
        if any(m.kind is MetricKind.retention for m in ms):
            params.append(tz)  # DuckDB refuses parameters the statement does not use
        table = store.query(sql, params)
    rows = {r["variant"]: r for r in table.to_pylist() if r["variant"] is not None}
    counts = {k: int(rows.pop(k, {}).get("n") or 0) for k in (MULTIPLE, ANONYMOUS)}
    return Summary(rows, multiple=counts[MULTIPLE], anonymous=counts[ANONYMOUS])


def _test(a: stats.Moments, b: stats.Moments, cfg: dict[str, Any], relative: bool) -> stats.TestResult:
    method = cfg.get("method", "sequential")
    alpha = float(cfg.get("alpha", 0.05))
    if method == "bayesian":
        return stats.bayesian_test(a, b, relative=relative, alpha=alpha)
    if method == "sequential":
        return stats.sequential_test(
            a, b, relative=relative, alpha=alpha, tuning=float(cfg.get("sequential_tuning", 5000))
        )
    return stats.welch_t_test(a, b, relative=relative, alpha=alpha)


def _moments(
    summary: Summary, variant: str, control: str, i: int, m: MetricDef
) -> tuple[Any, Any, float | None]:
    if m.cuped:
        ca, cb = summary.cuped(control, i), summary.cuped(variant, i)
        if ca is None or cb is None or ca.n < 3 or cb.n < 3:
            return None, None, None
        a, b, theta = stats.cuped_moments(ca, cb)
        return a, b, theta
    sa, sb = summary.stat(control, i, m), summary.stat(variant, i, m)
    if sa is None or sb is None:
        return None, None, None
    return stats.moments(sa), stats.moments(sb), None


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def analyse(exp: Experiment, summary: Summary) -> dict[str, Any]:
    """Statistics, corrections, SRM, guardrails and the verdict from per-variant sums."""
    cfg = exp.stats
    alpha = float(cfg.get("alpha", 0.05))
    variants = [v["key"] for v in exp.variants]
    control = variants[0]
    users = [summary.users(v) for v in variants]
    weights = [float(v["weight"]) for v in exp.variants]
    srm_p = stats.srm_p_value(users, weights) if sum(users) else 1.0
    metrics_out: list[dict[str, Any]] = []
    corrected: list[tuple[dict[str, Any], float]] = []
    for i, (role, m) in enumerate(metric_list(exp.metrics)):
        entry: dict[str, Any] = {
            "key": m.key,
            "role": role,
            "kind": m.kind.value,
            "direction": m.direction.value,
            "variants": [],
            "comparisons": [],
        }
        for v in variants:
            st = summary.stat(v, i, m)
            entry["variants"].append(
                {"variant": v, "users": summary.users(v), "value": _finite(st.mean) if st else None}
            )
        for v in variants[1:]:
            a, b, theta = _moments(summary, v, control, i, m)
            comp: dict[str, Any] = {"variant": v}
            if a is None or b is None:
                comp.update({"available": False})
                entry["comparisons"].append(comp)
                continue
            ab = _test(a, b, cfg, relative=False)
            rel = _test(a, b, cfg, relative=True)
            # A control at 0 has no relative lift: decide on the absolute difference instead.
            main = rel if rel.se > 0 else ab
            comp.update(
                {
                    "available": main.se > 0,
                    "absolute": {"lift": _finite(ab.lift), "ci": [_finite(ab.ci[0]), _finite(ab.ci[1])]},
                    "relative": {"lift": _finite(rel.lift), "ci": [_finite(rel.ci[0]), _finite(rel.ci[1])]}
                    if rel.se > 0
                    else None,
                    "p_value": _finite(main.p_value),
                    "chance_to_win": _finite(main.chance_to_win),
                    "risk": list(main.risk) if main.risk else None,
                    "cuped_theta": theta,
                    "users_needed": stats.users_needed(a, b, relative=rel.se > 0, alpha=alpha),
                }
            )
            sign = 1 if m.direction.value == "increase" else -1
            if cfg.get("method") == "bayesian":
                ctw = main.chance_to_win if main.chance_to_win is not None else 0.5
                good = ctw if sign > 0 else 1 - ctw
                comp["better"] = good >= 1 - alpha / 2
                comp["worse"] = good <= alpha / 2
            else:
                comp["better"] = main.significant and sign * main.lift > 0
                comp["worse"] = main.significant and sign * main.lift < 0
            if role != "guardrails" and comp["p_value"] is not None and cfg.get("method") != "bayesian":
                corrected.append((comp, comp["p_value"]))
            if role == "guardrails":
                comp["alarm"] = comp["worse"]
            entry["comparisons"].append(comp)
        metrics_out.append(entry)
    correction = cfg.get("correction", "holm")
    if corrected and correction != "none":
        ps = [p for _, p in corrected]
        adj = stats.holm(ps) if correction == "holm" else stats.benjamini_hochberg(ps)
        for (comp, _), p in zip(corrected, adj, strict=True):
            comp["p_adjusted"] = p
            # A correction can only remove significance (never add it): better/worse require adjusted p < alpha.
            if p >= alpha:
                comp["better"] = comp["worse"] = False
    srm = {
        "p_value": srm_p,
        "warning": srm_p < stats.SRM_THRESHOLD,
        "users": dict(zip(variants, users, strict=True)),
        "expected_weights": dict(zip(variants, weights, strict=True)),
    }
    return {
        "variants": variants,
        "srm": srm,
        "exposures": exposure_health(summary, sum(users)),
        "metrics": metrics_out,
        "verdict": verdict(exp, metrics_out, srm, users),
    }


def exposure_health(summary: Summary, analysed: int) -> dict[str, Any]:
    """What the analysis left out: anonymous exposures, and users seen in several variants (GrowthBook's
    multiple-exposures check: excluded, with a warning at ≥ 10 users and ≥ 1 % of the analysed users)."""
    multiple, anonymous = summary.multiple, summary.anonymous
    share = multiple / analysed if analysed else (1.0 if multiple else 0.0)
    warning = multiple >= MULTIPLE_EXPOSURES_MIN_COUNT and share >= MULTIPLE_EXPOSURES_MIN_SHARE
    notes: list[dict[str, str]] = []
    if anonymous:
        text = f"{anonymous:,} exposures without a user id (anonymous) were skipped."
        notes.append({"code": "anonymous_exposures", "level": "info", "text": text})
    if multiple:
        text = (
            f"{multiple:,} users were exposed to more than one variant ({share:.1%} of the analysed users) "
            "and are excluded from every metric and from the SRM check."
        )
        if warning:
            text += " That is too many: check that the flag is evaluated with a stable user id."
        notes.append({"code": "multiple_exposures", "level": "warning" if warning else "info", "text": text})
    return {
        "users": analysed,
        "anonymous_skipped": anonymous,
        "multiple_variants": multiple,
        "multiple_excluded": True,
        "multiple_share": share,
        "multiple_warning": warning,
        "notes": notes,
    }


def _said(decision: str, en: str, zh: str, **extra: Any) -> dict[str, Any]:
    # `text` stays English for the readers that take it as it is (weekly report, CLI); `texts` has both
    return {"decision": decision, "text": en, "texts": {"zh": zh, "en": en}, **extra}


def verdict(
    exp: Experiment, metrics: list[dict[str, Any]], srm: dict[str, Any], users: list[int]
) -> dict[str, Any]:
    """A plain-language decision: ship, keep running (with how many more users), no effect, or investigate;
    `text` in English, `texts` in each console language."""
    names = {v["key"]: v.get("name") or v["key"] for v in exp.variants}
    control = exp.variants[0]["key"]
    total = sum(users)
    min_users = int(exp.stats.get("min_users_per_variant", 100))
    if exp.status == "draft":
        return _said("not_started", "Not started yet.", "尚未开始。")
    if srm["warning"]:
        p = f"{srm['p_value']:.2g}"
        return _said(
            "investigate",
            f"Sample ratio mismatch (p = {p}): the split of users does not match the "
            "configured weights, so the results can't be trusted. Check how the flag is evaluated.",
            f"样本比例不匹配（p = {p}）：用户的分流与配置的权重不符，结果不可信。请检查功能开关的取值方式。",
        )
    alarms = [
        (m["key"], c["variant"])
        for m in metrics
        if m["role"] == "guardrails"
        for c in m["comparisons"]
        if c.get("alarm")
    ]
    if alarms:
        which = ", ".join(f"{names[v]} hurts {k}" for k, v in alarms)
        which_zh = "；".join(f"{names[v]} 使 {k} 变差" for k, v in alarms)
        return _said(
            "guardrail",
            f"Guardrail alarm: {which}. Don't ship those variants.",
            f"护栏指标告警：{which_zh}。不要发布这些变体。",
            alarms=alarms,
        )
    if min(users) < min_users:
        need = max(min_users * len(users) - total, 1)
        return _said(
            "keep_running",
            f"Keep running — about {need} more users needed before a first read "
            f"(each variant needs {min_users}).",
            f"继续运行——还需要约 {need:,} 位用户才能初步判断（每个变体至少 {min_users:,} 位）。",
            more_users=need,
        )
    primary = next(m for m in metrics if m["role"] == "primary")
    metric = primary["key"]
    comps = [c for c in primary["comparisons"] if c.get("available")]
    winners = [c for c in comps if c.get("better")]
    if winners:
        best = max(
            winners, key=lambda c: (1 if primary["direction"] == "increase" else -1) * c["relative"]["lift"]
        )
        lift = best["relative"]["lift"]
        winner, base = names[best["variant"]], names[control]
        return _said(
            "ship",
            f"Ship {winner}: {metric} {lift:+.1%} vs {base}.",
            f"全量发布 {winner}：{metric} 相对 {base} {lift:+.1%}。",
            variant=best["variant"],
        )
    if comps and all(c.get("worse") for c in comps):
        base = names[control]
        return _said(
            "keep_control",
            f"Keep {base}: every variant did worse on {metric}.",
            f"保留 {base}：每个变体的 {metric} 都更差。",
        )
    needed = [c["users_needed"] for c in comps if c.get("users_needed")]
    more = min(needed) - total if needed else 0
    if 0 < more <= 10 * max(total, 1):
        return _said(
            "keep_running",
            f"Keep running — about {more:,} more users needed to tell whether the difference in "
            f"{metric} is real.",
            f"继续运行——还需要约 {more:,} 位用户才能判断 {metric} 的差异是否真实。",
            more_users=more,
        )
    return _said(
        "no_effect",
        f"No effect detected on {metric}: any difference is too small to matter at this traffic.",
        f"未发现 {metric} 有效果：以当前流量，任何差异都小到不足为据。",
    )


def results(
    store: EventStore, exp: Experiment, *, as_of: datetime, tz: str, timeseries: bool = False
) -> dict[str, Any]:
    summary = summarise(store, exp, as_of=as_of, tz=tz)
    out = {
        "experiment": exp.key,
        "status": exp.status,
        "as_of": as_of.isoformat(),
        "method": exp.stats.get("method"),
        **analyse(exp, summary),
    }
    if timeseries and exp.started_at is not None:
        out["timeseries"] = over_time(store, exp, as_of=as_of, tz=tz)
    return out


def over_time(store: EventStore, exp: Experiment, *, as_of: datetime, tz: str) -> list[dict[str, Any]]:
    """Cumulative results at the end of each local day since the start (what was visible that day); for a
    long (e.g. backdated) run, its last MAX_TIMESERIES_POINTS days."""
    assert exp.started_at is not None
    zone = ZoneInfo(tz)
    last = (
        (as_of - timedelta(microseconds=1)).astimezone(zone).date()
    )  # as_of at midnight ends the day before
    day = max(exp.started_at.astimezone(zone).date(), last - timedelta(days=MAX_TIMESERIES_POINTS - 1))
    points: list[dict[str, Any]] = []
    while day <= last and len(points) < MAX_TIMESERIES_POINTS:
        end = min(datetime.combine(day + timedelta(days=1), datetime.min.time(), zone), as_of)
        summary = summarise(store, exp, as_of=end, tz=tz)
        analysed = analyse(exp, summary)
        primary = next(m for m in analysed["metrics"] if m["role"] == "primary")
        points.append(
            {
                "date": day.isoformat(),
                "users": analysed["srm"]["users"],
                "primary": {
                    c["variant"]: c["relative"] or c["absolute"]
                    for c in primary["comparisons"]
                    if c.get("available")
                },
            }
        )
        day += timedelta(days=1)
    return points
