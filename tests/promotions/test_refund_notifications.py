"""WeChat Pay refund result notifications (《退款结果通知》) through huoli's real route (SQLite, PostgreSQL).

The refund is applied through our client against the fake WeChat Pay, which answers PROCESSING; the fake
then settles it and builds the notification WeChat Pay would POST (signed envelope, AES-256-GCM resource),
which the test delivers to `POST /v1/promotions/wechatpay/refund-notify`.
"""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.fakes.wechatpay_server import (
    API_V3_KEY,
    MERCHANT_PUBLIC_PEM,
    PLATFORM_PUBLIC_PEM,
    PLATFORM_SERIAL,
    FakeWeChatPay,
    fake_wechatpay,
    fake_wechatpay_server,
)
from tests.loyalty.helpers import stored
from tests.promotions.test_groupbuy import pay_refunds, processing_refund

from huoli.db import unit_of_work
from huoli.promotions.models import GroupMember, Refund
from huoli.runtime import Runtime

__all__ = ["fake_wechatpay", "fake_wechatpay_server"]
URL = "/v1/promotions/wechatpay/refund-notify"


@pytest.fixture
def notified(runtime: Runtime, tmp_path: Path, uow, fake_wechatpay: FakeWeChatPay) -> str:  # type: ignore[no-untyped-def]
    """A failed group's refund that WeChat Pay accepted as PROCESSING and has now settled; its out_refund_no."""
    key = tmp_path / "wechatpay_public.pem"
    key.write_bytes(PLATFORM_PUBLIC_PEM)
    runtime.settings.wechatpay_platform_key_file = key
    runtime.settings.wechatpay_platform_serial = PLATFORM_SERIAL
    runtime.settings.wechatpay_api_v3_key = API_V3_KEY.decode()
    processing_refund(uow, runtime, fake_wechatpay, "T400001")
    fake_wechatpay.settle()
    [out_refund_no] = fake_wechatpay.refunds
    return out_refund_no


def refund(runtime: Runtime, out_refund_no: str) -> Refund:
    with unit_of_work(runtime.sessions) as db:
        row = db.scalars(select(Refund).where(Refund.out_refund_no == out_refund_no)).one()
        db.expunge(row)
        return row


def test_a_genuine_notification_settles_the_refund_once(
    client: TestClient, runtime: Runtime, notified, fake_wechatpay
) -> None:  # type: ignore[no-untyped-def]
    headers, body = fake_wechatpay.refund_notification(notified)
    r = client.post(URL, content=body, headers=headers)
    assert r.status_code == 204, r.text
    row = refund(runtime, notified)
    assert row.status == "succeeded" and row.refund_id == fake_wechatpay.refunds[notified].refund_id
    with unit_of_work(runtime.sessions) as db:
        assert db.get(GroupMember, row.source).status == "refunded"  # type: ignore[union-attr]
    # WeChat Pay may deliver it again (and the polling job may still ask): one outcome, one event.
    headers, body = fake_wechatpay.refund_notification(notified)
    assert client.post(URL, content=body, headers=headers).status_code == 204
    assert pay_refunds(runtime, fake_wechatpay)["succeeded"] == 0  # nothing left to poll
    assert stored(runtime, "shop", "promo_refund_succeeded", 1) == 1  # the app's relay moved it to the store


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        ("tampered", "does not verify"),
        ("foreign-key", "does not verify"),
        ("stale", "outside 5 minutes"),
        ("wrong-apiv3-key", "does not decrypt"),
        ("no-headers", "headers missing"),
    ],
)
def test_a_notification_that_is_not_genuine_changes_nothing(
    client: TestClient, runtime: Runtime, notified, fake_wechatpay, spoil, reason
) -> None:  # type: ignore[no-untyped-def]
    kwargs = {}
    if spoil == "stale":
        kwargs["timestamp"] = int(time.time()) - 600
    if spoil == "wrong-apiv3-key":
        kwargs["api_v3_key"] = b"another-merchants-apiv3-key-32b!"
    headers, body = fake_wechatpay.refund_notification(notified, **kwargs)  # type: ignore[arg-type]
    if spoil == "tampered":
        body = body.replace(b"REFUND.SUCCESS", b"REFUND.CLOSED")
    if spoil == "foreign-key":  # signed by someone else's key under WeChat's serial
        runtime.settings.wechatpay_platform_key_file.write_bytes(MERCHANT_PUBLIC_PEM)  # type: ignore[union-attr]
        runtime.settings.wechatpay_platform_serial = PLATFORM_SERIAL + "-x"
        headers["Wechatpay-Serial"] = PLATFORM_SERIAL + "-x"
    if spoil == "no-headers":
        headers = {"Content-Type": "application/json"}
    r = client.post(URL, content=body, headers=headers)
    assert r.status_code == 401, r.text
    answer = orjson.loads(r.content)
    assert answer["code"] == "FAIL" and reason in answer["message"]
    assert refund(runtime, notified).status == "processing"


def test_unknown_refunds_and_abnormal_outcomes(
    client: TestClient, runtime: Runtime, notified, fake_wechatpay
) -> None:  # type: ignore[no-untyped-def]
    r = fake_wechatpay.refunds[notified]
    r.out_refund_no = "RF-not-ours"
    fake_wechatpay.refunds["RF-not-ours"] = r
    headers, body = fake_wechatpay.refund_notification("RF-not-ours")
    assert client.post(URL, content=body, headers=headers).status_code == 404  # WeChat will retry; we look
    r.out_refund_no, r.status = notified, "ABNORMAL"  # e.g. the payer's bank card was closed
    headers, body = fake_wechatpay.refund_notification(notified)
    assert client.post(URL, content=body, headers=headers).status_code == 204
    row = refund(runtime, notified)
    assert row.status == "failed" and row.last_error == "notification: REFUND.ABNORMAL"
    assert stored(runtime, "shop", "promo_refund_succeeded", 1, timeout=1.0) == 0


def test_not_configured_answers_503(client: TestClient, runtime: Runtime) -> None:
    runtime.settings.wechatpay_api_v3_key = ""
    r = client.post(URL, content=b"{}", headers={"Content-Type": "application/json"})
    assert r.status_code == 503 and orjson.loads(r.content)["code"] == "FAIL"
