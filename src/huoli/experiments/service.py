"""Experiments: creation rules, start / stop / ship, holdouts. Results are in results.py.

An experiment runs on a flag: starting it attaches a GrowthBook experiment rule to the flag (flags.service),
so assignment and exposure logging happen wherever the flag is evaluated (GET /v1/flags, the SDK).
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import UnaryExpression

from huoli.errors import Conflict, NotFound, ValidationFailed
from huoli.events import service as events
from huoli.events.catalog import CATALOG
from huoli.events.stores import EventStore
from huoli.experiments import results as results_mod
from huoli.experiments.models import Experiment, Holdout
from huoli.experiments.schemas import ExperimentCreate, HoldoutCreate, MetricKind, metric_list
from huoli.flags import service as flags
from huoli.flags.schemas import FlagType, condition_errors, type_error
from huoli.pagination import PageParams, paginate
from huoli.settings import Settings

SYSTEM_ACTOR = "system:experiments"
WEIGHT_TOLERANCE = 1e-6
ROLES = ("primary", "secondary", "guardrails")


# --- holdouts -------------------------------------------------------------------------------------


def holdout_seed(holdout: Holdout) -> str:
    return f"holdout:{holdout.key}:{holdout.salt}"


def in_holdout_bucket(seed: str, percent: float, unit_id: str) -> bool:
    """Same hashing as experiments (FNV-1a v2) with the holdout's own seed: independent of any experiment."""
    return flags.unit_hash(seed, unit_id) < percent


def in_holdout(*, db: Session, app_id: str, holdout_key: str, user_id: str) -> bool:
    """Is this user in the holdout group? For campaigns measuring incremental lift (unknown key → False)."""
    holdout = db.scalar(select(Holdout).where(Holdout.app_id == app_id, Holdout.key == holdout_key))
    return holdout is not None and in_holdout_bucket(holdout_seed(holdout), holdout.percent, user_id)


def create_holdout(*, db: Session, app_id: str, holdout_in: HoldoutCreate) -> Holdout:
    if db.scalar(select(Holdout).where(Holdout.key == holdout_in.key)) is not None:
        raise Conflict(f"holdout {holdout_in.key!r} already exists", code="holdout_exists")
    if holdout_in.scope.value == "global" and db.scalar(select(Holdout).where(Holdout.scope == "global")):
        raise ValidationFailed(
            "an app has at most one global holdout",
            details=[{"field": "scope", "message": "a global holdout already exists"}],
        )
    holdout = Holdout(
        app_id=app_id,
        key=holdout_in.key,
        name=holdout_in.name,
        scope=holdout_in.scope.value,
        percent=holdout_in.percent,
        salt=secrets.token_hex(8),
    )
    db.add(holdout)
    db.flush()
    return holdout


def list_holdouts(*, db: Session) -> list[Holdout]:
    return list(db.scalars(select(Holdout).order_by(Holdout.key)))


def holdouts_page(*, db: Session, page: PageParams) -> tuple[list[Holdout], str | None]:
    """One page of the app's holdouts, by key (unique per app)."""
    return paginate(db, select(Holdout), page, order=[Holdout.key.asc()])


# --- creation rules -------------------------------------------------------------------------------


def _event_known(store: EventStore, app_id: str, name: str) -> bool:
    if name in CATALOG:
        return True
    rows = store.query("SELECT 1 AS x FROM events WHERE app_id = ? AND name = ? LIMIT 1", [app_id, name])
    return rows.num_rows > 0


def _traffic(store: EventStore, app_id: str, days: int, now: datetime) -> int:
    rows = store.query(
        "SELECT count(DISTINCT user_id) AS n FROM events WHERE app_id = ? AND ts >= ? AND ts < ? "
        "AND user_id IS NOT NULL",
        [app_id, now - timedelta(days=days), now],
    )
    return int(rows.column("n")[0].as_py() or 0)


def validate(
    *, db: Session, store: EventStore, app_id: str, exp_in: ExperimentCreate, now: datetime
) -> tuple[list[dict[str, str]], Holdout | None]:
    """Every reason the experiment can't be created, each with its field; plus the holdout it will use."""
    errors: list[dict[str, str]] = []
    total = sum(v.weight for v in exp_in.variants)
    if abs(total - 1.0) > WEIGHT_TOLERANCE:
        errors.append(
            {"field": "variants", "message": f"weights must sum to 1 (they sum to {round(total, 6)})"}
        )
    keys = [v.key for v in exp_in.variants]
    for i, k in enumerate(keys):
        if k in keys[:i]:
            errors.append({"field": f"variants[{i}].key", "message": f"duplicate variant key {k!r}"})
    flag = flags.find_flag(db=db, key=exp_in.flag)
    if flag is None:
        errors.append({"field": "flag", "message": f"unknown flag {exp_in.flag!r}; create it first"})
    else:
        for i, v in enumerate(exp_in.variants):
            if (msg := type_error(FlagType(flag.type), v.value)) is not None:
                errors.append(
                    {"field": f"variants[{i}].value", "message": f"flag {flag.key!r} is {flag.type}: {msg}"}
                )
    errors.extend(condition_errors(exp_in.targeting, "targeting"))
    seen_metrics: set[str] = set()
    for role in ROLES:
        for i, m in enumerate(getattr(exp_in.metrics, role)):
            field = f"metrics.{role}[{i}]"
            if m.key in seen_metrics:
                errors.append({"field": f"{field}.key", "message": f"duplicate metric key {m.key!r}"})
            seen_metrics.add(m.key)
            for attr in ("event", "denominator_event"):
                name = getattr(m, attr)
                if name is not None and not _event_known(store, app_id, name):
                    errors.append(
                        {
                            "field": f"{field}.{attr}",
                            "message": f"unknown event {name!r}: not in the catalog and never seen in the event log",
                        }
                    )
    if exp_in.namespace is not None:
        ns = exp_in.namespace
        others = db.scalars(
            select(Experiment).where(Experiment.namespace == ns.name, Experiment.status != "stopped")
        )
        for other in others:
            if other.key != exp_in.key and ns.start < other.namespace_end and other.namespace_start < ns.end:
                errors.append(
                    {
                        "field": "namespace",
                        "message": f"range [{ns.start}, {ns.end}) overlaps experiment {other.key!r} "
                        f"[{other.namespace_start}, {other.namespace_end}) in namespace {ns.name!r}",
                    }
                )
    holdout = None
    if exp_in.holdout is not None:
        holdout = db.scalar(select(Holdout).where(Holdout.key == exp_in.holdout))
        if holdout is None:
            errors.append({"field": "holdout", "message": f"unknown holdout {exp_in.holdout!r}"})
    else:
        holdout = db.scalar(select(Holdout).where(Holdout.scope == "global"))
    # Traffic: every variant must expect enough users over the planned duration.
    if exp_in.expected_daily_users is not None:
        eligible = exp_in.expected_daily_users * exp_in.planned_days
        source = f"{exp_in.expected_daily_users} expected daily users"
    else:
        eligible = _traffic(store, app_id, exp_in.planned_days, now)
        source = f"{eligible} users active in the last {exp_in.planned_days} days"
    if eligible > 0 or exp_in.expected_daily_users is not None:
        share = exp_in.coverage
        if exp_in.namespace is not None:
            share *= exp_in.namespace.end - exp_in.namespace.start
        if holdout is not None:
            share *= 1 - holdout.percent
        need = exp_in.stats.min_users_per_variant
        for i, v in enumerate(exp_in.variants):
            expected = eligible * share * v.weight
            if expected < need:
                errors.append(
                    {
                        "field": f"variants[{i}].weight"
                        if v.weight < 1 / len(exp_in.variants)
                        else "variants",
                        "message": f"too many variants for the traffic: variant {v.key!r} would get about "
                        f"{int(expected)} users in {exp_in.planned_days} days ({source}); it needs ≥ {need}. "
                        "Use fewer variants, more coverage or a longer plan",
                    }
                )
    return errors, holdout


def create(
    *, db: Session, store: EventStore, app_id: str, exp_in: ExperimentCreate, now: datetime
) -> Experiment:
    if db.scalar(select(Experiment).where(Experiment.key == exp_in.key)) is not None:
        raise Conflict(f"experiment {exp_in.key!r} already exists", code="experiment_exists")
    errors, holdout = validate(db=db, store=store, app_id=app_id, exp_in=exp_in, now=now)
    if errors:
        raise ValidationFailed("the experiment can't be created as specified", details=errors)
    metrics = [
        {"role": role, **m.model_dump(mode="json")} for role in ROLES for m in getattr(exp_in.metrics, role)
    ]
    exp = Experiment(
        app_id=app_id,
        key=exp_in.key,
        name=exp_in.name,
        hypothesis=exp_in.hypothesis,
        flag_key=exp_in.flag,
        status="draft",
        variants=[v.model_dump(mode="json") for v in exp_in.variants],
        coverage=exp_in.coverage,
        namespace=exp_in.namespace.name if exp_in.namespace else None,
        namespace_start=exp_in.namespace.start if exp_in.namespace else 0.0,
        namespace_end=exp_in.namespace.end if exp_in.namespace else 1.0,
        holdout_key=holdout.key if holdout is not None else None,
        targeting=exp_in.targeting,
        sticky=exp_in.sticky,
        metrics=metrics,
        stats=exp_in.stats.model_dump(mode="json"),
        created_at=now,
        updated_at=now,
    )
    db.add(exp)
    db.flush()
    return exp


def get(*, db: Session, key: str) -> Experiment:
    exp = db.scalar(select(Experiment).where(Experiment.key == key))
    if exp is None:
        raise NotFound(f"unknown experiment {key!r}", code="unknown_experiment")
    return exp


def list_experiments(*, db: Session) -> list[Experiment]:
    return list(db.scalars(select(Experiment).order_by(Experiment.created_at.desc(), Experiment.key)))


def experiments_page(*, db: Session, page: PageParams) -> tuple[list[Experiment], str | None]:
    """One page of the app's experiments, newest first (key, unique per app, orders equal times)."""
    order: list[UnaryExpression[Any]] = [Experiment.created_at.desc(), Experiment.key.asc()]
    sortable = {
        "key": Experiment.key,
        "name": Experiment.name,
        "status": Experiment.status,
        "created_at": Experiment.created_at,
    }
    return paginate(db, select(Experiment), page, order=order, sortable=sortable)


def delete_draft(*, db: Session, key: str) -> Experiment:
    exp = get(db=db, key=key)
    if exp.status != "draft":
        raise Conflict(f"experiment {key!r} is {exp.status}; only drafts can be deleted", code="not_draft")
    db.delete(exp)
    db.flush()
    return exp


# --- lifecycle ------------------------------------------------------------------------------------


def flag_rule(exp: Experiment, holdout: Holdout | None) -> dict[str, Any]:
    """The GrowthBook experiment rule that serves this experiment on its flag."""
    rule: dict[str, Any] = {
        "key": exp.key,
        "variations": [v["value"] for v in exp.variants],
        "weights": [v["weight"] for v in exp.variants],
        "coverage": exp.coverage,
        "hashVersion": 2,
        "seed": exp.key,
        "meta": [{"key": v["key"], "name": v.get("name") or v["key"]} for v in exp.variants],
        "bucketVersion": 0,
    }
    if not exp.sticky:
        rule["disableStickyBucketing"] = True
    if exp.targeting:
        rule["condition"] = exp.targeting
    filters = []
    if holdout is not None:
        filters.append({"seed": holdout_seed(holdout), "ranges": [[holdout.percent, 1.0]], "hashVersion": 2})
    if exp.namespace:
        ns = [exp.namespace, exp.namespace_start, exp.namespace_end]
        if filters:
            # GrowthBook ignores `namespace` when `filters` are set: express it as a filter (same v1 hash).
            filters.append({"seed": f"__{exp.namespace}", "ranges": [ns[1:]], "hashVersion": 1})
        else:
            rule["namespace"] = ns
    if filters:
        rule["filters"] = filters
    return rule


def _emit(db: Session, exp: Experiment, name: str, now: datetime, settings: Settings, **props: Any) -> None:
    events.emit(
        db=db,
        app_id=exp.app_id,
        name=name,
        ts=now,
        idempotency_key=f"{name}:{exp.key}:{now.isoformat()}",
        anonymous_id=SYSTEM_ACTOR,
        properties={"experiment": exp.key, **props},
        settings=settings,
    )


def parse_when(text: str, *, tz: str, field: str, date_is: str = "start") -> datetime:
    """An ISO date or date-time from a person (CLI, query string) as an aware instant: without an offset it
    is in the app's timezone `tz`; a bare date is the start of that local day, or its end (`date_is="end"`)."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            when = datetime.combine(day + timedelta(days=1 if date_is == "end" else 0), time(), ZoneInfo(tz))
        else:
            when = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(
            f"{field} must be an ISO date or date-time",
            details=[
                {
                    "field": field,
                    "message": f"{text!r} is not an ISO date (2024-03-01) or date-time (2024-03-01T00:00+08:00)",
                }
            ],
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=ZoneInfo(tz))


def in_zone(when: datetime, tz: str) -> datetime:
    """A datetime from the API: without an offset it means the app's timezone."""
    return when if when.tzinfo is not None else when.replace(tzinfo=ZoneInfo(tz))


def start(
    *, db: Session, key: str, now: datetime, settings: Settings, started_at: datetime | None = None
) -> Experiment:
    """Serve the experiment; `started_at` records an earlier real start (history imported or backfilled)."""
    exp = get(db=db, key=key)
    if started_at is not None:
        if started_at.tzinfo is None:
            raise ValueError("started_at must be timezone-aware")
        if started_at > now:
            raise ValidationFailed(
                "an experiment can't be recorded as started in the future",
                details=[
                    {
                        "field": "started_at",
                        "message": f"{started_at.isoformat()} is in the future (now is "
                        f"{now.astimezone(started_at.tzinfo).isoformat(timespec='seconds')})",
                    }
                ],
            )
    if exp.status == "running":
        if started_at is not None and exp.started_at is not None and started_at != exp.started_at:
            raise Conflict(
                f"experiment {key!r} is already running since {exp.started_at.isoformat()}; "
                "stop it before recording another start",
                code="already_running",
            )
        return exp
    if exp.shipped_variant is not None:
        raise Conflict(f"experiment {key!r} was shipped; create a new one", code="already_shipped")
    holdout = db.scalar(select(Holdout).where(Holdout.key == exp.holdout_key)) if exp.holdout_key else None
    flags.attach_experiment(db=db, key=exp.flag_key, rule=flag_rule(exp, holdout), now=now, settings=settings)
    exp.status = "running"
    exp.started_at = started_at or exp.started_at or now
    exp.stopped_at = None
    exp.updated_at = now
    db.flush()
    backdated = {"started_at": started_at.isoformat()} if started_at is not None else {}
    _emit(db, exp, "experiment_started", now, settings, **backdated)
    return exp


def stop(
    *, db: Session, key: str, now: datetime, settings: Settings, ship_variant: str | None = None
) -> Experiment:
    """Stop serving the experiment; with `ship_variant`, that variant's value becomes the flag default."""
    exp = get(db=db, key=key)
    if exp.status == "draft":
        raise Conflict(f"experiment {key!r} has not started", code="not_started")
    value = None
    if ship_variant is not None:
        match = [v for v in exp.variants if v["key"] == ship_variant]
        if not match:
            raise ValidationFailed(
                f"unknown variant {ship_variant!r}",
                details=[{"field": "variant", "message": f"one of {[v['key'] for v in exp.variants]}"}],
            )
        value = match[0]["value"]
    if exp.status == "running" or ship_variant is not None:
        flags.detach_experiment(
            db=db,
            key=exp.flag_key,
            experiment_key=exp.key,
            now=now,
            settings=settings,
            ship=ship_variant is not None,
            ship_value=value,
        )
    if exp.status == "running":
        exp.stopped_at = now
    exp.status = "stopped"
    if ship_variant is not None:
        exp.shipped_variant = ship_variant
    exp.updated_at = now
    db.flush()
    props = {"shipped_variant": ship_variant} if ship_variant else {}
    _emit(db, exp, "experiment_stopped", now, settings, **props)
    return exp


def metric_events(exp: Experiment) -> set[str]:
    out: set[str] = set()
    for _, m in metric_list(exp.metrics):
        out.update(x for x in (m.event, m.denominator_event) if x)
        if m.kind is MetricKind.retention and m.event is None:
            out.add("*")
    return out


def results(store: EventStore, exp: Experiment, *, as_of: datetime, tz: str) -> dict[str, Any]:
    """An experiment's results as of a time: per-metric effects, SRM, the verdict (results.py)."""
    return results_mod.results(store, exp, as_of=as_of, tz=tz)
