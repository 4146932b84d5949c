"""FastAPI factory: mounts each domain's routes and the error handlers, nothing else."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from sqlalchemy import text
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from huoli import __version__
from huoli.db import transient_failure
from huoli.domains import domain_modules
from huoli.errors import HuoliError
from huoli.events import service as events_service
from huoli.limits import BodyLimit, Rate, RateLimit, RateLimits, RedisGcra
from huoli.runtime import Runtime, build_runtime
from huoli.settings import Settings

log = logging.getLogger(__name__)


def _field_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        out.append({"field": ".".join(loc), "message": str(err.get("msg", "invalid"))})
    return out


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HuoliError)
    async def _huoli(_: Request, exc: HuoliError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        body = {"code": "validation_failed", "message": "invalid request", "details": _field_errors(exc)}
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
        code = codes.get(exc.status_code, "http_error")
        return JSONResponse(
            {"code": code, "message": str(exc.detail), "details": None}, status_code=exc.status_code
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        # A unique key the request's own checks could not see (e.g. an id another app already uses: app-scoped
        # queries don't see other apps' rows) is the caller's conflict, not a server error; nothing was written.
        text = str(exc.orig)
        if "UNIQUE constraint failed" in text or "duplicate key value violates unique constraint" in text:
            body = {
                "code": "conflict",
                "message": "conflicts with an existing record (already in use)",
                "details": None,
            }
            return JSONResponse(body, status_code=409)
        return await _unexpected(request, exc)

    @app.exception_handler(DataError)
    async def _data(_: Request, exc: DataError) -> JSONResponse:
        # A value the schema let through but the column can't hold (out of range, bad text): the caller's
        # input, refused by the database; the unit of work rolled back, so nothing was written.
        log.warning("value refused by the database: %s", str(exc.orig).splitlines()[0])
        body = {
            "code": "invalid_value",
            "message": "a value is out of the range the database can store",
            "details": None,
        }
        return JSONResponse(body, status_code=422)

    @app.exception_handler(OverflowError)
    async def _overflow(_: Request, exc: OverflowError) -> JSONResponse:
        # sqlite3 refuses an integer past 64 bits with a bare OverflowError (not a DataError): the same 422
        body = {"code": "invalid_value", "message": "a number is too large to store", "details": None}
        return JSONResponse(body, status_code=422)

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        if transient_failure(exc):
            body = {
                "code": "busy",
                "message": "the records this request needs are busy; nothing was changed, try again",
                "details": None,
            }
            return JSONResponse(body, status_code=503, headers={"Retry-After": "1"})
        if (isinstance(exc, OperationalError) and exc.connection_invalidated) or _unreachable(exc):
            log.error("database unavailable: %s", str(exc.orig).splitlines()[0])
            body = {"code": "database_unavailable", "message": "database unavailable", "details": None}
            return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})
        return await _unexpected(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(
            {"code": "internal_error", "message": "internal error", "details": None}, status_code=500
        )


def rate_limits(settings: Settings) -> RateLimits:
    def rate(per_s: float) -> Rate | None:
        return Rate(per_s=per_s, burst_s=settings.rate_limit_burst_s) if per_s > 0 else None

    return RateLimits(
        admin_per_key=rate(settings.rate_limit_admin_per_key),
        admin_per_ip=rate(settings.rate_limit_admin_per_ip),
        v1_per_ip=rate(settings.rate_limit_v1_per_ip),
        login_per_ip=rate(settings.rate_limit_login_per_ip),
        exempt_ips=frozenset(settings.rate_limit_exempt_ips),
    )


def _unreachable(exc: DBAPIError) -> bool:
    """The database could not be reached or dropped the connection (not a fault of this request)."""
    if isinstance(exc, OperationalError) and getattr(exc.orig, "sqlstate", None) is None:
        return "sqlite" not in type(exc.orig).__module__  # psycopg's connection failures carry no SQLSTATE
    return str(getattr(exc.orig, "sqlstate", "")).startswith(("08", "57P"))  # connection / shutdown


async def _relay_loop(runtime: Runtime, stop: threading.Event) -> None:
    """Moves server-side events from the outbox to the event store while the server runs."""
    while not stop.is_set():
        try:
            await asyncio.to_thread(
                events_service.relay_outbox, factory=runtime.sessions, writer=runtime.writer
            )
        except Exception:  # keep relaying: the outbox keeps the events until a later pass succeeds
            log.exception("outbox relay failed")
        await asyncio.sleep(runtime.settings.outbox_relay_interval_s)


# The operator key goes in Authorization or X-Huoli-Key (either will do); every other scheme a route lists is
# needed together (app id + session token; app id + timestamp + nonce + signature).
_EITHER = ("OperatorKey", "OperatorKeyHeader")


def _security_together(schema: dict[str, Any]) -> dict[str, Any]:
    """FastAPI lists each security dependency as an alternative ([{A}, {B}] means A or B); rewrite each
    operation's list so only the operator key's two headers stay alternatives and the rest are required
    together ({A, B})."""
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict) or not operation.get("security"):
                continue
            names = [name for requirement in operation["security"] for name in requirement]
            together: dict[str, list[str]] = {name: [] for name in names if name not in _EITHER}
            either = [name for name in names if name in _EITHER]
            operation["security"] = [{**together, name: []} for name in either] if either else [together]
    return schema


def _with_security_together(app: FastAPI) -> None:
    default = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _security_together(default())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    """Build the API. Pass a runtime to share it (tests); otherwise one is built from settings at startup."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = runtime is None
        rt = runtime or build_runtime(settings or Settings())
        app.state.runtime = rt
        # Sync routes run on these threads, each holding a pooled connection: no more threads than connections.
        if rt.engine.dialect.name == "postgresql":
            anyio.to_thread.current_default_thread_limiter().total_tokens = rt.settings.database_pool_size
        stop = threading.Event()
        # Only the process that owns the event store relays; workers' events wait in the outbox for it.
        relay = asyncio.create_task(_relay_loop(rt, stop)) if rt.primary else None
        try:
            yield
        finally:
            stop.set()
            if relay is not None:
                relay.cancel()
                await asyncio.gather(relay, return_exceptions=True)
                await asyncio.to_thread(events_service.relay_outbox, factory=rt.sessions, writer=rt.writer)
            if owned:
                rt.close()

    # Swagger UI from installed assets, not a CDN, so /docs works on a closed network; no ReDoc, whose page
    # still pulls its logo from the vendor's CDN.
    app = FastAPIOffline(
        redoc_url=None,
        title="huoli 活力",
        version=__version__,
        summary="Growth engine for WeChat mini-programs: events, analytics, engagement, experiments.",
        lifespan=lifespan,
    )
    if runtime is not None:
        app.state.runtime = runtime
    _install_error_handlers(app)
    limits = (runtime.settings if runtime is not None else settings) or Settings()
    app.add_middleware(
        BodyLimit,
        default=limits.max_request_bytes,
        per_path={
            # event batches have their own, larger cap (checked again after gzip inflation by the route)
            "/v1/events": limits.max_body_bytes,
            "/v1/server/events": limits.max_body_bytes,
            # public with only an app id: a login is a code and a device id, never more than a few KB
            "/v1/auth/wechat": 16 * 1024,
        },
    )
    shared = (
        RedisGcra(limits.rate_limit_redis_url, prefix=limits.rate_limit_redis_prefix)
        if limits.rate_limit_redis_url
        else None
    )
    # outermost: a refused caller costs least
    app.add_middleware(RateLimit, limits=rate_limits(limits), shared=shared)

    @app.get("/healthz", tags=["ops"])
    def healthz(request: Request) -> dict[str, Any]:
        """Liveness and readiness: both stores answer."""
        rt: Runtime = request.app.state.runtime
        with rt.engine.connect().execution_options(huoli_read_only=True) as conn:  # no SQLite write lock
            conn.execute(text("SELECT 1"))
        rt.store.query("SELECT 1")
        return {"status": "ok", "version": __version__}

    own = list(app.router.routes)
    domain_routes = []
    for routes in domain_modules("routes"):
        app.include_router(routes.router)  # registers the router (its lifespan joins the app's)
        domain_routes.extend(routes.router.routes)
    # Dispatch over the routes themselves, mini-program calls first: FastAPI matches an included router by
    # walking all of its routes with per-candidate bookkeeping (~0.6 ms a request here, measured), and our
    # routers add no prefix or dependencies at inclusion. /v1 paths overlap no other, so moving them first
    # changes no match, only how many patterns a high-volume request tries before its own.
    app.router.routes[:] = (
        own
        + [r for r in domain_routes if getattr(r, "path", "").startswith("/v1/")]
        + [r for r in domain_routes if not getattr(r, "path", "").startswith("/v1/")]
    )
    _with_security_together(app)
    return app
