"""Session tokens: the verified-claims cache never lets an expired, tampered or foreign token through."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from huoli.auth.service import check_signature, issue_session_token, verify_session_token
from huoli.errors import Unauthorized

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
