"""The stagnation doctor: runs every registered check (checks/, one module per signal) on the analytics
metrics of one app, controls the false-discovery rate over all of them, and returns findings with evidence,
severity and playbooks.

Public contract (the weekly report builds on it): `diagnose(runtime, app, end=, tz=) -> Diagnosis`.
`diagnose_engine` is the same on any analytics engine (the scenario tests run it on in-memory DuckDB).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from huoli.analytics import service as analytics
from huoli.analytics.engines import Engine
from huoli.analytics.frame import MIN_DAY
from huoli.db import unit_of_work
from huoli.diagnosis import playbooks, stats, text
from huoli.diagnosis import thresholds as thresholds_mod
from huoli.diagnosis.checks import SIGNALS, Candidate, Check, Context, Signal, registered
from huoli.diagnosis.checks.base import event_bounds
from huoli.diagnosis.thresholds import Thresholds
from huoli.errors import ValidationFailed
from huoli.events.catalog import CATALOG

if TYPE_CHECKING:
    from huoli.apps.models import App
    from huoli.runtime import Runtime

Severity = Literal["high", "medium", "low"]


@dataclass
class Finding:
    id: str
    signal: Signal
    title: dict[str, str]
    metric: str  # analytics metric + field, e.g. "activity.series.dau"
    current: float
    baseline: float | None
    change: float | None  # relative: (current − baseline) / baseline
    evidence: dict[str, Any]
    users_affected: int
    severity: Severity
    playbooks: list[str]
    detail: dict[str, Any]
    drilldown: dict[str, Any]
    unit: str = "count"  # how current and baseline read (text.number): rate = a fraction shown as %

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Diagnosis:
    app_id: str
    end: dt.date
    current: tuple[dt.date, dt.date]
    baseline: tuple[dt.date, dt.date]
    findings: list[Finding]
    checked: list[str]  # every check that ran, found or not
    skipped: dict[str, str] = field(default_factory=dict)  # check id → why it could not run
    notes: list[str] = field(default_factory=list)  # e.g. baseline windows dropped for lack of history
    tz: str = "Asia/Shanghai"
    thresholds: dict[str, Any] = field(default_factory=dict)
    # how much history there is and whether it is enough to judge (docs/diagnosis.md#not-enough-data)
    data: dict[str, Any] = field(default_factory=dict)
    end_source: Literal["given", "last_event_day", "yesterday"] = "given"

    def to_dict(self) -> dict[str, Any]:
        d = self._dict()
        d["text"] = {lang: _texts(d, lang) for lang in text.LANGS}
        for f in d["findings"]:
            f["text"] = {lang: text.finding_text(f, lang) for lang in text.LANGS}
        return d

    def _dict(self) -> dict[str, Any]:
        return {
            "app_id": self.app_id,
            "end": self.end.isoformat(),
            "tz": self.tz,
            "current": [d.isoformat() for d in self.current],
            "baseline": [d.isoformat() for d in self.baseline],
            "findings": [f.to_dict() for f in self.findings],
            "checked": list(self.checked),
            "skipped": dict(self.skipped),
            "notes": list(self.notes),
            "thresholds": self.thresholds,
            "data": dict(self.data),
            "end_source": self.end_source,
        }


def _texts(d: dict[str, Any], lang: text.Lang) -> dict[str, str]:
    """The diagnosis' sentences for an operator: the verdict and, when the doctor picked the end, why."""
    return {"verdict": text.verdict(d, lang), "end": text.end_note(d, lang)}


SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


def decide(candidates: list[Candidate], th: Thresholds) -> list[Finding]:
    """Noise control: Benjamini–Hochberg over every test of the diagnosis, then the effect gate; severity."""
    ps = [c.evidence["p_value"] for c in candidates]
    reject, adjusted = stats.bh(ps, th.fdr)
    out = []
    for c, rej, adj in zip(candidates, reject, adjusted, strict=True):
        c.evidence["p_adjusted"] = adj
        c.evidence["fdr"] = th.fdr
        c.evidence["significant"] = rej
        if not (rej and c.gate):
            continue
        sev: Severity = (
            "high"
            if c.shortfall >= th.severity_high
            else "medium"
            if c.shortfall >= th.severity_medium
            else "low"
        )
        change = (c.current - c.baseline) / c.baseline if c.baseline else None
        out.append(
            Finding(
                id=c.id,
                signal=c.signal,
                title=c.title,
                metric=c.metric,
                current=_clean(c.current),
                baseline=_clean(c.baseline) if c.baseline is not None else None,
                change=_clean(change) if change is not None else None,
                evidence={k: _clean(v) for k, v in c.evidence.items()},
                users_affected=c.users_affected,
                severity=sev,
                playbooks=playbooks.for_finding(c.id),
                detail=c.detail,
                drilldown={**c.drilldown, "field": c.metric},
                unit=c.unit,
            )
        )
    out.sort(key=lambda f: (SEVERITY_ORDER[f.severity], SIGNALS.index(f.signal), f.id))
    return out


def _clean(v: Any) -> Any:
    """JSON-safe numbers: no NaN/inf (they are not valid JSON)."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    return v


# ---- entry points ---------------------------------------------------------------------------------------
def default_end(tz: str, now: dt.datetime) -> dt.date:
    return now.astimezone(ZoneInfo(tz)).date() - dt.timedelta(days=1)


def check_tz(tz: str) -> str:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(
            f"unknown time zone {tz!r}", details=[{"field": "tz", "message": "not an IANA zone"}]
        ) from None
    return tz


def diagnose_engine(
    engine: Engine,
    app_id: str,
    *,
    tz: str,
    now: dt.datetime,
    thresholds: Thresholds | None = None,
    end: dt.date | None = None,
    known_events: frozenset[str] | None = None,
    checks: Sequence[Check] | None = None,
) -> Diagnosis:
    """Run `checks` (default: every registered check) on the engine's events of `app_id`."""
    th = thresholds or Thresholds()
    tz = check_tz(tz)
    known = known_events or frozenset(CATALOG)
    yesterday = default_end(tz, now)
    # the baseline windows reach back before `end`, and analytics answers no day before MIN_DAY
    earliest = MIN_DAY + dt.timedelta(days=(th.baseline_windows + 1) * th.current_days)
    end_source: Literal["given", "last_event_day", "yesterday"] = "given"
    if end is None:
        # Without a date the window ends on the last day with events: data that stopped (the demo, an
        # export) would otherwise read as a fall to zero in every check.
        _, last = (
            event_bounds(engine, app_id, tz, now, known, yesterday) if yesterday >= earliest else (None, None)
        )
        end, end_source = (
            (last, "last_event_day") if last is not None and last >= earliest else (yesterday, "yesterday")
        )
    today = now.astimezone(ZoneInfo(tz)).date()
    if end >= today:
        raise ValidationFailed(
            f"end {end} is not a complete day yet",
            details=[{"field": "end", "message": f"must be before {today}"}],
        )
    if end < earliest:
        raise ValidationFailed(
            f"end {end} leaves no room for the baseline windows",
            details=[{"field": "end", "message": f"must be on or after {earliest}"}],
        )
    ctx = Context(engine, app_id, tz, end, now, th, known)
    ctx.trim_to_history()
    candidates = [c for check in (registered() if checks is None else checks) for c in check.run(ctx)]
    first, last = event_bounds(engine, app_id, tz, now, known, end)
    history = (end - first).days + 1 if first is not None else 0
    needed = 2 * th.current_days  # the current window and one baseline window to compare it with
    data = {
        "first_event_day": first.isoformat() if first else None,
        "last_event_day": last.isoformat() if last else None,
        "history_days": history,
        "needed_days": needed,
        "active_users": ctx.window_data()[0]["users"],
        "min_sample": th.min_sample,
        "enough": history >= needed and bool(candidates),
    }
    return Diagnosis(
        app_id=app_id,
        end=end,
        current=ctx.cur,
        baseline=(ctx.base[0][0], ctx.base[-1][1]) if ctx.base else (ctx.cur[0], ctx.cur[0]),
        findings=decide(candidates, th),
        checked=[c.id for c in candidates],
        skipped=ctx.skipped,
        notes=ctx.notes,
        tz=tz,
        thresholds=th.model_dump(mode="json"),
        data=data,
        end_source=end_source,
    )


def diagnose(runtime: Runtime, app: App, *, end: dt.date | None = None, tz: str | None = None) -> Diagnosis:
    """Diagnose `app` on its event log: current window = `current_days` local days ending `end` (default
    the last day with events, at the latest yesterday in the app timezone), baseline = the
    `baseline_windows` windows before it."""
    with unit_of_work(runtime.sessions, app_id=app.id) as db:
        th = thresholds_mod.load(db, app.id)
    return diagnose_engine(
        analytics.engine_for(runtime),
        app.id,
        tz=tz or app.timezone,
        now=runtime.clock(),
        thresholds=th,
        end=end,
        known_events=analytics.known_events(runtime, app.id),
    )


def severity_label(severity: str, lang: text.Lang) -> str:
    """A severity in words: 严重 / 警告 / 提示, High / Warning / Notice."""
    return text.severity(severity, lang)


def finding_text(finding: dict[str, Any], lang: text.Lang) -> dict[str, str]:
    """A finding's (Finding.to_dict()) display strings: severity word, values by unit, change, p-values."""
    return text.finding_text(finding, lang)


def verdict_text(diagnosis: dict[str, Any], lang: text.Lang) -> str:
    """A diagnosis' (Diagnosis.to_dict()) one-sentence verdict, "not enough data" included."""
    return text.verdict(diagnosis, lang)


def playbook_title(playbook_id: str) -> dict[str, str]:
    """A playbook's title per language ({"zh", "en"}); an unknown id stands for itself."""
    book = playbooks.CATALOG.get(playbook_id)
    return book.title if book is not None else {"zh": playbook_id, "en": playbook_id}
