"""HTTP for the event log: thin — read the body, call the service, shape the answer."""

from __future__ import annotations

import asyncio
import functools
import zlib
from datetime import datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from huoli.apps.schemas import Role
from huoli.deps import (
    MiniProgramAppDep,
    MiniProgramUserDep,
    OperatorDep,
    RuntimeDep,
    SignedAppDep,
    role_at_least,
)
from huoli.errors import HuoliError, PayloadTooLarge, ValidationFailed
from huoli.events import service
from huoli.events.ingest import Caller
from huoli.events.schemas import EventBatchIn, EventSummaryRow, IngestOut, ServerEventBatchIn, inline_schema
from huoli.runtime import Runtime
from huoli.users.service import derive_user_id

router = APIRouter(tags=["events"])


def JSONBytes(content: Any) -> Response:
    """orjson straight to bytes: the hot path skips pydantic re-validation of the answer."""
    return Response(orjson.dumps(content), media_type="application/json")


async def read_json_body(request: Request, limit: int) -> Any:
    """Raw body with a size cap, optional gzip (capped after inflation too, so no zip bombs)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body larger than {limit} bytes")
    body = await request.body()
    if len(body) > limit:
        raise PayloadTooLarge(f"body larger than {limit} bytes")
    encoding = request.headers.get("content-encoding", "").lower()
    if encoding == "gzip":
        inflater = zlib.decompressobj(wbits=31)
        try:
            body = inflater.decompress(body, limit + 1)
        except zlib.error as exc:
            raise HuoliError("body is not valid gzip", code="bad_encoding") from exc
        if len(body) > limit or inflater.unconsumed_tail:
            raise PayloadTooLarge(f"inflated body larger than {limit} bytes")
    elif encoding not in ("", "identity"):
        raise HuoliError(f"unsupported Content-Encoding {encoding!r} (use gzip)", code="bad_encoding")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise HuoliError(f"malformed JSON: {exc}", code="invalid_json") from exc


async def _ingest(runtime: Runtime, events: list[Any], caller: Caller) -> Response:
    batch = service.validate(events, caller=caller, settings=runtime.settings, now=runtime.clock())
    if batch.size == 0:
        raise service.rejected_only(batch)
    result = await asyncio.wrap_future(runtime.writer.submit(batch.to_arrow()))
    return JSONBytes(service.finish(batch, result).to_dict())


@router.post(
    "/v1/events",
    response_model=IngestOut,
    summary="Ingest a batch of mini-program events",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline_schema(EventBatchIn)}},
        }
    },
)
async def ingest_client_events(
    request: Request, runtime: RuntimeDep, app: MiniProgramAppDep, user: MiniProgramUserDep
) -> Response:
    """Up to 500 events, JSON (gzip accepted). 200 = the accepted events are durable; invalid events are
    listed with field-level reasons and the valid ones are kept. 422 when no event is valid."""
    user_id = user.user_id if user is not None else None
    body = await read_json_body(request, runtime.settings.max_body_bytes)
    events = service.parse_batch(body, max_events=runtime.settings.max_batch_events)
    return await _ingest(runtime, events, Caller(app_id=app.id, source="client", user_id=user_id))


@router.post(
    "/v1/server/events",
    response_model=IngestOut,
    summary="Ingest server-side events from the merchant backend (HMAC-signed)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline_schema(ServerEventBatchIn)}},
        }
    },
)
async def ingest_server_events(request: Request, runtime: RuntimeDep, app: SignedAppDep) -> Response:
    """Orders, payments, refunds and other money-bearing events. Sign as docs/api.md describes."""
    body = await read_json_body(request, runtime.settings.max_body_bytes)
    events = service.parse_batch(body, max_events=runtime.settings.max_batch_events)
    by_openid = functools.partial(derive_user_id, app)
    return await _ingest(runtime, events, Caller(app_id=app.id, source="server", resolve_openid=by_openid))


@router.get(
    "/admin/events/summary", response_model=list[EventSummaryRow], dependencies=[role_at_least(Role.analyst)]
)
def event_summary(
    runtime: RuntimeDep,
    op: OperatorDep,
    start: Annotated[
        datetime | None, Query(description="Inclusive, ISO 8601 with offset; default 7 days ago")
    ] = None,
    end: Annotated[datetime | None, Query(description="Exclusive, ISO 8601 with offset; default now")] = None,
) -> list[dict[str, Any]]:
    """Events and distinct users per event name for the caller's app."""
    now = runtime.clock()
    end = end or now
    start = start or end - timedelta(days=7)
    for field, value in (("start", start), ("end", end)):
        if value.tzinfo is None:
            raise ValidationFailed(
                "timestamps need an offset", details=[{"field": field, "message": "add +08:00 or Z"}]
            )
    if start >= end:
        raise ValidationFailed("empty range", details=[{"field": "start", "message": "must be before end"}])
    return runtime.store.summary(app_id=op.app_id, start=start, end=end)


@router.get("/admin/events/recent", dependencies=[role_at_least(Role.analyst)])
def recent_events(
    runtime: RuntimeDep, op: OperatorDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> Response:
    """The latest events of the caller's app (a live debugger for SDK integration)."""
    rows = runtime.store.recent(app_id=op.app_id, limit=limit)
    return JSONBytes(rows)
