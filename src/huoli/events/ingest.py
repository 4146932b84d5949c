"""Validation of incoming events: one event at a time, field-level reasons, the valid rest kept.

Hand-written rather than a pydantic model per event because the batch must survive individual bad
events and this runs for every event on the hot path (measured in bench/bench_ingest.py).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa

from huoli.events.catalog import CATALOG, NAME_PATTERN
from huoli.events.schema import EVENT_SCHEMA, PROMOTED_PROPERTIES

_NAME_RE = re.compile(NAME_PATTERN)
_ID_RE = re.compile(r"^[A-Za-z0-9_.:@-]{1,64}$")
_PROP_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
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
    columns: dict[str, list[Any]] = field(default_factory=lambda: {n: [] for n in EVENT_SCHEMA.names})
    rejected: list[Rejection] = field(default_factory=list)
    ts_us: list[int] = field(default_factory=list)
    received_us: list[int] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.ts_us)

    def to_arrow(self) -> pa.Table:
        cols = dict(self.columns)
        cols["ts"] = pa.array(self.ts_us, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
        cols["received_at"] = pa.array(self.received_us, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
        return pa.table(cols, schema=EVENT_SCHEMA)


def _parse_ts(value: Any) -> datetime | str:
    """Epoch milliseconds (int) or ISO 8601 with an offset; returns an error text on failure."""
    if isinstance(value, bool):
        return "must be epoch milliseconds or an ISO 8601 timestamp with offset"
    if isinstance(value, int):
        try:
            return _EPOCH + timedelta(milliseconds=value)
        except OverflowError:
            return "out of range"
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return "not an ISO 8601 timestamp"
        if parsed.tzinfo is None:
            return "timestamp needs a UTC offset (e.g. +08:00 or Z); naive times are ambiguous"
        return parsed.astimezone(UTC)
    return "must be epoch milliseconds or an ISO 8601 timestamp with offset"


def _check_string(
    errors: list[dict[str, str]], name: str, value: Any, *, limit: int = MAX_STRING
) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        errors.append({"field": name, "message": "must be a string"})
        return None
    if not value or len(value) > limit:
        errors.append({"field": name, "message": f"must be 1–{limit} characters"})
        return None
    return value


def validate_events(
    raw: Sequence[Any], *, caller: Caller, now: datetime, max_age: timedelta, max_future: timedelta
) -> ValidatedBatch:
    out = ValidatedBatch()
    cols = out.columns
    oldest, newest = now - max_age, now + max_future
    received_us = int((now - _EPOCH) / timedelta(microseconds=1))
    allowed_keys = _SERVER_KEYS if caller.source != "client" else _CLIENT_KEYS
    for index, event in enumerate(raw):
        errors: list[dict[str, str]] = []
        if not isinstance(event, Mapping):
            out.rejected.append(
                Rejection(index, None, [{"field": "", "message": "each event must be a JSON object"}])
            )
            continue
        unknown = set(event) - allowed_keys
        for key in sorted(unknown):
            reason = (
                "user_id is taken from the session token, not the event"
                if key in ("user_id", "openid")
                else "unknown field (custom data goes in properties)"
            )
            errors.append({"field": key, "message": reason})

        raw_id = event.get("event_id")
        event_id: str | None = None
        if not isinstance(raw_id, str):
            errors.append({"field": "event_id", "message": "required: a client-generated UUID string"})
        else:
            try:
                event_id = str(uuid.UUID(raw_id))
            except ValueError:
                errors.append({"field": "event_id", "message": "must be a UUID"})

        name = event.get("name")
        spec = None
        if not isinstance(name, str) or not _NAME_RE.match(name):
            errors.append({"field": "name", "message": f"required, matching {NAME_PATTERN}"})
        else:
            spec = CATALOG.get(name)
            if spec is not None and spec.server_only and caller.source == "client":
                errors.append(
                    {"field": "name", "message": f"{name} is server-side only (signed backend calls)"}
                )

        ts = _parse_ts(event.get("ts"))
        if isinstance(ts, str):
            errors.append({"field": "ts", "message": ts})
        elif ts < oldest or ts > newest:
            errors.append(
                {
                    "field": "ts",
                    "message": f"outside the accepted window [{oldest.isoformat()}, {newest.isoformat()}]",
                }
            )

        anonymous_id = _check_string(errors, "anonymous_id", event.get("anonymous_id"), limit=64)
        user_id = caller.user_id
        if caller.source != "client":
            user_id = _check_string(errors, "user_id", event.get("user_id"), limit=64) or user_id
            openid = _check_string(errors, "openid", event.get("openid"), limit=128)
            if openid is not None and caller.resolve_openid is not None:
                user_id = caller.resolve_openid(openid)
        if user_id is None and anonymous_id is None and not errors:
            errors.append(
                {"field": "anonymous_id", "message": "required when the caller is not a logged-in user"}
            )
        for key in ("anonymous_id", "user_id"):
            ident = anonymous_id if key == "anonymous_id" else event.get("user_id")
            if isinstance(ident, str) and ident and not _ID_RE.match(ident):
                errors.append({"field": key, "message": "only letters, digits and _.:@- allowed"})

        session_id = _check_string(errors, "session_id", event.get("session_id"), limit=64)
        page = _check_string(errors, "page", event.get("page"))
        if page is not None:
            page = page.split("?", 1)[0].lstrip("/")  # routes are stored without a leading slash or query
        channel = _check_string(errors, "channel", event.get("channel"), limit=64)
        scene = event.get("scene")
        if scene is not None and (
            isinstance(scene, bool) or not isinstance(scene, int) or not 1000 <= scene <= 9999
        ):
            errors.append({"field": "scene", "message": "must be a WeChat scene value (integer 1000–9999)"})
            scene = None

        props = event.get("properties")
        promoted: dict[str, Any] = {}
        rest: dict[str, Any] | None = None
        if props is None:
            props = {}
        if not isinstance(props, Mapping):
            errors.append({"field": "properties", "message": "must be a JSON object"})
            props = {}
        elif len(props) > MAX_PROPERTIES:
            errors.append({"field": "properties", "message": f"at most {MAX_PROPERTIES} properties"})
        for key, value in props.items():
            if not isinstance(key, str) or not _PROP_KEY_RE.match(key):
                errors.append({"field": f"properties.{key}", "message": "property names are identifiers"})
                continue
            column = PROMOTED_PROPERTIES.get(key)
            if column is None:
                rest = rest if rest is not None else {}
                rest[key] = value
            elif key in _INT_PROPS:
                if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > 2**62:
                    errors.append({"field": f"properties.{key}", "message": "must be a non-negative integer"})
                else:
                    promoted[column] = value
            elif value is not None:
                if not isinstance(value, str) or not value or len(value) > 128:
                    errors.append(
                        {"field": f"properties.{key}", "message": "must be a string of 1–128 characters"}
                    )
                else:
                    promoted[column] = value
        if spec is not None:
            for key, typ in spec.required.items():
                if key not in props:
                    errors.append({"field": f"properties.{key}", "message": f"required for {name}"})
                elif key not in PROMOTED_PROPERTIES and not isinstance(props[key], typ):
                    errors.append({"field": f"properties.{key}", "message": f"must be {typ.__name__}"})
            if spec.needs_page and page is None:
                errors.append({"field": "page", "message": f"required for {name}"})
        properties_text: str | None = None
        if rest:
            try:
                encoded = orjson.dumps(rest)
            except TypeError:
                errors.append({"field": "properties", "message": "values must be JSON"})
            else:
                if len(encoded) > MAX_PROPERTIES_BYTES:
                    errors.append({"field": "properties", "message": f"at most {MAX_PROPERTIES_BYTES} bytes"})
                properties_text = encoded.decode()

        if errors:
            out.rejected.append(Rejection(index, event_id if isinstance(raw_id, str) else None, errors))
            continue
        assert isinstance(ts, datetime)
        cols["app_id"].append(caller.app_id)
        cols["event_id"].append(event_id)
        cols["name"].append(name)
        cols["user_id"].append(user_id)
        cols["anonymous_id"].append(anonymous_id)
        cols["session_id"].append(session_id)
        cols["page"].append(page)
        cols["scene"].append(scene)
        cols["channel"].append(channel)
        for column in PROMOTED_PROPERTIES.values():
            cols[column].append(promoted.get(column))
        cols["properties"].append(properties_text)
        cols["source"].append(caller.source)
        out.ts_us.append((ts - _EPOCH) // timedelta(microseconds=1))
        out.received_us.append(received_us)
    del cols["ts"], cols["received_at"]
    return out
