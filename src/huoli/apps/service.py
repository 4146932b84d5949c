"""Apps and operator API keys: the rules. Callers own the transaction (see db.unit_of_work)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from huoli.apps.models import ApiKey, App
from huoli.apps.schemas import ApiKeyCreate, AppCreate, Role
from huoli.db import read_only, utcnow
from huoli.errors import Conflict, Forbidden, NotFound, Unauthorized
from huoli.pagination import PageParams, paginate

KEY_PREFIX = "hlk_"


def create(*, db: Session, app_in: AppCreate) -> App:
    if db.get(App, app_in.id) is not None:
        raise Conflict(f"app {app_in.id!r} already exists")
    if app_in.wx_appid and db.scalar(select(App).where(App.wx_appid == app_in.wx_appid)):
        raise Conflict(f"wx_appid {app_in.wx_appid!r} already belongs to another app")
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
    """One page of the app's keys, oldest first."""
    return paginate(db, select(ApiKey), page, order=[ApiKey.created_at.asc(), ApiKey.id.asc()])


def revoke_key(*, db: Session, key_id: str) -> ApiKey:
    row = db.scalar(select(ApiKey).where(ApiKey.id == key_id))
    if row is None:
        raise NotFound(f"unknown key {key_id!r}")
    if row.revoked_at is None:
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
