"""FastAPI dependencies: the runtime, the unit of work, and the three kinds of callers.

Routes declare which caller they serve; this module is the only place that reads credentials.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, ParamSpec, TypeVar

from fastapi import Depends, Query, Request, Security
from fastapi.security import APIKeyHeader, HTTPBearer
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from huoli.apps import service as apps
from huoli.apps.models import App
from huoli.apps.schemas import Role
from huoli.audit import service as audit
from huoli.auth.service import (
    MiniProgramUser,
    check_signature,
    record_nonce,
    session_claims,
    verify_session_token,
    verify_signed_request,
)
from huoli.db import on_engine, read_only, transient_failure, unit_of_work
from huoli.errors import Unauthorized
from huoli.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageParams
from huoli.runtime import Runtime
from huoli.staff import service as staff
from huoli.work import Caller, Work, open_work


async def get_runtime(request: Request) -> Runtime:
    # async so FastAPI doesn't hop to its threadpool for an attribute read on every request
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]

P = ParamSpec("P")
T = TypeVar("T")


async def run_hot(runtime: Runtime, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a hot route's unit of work: a few indexed single-row statements.

    With `runtime.hot_on_loop` (PostgreSQL by default) it runs right here on the event loop, blocking it for
    the few milliseconds it takes, instead of in a request thread. Measured (docs/benchmarks.md): the hop to a
    thread and the GIL handoffs between busy request threads cost a third of a check-in's server CPU, and its
    tail latency. On the loop it uses the runtime's loop engine, whose lock wait is bounded to
    `hot_loop_lock_timeout_ms` (50 ms): a row locked by another transaction — which may itself need this loop
    to finish, e.g. a request whose commit waits to be scheduled — makes the unit roll back and run again on a
    request thread, where waiting blocks nobody else. So the loop never waits on a lock for more than that.
    """
    loop_engine = runtime.loop_engine
    if loop_engine is not None:
        try:
            with on_engine(loop_engine):
                return fn(*args, **kwargs)
        except DBAPIError as exc:
            if not transient_failure(exc):
                raise
            # rolled back: nothing of the first try remains; waiting for the lock is a thread's job
    return await run_in_threadpool(fn, *args, **kwargs)


@dataclass(frozen=True)
class Operator:
    app_id: str
    key_id: str  # the API key's id, or the staff member's id for a staff session
    role: Role
    kind: Literal["api_key", "staff"] = "api_key"
    session_id: str | None = None  # a staff session's id (its own sessions list marks it current)

    @property
    def actor(self) -> audit.Actor:
        """Who the audit trail names: the key, or the person."""
        return audit.Actor(kind=self.kind, id=self.key_id, role=self.role.value)


# -- credentials: each one read through a fastapi.security scheme, so /docs shows Authorize and each route
# its lock; auto_error=False everywhere, the errors below (codes clients rely on) stay ours.


class _BearerHeader(HTTPBearer):
    """HTTP bearer in the OpenAPI document; hands over the raw Authorization header, so a malformed one is
    our 401 bad_authorization (HTTPBearer would answer None or its own 403)."""

    async def __call__(self, request: HTTPConnection) -> str | None:  # type: ignore[override]
        return request.headers.get("authorization")


OPERATOR_KEY = _BearerHeader(
    scheme_name="OperatorKey",
    bearerFormat="hlk_<id>.<secret>",
    description="Operator API key (`huoli keys create`): `Authorization: Bearer hlk_…`. `/admin/*` routes; "
    "the key's role (analyst < operator < owner) decides what it may do.",
    auto_error=False,
)
OPERATOR_KEY_HEADER = APIKeyHeader(
    name="X-Huoli-Key",
    scheme_name="OperatorKeyHeader",
    description="The same operator API key in `X-Huoli-Key` instead of Authorization.",
    auto_error=False,
)
APP_ID = APIKeyHeader(
    name="X-Huoli-App-Id",
    scheme_name="AppId",
    description="The mini-program's app id; every /v1 call (SDK and signed server calls) sends it.",
    auto_error=False,
)
SESSION_TOKEN = _BearerHeader(
    scheme_name="SessionToken",
    bearerFormat="JWT",
    description="Mini-program session token from `POST /v1/auth/wechat`, with `X-Huoli-App-Id`. "
    "Optional where anonymous calls are allowed.",
    auto_error=False,
)
_SIGNED = (
    "Signed merchant-backend call (docs/api.md): X-Huoli-App-Id, X-Huoli-Timestamp, X-Huoli-Nonce and "
    "X-Huoli-Signature together. "
)
SIGNED_TIMESTAMP = APIKeyHeader(
    name="X-Huoli-Timestamp",
    scheme_name="SignedTimestamp",
    description=_SIGNED + "X-Huoli-Timestamp: unix seconds, within ±5 minutes of the server clock.",
    auto_error=False,
)
SIGNED_NONCE = APIKeyHeader(
    name="X-Huoli-Nonce",
    scheme_name="SignedNonce",
    description=_SIGNED + "X-Huoli-Nonce: 8–64 random characters, single use (a replay is refused).",
    auto_error=False,
)
SIGNATURE = APIKeyHeader(
    name="X-Huoli-Signature",
    scheme_name="Signature",
    description=_SIGNED
    + "X-Huoli-Signature: hex(HMAC-SHA256(server_secret, METHOD \\n PATH \\n TIMESTAMP \\n NONCE \\n "
    "hex(SHA-256(body)))). It covers the body, so it is computed per request (not in this page).",
    auto_error=False,
)


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("Authorization header must be 'Bearer <credential>'", code="bad_authorization")
    return value.strip()


def operator(
    request: Request,
    runtime: RuntimeDep,
    authorization: Annotated[str | None, Security(OPERATOR_KEY)] = None,
    x_huoli_key: Annotated[str | None, Security(OPERATOR_KEY_HEADER)] = None,
) -> Operator:
    key = _bearer(authorization) or x_huoli_key
    if not key:
        raise Unauthorized("admin API key required (Authorization: Bearer hlk_…)", code="missing_api_key")
    if key.startswith(staff.SESSION_PREFIX):
        return _staff_operator(request, runtime, key)
    with read_only(runtime.sessions) as db:  # on SQLite a key check takes no write lock
        row = apps.authenticate_key(db=db, key=key)
        return Operator(app_id=row.app_id, key_id=row.id, role=Role(row.role))


def _staff_operator(request: Request, runtime: Runtime, token: str) -> Operator:
    """A person's session: their role in the app chosen by X-Huoli-App-Id, else by a `~<app id>` suffix on the
    token (the console keeps one credential per app, so the choice travels with it), else their only app.
    Read on every request, so a revoked session or a removed member is refused at once."""
    now = runtime.clock()
    ip = request.client.host if request.client else None
    token, _, suffix = token.partition("~")
    chosen = request.headers.get("x-huoli-app-id") or suffix or None
    with read_only(runtime.sessions) as db:
        session, member = staff.authenticate_session(db, token, now)
        app_id, role = staff.role_in(db, member.id, chosen)
        stale = staff.needs_touch(session, now)
        staff_id, session_id = member.id, session.id
    if stale:  # last-seen keeps the idle timeout and the sessions list honest, written at most once a minute
        with unit_of_work(runtime.sessions) as db:
            staff.touch(db, session_id, now, ip)
    return Operator(app_id=app_id, key_id=staff_id, role=role, kind="staff", session_id=session_id)


OperatorDep = Annotated[Operator, Depends(operator)]


def staff_token(authorization: Annotated[str | None, Security(OPERATOR_KEY)] = None) -> str:
    """The staff session token presented (checked by the flow it is for: logout accepts an ended one)."""
    token = _bearer(authorization)
    if not token or not token.startswith(staff.SESSION_PREFIX):
        raise Unauthorized("staff session required (Authorization: Bearer hls_…)", code="missing_session")
    return token.partition("~")[0]


StaffTokenDep = Annotated[str, Depends(staff_token)]


def role_at_least(needed: Role) -> Any:
    def check(op: OperatorDep) -> Operator:
        apps.require_role(op.role.value, needed)
        return op

    return Depends(check)


async def _request_body(request: Request) -> bytes:
    # async: Starlette caches the body FastAPI already read for the route's model; the audit trail keeps it
    return await request.body()


def operator_work(
    request: Request,
    runtime: RuntimeDep,
    op: OperatorDep,
    body: Annotated[bytes, Depends(_request_body)],
) -> Iterator[Work]:
    """The request's unit of work, scoped to the operator's app: no query of it can reach another app.
    A GET reads only (HTTP's safe method): on SQLite it takes no write lock, and a write through it fails.
    Any other method is an operator action: the audit trail records it, with the rows it changed, in the
    same transaction (no entry without the change, no change without its entry)."""
    caller = Caller("operator", op.key_id)
    if request.method in ("GET", "HEAD"):
        with open_work(runtime, op.app_id, caller, reads_only=True) as work:
            yield work
        return
    with open_work(runtime, op.app_id, caller) as work:
        audit.track(work.db)
        yield work
        route = request.scope.get("route")
        audit.record(
            work.db,
            app_id=op.app_id,
            actor=op.actor,
            action=f"{request.method} {getattr(route, 'path', request.url.path)}",
            at=runtime.clock(),
            target=dict(request.path_params),
            request=audit.request_json(body),
            ip=request.client.host if request.client else None,
        )


# scope="function": the unit of work commits when the route function returns, before the response is sent,
# so a failed commit answers an error instead of a 200 for a write that never happened.
OperatorWorkDep = Annotated[Work, Depends(operator_work, scope="function")]


def app_db(work: OperatorWorkDep) -> Session:
    """The operator's unit of work's session, for routes that need nothing else of it."""
    return work.db


AppDbDep = Annotated[Session, Depends(app_db)]


async def mini_program_app(
    runtime: RuntimeDep, x_huoli_app_id: Annotated[str | None, Security(APP_ID)] = None
) -> App:
    if not x_huoli_app_id:
        raise Unauthorized("X-Huoli-App-Id header required", code="missing_app_id")
    # async with a cache hit on the event loop: this runs for every ingested batch
    app = runtime.app_cache.peek(x_huoli_app_id)
    return app if app is not None else await asyncio.to_thread(runtime.app_cache.get, x_huoli_app_id)


MiniProgramAppDep = Annotated[App, Depends(mini_program_app)]


async def mini_program_user(
    runtime: RuntimeDep,
    app: MiniProgramAppDep,
    authorization: Annotated[str | None, Security(SESSION_TOKEN)] = None,
) -> MiniProgramUser | None:
    """None for anonymous callers; a token for another app is refused, not silently ignored."""
    token = _bearer(authorization)
    if token is None:
        return None
    user = verify_session_token(secret=runtime.secret_key, token=token, now=runtime.clock())
    if user.app_id != app.id:
        raise Unauthorized("session token belongs to another app", code="invalid_token")
    revocations = runtime.revocations
    if not revocations.fresh():  # at most once per TTL per process: one read, on a thread
        await asyncio.to_thread(revocations.refresh)
    revocations.check(user)
    return user


MiniProgramUserDep = Annotated[MiniProgramUser | None, Depends(mini_program_user)]


async def presented_session(
    runtime: RuntimeDep,
    app: MiniProgramAppDep,
    authorization: Annotated[str | None, Security(SESSION_TOKEN)] = None,
) -> MiniProgramUser:
    """The session token presented, checked for signature and app only: logging out an expired or already
    revoked token is not an error."""
    token = _bearer(authorization)
    if token is None:
        raise Unauthorized("session token required (Authorization: Bearer <token>)", code="missing_token")
    user = session_claims(secret=runtime.secret_key, token=token)
    if user.app_id != app.id:
        raise Unauthorized("session token belongs to another app", code="invalid_token")
    return user


PresentedSessionDep = Annotated[MiniProgramUser, Depends(presented_session)]


@dataclass(frozen=True)
class _SignedHeaders:
    timestamp: str | None
    nonce: str | None
    signature: str | None


# async: a sync dependency would cost every signed call a hop to the threadpool for three header reads
async def _signed_headers(
    timestamp: Annotated[str | None, Security(SIGNED_TIMESTAMP)] = None,
    nonce: Annotated[str | None, Security(SIGNED_NONCE)] = None,
    signature: Annotated[str | None, Security(SIGNATURE)] = None,
) -> _SignedHeaders:
    return _SignedHeaders(timestamp, nonce, signature)


SignedHeadersDep = Annotated[_SignedHeaders, Depends(_signed_headers)]


async def signed_server_app(
    request: Request, runtime: RuntimeDep, app: MiniProgramAppDep, h: SignedHeadersDep
) -> App:
    """Verify a merchant-backend call; the nonce is recorded in its own short transaction."""
    body = await request.body()
    method, path, now = request.method, request.url.path, runtime.clock()

    def verify() -> None:
        with unit_of_work(runtime.sessions, app_id=app.id) as db:
            verify_signed_request(
                db=db,
                secret=app.server_secret,
                app_id=app.id,
                method=method,
                path=path,
                timestamp=h.timestamp,
                nonce=h.nonce,
                signature=h.signature,
                body=body,
                now=now,
                skew=runtime.settings.signature_skew,
            )

    # A worker thread: the nonce insert commits (an fsync), which on the event loop stalls every request.
    await asyncio.to_thread(verify)
    return app


SignedAppDep = Annotated[App, Depends(signed_server_app)]


@dataclass(frozen=True)
class SignedCall:
    """A merchant-backend call whose signature and freshness are checked; its nonce is not recorded yet."""

    app: App
    nonce: str
    now: datetime


async def signed_call(
    request: Request, runtime: RuntimeDep, app: MiniProgramAppDep, h: SignedHeadersDep
) -> SignedCall:
    """Like SignedAppDep, but the route records the nonce (auth.service.record_nonce) in its own unit of work:
    no second transaction (a commit, an fsync) and no thread hop per call. A route taking this dependency
    must record it before anything else; a call that fails then leaves its nonce unused, like a call that
    never arrived (the same signed body may be sent again within the window)."""
    body = await request.body()
    now = runtime.clock()

    def check() -> str:
        return check_signature(
            secret=app.server_secret,
            method=request.method,
            path=request.url.path,
            timestamp=h.timestamp,
            nonce=h.nonce,
            signature=h.signature,
            body=body,
            now=now,
            skew=runtime.settings.signature_skew,
        )

    # Hashing a small body takes microseconds: on the event loop; a large one goes to a thread.
    nonce = check() if len(body) <= 64 * 1024 else await asyncio.to_thread(check)
    return SignedCall(app=app, nonce=nonce, now=now)


SignedCallDep = Annotated[SignedCall, Depends(signed_call)]


def _caller(user: MiniProgramUser | None) -> Caller:
    return Caller("user", user.user_id) if user is not None else Caller("anonymous")


def mini_program_work(
    request: Request, runtime: RuntimeDep, app: MiniProgramAppDep, user: MiniProgramUserDep
) -> Iterator[Work]:
    """A mini-program request's one unit of work, scoped to its app; a GET reads only (no SQLite write lock)."""
    reads_only = request.method in ("GET", "HEAD")
    with open_work(runtime, app, _caller(user), reads_only=reads_only) as work:
        yield work


def signed_work(request: Request, runtime: RuntimeDep, call: SignedCallDep) -> Iterator[Work]:
    """A signed merchant-backend call's one unit of work: its nonce is recorded first, in the same
    transaction as the work (a call that fails leaves the nonce unused, like a call that never arrived)."""
    with open_work(runtime, call.app, Caller("server"), now=call.now) as work:
        record_nonce(db=work.db, app_id=call.app.id, nonce=call.nonce, now=call.now)
        yield work


# scope="function" like OperatorWorkDep: committed when the route returns, before the response is sent.
MiniProgramWorkDep = Annotated[Work, Depends(mini_program_work, scope="function")]
SignedWorkDep = Annotated[Work, Depends(signed_work, scope="function")]


def mini_program_db(work: MiniProgramWorkDep) -> Session:
    """The mini-program unit of work's session, for routes that need nothing else of it."""
    return work.db


MiniProgramDbDep = Annotated[Session, Depends(mini_program_db)]


def in_work(runtime: Runtime, app: App, caller: Caller, fn: Callable[..., T], /, *args: Any) -> T:
    """`fn(work, *args)` in a unit of work of its own: what a hot route hands to `run_hot`, so the unit opens
    where it runs (the event loop's engine or a request thread) and the route still opens none itself."""
    with open_work(runtime, app, caller) as work:
        return fn(work, *args)


def in_signed_work(runtime: Runtime, call: SignedCall, fn: Callable[..., T], /, *args: Any) -> T:
    """`in_work` for a signed call: the nonce is recorded first, in the same transaction."""
    with open_work(runtime, call.app, Caller("server"), now=call.now) as work:
        record_nonce(db=work.db, app_id=call.app.id, nonce=call.nonce, now=call.now)
        return fn(work, *args)


# The shared pagination parameters (huoli.pagination), here with the other request dependencies: the
# pagination module stays free of FastAPI, which commands that list rows need not import.
def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="rows per page")] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(max_length=512, description="next_cursor of the previous page; omit for the first")
    ] = None,
    sort: Annotated[
        str | None,
        Query(
            pattern=r"^-?[a-z][a-z0-9_]{0,40}$",
            description="a sortable column of this list, `-` first for descending (lists say which)",
        ),
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor or None, sort=sort or None)


PageDep = Annotated[PageParams, Depends(page_params)]
