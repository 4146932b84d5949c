"""WeChatClient against the fake WeChat server over real HTTP (tests/fakes/wechat_server.py)."""

from __future__ import annotations

import json
import logging
import pickle
import socket
import threading
from typing import Any

import httpx
import pytest
from tests.fakes.wechat_server import (
    DEFAULT_APPID,
    DEFAULT_SECRET,
    JSCODE2SESSION,
    QUOTA_GET,
    STABLE_TOKEN,
    SUBSCRIBE_SEND,
    USER_RISK_RANK,
    FakeWeChat,
)

from huoli.wechat import (
    ERROR_MESSAGES,
    WeChatClient,
    WeChatError,
    WeChatUnavailable,
    WxSession,
)

OPENID = "o_user_0001"
TEMPLATE = "tmpl-order-shipped"
GOOD_DATA = {
    "thing1": {"value": "你的订单已发货"},
    "number2": {"value": "3"},
    "time3": {"value": "2024年10月1日 15:01"},
}


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def client(fake_wechat: FakeWeChat) -> WeChatClient:
    return fake_wechat.client()


@pytest.fixture
def subscriber(fake_wechat: FakeWeChat) -> str:
    """A known user with one accepted subscription to TEMPLATE."""
    fake_wechat.add_user(OPENID)
    fake_wechat.add_template(TEMPLATE, ["thing1", "number2", "time3"])
    fake_wechat.grant_subscription(OPENID, TEMPLATE)
    return OPENID


def _stable_token_bodies(fake: FakeWeChat) -> list[Any]:
    return [r.json for r in fake.requests if r.path == STABLE_TOKEN]


# ------------------------------------------------------------------------------- code2session


def test_code2session_returns_session_with_unionid(fake_wechat: FakeWeChat, client: WeChatClient) -> None:
    code = fake_wechat.issue_code("o_abc", unionid="u_xyz")

    session = client.code2session(code)

    assert session.openid == "o_abc"
    assert session.unionid == "u_xyz"
    assert session.session_key
    (req,) = fake_wechat.requests
    assert req.method == "GET" and req.path == JSCODE2SESSION
    assert req.query == {
        "appid": DEFAULT_APPID,
        "secret": DEFAULT_SECRET,
        "js_code": code,
        "grant_type": "authorization_code",
    }
    assert "access_token" not in req.query


def test_code2session_without_unionid(fake_wechat: FakeWeChat, client: WeChatClient) -> None:
    session = client.code2session(fake_wechat.issue_code("o_no_union"))
    assert session == WxSession(openid="o_no_union", session_key=session.session_key, unionid=None)


def test_reused_code_raises_40029(fake_wechat: FakeWeChat, client: WeChatClient) -> None:
    code = fake_wechat.issue_code("o_abc")
    client.code2session(code)

    with pytest.raises(WeChatError) as info:
        client.code2session(code)

    err = info.value
    assert err.errcode == 40029
    assert err.retryable is False
    assert err.api == JSCODE2SESSION
    assert err.rid  # WeChat's request id, for support tickets
    assert "40029" in str(err)


def test_unknown_code_raises_40029(client: WeChatClient) -> None:
    with pytest.raises(WeChatError) as info:
        client.code2session("never-issued")
    assert info.value.errcode == 40029


def test_bad_secret_raises_40125(fake_wechat: FakeWeChat) -> None:
    code = fake_wechat.issue_code("o_abc")
    client = fake_wechat.client(secret="wrong-secret-value")

    with pytest.raises(WeChatError) as info:
        client.code2session(code)

    assert info.value.errcode == 40125
    assert not info.value.retryable


def test_unknown_appid_raises_40013(fake_wechat: FakeWeChat) -> None:
    client = fake_wechat.client(appid="wx_not_registered", secret="whatever")
    with pytest.raises(WeChatError) as info:
        client.code2session("some-code")
    assert info.value.errcode == 40013


def test_high_risk_user_login_blocked_40226(fake_wechat: FakeWeChat, client: WeChatClient) -> None:
    fake_wechat.block_login("o_risky")
    with pytest.raises(WeChatError) as info:
        client.code2session(fake_wechat.issue_code("o_risky"))
    assert info.value.errcode == 40226
    assert not info.value.retryable


def test_login_frequency_limit_45011_is_retryable(fake_wechat: FakeWeChat, client: WeChatClient) -> None:
    fake_wechat.login_rate_limit = 2
    for _ in range(2):
        client.code2session(fake_wechat.issue_code("o_busy_user"))

    code = fake_wechat.issue_code("o_busy_user")
    with pytest.raises(WeChatError) as info:
        client.code2session(code)
    assert info.value.errcode == 45011
    assert info.value.retryable

    fake_wechat.advance_time(61)  # next minute: the (unused) code works
    assert client.code2session(code).openid == "o_busy_user"


def test_code2session_system_busy_is_retryable(fake_wechat: FakeWeChat, client: WeChatClient) -> None:
    code = fake_wechat.issue_code("o_abc")
    fake_wechat.fail_next(1, "busy")

    with pytest.raises(WeChatError) as info:
        client.code2session(code)
    assert info.value.errcode == -1
    assert info.value.retryable
    assert not isinstance(info.value, WeChatUnavailable)

    assert client.code2session(code).openid == "o_abc"  # the injected failure did not burn the code


def test_code2session_rejects_empty_code(fake_wechat: FakeWeChat, client: WeChatClient) -> None:
    with pytest.raises(ValueError):
        client.code2session("")
    assert fake_wechat.requests == []


# ------------------------------------------------------------------------------- access token


def test_token_uses_stable_token_api(fake_wechat: FakeWeChat, client: WeChatClient) -> None:
    token = client.get_access_token()

    assert token == fake_wechat.current_token()
    assert _stable_token_bodies(fake_wechat) == [
        {
            "grant_type": "client_credential",
            "appid": DEFAULT_APPID,
            "secret": DEFAULT_SECRET,
            "force_refresh": False,
        }
    ]


def test_token_is_cached_across_calls(fake_wechat: FakeWeChat, client: WeChatClient, subscriber: str) -> None:
    tokens = {client.get_access_token() for _ in range(10)}
    for _ in range(5):
        client.get_user_risk_rank(subscriber, "203.0.113.7")
    client.send_subscribe_message(subscriber, TEMPLATE, GOOD_DATA)

    assert len(tokens) == 1
    assert fake_wechat.call_count(STABLE_TOKEN) == 1
    assert fake_wechat.call_count(USER_RISK_RANK) == 5
    used = {r.query["access_token"] for r in fake_wechat.requests if r.path != STABLE_TOKEN}
    assert used == tokens


def test_token_refetched_when_clock_passes_expiry_minus_margin(fake_wechat: FakeWeChat) -> None:
    clock = FakeClock()
    client = fake_wechat.client(clock=clock)
    first = client.get_access_token()

    clock.advance(7200 - 300 - 1)
    fake_wechat.advance_time(7200 - 300 - 1)
    assert client.get_access_token() == first
    assert fake_wechat.call_count(STABLE_TOKEN) == 1

    clock.advance(2)  # now inside the 300 s safety margin
    fake_wechat.advance_time(2)
    second = client.get_access_token()
    assert fake_wechat.call_count(STABLE_TOKEN) == 2
    assert second != first  # WeChat renews a stable token in its last 5 minutes


def test_token_cache_follows_server_expires_in(fake_wechat: FakeWeChat) -> None:
    fake_wechat.token_expires_in = 1000
    clock = FakeClock()
    client = fake_wechat.client(clock=clock)
    client.get_access_token()

    clock.advance(1000 - 300 - 1)
    client.get_access_token()
    assert fake_wechat.call_count(STABLE_TOKEN) == 1
    clock.advance(2)
    client.get_access_token()
    assert fake_wechat.call_count(STABLE_TOKEN) == 2


def test_force_refresh_mints_new_token(fake_wechat: FakeWeChat, client: WeChatClient) -> None:
    first = client.get_access_token()
    second = client.get_access_token(force_refresh=True)

    assert second != first
    assert second == fake_wechat.current_token()
    assert [b["force_refresh"] for b in _stable_token_bodies(fake_wechat)] == [False, True]
    assert client.get_access_token() == second  # cached again


def test_failed_token_fetch_is_not_cached(fake_wechat: FakeWeChat, client: WeChatClient) -> None:
    fake_wechat.fail_next(1, "busy", path=STABLE_TOKEN)
    with pytest.raises(WeChatError) as info:
        client.get_access_token()
    assert info.value.retryable

    assert client.get_access_token() == fake_wechat.current_token()
    assert fake_wechat.call_count(STABLE_TOKEN) == 2


def test_token_fetch_with_bad_secret_raises_40125_without_retry(fake_wechat: FakeWeChat) -> None:
    client = fake_wechat.client(secret="wrong-secret-value")
    with pytest.raises(WeChatError) as info:
        client.get_access_token()
    assert info.value.errcode == 40125
    assert fake_wechat.call_count(STABLE_TOKEN) == 1


def test_token_fetch_from_ip_outside_whitelist_40164(fake_wechat: FakeWeChat, client: WeChatClient) -> None:
    fake_wechat.set_ip_whitelist(["198.51.100.10"])
    with pytest.raises(WeChatError) as info:
        client.get_access_token()
    assert info.value.errcode == 40164


def test_concurrent_get_access_token_fetches_once(fake_wechat: FakeWeChat, client: WeChatClient) -> None:
    fake_wechat.fail_next(1, "slow", path=STABLE_TOKEN, delay=0.3)  # widen the race window
    barrier = threading.Barrier(8)
    results: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            results.append(client.get_access_token())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)

    assert errors == []
    assert len(results) == 8 and len(set(results)) == 1
    assert fake_wechat.call_count(STABLE_TOKEN) == 1


# ------------------------------------------------------------------ token refresh inside call()


def test_call_renews_expired_token_42001_and_retries_once(
    fake_wechat: FakeWeChat, client: WeChatClient, subscriber: str
) -> None:
    old = client.get_access_token()
    fake_wechat.expire_tokens()

    assert client.get_user_risk_rank(subscriber, "203.0.113.7") == 0

    assert fake_wechat.call_count(USER_RISK_RANK) == 2  # rejected once, retried once
    assert fake_wechat.call_count(STABLE_TOKEN) == 2
    new = client.get_access_token()
    assert new != old and new == fake_wechat.current_token()
    # Normal-mode re-fetch was enough: no force refresh (WeChat allows ~20 a day).
    assert [b["force_refresh"] for b in _stable_token_bodies(fake_wechat)] == [False, False]


def test_call_renews_revoked_token_40001_and_retries_once(
    fake_wechat: FakeWeChat, client: WeChatClient, subscriber: str
) -> None:
    client.get_access_token()
    fake_wechat.revoke_tokens()  # e.g. another server force-refreshed

    client.send_subscribe_message(subscriber, TEMPLATE, GOOD_DATA)

    assert fake_wechat.call_count(SUBSCRIBE_SEND) == 2
    assert fake_wechat.subscription_credits(subscriber, TEMPLATE) == 0


def test_call_force_refreshes_when_wechat_hands_back_the_rejected_token(
    fake_wechat: FakeWeChat, client: WeChatClient, subscriber: str
) -> None:
    bad = client.get_access_token()
    fake_wechat.reject_token(bad)  # stable_token (normal mode) keeps returning it

    assert client.get_user_risk_rank(subscriber, "203.0.113.7") == 0

    assert [b["force_refresh"] for b in _stable_token_bodies(fake_wechat)] == [False, False, True]
    assert client.get_access_token() != bad
    assert fake_wechat.call_count(USER_RISK_RANK) == 2


def test_call_retries_exactly_once(fake_wechat: FakeWeChat, client: WeChatClient, subscriber: str) -> None:
    fake_wechat.reject_all_tokens()

    with pytest.raises(WeChatError) as info:
        client.get_user_risk_rank(subscriber, "203.0.113.7")

    assert info.value.errcode == 40001
    assert not info.value.retryable
    assert fake_wechat.call_count(USER_RISK_RANK) == 2


def test_concurrent_calls_with_expired_token_renew_once(
    fake_wechat: FakeWeChat, client: WeChatClient, subscriber: str
) -> None:
    client.get_access_token()
    fake_wechat.expire_tokens()
    barrier = threading.Barrier(8)
    ranks: list[int] = []

    def worker() -> None:
        barrier.wait()
        ranks.append(client.get_user_risk_rank(subscriber, "203.0.113.7"))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)

    assert ranks == [0] * 8
    assert fake_wechat.call_count(STABLE_TOKEN) == 2  # initial fetch + one renewal shared by all


def test_non_token_errors_are_not_retried(fake_wechat: FakeWeChat, client: WeChatClient) -> None:
    with pytest.raises(WeChatError) as info:
        client.get_user_risk_rank("o_unknown", "203.0.113.7")
    assert info.value.errcode == 40003
    assert fake_wechat.call_count(USER_RISK_RANK) == 1


# ------------------------------------------------------------------------- generic call()


def test_call_adds_token_and_returns_body(fake_wechat: FakeWeChat, client: WeChatClient) -> None:
    body = client.call("POST", QUOTA_GET, json={"cgi_path": SUBSCRIBE_SEND}, params={"debug": "1"})

    assert body["errcode"] == 0
    assert body["quota"]["daily_limit"] > 0
    req = fake_wechat.requests[-1]
    assert req.query == {"debug": "1", "access_token": fake_wechat.current_token()}
    assert req.json == {"cgi_path": SUBSCRIBE_SEND}


def test_call_without_token(fake_wechat: FakeWeChat, client: WeChatClient) -> None:
    code = fake_wechat.issue_code("o_abc")
    params = {
        "appid": DEFAULT_APPID,
        "secret": DEFAULT_SECRET,
        "js_code": code,
        "grant_type": "authorization_code",
    }

    body = client.call("GET", JSCODE2SESSION, params=params, with_token=False)

    assert body["openid"] == "o_abc"
    assert fake_wechat.call_count(STABLE_TOKEN) == 0
    assert "access_token" not in fake_wechat.requests[-1].query


def test_daily_quota_reached_45009(fake_wechat: FakeWeChat, client: WeChatClient, subscriber: str) -> None:
    fake_wechat.set_daily_quota(USER_RISK_RANK, 1)
    client.get_user_risk_rank(subscriber, "203.0.113.7")

    with pytest.raises(WeChatError) as info:
        client.get_user_risk_rank(subscriber, "203.0.113.7")
    assert info.value.errcode == 45009
    assert not info.value.retryable


# ---------------------------------------------------------------------- transport failures


def test_system_busy_on_call_is_retryable_and_not_a_token_retry(
    fake_wechat: FakeWeChat, client: WeChatClient, subscriber: str
) -> None:
    client.get_access_token()
    fake_wechat.fail_next(1, "busy", path=USER_RISK_RANK)

    with pytest.raises(WeChatError) as info:
        client.get_user_risk_rank(subscriber, "203.0.113.7")
    assert info.value.errcode == -1
    assert info.value.retryable
    assert fake_wechat.call_count(USER_RISK_RANK) == 1
    assert client.get_user_risk_rank(subscriber, "203.0.113.7") == 0


def test_http_502_raises_retryable_unavailable(fake_wechat: FakeWeChat, client: WeChatClient) -> None:
    fake_wechat.fail_next(1, "http502")
    with pytest.raises(WeChatUnavailable) as info:
        client.code2session(fake_wechat.issue_code("o_abc"))
    err = info.value
    assert err.retryable
    assert err.errcode is None
    assert err.http_status == 502


def test_http_502_on_token_fetch(fake_wechat: FakeWeChat, client: WeChatClient, subscriber: str) -> None:
    fake_wechat.fail_next(1, "http502", path=STABLE_TOKEN)
    with pytest.raises(WeChatUnavailable) as info:
        client.get_user_risk_rank(subscriber, "203.0.113.7")
    assert info.value.retryable
    assert info.value.api == STABLE_TOKEN


def test_non_json_body_raises_retryable_unavailable(fake_wechat: FakeWeChat, client: WeChatClient) -> None:
    fake_wechat.fail_next(1, "garbage")
    with pytest.raises(WeChatUnavailable) as info:
        client.get_access_token()
    assert info.value.retryable
    assert "non-JSON" in info.value.errmsg


def test_timeout_raises_retryable_unavailable(fake_wechat: FakeWeChat) -> None:
    client = fake_wechat.client(timeout=0.2)
    fake_wechat.fail_next(1, "hang", delay=1.0)
    with pytest.raises(WeChatUnavailable) as info:
        client.get_access_token()
    assert info.value.retryable
    assert "timeout" in info.value.errmsg


def test_connection_refused_raises_retryable_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there
    with (
        WeChatClient(DEFAULT_APPID, DEFAULT_SECRET, f"http://127.0.0.1:{port}") as client,
        pytest.raises(WeChatUnavailable) as info,
    ):
        client.code2session("code")
    assert info.value.retryable
    assert info.value.__context__ is None and info.value.__cause__ is None


def test_unknown_path_404_is_not_retryable(client: WeChatClient) -> None:
    with pytest.raises(WeChatUnavailable) as info:
        client.call("POST", "/cgi-bin/does/not/exist", json={})
    assert info.value.http_status == 404
    assert not info.value.retryable


# ------------------------------------------------------------------------- subscribe messages


def test_send_subscribe_message_success(
    fake_wechat: FakeWeChat, client: WeChatClient, subscriber: str
) -> None:
    client.send_subscribe_message(
        subscriber,
        TEMPLATE,
        GOOD_DATA,
        page="pages/index/index?from=msg",
        miniprogram_state="trial",
        lang="en_US",
    )

    assert fake_wechat.subscription_credits(subscriber, TEMPLATE) == 0
    req = fake_wechat.requests[-1]
    assert req.path == SUBSCRIBE_SEND
    assert req.json == {
        "touser": subscriber,
        "template_id": TEMPLATE,
        "page": "pages/index/index?from=msg",
        "data": GOOD_DATA,
        "miniprogram_state": "trial",
        "lang": "en_US",
    }


def test_send_subscribe_message_body_is_utf8_not_escaped(fake_wechat: FakeWeChat, subscriber: str) -> None:
    seen: list[bytes] = []
    http = httpx.Client(event_hooks={"request": [lambda r: seen.append(r.read())]}, timeout=5)
    with WeChatClient(DEFAULT_APPID, DEFAULT_SECRET, fake_wechat.url, http=http) as client:
        client.send_subscribe_message(subscriber, TEMPLATE, GOOD_DATA)
    http.close()
    assert "你的订单已发货".encode() in seen[-1]


@pytest.mark.parametrize(
    ("touser", "template_id", "data", "page", "errcode"),
    [
        ("o_stranger", TEMPLATE, GOOD_DATA, None, 40003),
        (OPENID, "tmpl-unknown", GOOD_DATA, None, 40037),
        (OPENID, TEMPLATE, {**GOOD_DATA, "thing1": {"value": "这" * 21}}, None, 47003),
        (OPENID, TEMPLATE, {**GOOD_DATA, "number2": {"value": "three"}}, None, 47003),
        (OPENID, TEMPLATE, {"thing1": GOOD_DATA["thing1"], "number2": GOOD_DATA["number2"]}, None, 47003),
        (OPENID, TEMPLATE, GOOD_DATA, "pages/missing/missing", 41030),
    ],
    ids=[
        "40003-bad-openid",
        "40037-bad-template",
        "47003-thing-too-long",
        "47003-bad-number",
        "47003-missing-key",
        "41030-bad-page",
    ],
)
def test_send_subscribe_message_documented_errors(
    fake_wechat: FakeWeChat,
    client: WeChatClient,
    subscriber: str,
    touser: str,
    template_id: str,
    data: dict[str, dict[str, str]],
    page: str | None,
    errcode: int,
) -> None:
    with pytest.raises(WeChatError) as info:
        client.send_subscribe_message(touser, template_id, data, page=page)
    assert info.value.errcode == errcode
    assert info.value.retryable is False
    assert info.value.description == ERROR_MESSAGES[errcode]
    assert fake_wechat.subscription_credits(subscriber, TEMPLATE) == 1  # nothing consumed


def test_send_subscribe_message_43101_when_user_has_no_subscription_left(
    fake_wechat: FakeWeChat, client: WeChatClient, subscriber: str
) -> None:
    client.send_subscribe_message(subscriber, TEMPLATE, GOOD_DATA)  # uses the one credit

    with pytest.raises(WeChatError) as info:
        client.send_subscribe_message(subscriber, TEMPLATE, GOOD_DATA)
    assert info.value.errcode == 43101


def test_send_subscribe_message_validates_state_and_lang_locally(
    fake_wechat: FakeWeChat, client: WeChatClient
) -> None:
    with pytest.raises(ValueError):
        client.send_subscribe_message(OPENID, TEMPLATE, GOOD_DATA, miniprogram_state="prod")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        client.send_subscribe_message(OPENID, TEMPLATE, GOOD_DATA, lang="fr_FR")
    assert fake_wechat.requests == []


# ---------------------------------------------------------------------------------- risk rank


def test_get_user_risk_rank(fake_wechat: FakeWeChat, client: WeChatClient, subscriber: str) -> None:
    fake_wechat.set_risk_rank(subscriber, 3)

    assert client.get_user_risk_rank(subscriber, "203.0.113.7") == 3
    assert fake_wechat.requests[-1].json == {
        "appid": DEFAULT_APPID,
        "openid": subscriber,
        "scene": 1,
        "client_ip": "203.0.113.7",
    }
    assert client.get_user_risk_rank(subscriber, "203.0.113.7", scene=0) == 3
    assert fake_wechat.requests[-1].json["scene"] == 0


def test_get_user_risk_rank_default_zero_and_unknown_openid(
    fake_wechat: FakeWeChat, client: WeChatClient, subscriber: str
) -> None:
    assert client.get_user_risk_rank(subscriber, "203.0.113.7") == 0
    with pytest.raises(WeChatError) as info:
        client.get_user_risk_rank("o_unknown", "203.0.113.7")
    assert info.value.errcode == 40003


def test_get_user_risk_rank_rejects_bad_scene(client: WeChatClient) -> None:
    with pytest.raises(ValueError):
        client.get_user_risk_rank(OPENID, "203.0.113.7", scene=2)


# ------------------------------------------------------------------------------- secrets


def test_session_repr_hides_session_key() -> None:
    session = WxSession(openid="o_abc", session_key="SESSION-KEY-sensitive", unionid="u1")
    assert "SESSION-KEY-sensitive" not in repr(session)
    assert "SESSION-KEY-sensitive" not in str(session)
    assert "o_abc" in repr(session)


def test_real_session_key_not_in_repr(fake_wechat: FakeWeChat, client: WeChatClient) -> None:
    session = client.code2session(fake_wechat.issue_code("o_abc", unionid="u1"))
    assert session.session_key not in repr(session)
    assert session.session_key not in f"{session}"


def test_client_repr_hides_secret(client: WeChatClient) -> None:
    assert DEFAULT_SECRET not in repr(client)
    assert DEFAULT_APPID in repr(client)


def test_errors_from_bad_secret_do_not_leak_it(fake_wechat: FakeWeChat) -> None:
    secret = "my-wrong-but-still-secret-value"
    client = fake_wechat.client(secret=secret)
    for action in (lambda: client.code2session("code"), client.get_access_token):
        with pytest.raises(WeChatError) as info:
            action()
        assert secret not in str(info.value)
        assert secret not in repr(info.value)


def _mock_client(handler: Any) -> WeChatClient:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return WeChatClient(DEFAULT_APPID, DEFAULT_SECRET, "https://api.example.test", http=http)


def test_secret_echoed_by_wechat_is_redacted() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"errcode": 40125, "errmsg": f"invalid appsecret {DEFAULT_SECRET}"})

    with pytest.raises(WeChatError) as info:
        _mock_client(handler).code2session("code")
    assert DEFAULT_SECRET not in str(info.value) and DEFAULT_SECRET not in repr(info.value)
    assert "***" in info.value.errmsg


def test_transport_error_mentioning_url_is_redacted_and_unchained() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    with pytest.raises(WeChatUnavailable) as info:
        _mock_client(handler).code2session("code")
    err = info.value
    assert DEFAULT_SECRET not in str(err) and DEFAULT_SECRET not in repr(err)
    assert err.__context__ is None and err.__cause__ is None  # the httpx request (URL) is not attached
    assert err.retryable


def test_access_token_echoed_in_errmsg_is_redacted() -> None:
    token = "ACCESS-TOKEN-0123456789"

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == STABLE_TOKEN:
            return httpx.Response(200, json={"access_token": token, "expires_in": 7200})
        return httpx.Response(200, json={"errcode": 40003, "errmsg": f"invalid openid for token {token}"})

    with pytest.raises(WeChatError) as info:
        _mock_client(handler).get_user_risk_rank("o_x", "203.0.113.7")
    assert token not in str(info.value)


def test_httpx_request_log_is_redacted(
    fake_wechat: FakeWeChat, client: WeChatClient, subscriber: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        session = client.code2session(fake_wechat.issue_code("o_logged"))
        client.get_user_risk_rank(subscriber, "203.0.113.7")

    text = caplog.text
    assert "HTTP Request" in text  # httpx did log the requests...
    assert "secret=%2A%2A%2A" in text or "secret=***" in text  # ...with the secret masked
    assert DEFAULT_SECRET not in text
    assert session.session_key not in text
    assert client.get_access_token() not in text


def test_error_is_picklable_and_keeps_fields() -> None:
    err = WeChatError(45011, "api minute-quota reach limit rid: abc-123", api=JSCODE2SESSION, http_status=200)
    clone = pickle.loads(pickle.dumps(err))
    assert (clone.errcode, clone.errmsg, clone.retryable, clone.api, clone.rid) == (
        45011,
        err.errmsg,
        True,
        JSCODE2SESSION,
        "abc-123",
    )
    unavailable = pickle.loads(pickle.dumps(WeChatUnavailable("timeout", api=STABLE_TOKEN)))
    assert isinstance(unavailable, WeChatUnavailable) and unavailable.retryable


def test_error_table_has_documented_codes() -> None:
    expected = {-1, 40001, 40003, 40013, 40014, 40029, 40037, 40125, 40164, 40226, 41030, 42001, 43101}
    expected |= {45009, 45011, 47003, 89503, 89506, 89507}
    assert expected <= ERROR_MESSAGES.keys()
    assert json.dumps(ERROR_MESSAGES, ensure_ascii=False)  # plain str values
