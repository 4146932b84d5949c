"""Who is calling: mini-program session tokens and signed server-to-server requests.

Operator API keys live in apps.service (they belong to an app).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from huoli.auth.models import ServerNonce, SessionRevocation
from huoli.db import insert_or_ignore, read_only
from huoli.errors import Unauthorized

log = logging.getLogger(__name__)

TOKEN_ALGORITHM = "HS256"
TOKEN_TYPE = "huoli.mp"


@dataclass(frozen=True)
class MiniProgramUser:
    app_id: str
    user_id: str
    token_id: str = ""  # the token's jti: what a logout revokes
    issued_at: int = 0  # unix seconds: an operator's revocation covers tokens issued up to its second
    expires_at: int = 0  # unix seconds


def issue_session_token(
    *, secret: str, app_id: str, user_id: str, now: datetime, ttl: timedelta
) -> tuple[str, datetime]:
    expires = now + ttl
    claims = {
        "typ": TOKEN_TYPE,
        "app": app_id,
        "sub": user_id,
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
        "jti": secrets.token_urlsafe(16),
    }
    return jwt.encode(claims, secret, algorithm=TOKEN_ALGORITHM), expires


@functools.lru_cache(maxsize=65_536)
def _session_claims(secret: str, token: str) -> MiniProgramUser:
    """The claims of a token whose signature and shape check out. Cached per (secret, token): a session
    makes many calls with one token and the HS256 check is a pure function of the two, so only the first call
    pays for PyJWT (~0.2 ms); expiry and revocation are checked on every call. Bad tokens raise, and raising
    is never cached."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[TOKEN_ALGORITHM],
            options={"require": ["exp", "iat", "sub", "app", "typ"], "verify_exp": False},
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized("invalid session token", code="invalid_token") from exc
    if claims["typ"] != TOKEN_TYPE:
        raise Unauthorized("invalid session token", code="invalid_token")
    # Tokens issued before tokens had a jti are named by their hash, so a logout can revoke them too.
    jti = str(claims.get("jti") or "h" + hashlib.sha256(token.encode()).hexdigest()[:31])
    return MiniProgramUser(
        app_id=str(claims["app"]),
        user_id=str(claims["sub"]),
        token_id=jti,
        issued_at=int(claims["iat"]),
        expires_at=int(claims["exp"]),
    )


def session_claims(*, secret: str, token: str) -> MiniProgramUser:
    """A token's claims if its signature and shape check out, whether or not it has expired or was revoked."""
    return _session_claims(secret, token)


def verify_session_token(*, secret: str, token: str, now: datetime) -> MiniProgramUser:
    """The caller of a valid, unexpired token. Revocation is checked by the caller (RevocationCache)."""
    user = _session_claims(secret, token)
    # Expiry is checked against the injected clock so tests and replays agree on "now".
    if user.expires_at <= int(now.timestamp()):
        raise Unauthorized("session token expired; log in again", code="token_expired")
    return user


def _ts(value: int) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def revoke_token(*, db: Session, user: MiniProgramUser, now: datetime) -> bool:
    """Revoke one session token (logout); False if it already was. Kept until the token's own expiry."""
    return bool(
        insert_or_ignore(
            db,
            SessionRevocation,
            {
                "app_id": user.app_id,
                "user_id": user.user_id,
                "jti": user.token_id,
                "revoked_at": now,
                "expires_at": max(_ts(user.expires_at), now),
            },
            ["app_id", "jti"],
        )
    )


def revoke_user_sessions(
    *, db: Session, app_id: str, user_id: str, now: datetime, ttl: timedelta
) -> SessionRevocation:
    """Revoke every token of the user issued up to now (to the second). Kept one session lifetime: every
    token it covers has expired by then."""
    row = SessionRevocation(app_id=app_id, user_id=user_id, jti=None, revoked_at=now, expires_at=now + ttl)
    db.add(row)
    db.flush()
    return row


def prune_revocations(*, db: Session, now: datetime) -> int:
    """Revocations whose tokens have all expired can go (`huoli auth prune`)."""
    result = db.execute(delete(SessionRevocation).where(SessionRevocation.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)


class RevocationCache:
    """The revoked sessions as of at most `ttl_s` ago, so the hot path checks a token with two dict lookups
    instead of a database round trip per request.

    `refresh` (one indexed read, at most once per TTL per process; deps runs it on a thread) reads what was
    revoked since the previous refresh, re-reading an overlap so a revocation whose transaction committed late
    is not missed; the first one reads every unexpired revocation. Revocations made in this process are
    applied at once (`add_*`). If the database can't be read, the last copy is used and the read retried
    within a second (logged): a revocation then waits for the database, like every other write.
    """

    OVERLAP = timedelta(minutes=5)
    RETRY_S = 1.0

    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        clock: Callable[[], datetime],
        ttl_s: float = 2.0,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._factory = factory
        self._clock = clock
        self._ttl = ttl_s
        self._timer = timer
        self._tokens: dict[str, int] = {}  # token id -> when it expires (unix s)
        self._users: dict[tuple[str, str], tuple[int, int]] = {}  # -> (revoked up to this second, forget at)
        self._since: datetime | None = None  # None: nothing loaded yet
        self._fresh_until = -math.inf
        self._lock = threading.Lock()

    def fresh(self) -> bool:
        return self._timer() < self._fresh_until

    def revoked(self, user: MiniProgramUser) -> bool:
        if user.token_id in self._tokens:
            return True
        cut = self._users.get((user.app_id, user.user_id))
        return cut is not None and user.issued_at <= cut[0]

    def check(self, user: MiniProgramUser) -> None:
        if self.revoked(user):
            raise Unauthorized("session revoked; log in again", code="revoked_token")

    def refresh(self) -> None:
        with self._lock:
            if self.fresh():  # another thread refreshed while this one waited
                return
            started, now = self._timer(), self._clock()
            stmt = select(
                SessionRevocation.app_id,
                SessionRevocation.user_id,
                SessionRevocation.jti,
                SessionRevocation.revoked_at,
                SessionRevocation.expires_at,
            )
            if self._since is None:
                stmt = stmt.where(SessionRevocation.expires_at > now)
            else:
                stmt = stmt.where(SessionRevocation.revoked_at >= self._since)
            try:
                with read_only(self._factory) as db:  # every app's: the session has no app scope
                    rows = db.execute(stmt).all()
            except Exception:
                log.warning("reading session revocations failed; using the last copy", exc_info=True)
                self._fresh_until = started + min(self.RETRY_S, self._ttl)
                return
            for app_id, user_id, jti, revoked_at, expires_at in rows:
                self._apply(app_id, user_id, jti, revoked_at, expires_at)
            stamp = int(now.timestamp())
            self._tokens = {k: exp for k, exp in self._tokens.items() if exp > stamp}
            self._users = {k: v for k, v in self._users.items() if v[1] > stamp}
            self._since = now - self.OVERLAP
            self._fresh_until = started + self._ttl

    def _apply(
        self, app_id: str, user_id: str, jti: str | None, revoked_at: datetime, expires_at: datetime
    ) -> None:
        forget = int(expires_at.timestamp())
        if jti is not None:
            self._tokens[jti] = forget
            return
        cut, until = int(revoked_at.timestamp()), forget
        known = self._users.get((app_id, user_id))
        if known is not None:
            cut, until = max(cut, known[0]), max(until, known[1])
        self._users[(app_id, user_id)] = (cut, until)

    def add(self, row: SessionRevocation) -> None:
        """A user-wide revocation this process committed: effective here at once, elsewhere within the TTL."""
        with self._lock:
            self._apply(row.app_id, row.user_id, row.jti, row.revoked_at, row.expires_at)

    def add_token(self, user: MiniProgramUser) -> None:
        """A logout this process committed: effective here at once, elsewhere within the TTL."""
        with self._lock:
            self._tokens[user.token_id] = user.expires_at


def string_to_sign(*, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    return "\n".join([method.upper(), path, timestamp, nonce, hashlib.sha256(body).hexdigest()])


def sign_request(*, secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    """HMAC-SHA256 hex signature a merchant backend sends in X-Huoli-Signature (see docs/api.md)."""
    message = string_to_sign(method=method, path=path, timestamp=timestamp, nonce=nonce, body=body)
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def verify_signed_request(
    *,
    db: Session,
    secret: str,
    app_id: str,
    method: str,
    path: str,
    timestamp: str | None,
    nonce: str | None,
    signature: str | None,
    body: bytes,
    now: datetime,
    skew: timedelta,
) -> None:
    """Check signature, freshness and single use. The nonce row commits with the request's own work."""
    checked = check_signature(
        secret=secret,
        method=method,
        path=path,
        timestamp=timestamp,
        nonce=nonce,
        signature=signature,
        body=body,
        now=now,
        skew=skew,
    )
    record_nonce(db=db, app_id=app_id, nonce=checked, now=now)


def check_signature(
    *,
    secret: str,
    method: str,
    path: str,
    timestamp: str | None,
    nonce: str | None,
    signature: str | None,
    body: bytes,
    now: datetime,
    skew: timedelta,
) -> str:
    """Signature and freshness, without the database; returns the nonce `record_nonce` must then record."""
    if not timestamp or not nonce or not signature:
        raise Unauthorized(
            "signed request headers missing",
            code="missing_signature",
            details=[
                {"field": h, "message": "required"}
                for h, v in (
                    ("X-Huoli-Timestamp", timestamp),
                    ("X-Huoli-Nonce", nonce),
                    ("X-Huoli-Signature", signature),
                )
                if not v
            ],
        )
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):  # int() takes "１２"
        raise Unauthorized("X-Huoli-Timestamp must be unix seconds", code="bad_timestamp")
    ts = int(timestamp)
    if abs(now.timestamp() - ts) > skew.total_seconds():
        raise Unauthorized("request timestamp outside the accepted window", code="stale_request")
    if not 8 <= len(nonce) <= 64:
        raise Unauthorized("X-Huoli-Nonce must be 8–64 characters", code="bad_nonce")
    expected = sign_request(
        secret=secret, method=method, path=path, timestamp=timestamp, nonce=nonce, body=body
    )
    # bytes: compare_digest refuses a str with non-ASCII characters (a TypeError, i.e. a 500)
    if not hmac.compare_digest(expected.encode(), signature.lower().encode("utf-8", "surrogateescape")):
        raise Unauthorized("bad signature", code="bad_signature")
    return nonce


def record_nonce(*, db: Session, app_id: str, nonce: str, now: datetime) -> None:
    """Single use of a checked nonce (401 on a replay).

    One INSERT … ON CONFLICT DO NOTHING (not a savepoint, an ORM flush and a release): the unique key still
    decides between two concurrent uses of one nonce.
    """
    if not insert_or_ignore(
        db, ServerNonce, {"app_id": app_id, "nonce": nonce, "created_at": now}, ["app_id", "nonce"]
    ):
        raise Unauthorized("replayed request (nonce already used)", code="replayed_request")


def prune_nonces(*, db: Session, older_than: datetime) -> int:
    """Nonces older than the signature window can't be replayed anyway (the timestamp check rejects them)."""
    result = db.execute(delete(ServerNonce).where(ServerNonce.created_at < older_than))
    return int(getattr(result, "rowcount", 0) or 0)
