"""Session tokens: the verified-claims cache never lets an expired, tampered or foreign token through, and
revocations reach every process within the revocation cache's TTL without a database read per check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from huoli.auth.models import SessionRevocation
from huoli.auth.service import (
    MiniProgramUser,
    RevocationCache,
    check_signature,
    issue_session_token,
    prune_revocations,
    revoke_token,
    revoke_user_sessions,
    session_claims,
    verify_session_token,
)
from huoli.db import unit_of_work
from huoli.errors import Unauthorized
from huoli.runtime import Runtime

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def test_cached_token_still_expires_on_the_clock() -> None:
    token, expires = issue_session_token(
        secret="s" * 32, app_id="shop", user_id="u1", now=NOW, ttl=timedelta(hours=1)
    )
    user = verify_session_token(secret="s" * 32, token=token, now=NOW)
    assert (user.app_id, user.user_id) == ("shop", "u1")
    assert (
        verify_session_token(secret="s" * 32, token=token, now=NOW + timedelta(minutes=59)) == user
    )  # cached
    with pytest.raises(Unauthorized) as err:
        verify_session_token(secret="s" * 32, token=token, now=expires)
    assert err.value.code == "token_expired"


def test_cache_is_per_secret_and_never_remembers_a_bad_token() -> None:
    token, _ = issue_session_token(
        secret="a" * 32, app_id="shop", user_id="u1", now=NOW, ttl=timedelta(hours=1)
    )
    assert verify_session_token(secret="a" * 32, token=token, now=NOW).user_id == "u1"
    with pytest.raises(Unauthorized) as err:  # the same token under another deployment's secret
        verify_session_token(secret="b" * 32, token=token, now=NOW)
    assert err.value.code == "invalid_token"
    head, body, sig = token.split(".")
    tampered = f"{head}.{body}.{sig[:-2]}{'AA' if not sig.endswith('AA') else 'BB'}"
    for _ in range(2):  # a refusal is not cached into an acceptance
        with pytest.raises(Unauthorized):
            verify_session_token(secret="a" * 32, token=tampered, now=NOW)


@pytest.mark.parametrize(
    ("timestamp", "signature", "code"),
    [
        ("1700000000", "签名ä", "bad_signature"),  # compare_digest raised TypeError on non-ASCII: a 500
        ("１７００００００００", "ab", "bad_timestamp"),  # full-width digits that int() would take
        ("9" * 5000, "ab", "bad_timestamp"),
    ],
)
def test_odd_signature_headers_are_refused_not_crashed(timestamp: str, signature: str, code: str) -> None:
    now = datetime.fromtimestamp(1_700_000_000, UTC)
    with pytest.raises(Unauthorized) as refused:
        check_signature(
            secret="s" * 32,
            method="POST",
            path="/v1/server/events",
            timestamp=timestamp,
            nonce="nonce-123",
            signature=signature,
            body=b"{}",
            now=now,
            skew=timedelta(minutes=5),
        )
    assert refused.value.code == code


def test_tokens_carry_an_id_and_old_tokens_get_one_from_their_hash() -> None:
    a, _ = issue_session_token(secret="s" * 32, app_id="shop", user_id="u1", now=NOW, ttl=timedelta(hours=1))
    b, _ = issue_session_token(secret="s" * 32, app_id="shop", user_id="u1", now=NOW, ttl=timedelta(hours=1))
    ua, ub = (verify_session_token(secret="s" * 32, token=t, now=NOW) for t in (a, b))
    assert ua.token_id and ua.token_id != ub.token_id  # two logins in one second are two sessions
    assert (ua.issued_at, ua.expires_at) == (int(NOW.timestamp()), int(NOW.timestamp()) + 3600)
    claims = {
        "typ": "huoli.mp",
        "app": "shop",
        "sub": "u1",
        "iat": int(NOW.timestamp()),
        "exp": ua.expires_at,
    }
    legacy = jwt.encode(claims, "s" * 32, algorithm="HS256")  # issued before tokens had a jti
    old = verify_session_token(secret="s" * 32, token=legacy, now=NOW)
    assert (
        old.token_id.startswith("h")
        and old.token_id == session_claims(secret="s" * 32, token=legacy).token_id
    )


class Timer:
    """A monotonic clock the test moves: how a cache's TTL passes."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def an_hour_ago() -> datetime:
    """A test clock behind the wall clock: PyJWT refuses a token whose iat is ahead of the real time."""
    return datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def caller(runtime: Runtime, user_id: str, at: datetime) -> MiniProgramUser:
    token, _ = issue_session_token(
        secret=runtime.secret_key, app_id="shop", user_id=user_id, now=at, ttl=timedelta(days=7)
    )
    return verify_session_token(secret=runtime.secret_key, token=token, now=at)


def test_another_process_sees_a_revocation_within_the_ttl(runtime: Runtime, make_app, clock) -> None:  # type: ignore[no-untyped-def]
    """Two caches on one database stand for two processes: the revoking one knows at once, the other after
    its TTL, with no database read per check in between."""
    make_app("shop")
    clock.set(an_hour_ago())
    timer = Timer()
    here = RevocationCache(runtime.sessions, clock=clock, ttl_s=2.0, timer=timer)
    there = RevocationCache(runtime.sessions, clock=clock, ttl_s=2.0, timer=timer)
    alice, alice2, bob = (caller(runtime, u, clock()) for u in ("alice", "alice", "bob"))
    for cache in (here, there):
        cache.refresh()
        assert cache.fresh() and not any(cache.revoked(u) for u in (alice, alice2, bob))

    with unit_of_work(runtime.sessions, app_id="shop") as db:
        assert revoke_token(db=db, user=alice, now=clock())
        assert not revoke_token(db=db, user=alice, now=clock())  # idempotent
    here.add_token(alice)
    reads = count_statements(runtime)
    assert here.revoked(alice) and not there.revoked(alice)  # not yet: `there` read before the logout
    assert not any(c.revoked(u) for c in (here, there) for u in (alice2, bob))  # one token, not the user
    assert reads() == 0  # checks never touch the database

    timer.now += 1.9
    assert there.fresh() and not there.revoked(alice)
    timer.now += 0.2  # past the TTL: the next request refreshes first (deps.mini_program_user)
    assert not there.fresh()
    there.refresh()
    assert reads() == 1 and there.revoked(alice) and not there.revoked(alice2) and not there.revoked(bob)

    clock.advance(timedelta(seconds=1))
    with unit_of_work(runtime.sessions, app_id="shop") as db:
        row = revoke_user_sessions(db=db, app_id="shop", user_id="alice", now=clock(), ttl=timedelta(days=7))
    here.add(row)
    later = caller(runtime, "alice", clock() + timedelta(seconds=1))  # a login after the revocation
    timer.now += 2.1
    there.refresh()
    for cache in (here, there):
        assert cache.revoked(alice2) and not cache.revoked(later) and not cache.revoked(bob)


def test_a_revocation_committed_late_is_not_missed(runtime: Runtime, make_app, clock) -> None:  # type: ignore[no-untyped-def]
    """Refreshes read by revoked_at with an overlap: a row stamped before the last refresh but committed after
    it (a slow transaction) is still picked up."""
    make_app("shop")
    clock.set(an_hour_ago())
    timer = Timer()
    cache = RevocationCache(runtime.sessions, clock=clock, ttl_s=2.0, timer=timer)
    cache.refresh()
    slow = caller(runtime, "slow", clock() - timedelta(minutes=2))
    with unit_of_work(runtime.sessions, app_id="shop") as db:
        revoke_token(db=db, user=slow, now=clock() - timedelta(minutes=1))  # stamped a minute before commit
    timer.now += 3
    cache.refresh()
    assert cache.revoked(slow)


def test_expired_revocations_are_forgotten_and_pruned(runtime: Runtime, make_app, clock) -> None:  # type: ignore[no-untyped-def]
    make_app("shop")
    clock.set(an_hour_ago())
    timer = Timer()
    short = verify_session_token(
        secret=runtime.secret_key,
        token=issue_session_token(
            secret=runtime.secret_key, app_id="shop", user_id="u1", now=clock(), ttl=timedelta(minutes=10)
        )[0],
        now=clock(),
    )
    with unit_of_work(runtime.sessions, app_id="shop") as db:
        revoke_token(db=db, user=short, now=clock())
    cache = RevocationCache(runtime.sessions, clock=clock, ttl_s=2.0, timer=timer)
    cache.refresh()  # the first load reads every unexpired revocation
    assert cache.revoked(short)
    clock.advance(timedelta(minutes=11))
    timer.now += 3
    cache.refresh()
    assert not cache._tokens  # the token expired: nothing left to remember
    with unit_of_work(runtime.sessions) as db:
        assert prune_revocations(db=db, now=clock()) == 1
        assert db.scalar(select(func.count()).select_from(SessionRevocation)) == 0


def test_an_unreadable_database_keeps_the_last_copy_and_retries_soon(clock) -> None:  # type: ignore[no-untyped-def]
    def broken() -> Session:
        raise OperationalError("SELECT", {}, Exception("database unreachable"))

    timer = Timer()
    cache = RevocationCache(broken, clock=clock, ttl_s=5.0, timer=timer)  # type: ignore[arg-type]
    cache.refresh()  # logged, not raised: checks go on with what is known
    assert cache.fresh() and not cache.revoked(MiniProgramUser(app_id="shop", user_id="u1"))
    timer.now += RevocationCache.RETRY_S
    assert not cache.fresh()  # retried after a second, not after the whole TTL


def count_statements(runtime: Runtime):  # type: ignore[no-untyped-def]
    seen: list[str] = []

    def count(*args: object) -> None:
        seen.append(str(args[2]))

    sa_event.listen(runtime.engine, "before_cursor_execute", count)
    return lambda: len([s for s in seen if "session_revocations" in s])
