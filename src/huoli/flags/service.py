"""Feature flags and remote config: definitions, server-side evaluation, exposures, preferences.

A flag becomes a GrowthBook feature `{defaultValue, rules}`: the operator's rules (targeting + percentage
rollout) first, then the rules of experiments running on it (written here by the experiments domain through
`attach_experiment`). Evaluation is `huoli.flags.evaluator`, identical to GrowthBook's SDKs.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, sessionmaker

from huoli.db import insert_or_ignore, read_only
from huoli.errors import Conflict, NotFound, ValidationFailed
from huoli.events import service as events
from huoli.flags.assignment import gb_hash
from huoli.flags.evaluator import Context, Evaluator
from huoli.flags.models import Flag, StickyBucket, UserPreference
from huoli.flags.schemas import (
    FlagCreate,
    FlagRule,
    FlagType,
    FlagUpdate,
    PreferencesIn,
    condition_errors,
    type_error,
)
from huoli.flags.writer import Pending, writer_for
from huoli.pagination import PageParams, paginate
from huoli.settings import Settings

# Attributes huoli sets itself; a caller cannot spoof them.
RESERVED_ATTRIBUTES = frozenset({"id", "user_id", "anonymous_id", "logged_in"})
PREFERENCE_FIELDS = ("font_size", "units", "theme")
CLIENT_TTL_S = 300
SYSTEM_ACTOR = "system:flags"
CACHE_TTL_S = 2.0


# --- definitions --------------------------------------------------------------------------------


def _check_values(flag_type: FlagType, default: Any, rules: list[FlagRule]) -> None:
    errors: list[dict[str, str]] = []
    if (msg := type_error(flag_type, default)) is not None:
        errors.append({"field": "default_value", "message": msg})
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        if (msg := type_error(flag_type, rule.value)) is not None:
            errors.append({"field": f"rules[{i}].value", "message": msg})
        if rule.id in seen:
            errors.append({"field": f"rules[{i}].id", "message": f"duplicate rule id {rule.id!r}"})
        seen.add(rule.id)
        errors.extend(condition_errors(rule.condition, f"rules[{i}].condition"))
    if errors:
        raise ValidationFailed("invalid flag", details=errors)


def unit_hash(seed: str, unit_id: str) -> float:
    """Where a unit falls in [0, 1) under a seed: the hashing flags assign experiment variants with (FNV-1a v2)."""
    n = gb_hash(seed, unit_id, 2)
    assert n is not None  # v2 always hashes
    return n


def get_flag(*, db: Session, key: str) -> Flag:
    flag = db.scalar(select(Flag).where(Flag.key == key))
    if flag is None:
        raise NotFound(f"unknown flag {key!r}", code="unknown_flag")
    return flag


def find_flag(*, db: Session, key: str) -> Flag | None:
    return db.scalar(select(Flag).where(Flag.key == key))


def list_flags(*, db: Session) -> list[Flag]:
    return list(db.scalars(select(Flag).order_by(Flag.key)))


def flags_page(*, db: Session, page: PageParams) -> tuple[list[Flag], str | None]:
    """One page of the app's flags, by key (unique per app)."""
    sortable = {"key": Flag.key, "updated_at": Flag.updated_at}
    return paginate(db, select(Flag), page, order=[Flag.key.asc()], sortable=sortable)


def _changed(db: Session, flag: Flag, *, action: str, now: datetime, settings: Settings) -> None:
    flag.updated_at = now
    db.flush()
    events.emit(
        db=db,
        app_id=flag.app_id,
        name="flag_changed",
        ts=now,
        idempotency_key=f"flag:{flag.key}:{flag.version}:{action}",
        anonymous_id=SYSTEM_ACTOR,  # operator actions have no mini-program user; the log needs an actor
        properties={"flag": flag.key, "action": action, "version": flag.version, "killed": flag.killed},
        settings=settings,
    )
    invalidate(flag.app_id)


def create_flag(*, db: Session, app_id: str, flag_in: FlagCreate, now: datetime, settings: Settings) -> Flag:
    _check_values(flag_in.type, flag_in.default_value, flag_in.rules)
    if find_flag(db=db, key=flag_in.key) is not None:
        raise Conflict(f"flag {flag_in.key!r} already exists", code="flag_exists")
    flag = Flag(
        app_id=app_id,
        key=flag_in.key,
        type=flag_in.type.value,
        description=flag_in.description,
        default_value=flag_in.default_value,
        rules=[r.model_dump() for r in flag_in.rules],
        experiment_rules=[],
        killed=False,
        client_visible=flag_in.client_visible,
        version=1,
        created_at=now,
    )
    db.add(flag)
    _changed(db, flag, action="created", now=now, settings=settings)
    return flag


def update_flag(*, db: Session, key: str, flag_in: FlagUpdate, now: datetime, settings: Settings) -> Flag:
    flag = get_flag(db=db, key=key)
    fields = flag_in.model_fields_set
    default = flag_in.default_value if "default_value" in fields else flag.default_value
    rules = flag_in.rules if flag_in.rules is not None else [FlagRule(**r) for r in flag.rules]
    _check_values(FlagType(flag.type), default, rules)
    flag.default_value = default
    flag.rules = [r.model_dump() for r in rules]
    if flag_in.description is not None:
        flag.description = flag_in.description
    if flag_in.killed is not None:
        flag.killed = flag_in.killed
    if flag_in.client_visible is not None:
        flag.client_visible = flag_in.client_visible
    flag.version += 1
    action = "killed" if flag_in.killed else "revived" if flag_in.killed is False else "updated"
    _changed(db, flag, action=action, now=now, settings=settings)
    return flag


def delete_flag(*, db: Session, key: str, now: datetime, settings: Settings) -> Flag:
    flag = get_flag(db=db, key=key)
    if flag.experiment_rules:
        running = ", ".join(r["key"] for r in flag.experiment_rules)
        raise Conflict(
            f"flag {key!r} has running experiments ({running}); stop them first", code="flag_in_use"
        )
    flag.version += 1
    _changed(db, flag, action="deleted", now=now, settings=settings)
    db.delete(flag)
    db.flush()
    return flag


# --- the experiments domain's hooks ----------------------------------------------------------------


def attach_experiment(
    *, db: Session, key: str, rule: dict[str, Any], now: datetime, settings: Settings
) -> Flag:
    """Add (or replace) a running experiment's rule on a flag; values must match the flag's type."""
    flag = get_flag(db=db, key=key)
    errors = [
        {"field": f"variants[{i}].value", "message": msg}
        for i, v in enumerate(rule["variations"])
        if (msg := type_error(FlagType(flag.type), v)) is not None
    ]
    if errors:
        raise ValidationFailed(f"variant values do not fit flag {key!r} ({flag.type})", details=errors)
    flag.experiment_rules = [r for r in flag.experiment_rules if r["key"] != rule["key"]] + [rule]
    flag.version += 1
    _changed(db, flag, action=f"experiment:{rule['key']}:attached", now=now, settings=settings)
    return flag


def detach_experiment(
    *,
    db: Session,
    key: str,
    experiment_key: str,
    now: datetime,
    settings: Settings,
    ship_value: Any = None,
    ship: bool = False,
) -> Flag:
    """Remove an experiment's rule; shipping makes the winning value the flag's default for everyone."""
    flag = get_flag(db=db, key=key)
    flag.experiment_rules = [r for r in flag.experiment_rules if r["key"] != experiment_key]
    if ship:
        flag.default_value = ship_value
    flag.version += 1
    action = "shipped" if ship else "detached"
    _changed(db, flag, action=f"experiment:{experiment_key}:{action}", now=now, settings=settings)
    return flag


# --- compiled definitions, cached per app ----------------------------------------------------------


def compile_feature(
    *,
    key: str,
    default: Any,
    rules: list[dict[str, Any]],
    experiment_rules: list[dict[str, Any]] | None = None,
    killed: bool = False,
) -> dict[str, Any]:
    """The GrowthBook feature for a flag. A killed flag serves its default to everyone, rules ignored."""
    if killed:
        return {"defaultValue": default, "rules": []}
    compiled: list[dict[str, Any]] = []
    for r in rules:
        rule: dict[str, Any] = {
            "id": r["id"],
            "force": r["value"],
            "hashVersion": 2,
            "seed": f"{key}:{r['id']}",
        }
        if r.get("condition"):
            rule["condition"] = r["condition"]
        if r.get("rollout", 1.0) < 1.0:
            rule["coverage"] = r["rollout"]
        compiled.append(rule)
    compiled.extend(experiment_rules or [])
    return {"defaultValue": default, "rules": compiled}


def to_feature(flag: Flag) -> dict[str, Any]:
    return compile_feature(
        key=flag.key,
        default=flag.default_value,
        rules=flag.rules,
        experiment_rules=flag.experiment_rules,
        killed=flag.killed,
    )


@dataclass(frozen=True)
class Compiled:
    features: dict[str, dict[str, Any]]
    client_keys: tuple[str, ...]
    has_experiments: bool  # experiments with sticky bucketing: their users' sticky docs must be loaded
    loaded_at: float


class FlagCache:
    """Compiled features per app: a GET /v1/flags never reads flag rows; staleness ≤ CACHE_TTL_S across
    processes and none for writes made in this process (they invalidate)."""

    def __init__(self) -> None:
        self._items: dict[str, Compiled] = {}
        self._lock = threading.Lock()
        # Per runtime, like the definitions: two runtimes in one process (tests) never share user state.
        self.state = _UserState()
        self.seen = _Seen()

    def peek(self, app_id: str) -> Compiled | None:
        hit = self._items.get(app_id)
        if hit is not None and time.monotonic() - hit.loaded_at < CACHE_TTL_S:
            return hit
        return None

    def get(self, factory: sessionmaker[Session], app_id: str) -> Compiled:
        hit = self.peek(app_id)
        if hit is not None:
            return hit
        with read_only(factory, app_id=app_id) as db:
            flags = list_flags(db=db)
            compiled = Compiled(
                features={f.key: to_feature(f) for f in flags},
                client_keys=tuple(f.key for f in flags if f.client_visible),
                has_experiments=any(
                    not r.get("disableStickyBucketing")
                    for f in flags
                    if not f.killed
                    for r in f.experiment_rules
                ),
                loaded_at=time.monotonic(),
            )
        with self._lock:
            self._items[app_id] = compiled
        return compiled

    def invalidate(self, app_id: str) -> None:
        with self._lock:
            self._items.pop(app_id, None)


_caches: weakref.WeakKeyDictionary[sessionmaker[Session], FlagCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def cache_for(factory: sessionmaker[Session]) -> FlagCache:
    with _caches_lock:
        cache = _caches.get(factory)
        if cache is None:
            cache = _caches[factory] = FlagCache()
        return cache


def invalidate(app_id: str) -> None:
    for cache in list(_caches.values()):
        cache.invalidate(app_id)


# --- evaluation -----------------------------------------------------------------------------------


@dataclass
class Evaluation:
    values: dict[str, Any]
    details: dict[str, dict[str, Any]]
    exposures: dict[str, str] = field(default_factory=dict)  # experiment key → variant key
    exposure_flags: dict[str, str] = field(default_factory=dict)  # experiment key → flag key
    sticky_docs: dict[str, dict[str, Any]] | None = None


def attributes_for(
    *,
    user_id: str | None,
    anonymous_id: str | None,
    attributes: Mapping[str, Any],
    preferences: Mapping[str, Any],
) -> dict[str, Any]:
    """The attributes rules see: the caller's, then preferences, then huoli's own (which win)."""
    attrs = {k: v for k, v in attributes.items() if k not in RESERVED_ATTRIBUTES}
    attrs.update({k: v for k, v in preferences.items() if k in PREFERENCE_FIELDS and v is not None})
    unit = user_id or anonymous_id
    attrs.update(
        {"id": unit, "user_id": user_id, "anonymous_id": anonymous_id, "logged_in": user_id is not None}
    )
    return attrs


def evaluate(
    features: Mapping[str, Mapping[str, Any]],
    attributes: Mapping[str, Any],
    *,
    keys: tuple[str, ...] | None = None,
    sticky_docs: dict[str, dict[str, Any]] | None = None,
) -> Evaluation:
    """Evaluate flags for one user, in-process (no I/O); collects the experiments the user is exposed to."""
    exposures: dict[str, str] = {}
    exposure_flags: dict[str, str] = {}

    def on_exposure(exp: Mapping[str, Any], res: dict[str, Any]) -> None:
        exposures[exp["key"]] = res["key"]
        exposure_flags[exp["key"]] = res["featureId"]

    ev = Evaluator(
        Context(attributes=attributes, features=features, sticky_docs=sticky_docs, on_exposure=on_exposure)
    )
    values: dict[str, Any] = {}
    details: dict[str, dict[str, Any]] = {}
    for key in keys if keys is not None else tuple(features):
        r = ev.eval_feature(key)
        values[key] = r["value"]
        res = r.get("experimentResult")
        details[key] = {
            "value": r["value"],
            "source": r["source"],
            "rule_id": r["ruleId"],
            "experiment": r["experiment"]["key"] if res else None,
            "variant": res["key"] if res else None,
        }
    return Evaluation(values, details, exposures, exposure_flags, sticky_docs)


def _sticky_doc(unit: str, assignments: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    return {f"id||{unit}": {"attributeName": "id", "attributeValue": unit, "assignments": dict(assignments)}}


def pending_copy(docs: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """A private copy of sticky docs: evaluation mutates assignments, the cache must not see that."""
    return {k: {**v, "assignments": dict(v["assignments"])} for k, v in docs.items()}


# Core statements built once (the id lists bind as expanding parameters): these reads are the hot path of a
# first visit; building and caching a statement per call, through the ORM session, cost ~0.5 ms each.
_PREFS = UserPreference.__table__.c
_STICKY = StickyBucket.__table__.c
_PREFS_BY_USERS = select(
    _PREFS.user_id, _PREFS.font_size, _PREFS.units, _PREFS.theme, _PREFS.updated_at
).where(_PREFS.app_id == bindparam("app_id"), _PREFS.user_id.in_(bindparam("ids", expanding=True)))
_STICKY_BY_UNITS = select(_STICKY.attribute_value, _STICKY.assignments).where(
    _STICKY.app_id == bindparam("app_id"),
    _STICKY.attribute_name == "id",
    _STICKY.attribute_value.in_(bindparam("ids", expanding=True)),
)


def load_states(
    factory: sessionmaker[Session], app_id: str, wanted: list[tuple[str | None, str | None]]
) -> dict[str, tuple[dict[str, Any] | None, dict[str, dict[str, Any]]]]:
    """Preferences and sticky buckets of many (user_id, unit) pairs in two indexed IN-queries, cached in the
    per-user state (an entry already there is newer than this read, so it is kept). Returns unit → state."""
    users = sorted({u for u, _ in wanted if u is not None})
    units = sorted({n for _, n in wanted if n is not None})
    if not units:
        return {}
    prefs: dict[str, dict[str, Any]] = {}
    sticky: dict[str, dict[str, dict[str, Any]]] = {}
    with read_only(factory) as db:
        conn = db.connection()
        for start in range(0, len(users), 500):  # under every engine's bound-parameter limit
            for row in conn.execute(_PREFS_BY_USERS, {"app_id": app_id, "ids": users[start : start + 500]}):
                prefs[row.user_id] = {
                    "font_size": row.font_size,
                    "units": row.units,
                    "theme": row.theme,
                    "updated_at": row.updated_at,
                }
        for start in range(0, len(units), 500):
            for value, assignments in conn.execute(
                _STICKY_BY_UNITS, {"app_id": app_id, "ids": units[start : start + 500]}
            ):
                sticky[value] = _sticky_doc(value, assignments)
    state = cache_for(factory).state
    out: dict[str, tuple[dict[str, Any] | None, dict[str, dict[str, Any]]]] = {}
    for user_id, unit in wanted:
        if unit is None:
            continue
        # Preferences belong to logged-in users only; an anonymous unit never carries any.
        got = (prefs.get(user_id) if user_id is not None else None, sticky.get(unit, {}))
        state.put((app_id, unit), got[0], pending_copy(got[1]), keep=True)
        out[unit] = got
    return out


class _Seen:
    """Exposures this process already recorded (bounded LRU): the database key is the real guard."""

    def __init__(self, size: int = 200_000) -> None:
        self._items: OrderedDict[tuple[str, str, str], None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def __contains__(self, key: tuple[str, str, str]) -> bool:
        return key in self._items

    def add(self, key: tuple[str, str, str]) -> None:
        with self._lock:
            self._items[key] = None
            if len(self._items) > self._size:
                self._items.popitem(last=False)


class _UserState:
    """Preferences and sticky buckets per (app, unit), kept STATE_TTL_S: a repeat GET /v1/flags reads nothing.

    huoli serve is one process (DuckDB has one writer), so its own writes keep this current; the TTL bounds
    staleness for changes made elsewhere (another process on the same PostgreSQL).
    """

    def __init__(self, size: int = 100_000) -> None:
        self._items: OrderedDict[tuple[str, str], tuple[float, dict[str, Any] | None, dict[str, Any]]] = (
            OrderedDict()
        )
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> tuple[dict[str, Any] | None, dict[str, Any]] | None:
        hit = self._items.get(key)
        if hit is None or time.monotonic() - hit[0] > STATE_TTL_S:
            return None
        return hit[1], hit[2]

    def put(
        self,
        key: tuple[str, str],
        prefs: dict[str, Any] | None,
        sticky: dict[str, Any],
        *,
        keep: bool = False,
    ) -> None:
        """Cache a user's state; with keep, a live entry stays (it was written after the read that sent this)."""
        with self._lock:
            hit = self._items.get(key)
            if keep and hit is not None and time.monotonic() - hit[0] <= STATE_TTL_S:
                return
            self._items[key] = (time.monotonic(), prefs, sticky)
            self._items.move_to_end(key)
            if len(self._items) > self._size:
                self._items.popitem(last=False)

    def forget(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._items.pop(key, None)


STATE_TTL_S = 30.0


def forget_user(app_id: str, user_id: str) -> None:
    """Drop cached state after a committed change (preferences), so the next request reads it."""
    for cache in list(_caches.values()):
        cache.state.forget((app_id, user_id))


def evaluate_for_user(
    *,
    factory: sessionmaker[Session],
    app_id: str,
    user_id: str | None,
    anonymous_id: str | None,
    attributes: Mapping[str, Any],
    now: datetime,
    settings: Settings,
    client: bool = True,
    log_exposures: bool = True,
    allow_io: bool = True,
) -> tuple[Evaluation, dict[str, Any] | None] | None:
    """The request path: cached definitions and per-user state; at most one read for a user not seen in the
    last STATE_TTL_S; writes (first exposures, new sticky assignments) are queued to flags.writer.
    Returns (evaluation, preferences or None); with allow_io False, None when it would have to read the
    database (so an async caller can evaluate on the event loop and fall back to a thread)."""
    unit = user_id or anonymous_id
    caches = cache_for(factory)
    _state, _seen = caches.state, caches.seen
    if not allow_io:
        cached = caches.peek(app_id)
        needs_state = user_id is not None or (
            unit is not None and cached is not None and cached.has_experiments
        )
        if cached is None or (needs_state and _state.get((app_id, unit or "")) is None):
            return None
    compiled = caches.get(factory, app_id)
    prefs: dict[str, Any] | None = None
    sticky: dict[str, dict[str, Any]] | None = None
    state = _state.get((app_id, unit)) if unit is not None else None
    if state is not None:
        prefs = state[0] if user_id is not None else None
        sticky = pending_copy(state[1])
    elif user_id is not None or (unit is not None and compiled.has_experiments):
        loaded = load_states(factory, app_id, [(user_id, unit)])
        prefs, docs = loaded.get(unit or "", (None, {}))
        prefs = prefs if user_id is not None else None
        sticky = pending_copy(docs)
    if not compiled.has_experiments:
        sticky = None
    attrs = attributes_for(
        user_id=user_id, anonymous_id=anonymous_id, attributes=attributes, preferences=prefs or {}
    )
    before = {k: dict(v["assignments"]) for k, v in sticky.items()} if sticky is not None else None
    result = evaluate(
        compiled.features, attrs, keys=compiled.client_keys if client else None, sticky_docs=sticky
    )
    sticky_changed = sticky is not None and {k: v["assignments"] for k, v in sticky.items()} != before
    new = {k: v for k, v in result.exposures.items() if (app_id, k, unit or "") not in _seen}
    if unit is not None and log_exposures and (sticky_changed or new):
        writer_for(factory).submit(
            Pending(
                app_id=app_id,
                user_id=user_id,
                anonymous_id=anonymous_id,
                exposures=new,
                flags=dict(result.exposure_flags),
                sticky=pending_copy(sticky) if sticky_changed and sticky is not None else None,
                now=now,
                settings=settings,
            )
        )
        if sticky_changed and sticky is not None:
            _state.put((app_id, unit), prefs, pending_copy(sticky))
        for k in new:
            _seen.add((app_id, k, unit))
    return result, prefs


# --- preferences ----------------------------------------------------------------------------------


def get_preferences(*, db: Session, user_id: str) -> UserPreference | None:
    return db.scalar(select(UserPreference).where(UserPreference.user_id == user_id))


def preferences_dict(row: UserPreference | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"font_size": row.font_size, "units": row.units, "theme": row.theme, "updated_at": row.updated_at}


def set_preferences(
    *, db: Session, app_id: str, user_id: str, prefs_in: PreferencesIn, now: datetime, settings: Settings
) -> UserPreference:
    values = {
        k: (v.value if hasattr(v, "value") else v) for k, v in prefs_in.model_dump(exclude_unset=True).items()
    }
    inserted = insert_or_ignore(
        db,
        UserPreference,
        {"app_id": app_id, "user_id": user_id, "updated_at": now, **values},
        ["app_id", "user_id"],
    )
    row = get_preferences(db=db, user_id=user_id)
    assert row is not None
    forget_user(app_id, user_id)
    if not inserted:
        for k, v in values.items():
            setattr(row, k, v)
        row.updated_at = now
    db.flush()
    events.emit(
        db=db,
        app_id=app_id,
        name="preferences_updated",
        ts=now,
        idempotency_key=f"prefs:{user_id}:{now.isoformat()}",
        user_id=user_id,
        properties={k: v for k, v in values.items() if v is not None},
        settings=settings,
    )
    return row
