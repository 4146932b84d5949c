"""Fuzzing: every /admin and /v1 operation, generated from the OpenAPI schema, never answers a 5xx.

Schemathesis draws positive and negative cases (explicit examples, its coverage phase, then random ones) for
each operation and sends them in-process to one app on SQLite, with real credentials: the owner's key for
/admin, a logged-in member's session token for /v1, an HMAC signature over the exact body for /v1/server.
The only check is `not_a_server_error`: bad input must get a 4xx saying what is wrong, never a 500.
Derandomized (Hypothesis' fixed seed per test), so every run sends the same requests.
"""

from __future__ import annotations

import secrets
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import ASGIApp, ASGIClient, Message, Receive, Scope, Send, shutdown_lifespans
from tests.events.helpers import signed_headers
from tests.fakes.wechat_server import FakeWeChat
from tests.fakes.wechatpay_server import API_V3_KEY, PLATFORM_PUBLIC_PEM, PLATFORM_SERIAL

from huoli.analytics.service import METRICS
from huoli.app import create_app
from huoli.apps import service as apps
from huoli.apps.schemas import ApiKeyCreate, AppCreate, Role
from huoli.db import unit_of_work
from huoli.runtime import build_runtime
from huoli.settings import Settings

APP_ID = "fuzz"
WX_APPID, WX_SECRET = "wx00000000000f0220", "fuzz-secret-0123456789"
BASE_URL = "http://testserver"
# Random examples per operation, on top of the explicit examples and the coverage phase's deterministic cases
# (most of the ~7,900 requests): the module takes 2–2.5 minutes on two cores (measured 118–137 s).
MAX_EXAMPLES = 10
# The weekly report and the doctor run dozens of metric queries per request (seconds each): few examples.
SLOW = r"^/admin/(reports/weekly|diagnosis)$"
SLOW_EXAMPLES = 3
SEEDED = "fuzz"  # the id of every resource the fixture creates (it fits every domain's id pattern)
# Path values that name something that exists: half the cases use one (picked by a hash of what was drawn),
# so the handlers behind a lookup run too, not only their 404. Key ids are left alone (the owner's key).
KNOWN_PATH_VALUES: dict[str, list[str]] = {
    name: [SEEDED]
    for name in (
        "key",
        "code",
        "item_id",
        "template_id",
        "pack_id",
        "flash_item_id",
        "campaign_id",
        "program_id",
    )
} | {
    "board": [SEEDED],
    "metric": sorted(METRICS),
    "job": ["expire", "warn-expiring", "tiers", "tier-benefits", "scan-tasks", "compact-boards"],
}


@dataclass
class Target:
    client: ASGIClient
    admin: dict[str, str]
    mini_program: dict[str, str]
    user_id: str
    server_secret: str
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: Counter[str] = field(default_factory=Counter)


def answers_500s(app: ASGIApp) -> ASGIApp:
    """Starlette sends the 500, then re-raises for the server to log; the app has logged it, so the fuzzer gets
    the 500 response (and reports the case behind it) instead of the exception."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await app(scope, receive, watch)
        except Exception:
            if not started:
                raise

    return wrapped


def _seed(client: ASGIClient, admin: dict[str, str], user_id: str) -> None:
    """One of each resource a path names, all with id SEEDED, and points for the member to spend."""
    now = datetime.now(UTC)
    template = {"name": "T", "kind": "fixed", "amount_fen": 500, "valid_days": 7}
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/admin/flags", {"key": SEEDED, "type": "number", "default_value": 1}),
        ("POST", "/admin/experiments", {
            "key": SEEDED, "name": "E", "flag": SEEDED,
            "variants": [{"key": "a", "value": 1, "weight": 0.5}, {"key": "b", "value": 2, "weight": 0.5}],
            "metrics": {"primary": [{"key": "paid", "kind": "conversion", "event": "order_paid"}]},
            "expected_daily_users": 1000,
        }),
        ("POST", "/admin/loyalty/tasks", {"code": SEEDED, "name": "T", "event": "page_view"}),
        ("PUT", "/admin/loyalty/mall/items", {"id": SEEDED, "name": "M", "kind": "goods", "points": 10}),
        ("POST", f"/admin/loyalty/members/{user_id}/adjust", {"points": 1000, "key": "seed"}),
        ("POST", "/admin/promotions/coupon-templates", {"id": SEEDED, **template}),
        ("POST", "/admin/promotions/gift-packs", {"id": SEEDED, "name": "P", "template_ids": [SEEDED]}),
        ("POST", "/admin/promotions/flash/sessions", {
            "id": SEEDED, "name": "F",
            "starts_at": (now - timedelta(hours=1)).isoformat(), "ends_at": (now + timedelta(days=1)).isoformat(),
        }),
        ("POST", "/admin/promotions/flash/items", {
            "id": SEEDED, "session_id": SEEDED, "item_id": "sku", "price_fen": 100,
            "original_price_fen": 200, "stock": 100,
        }),
        ("POST", "/admin/promotions/group-campaigns", {
            "id": SEEDED, "name": "G", "item_id": "sku", "original_price_fen": 1000, "group_price_fen": 800,
            "size": 2,
        }),
        ("POST", "/admin/promotions/referral-programs", {
            "id": SEEDED, "name": "R", "referrer_template_id": SEEDED, "invitee_template_id": SEEDED,
        }),
    ]  # fmt: skip
    for method, path, body in calls:
        r = client.request(method, path, json=body, headers=admin)
        assert r.status_code < 300, (path, r.text)


@pytest.fixture(scope="module")
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, fake_wechat_server: FakeWeChat
) -> Iterator[Target]:
    tmp = tmp_path_factory.mktemp("fuzz")
    platform_key = tmp / "wechatpay_public.pem"
    platform_key.write_bytes(PLATFORM_PUBLIC_PEM)
    fake_wechat_server.register_app(WX_APPID, WX_SECRET)
    runtime = build_runtime(
        Settings(
            data_dir=tmp / "var",
            database_url=f"sqlite:///{tmp / 'huoli.db'}",
            event_store_url=f"duckdb:///{tmp / 'events.duckdb'}",
            secret_key=secrets.token_hex(32),
            wechat_api_base=fake_wechat_server.url,
            # Configured, so the refund notification route checks signatures instead of answering 503.
            wechatpay_api_v3_key=API_V3_KEY.decode(),
            wechatpay_platform_key_file=platform_key,
            wechatpay_platform_serial=PLATFORM_SERIAL,
            # Thousands of requests a minute from one key and address: the limits would answer most of them.
            rate_limit_admin_per_key=0,
            rate_limit_admin_per_ip=0,
            rate_limit_v1_per_ip=0,
            rate_limit_login_per_ip=0,
        )
    )
    with unit_of_work(runtime.sessions) as db:
        app_in = AppCreate(id=APP_ID, name=APP_ID, wx_appid=WX_APPID, wx_secret=WX_SECRET)
        server_secret = apps.create(db=db, app_in=app_in).server_secret
    with unit_of_work(runtime.sessions, app_id=APP_ID) as db:
        _, owner_key = apps.issue_key(
            db=db, app_id=APP_ID, key_in=ApiKeyCreate(name="owner", role=Role.owner)
        )
    client = ASGIClient(answers_500s(create_app(runtime=runtime)))
    client.__enter__()  # starts the app's lifespan: the outbox relay feeds the event store the analytics read
    try:
        code = fake_wechat_server.issue_code("o_fuzz", appid=WX_APPID)
        login = client.post("/v1/auth/wechat", json={"code": code}, headers={"X-Huoli-App-Id": APP_ID}).json()
        admin = {"Authorization": f"Bearer {owner_key}"}
        _seed(client, admin, login["user_id"])
        target = Target(
            client=client,
            admin=admin,
            mini_program={"X-Huoli-App-Id": APP_ID, "Authorization": f"Bearer {login['token']}"},
            user_id=login["user_id"],
            server_secret=server_secret,
        )
        yield target
    finally:
        # Schemathesis keeps an app's lifespan (the outbox relay) running until exit: stop it before the runtime.
        shutdown_lifespans()
        runtime.close()
    report = request.config.pluginmanager.getplugin("terminalreporter")
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if report is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            by_status = dict(sorted(target.statuses.items()))
            report.write_line(f"\nfuzz: {target.statuses.total()} requests, by status {by_status}")
            for label, n in target.server_errors.most_common():
                report.write_line(f"fuzz: {n} × 5xx from {label}")


# Parametrizing needs only the schema, read from an app without a runtime (nothing starts); the requests go
# to the fixture's app, which has the same routes.
schema = schemathesis.openapi.from_dict(create_app().openapi()).include(path_regex=r"^/(admin|v1)/")


def _send(case: schemathesis.Case, target: Target) -> None:
    if case.path_parameters:
        # The user path parameter is always a member who exists; the others name a seeded resource half the time.
        for name, drawn in case.path_parameters.items():
            known = [target.user_id] if name == "user_id" else KNOWN_PATH_VALUES.get(name)
            pick = zlib.crc32(repr(drawn).encode())
            if known and pick % 2:
                case.path_parameters[name] = known[pick // 2 % len(known)]
    path = case.operation.path
    kwargs: dict[str, Any] = {}
    if path.startswith("/admin/"):
        headers = dict(target.admin)
    elif path.startswith("/v1/server/"):
        # Signed over the exact bytes requests would send, so the fuzzed body gets past the HMAC check.
        sent = case.as_transport_kwargs(base_url=BASE_URL)
        fields = {k: v for k, v in sent.items() if k in ("method", "url", "headers", "data", "json", "files")}
        prepared = requests.Request(**fields).prepare()
        body = prepared.body or b""
        raw = body.encode() if isinstance(body, str) else body
        headers = signed_headers(APP_ID, target.server_secret, case.formatted_path, raw)
        headers["Content-Type"] = prepared.headers.get("Content-Type", "application/json")
        kwargs["data"] = raw
    else:
        headers = dict(target.mini_program)
    response = case.call(base_url=BASE_URL, session=target.client, headers=headers, **kwargs)
    target.statuses[response.status_code] += 1
    if response.status_code >= 500:
        target.server_errors[case.operation.label] += 1
    case.validate_response(response, checks=[not_a_server_error])


COMMON = {"derandomize": True, "database": None, "deadline": None, "suppress_health_check": list(HealthCheck)}


@schema.exclude(path_regex=SLOW).parametrize()
@settings(max_examples=MAX_EXAMPLES, phases=[Phase.explicit, Phase.generate, Phase.shrink], **COMMON)
def test_no_server_errors(case: schemathesis.Case, target: Target) -> None:
    _send(case, target)


@schema.include(path_regex=SLOW).parametrize()
@settings(max_examples=SLOW_EXAMPLES, phases=[Phase.generate, Phase.shrink], **COMMON)
def test_no_server_errors_in_the_slow_reports(case: schemathesis.Case, target: Target) -> None:
    _send(case, target)
