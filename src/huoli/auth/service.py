"""Who is calling: mini-program session tokens and signed server-to-server requests.

Operator API keys live in apps.service (they belong to an app).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from sqlalchemy import delete
from sqlalchemy.orm import Session

from huoli.auth.models import ServerNonce
from huoli.db import insert_or_ignore
from huoli.errors import Unauthorized

TOKEN_ALGORITHM = "HS256"
TOKEN_TYPE = "huoli.mp"


@dataclass(frozen=True)
class MiniProgramUser:
    app_id: str
    user_id: str


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
    }
    return jwt.encode(claims, secret, algorithm=TOKEN_ALGORITHM), expires


@functools.lru_cache(maxsize=65_536)
def _session_claims(secret: str, token: str) -> tuple[str, str, int]:
    """(app, user, exp) of a token whose signature and shape check out. Cached per (secret, token): a session
    makes many calls with one token and the HS256 check is a pure function of the two, so only the first call
    pays for PyJWT (~0.2 ms); expiry is checked on every call. Bad tokens raise, and raising is never cached."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[TOKEN_ALGORITHM],
            options={"require": ["exp", "sub", "app", "typ"], "verify_exp": False},
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized("invalid session token", code="invalid_token") from exc
    if claims["typ"] != TOKEN_TYPE:
        raise Unauthorized("invalid session token", code="invalid_token")
    return str(claims["app"]), str(claims["sub"]), int(claims["exp"])


def verify_session_token(*, secret: str, token: str, now: datetime) -> MiniProgramUser:
    app_id, user_id, exp = _session_claims(secret, token)
    # Expiry is checked against the injected clock so tests and replays agree on "now".
    if exp <= int(now.timestamp()):
        raise Unauthorized("session token expired; log in again", code="token_expired")
    return MiniProgramUser(app_id=app_id, user_id=user_id)


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
