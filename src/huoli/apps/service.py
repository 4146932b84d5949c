"""Apps and operator API keys: the rules. Callers own the transaction (see db.unit_of_work)."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from huoli.apps.models import ApiKey, App
from huoli.apps.schemas import (
    ApiKeyCreate,
    ApiKeyIssued,
    ApiKeyRead,
    AppCreate,
    AppCreated,
    AppRead,
    AppUpdate,
    ChecklistItem,
    FirstRunStatus,
    NewApp,
    Role,
    SetupChecklist,
)
from huoli.audit import service as audit
from huoli.auth.models import ServerNonce
from huoli.db import read_only, utcnow
from huoli.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from huoli.pagination import PageParams, paginate

KEY_PREFIX = "hlk_"


def create(*, db: Session, app_in: AppCreate) -> App:
    if db.get(App, app_in.id) is not None:
        raise Conflict(
            f"app {app_in.id!r} already exists",
            code="app_exists",
            details=[{"field": "id", "message": f"app {app_in.id!r} already exists: choose another id"}],
        )
    _check_wx_appid_free(db, app_in.wx_appid, None)
    app = App(
        id=app_in.id,
        name=app_in.name,
        timezone=app_in.timezone,
        wx_appid=app_in.wx_appid,
        wx_secret=app_in.wx_secret,
        server_secret=secrets.token_urlsafe(32),
        id_salt=secrets.token_hex(16),
    )
    db.add(app)
    db.flush()
    return app


def set_wx_secret(*, db: Session, app_id: str, wx_secret: str) -> App:
    """Replace the app's WeChat AppSecret (validated like AppCreate's); the column type encrypts it."""
    app = get(db=db, app_id=app_id)
    app.wx_secret = AppCreate.model_validate(
        {"id": app.id, "name": app.name, "wx_secret": wx_secret}
    ).wx_secret
    return app


def _check_wx_appid_free(db: Session, wx_appid: str | None, app_id: str | None) -> None:
    """One AppID, one app: the mini-program's events are routed by it (AppCache)."""
    if wx_appid is None:
        return
    owner = db.scalar(select(App.id).where(App.wx_appid == wx_appid))
    if owner is not None and owner != app_id:
        raise Conflict(
            f"wx_appid {wx_appid!r} already belongs to another app",
            code="wx_appid_taken",
            details=[{"field": "wx_appid", "message": "this AppID already belongs to another app here"}],
        )


def update(*, db: Session, app_id: str, changes: AppUpdate) -> App:
    """Apply the fields the owner sent; the AppSecret is encrypted by its column type and never read back."""
    app = get(db=db, app_id=app_id)
    sent = changes.model_fields_set
    if "name" in sent and changes.name is not None:
        app.name = changes.name
    if "wx_appid" in sent and changes.wx_appid is not None:
        _check_wx_appid_free(db, changes.wx_appid, app_id)
        app.wx_appid = changes.wx_appid
    if "wx_secret" in sent and changes.wx_secret is not None:
        app.wx_secret = changes.wx_secret
    db.flush()
    return app


def server_secret(*, db: Session, app_id: str) -> str:
    return get(db=db, app_id=app_id).server_secret


def rotate_server_secret(*, db: Session, app_id: str, confirm: str) -> str:
    """A new signing secret; the old one stops working at once, so the caller must type the app id again."""
    if confirm != app_id:
        raise ValidationFailed(
            "rotation not confirmed",
            details=[{"field": "confirm", "message": f"type the app id ({app_id}) to confirm"}],
        )
    app = get(db=db, app_id=app_id)
    app.server_secret = secrets.token_urlsafe(32)
    db.flush()
    return app.server_secret


@contextmanager
def _scoped_to(db: Session, app_id: str) -> Iterator[None]:
    """Write rows of a just-created app from its creator's unit of work: the tenancy guard checks each flush
    against the session's app, so the scope moves to the new app for these writes and comes back after."""
    before = db.info.get("app_id")
    db.flush()
    db.info["app_id"] = app_id
    try:
        yield
        db.flush()
    finally:
        db.info["app_id"] = before


def create_with_owner(
    *, db: Session, app_in: NewApp, actor: audit.Actor, at: datetime, ip: str | None
) -> tuple[App, ApiKey, str]:
    """A new app and its first owner key, in the caller's unit of work. The new app's own audit trail starts
    with who created it (the creator's trail records the request through its unit of work)."""
    app = create(db=db, app_in=AppCreate(id=app_in.id, name=app_in.name, timezone=app_in.timezone))
    with _scoped_to(db, app.id):
        row, key = issue_key(db=db, app_id=app.id, key_in=ApiKeyCreate(name="owner", role=Role.owner))
        audit.record(
            db,
            app_id=app.id,
            actor=actor,
            action="create app",
            at=at,
            target={"app_id": app.id},
            request=app_in.model_dump(),
            ip=ip,
        )
    return app, row, key


def created(app: App, row: ApiKey, key: str) -> AppCreated:
    return AppCreated(
        app=AppRead.of(app), key=ApiKeyIssued(**ApiKeyRead.model_validate(row).model_dump(), key=key)
    )


def first_run_status(*, db: Session, local: bool) -> FirstRunStatus:
    """Whether this request may create the first app without a key: only from this machine, only while none."""
    if not local:
        return FirstRunStatus(available=False, reason="not_local")
    if db.scalar(select(func.count()).select_from(App)):
        return FirstRunStatus(available=False, reason="apps_exist")
    return FirstRunStatus(available=True)


LOOPBACK_NAMES = ("localhost",)
FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip")


def _loopback(host: str | None) -> bool:
    if not host:
        return False
    host = host.strip().lower()
    if host.startswith("["):  # [::1]:8000
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:  # 127.0.0.1:8000, localhost:8000
        host = host.partition(":")[0]
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_local_request(
    *, bind_host: str, server_host: str | None, client_host: str | None, headers: Mapping[str, str]
) -> bool:
    """A request from this machine to a server listening on loopback only. Every sign must agree: the
    configured bind address, the socket the request came in on, its peer, its Host header, and no proxy
    header (a proxy on the same machine would make remote callers look local)."""
    return (
        _loopback(bind_host)
        and _loopback(server_host)
        and _loopback(client_host)
        and _loopback(headers.get("host"))
        and not any(h in headers for h in FORWARDING_HEADERS)
    )


def checklist(*, db: Session, app_id: str, store: Any) -> SetupChecklist:
    """What a new app has done so far. `store` is the event log: client events are the SDK's; a nonce is a
    signed call in the last minutes, a server event one the backend sent (or a fact its calls logged)."""
    app = get(db=db, app_id=app_id)

    def seen(sql: str, params: list[Any]) -> bool:
        return bool(
            store.query(
                f"SELECT 1 AS x FROM events WHERE app_id = ? AND {sql} LIMIT 1", [app_id, *params]
            ).num_rows
        )

    signed = db.scalar(select(ServerNonce.id).limit(1)) is not None or seen("source = ?", ["server"])
    done = {
        "app": True,
        "wx_appid": app.wx_appid is not None,
        "wx_secret": app.wx_secret is not None,
        "sdk_events": seen("source = ?", ["client"]),
        "signed_calls": signed,
        "first_checkin": seen("name = ?", ["checkin"]),
    }
    return SetupChecklist(items=[ChecklistItem(id=k, done=v) for k, v in done.items()])


def get(*, db: Session, app_id: str) -> App:
    app = db.get(App, app_id)
    if app is None:
        raise NotFound(f"unknown app {app_id!r}", code="unknown_app")
    return app


def list_all(*, db: Session) -> list[App]:
    return list(db.scalars(select(App).order_by(App.id)))


def _hash_secret(secret: str) -> str:
    # Keys are 256-bit random, so a plain SHA-256 is enough (no password stretching needed).
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_key(*, db: Session, app_id: str, key_in: ApiKeyCreate) -> tuple[ApiKey, str]:
    """Create a key for the app; returns the row and the full key text, which is never stored."""
    get(db=db, app_id=app_id)
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    row = ApiKey(
        id=key_id, app_id=app_id, name=key_in.name, role=key_in.role.value, secret_hash=_hash_secret(secret)
    )
    db.add(row)
    db.flush()
    return row, f"{KEY_PREFIX}{key_id}.{secret}"


def authenticate_key(*, db: Session, key: str) -> ApiKey:
    """Resolve a presented key to its (unrevoked) row; constant-time comparison of the hash."""
    if not key.startswith(KEY_PREFIX) or "." not in key:
        raise Unauthorized("malformed API key", code="invalid_api_key")
    key_id, _, secret = key[len(KEY_PREFIX) :].partition(".")
    row = db.get(ApiKey, key_id)
    if row is None or not hmac.compare_digest(row.secret_hash, _hash_secret(secret)):
        raise Unauthorized("invalid API key", code="invalid_api_key")
    if row.revoked_at is not None:
        raise Unauthorized("API key revoked", code="revoked_api_key")
    return row


def list_keys(*, db: Session) -> list[ApiKey]:
    """Keys of the session's app (the tenancy scope adds the filter)."""
    return list(db.scalars(select(ApiKey).order_by(ApiKey.created_at)))


def keys_page(*, db: Session, page: PageParams) -> tuple[list[ApiKey], str | None]:
    """One page of the app's keys, oldest first (or by name / role / created_at: `sort`)."""
    sortable = {"name": ApiKey.name, "role": ApiKey.role, "created_at": ApiKey.created_at}
    return paginate(
        db, select(ApiKey), page, order=[ApiKey.created_at.asc(), ApiKey.id.asc()], sortable=sortable
    )


def revoke_key(*, db: Session, key_id: str, keep_an_owner: bool = False) -> ApiKey:
    """Revoke now. `keep_an_owner` (the API): never the app's last active owner key, or nobody could manage
    the app from the console any more (the CLI may: it can always issue a new one)."""
    row = db.scalar(select(ApiKey).where(ApiKey.id == key_id))
    if row is None:
        raise NotFound(f"unknown key {key_id!r}")
    if row.revoked_at is None:
        if keep_an_owner and row.role == Role.owner.value:
            owners = db.scalar(
                select(func.count())
                .select_from(ApiKey)
                .where(ApiKey.role == Role.owner.value, ApiKey.revoked_at.is_(None))
            )
            if (owners or 0) <= 1:
                raise Conflict(
                    "this is the app's last owner key: create another owner key before revoking it",
                    code="last_owner_key",
                )
        row.revoked_at = utcnow()
    return row


def require_role(role: str, needed: Role) -> None:
    if Role(role).rank < needed.rank:
        raise Forbidden(f"this action needs the {needed.value} role; the key has {role}")


class AppCache:
    """Read-through cache of apps for the ingestion hot path (an app row changes rarely; 30 s staleness).

    A mini-program presents either its huoli app id or its WeChat AppID (`apps.wx_appid`, what its developer
    has at hand): both resolve to the app, the id first (an app id may look like another app's AppID).
    """

    def __init__(self, factory: sessionmaker[Session], *, ttl_s: float = 30.0) -> None:
        self._factory = factory
        self._ttl = ttl_s
        self._items: dict[str, tuple[float, App]] = {}  # keyed by the value presented: id or wx_appid
        self._lock = threading.Lock()

    def peek(self, app_id: str) -> App | None:
        """The cached app if fresh, without touching the database (safe on the event loop)."""
        hit = self._items.get(app_id)
        if hit is not None and time.monotonic() - hit[0] < self._ttl:
            return hit[1]
        return None

    def forget(self, app_id: str) -> None:
        """Drop the app's entries (by id or AppID) after its settings change, so this process reads them anew;
        other processes see the change within the TTL."""
        with self._lock:
            for presented in [k for k, (_, app) in self._items.items() if app.id == app_id]:
                del self._items[presented]

    def get(self, app_id: str) -> App:
        """The app whose id, or else whose WeChat AppID, is `app_id`; 404 unknown_app when neither."""
        now = time.monotonic()
        cached = self.peek(app_id)
        if cached is not None:
            return cached
        with read_only(self._factory) as db:  # on SQLite a read takes no write lock
            app = db.get(App, app_id)
            if app is None:
                app = db.scalar(select(App).where(App.wx_appid == app_id))
            if app is None:
                raise NotFound(f"unknown app {app_id!r}", code="unknown_app")
            db.expunge(app)
        with self._lock:
            self._items[app_id] = (now, app)
        return app
