"""Validation of incoming events: one event at a time, field-level reasons, the valid rest kept.

Hand-written rather than a pydantic model per event because the batch must survive individual bad
events and this runs for every event on the hot path (measured in bench/bench_ingest.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa

from huoli.events.catalog import CATALOG, NAME_PATTERN, EventSpec
from huoli.events.schema import COLUMN_NAMES, EVENT_SCHEMA, PROMOTED_PROPERTIES

_NAME_RE = re.compile(NAME_PATTERN)
_ID_RE = re.compile(r"^[A-Za-z0-9_.:@-]{1,64}$")
_PROP_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
MAX_PROPERTIES = 100
MAX_PROPERTIES_BYTES = 16 * 1024
MAX_STRING = 256
_INT_PROPS = {"duration_ms", "load_ms", "amount_fen"}
_CLIENT_KEYS = {
    "event_id",
    "name",
    "ts",
    "anonymous_id",
    "session_id",
    "page",
    "scene",
    "channel",
    "properties",
}
_SERVER_KEYS = _CLIENT_KEYS | {"user_id", "openid"}
# The order of the row tuples validate_events builds (app_id, source and received_at are per batch).
_ROW_COLUMNS = [
    *("event_id", "name", "ts", "user_id", "anonymous_id", "session_id", "page", "scene", "channel"),
    *PROMOTED_PROPERTIES.values(),
    "properties",
]
_NO_PROMOTED: tuple[Any, ...] = (None,) * len(PROMOTED_PROPERTIES)


@dataclass
class Rejection:
    index: int
    event_id: str | None
    errors: list[dict[str, str]]

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "event_id": self.event_id, "errors": self.errors}


@dataclass
class Caller:
    """Who sends the batch, which decides identity rules and which names are allowed."""

    app_id: str
    source: str  # client | server | import
    user_id: str | None = None  # from a verified session token
    resolve_openid: Callable[[str], str] | None = None  # server calls may name users by openid


@dataclass
class ValidatedBatch:
    columns: dict[str, Sequence[Any]] = field(default_factory=dict)
    rejected: list[Rejection] = field(default_factory=list)
    size: int = 0
    app_id: str = ""
    source: str = ""
    received_us: int = 0

    def to_arrow(self) -> pa.Table:
        n = self.size
        if n == 0:
            return EVENT_SCHEMA.empty_table()
        arrays: list[pa.Array] = []
        for f in EVENT_SCHEMA:
            if f.name == "received_at":
                arrays.append(pa.repeat(pa.scalar(self.received_us, f.type), n))
            elif f.name in ("app_id", "source"):
                arrays.append(pa.repeat(pa.scalar(getattr(self, f.name), f.type), n))
            else:
                values = self.columns[f.name]
                # Most catalog columns are empty in a given batch; a null array skips per-value conversion.
                # Integers convert straight to the timestamp type (epoch µs): no separate cast pass.
                arrays.append(pa.nulls(n, f.type) if values.count(None) == n else pa.array(values, f.type))
        return pa.Table.from_arrays(arrays, schema=EVENT_SCHEMA)

    def rows(self) -> list[dict[str, Any]]:
        """The batch as the dicts `to_arrow().to_pylist()` gives, without the Arrow round trip (one server
        event per outbox row is the common case, where building Arrow arrays costs more than the event)."""
        received = _EPOCH + self.received_us * _US
        out: list[dict[str, Any]] = []
        for i in range(self.size):
            row: dict[str, Any] = {}
            for name in COLUMN_NAMES:
                if name == "received_at":
                    row[name] = received
                elif name in ("app_id", "source"):
                    row[name] = getattr(self, name)
                else:
                    value = self.columns[name][i]
                    row[name] = _EPOCH + value * _US if name == "ts" and value is not None else value
            out.append(row)
        return out


def _parse_ts_us(value: Any) -> int | str:
    """Epoch milliseconds (int) or ISO 8601 with an offset → epoch microseconds; an error text on failure."""
    if type(value) is int:
        return value * 1000
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return "not an ISO 8601 timestamp"
        if parsed.tzinfo is None:
            return "timestamp needs a UTC offset (e.g. +08:00 or Z); naive times are ambiguous"
        return (parsed - _EPOCH) // _US
    return "must be epoch milliseconds or an ISO 8601 timestamp with offset"


def _check_string(errors: list[dict[str, str]], name: str, value: Any, limit: int = MAX_STRING) -> str | None:
    if value is None:
        return None
    if type(value) is not str:
        errors.append({"field": name, "message": "must be a string"})
        return None
    if not value or len(value) > limit:
        errors.append({"field": name, "message": f"must be 1–{limit} characters"})
        return None
    return value


def _check_properties(
    errors: list[dict[str, str]], props: Any, name: str | None, spec: EventSpec | None
) -> tuple[tuple[Any, ...], str | None]:
    """Promoted catalog properties as a tuple in PROMOTED_PROPERTIES order, and the rest as JSON text."""
    if props is None:
        props = {}
    elif type(props) is not dict and not isinstance(props, Mapping):
        errors.append({"field": "properties", "message": "must be a JSON object"})
        props = {}
    elif len(props) > MAX_PROPERTIES:
        errors.append({"field": "properties", "message": f"at most {MAX_PROPERTIES} properties"})
    promoted: dict[str, Any] = {}
    rest: dict[str, Any] | None = None
    for key, value in props.items():
        if type(key) is not str or not _PROP_KEY_RE.match(key):
            errors.append({"field": f"properties.{key}", "message": "property names are identifiers"})
            continue
        if key not in PROMOTED_PROPERTIES:
            if rest is None:
                rest = {}
            rest[key] = value
        elif key in _INT_PROPS:
            if type(value) is not int or value < 0 or value > 2**62:
                errors.append({"field": f"properties.{key}", "message": "must be a non-negative integer"})
            else:
                promoted[key] = value
        elif value is not None:
            if type(value) is not str or not value or len(value) > 128:
                errors.append(
                    {"field": f"properties.{key}", "message": "must be a string of 1–128 characters"}
                )
            else:
                promoted[key] = value
    if spec is not None:
        for key, typ in spec.required.items():
            if key not in props:
                errors.append({"field": f"properties.{key}", "message": f"required for {name}"})
            elif key not in PROMOTED_PROPERTIES and not isinstance(props[key], typ):
                errors.append({"field": f"properties.{key}", "message": f"must be {typ.__name__}"})
    text: str | None = None
    if rest:
        try:
            encoded = orjson.dumps(rest)
        except TypeError:
            errors.append({"field": "properties", "message": "values must be JSON"})
        else:
            if len(encoded) > MAX_PROPERTIES_BYTES:
                errors.append({"field": "properties", "message": f"at most {MAX_PROPERTIES_BYTES} bytes"})
            text = encoded.decode()
    if not promoted:
        return _NO_PROMOTED, text
    return tuple(promoted.get(k) for k in PROMOTED_PROPERTIES), text


def validate_events(
    raw: Sequence[Any], *, caller: Caller, now: datetime, max_age: timedelta, max_future: timedelta
) -> ValidatedBatch:
    """Validate each event on its own; rows are built as tuples and transposed once (the hot path)."""
    out = ValidatedBatch()
    now_us = (now - _EPOCH) // _US
    oldest_us, newest_us = now_us - max_age // _US, now_us + max_future // _US
    window = f"outside the accepted window [{(now - max_age).isoformat()}, {(now + max_future).isoformat()}]"
    allowed_keys = _SERVER_KEYS if caller.source != "client" else _CLIENT_KEYS
    is_client = caller.source == "client"
    app_id, source = caller.app_id, caller.source
    rows: list[tuple[Any, ...]] = []
    for index, event in enumerate(raw):
        errors: list[dict[str, str]] = []
        if type(event) is not dict and not isinstance(
            event, Mapping
        ):  # exact-type test first: ABC checks are slow
            out.rejected.append(
                Rejection(index, None, [{"field": "", "message": "each event must be a JSON object"}])
            )
            continue
        if not allowed_keys.issuperset(event):
            for key in sorted(set(event) - allowed_keys):
                reason = (
                    "user_id is taken from the session token, not the event"
                    if key in ("user_id", "openid")
                    else "unknown field (custom data goes in properties)"
                )
                errors.append({"field": str(key), "message": reason})

        raw_id = event.get("event_id")
        event_id: str | None = None
        if type(raw_id) is not str:
            errors.append({"field": "event_id", "message": "required: a client-generated UUID string"})
        elif not _UUID_RE.match(raw_id):
            errors.append({"field": "event_id", "message": "must be a UUID"})
        else:
            event_id = raw_id.lower()

        name = event.get("name")
        spec = None
        if type(name) is not str or not _NAME_RE.match(name):
            errors.append({"field": "name", "message": f"required, matching {NAME_PATTERN}"})
        else:
            spec = CATALOG.get(name)
            if spec is not None and spec.server_only and is_client:
                errors.append(
                    {"field": "name", "message": f"{name} is server-side only (signed backend calls)"}
                )

        ts_us = _parse_ts_us(event.get("ts"))
        if isinstance(ts_us, str):
            errors.append({"field": "ts", "message": ts_us})
        elif not oldest_us <= ts_us <= newest_us:
            errors.append({"field": "ts", "message": window})

        anonymous_id = _check_string(errors, "anonymous_id", event.get("anonymous_id"), 64)
        if anonymous_id is not None and not _ID_RE.match(anonymous_id):
            errors.append({"field": "anonymous_id", "message": "only letters, digits and _.:@- allowed"})
        user_id = caller.user_id
        if not is_client:
            given = _check_string(errors, "user_id", event.get("user_id"), 64)
            if given is not None and not _ID_RE.match(given):
                errors.append({"field": "user_id", "message": "only letters, digits and _.:@- allowed"})
            user_id = given or user_id
            openid = _check_string(errors, "openid", event.get("openid"), 128)
            if openid is not None and caller.resolve_openid is not None:
                user_id = caller.resolve_openid(openid)
        if user_id is None and anonymous_id is None and not errors:
            errors.append(
                {"field": "anonymous_id", "message": "required when the caller is not a logged-in user"}
            )

        session_id = _check_string(errors, "session_id", event.get("session_id"), 64)
        page = _check_string(errors, "page", event.get("page"))
        if page is not None and ("?" in page or page[0] == "/"):
            page = page.split("?", 1)[0].lstrip("/")  # routes are stored without a leading slash or query
        channel = _check_string(errors, "channel", event.get("channel"), 64)
        scene = event.get("scene")
        if scene is not None and (type(scene) is not int or not 1000 <= scene <= 9999):
            errors.append({"field": "scene", "message": "must be a WeChat scene value (integer 1000–9999)"})
            scene = None
        if spec is not None and spec.needs_page and not page:
            errors.append({"field": "page", "message": f"required for {name}"})
        promoted, properties_text = _check_properties(errors, event.get("properties"), name, spec)

        if errors:
            out.rejected.append(Rejection(index, raw_id if type(raw_id) is str else None, errors))
            continue
        rows.append(
            (
                event_id,
                name,
                ts_us,
                user_id,
                anonymous_id,
                session_id,
                page,
                scene,
                channel,
                *promoted,
                properties_text,
            )
        )
    out.size = len(rows)
    if rows:
        columns = list(zip(*rows, strict=True))
        out.columns = dict(zip(_ROW_COLUMNS, columns, strict=True))
    out.app_id, out.source, out.received_us = app_id, source, now_us
    return out
