"""WeChat Pay merchants per app (SQLite, PostgreSQL): two apps of two merchants, each refunded through and
notified with its own keys; the deployment settings as the fallback; the secrets encrypted in the database,
never answered, never in the audit trail; the command line refuses the APIv3 key as an argument."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import String, select, type_coerce
from tests.fakes.wechatpay_server import (
    API_V3_KEY,
    MCHID,
    MERCHANT_KEY_PEM,
    PLATFORM_PUBLIC_PEM,
    PLATFORM_SERIAL,
    SERIAL_NO,
    FakeWeChatPay,
    Merchant,
    fake_wechatpay,
    fake_wechatpay_server,
)
from tests.promotions.helpers import at
from tests.promotions.test_groupbuy import NOW

from huoli.db import unit_of_work
from huoli.promotions import flows, groupbuy, payments
from huoli.promotions.models import Refund, WeChatPayMerchant
from huoli.promotions.schemas import GroupCampaignIn
from huoli.runtime import Runtime

__all__ = ["fake_wechatpay", "fake_wechatpay_server"]
URL = payments.NOTIFY_PATH


def spec(m: Merchant) -> payments.MerchantIn:
    return payments.MerchantIn(
        mch_id=m.mchid,
        merchant_serial=m.serial_no,
        private_key_pem=m.key_pem.decode(),
        api_v3_key=m.api_v3_key.decode(),
        platform_key_id=m.platform_serial,
        platform_public_key_pem=m.platform_public_pem.decode(),
    )


def configure(runtime: Runtime, app_id: str, m: Merchant) -> None:
    with unit_of_work(runtime.sessions, app_id=app_id) as db:
        payments.put(db=db, app_id=app_id, spec=spec(m), now=NOW)


def owe_refund(runtime: Runtime, fake: FakeWeChatPay, app_id: str, trade: str, mchid: str) -> None:
    """A lone leader's group in `app_id` fails at its deadline: its payment (to `mchid`) is owed back."""
    with unit_of_work(runtime.sessions, app_id=app_id) as db:
        groupbuy.create_campaign(
            at(db, runtime, NOW),
            spec=GroupCampaignIn(
                id="g3",
                name="3人拼团享8折",
                item_id="sku-9",
                original_price_fen=10000,
                group_price_fen=8000,
                leader_price_fen=7000,
                size=3,
                duration_s=3600,
            ),
        )
        groupbuy.join(
            at(db, runtime, NOW),
            campaign_id="g3",
            group_id=None,
            user_id="leader",
            out_trade_no=trade,
            paid_fen=7000,
        )
    with unit_of_work(runtime.sessions, app_id=app_id) as db:
        groupbuy.close_due(at(db, runtime, NOW + timedelta(hours=2)))
    fake.add_order(trade, 7000, mchid=mchid)


def pay(
    runtime: Runtime, fake: FakeWeChatPay, fallback: payments.DeploymentMerchant | None = None
) -> dict[str, int]:
    with flows.merchants(runtime, fallback=fallback, base_url=fake.url) as merchants:
        return flows.process_refunds(
            runtime,
            pay_for=merchants,
            clock=lambda: NOW,
            notify_url=lambda app: f"https://huoli.example.com{payments.notify_path(app)}",
        )


def refund_of(runtime: Runtime, app_id: str) -> Refund:
    with unit_of_work(runtime.sessions, app_id=app_id) as db:
        row = db.scalars(select(Refund)).one()
        db.expunge(row)
        return row


def deployment_settings(runtime: Runtime, tmp_path: Path) -> payments.DeploymentMerchant:
    """The deployment-wide merchant (the fake's default one) in the settings, as before keys per app."""
    key = tmp_path / "wechatpay_public.pem"
    key.write_bytes(PLATFORM_PUBLIC_PEM)
    runtime.settings.wechatpay_platform_key_file = key
    runtime.settings.wechatpay_platform_serial = PLATFORM_SERIAL
    runtime.settings.wechatpay_api_v3_key = API_V3_KEY.decode()
    return payments.DeploymentMerchant(
        MCHID, SERIAL_NO, MERCHANT_KEY_PEM, PLATFORM_SERIAL, PLATFORM_PUBLIC_PEM
    )


def test_each_app_refunds_through_its_own_merchant_and_trusts_only_its_own_notifications(  # type: ignore[no-untyped-def]
    client: TestClient, runtime: Runtime, shop, make_app, fake_wechatpay: FakeWeChatPay, tmp_path: Path
) -> None:
    make_app("mall")
    a, b = fake_wechatpay.add_merchant("1900000201"), fake_wechatpay.add_merchant("1900000302")
    configure(runtime, "shop", a)
    configure(runtime, "mall", b)
    deployment_settings(runtime, tmp_path)  # a third merchant for the old URL: trusted for neither app
    owe_refund(runtime, fake_wechatpay, "shop", "TA00001", a.mchid)
    owe_refund(runtime, fake_wechatpay, "mall", "TB00001", b.mchid)
    fake_wechatpay.processing = True
    assert pay(runtime, fake_wechatpay)["processing"] == 2
    # Each refund went to its app's merchant, signed with that merchant's key and certificate serial.
    assert sorted(fake_wechatpay.seen) == sorted([(a.mchid, a.serial_no), (b.mchid, b.serial_no)])
    shop_no, mall_no = refund_of(runtime, "shop").out_refund_no, refund_of(runtime, "mall").out_refund_no
    assert fake_wechatpay.refunds[shop_no].mchid == a.mchid and refund_of(runtime, "shop").mch_id == a.mchid
    assert fake_wechatpay.refunds[mall_no].mchid == b.mchid and refund_of(runtime, "mall").mch_id == b.mchid
    assert fake_wechatpay.refunds[shop_no].notify_url == "https://huoli.example.com" + URL + "/shop"
    fake_wechatpay.settle()

    # shop's notification (merchant A's platform key and APIv3 key) on mall's URL, and on the old URL
    headers, body = fake_wechatpay.refund_notification(shop_no)
    for url in (f"{URL}/mall", URL):
        r = client.post(url, content=body, headers=headers)
        assert r.status_code == 401, r.text
        assert orjson.loads(r.content)["code"] == "FAIL" and "does not verify" in r.text
    # signed with A's platform key but encrypted with B's APIv3 key: not A's notification either
    headers_x, body_x = fake_wechatpay.refund_notification(shop_no, api_v3_key=b.api_v3_key)
    r = client.post(f"{URL}/shop", content=body_x, headers=headers_x)
    assert r.status_code == 401 and "does not decrypt" in r.text
    # a notification about mall's refund, genuinely from merchant A (mall's number, A's keys): A has no say
    headers_y, body_y = fake_wechatpay.refund_notification(mall_no, merchant=a)
    assert client.post(f"{URL}/mall", content=body_y, headers=headers_y).status_code == 401
    assert client.post(f"{URL}/shop", content=body_y, headers=headers_y).status_code == 404  # not shop's
    assert refund_of(runtime, "shop").status == refund_of(runtime, "mall").status == "processing"

    assert client.post(f"{URL}/shop", content=body, headers=headers).status_code == 204
    assert (refund_of(runtime, "shop").status, refund_of(runtime, "mall").status) == (
        "succeeded",
        "processing",
    )
    headers, body = fake_wechatpay.refund_notification(mall_no)
    assert client.post(f"{URL}/mall", content=body, headers=headers).status_code == 204
    assert refund_of(runtime, "mall").status == "succeeded"
    assert client.post(f"{URL}/nobody", content=body, headers=headers).status_code == 404


def test_apps_without_a_merchant_of_their_own_use_the_deployment_settings(  # type: ignore[no-untyped-def]
    client: TestClient, runtime: Runtime, shop, make_app, fake_wechatpay: FakeWeChatPay, tmp_path: Path
) -> None:
    make_app("mall")
    b = fake_wechatpay.add_merchant("1900000302")
    configure(runtime, "mall", b)
    owe_refund(runtime, fake_wechatpay, "shop", "TD00001", MCHID)
    owe_refund(runtime, fake_wechatpay, "mall", "TB00002", b.mchid)
    fake_wechatpay.processing = True
    # Without deployment settings, shop's refund waits (no attempt used up); mall's goes through B.
    assert pay(runtime, fake_wechatpay) == {
        "succeeded": 0, "processing": 1, "retry": 0, "failed": 0, "not_configured": 1
    }  # fmt: skip
    shop_row = refund_of(runtime, "shop")
    assert (shop_row.status, shop_row.attempts, shop_row.mch_id) == ("pending", 0, None)
    r = client.post(f"{URL}/shop", content=b"{}", headers={"Content-Type": "application/json"})
    assert r.status_code == 503 and orjson.loads(r.content)["code"] == "FAIL"

    fallback = deployment_settings(runtime, tmp_path)
    assert pay(runtime, fake_wechatpay, fallback)["processing"] == 2  # shop's taken, mall's asked again
    assert (MCHID, SERIAL_NO) in fake_wechatpay.seen and refund_of(runtime, "shop").mch_id == MCHID
    fake_wechatpay.settle()
    shop_no, mall_no = refund_of(runtime, "shop").out_refund_no, refund_of(runtime, "mall").out_refund_no
    # The deployment's keys are shop's: its URL and the old URL both take shop's notification ...
    headers, body = fake_wechatpay.refund_notification(shop_no)
    assert client.post(f"{URL}/shop", content=body, headers=headers).status_code == 204
    assert client.post(URL, content=body, headers=headers).status_code == 204  # a repeat: same outcome
    assert refund_of(runtime, "shop").status == "succeeded"
    # ... but not mall's, which has keys of its own: a deployment-signed notification about it is refused.
    headers, body = fake_wechatpay.refund_notification(mall_no, merchant=fake_wechatpay.merchants[MCHID])
    assert client.post(f"{URL}/mall", content=body, headers=headers).status_code == 401
    # On the old URL it verifies, but the merchant inside is not the one mall's refund was sent to.
    assert client.post(URL, content=body, headers=headers).status_code == 404
    assert refund_of(runtime, "mall").status == "processing"
    # Polling still settles mall's refund, through mall's own merchant.
    assert pay(runtime, fake_wechatpay, fallback)["succeeded"] == 1


def _owner(app) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {app.keys['owner']}"}


def test_admin_api_stores_encrypted_answers_no_secret_and_audits_without_them(  # type: ignore[no-untyped-def]
    client: TestClient, runtime: Runtime, shop, fake_wechatpay: FakeWeChatPay
) -> None:
    a = fake_wechatpay.add_merchant("1900000201")
    body = spec(a).model_dump()
    secrets_ = [a.api_v3_key.decode(), *a.key_pem.decode().splitlines()[1:-1]]
    path = "/admin/promotions/wechatpay"
    assert client.get(path, headers=_owner(shop)).json()["configured"] is False
    op = {"Authorization": f"Bearer {shop.keys['operator']}"}
    assert client.put(path, json=body, headers=op).status_code == 403  # owners only

    r = client.put(path, json=body, headers=_owner(shop))
    assert r.status_code == 200, r.text
    shown = r.json()
    assert shown["configured"] is True and shown["source"] == "app"
    assert (shown["mch_id"], shown["merchant_serial"], shown["platform_key_id"]) == (
        a.mchid,
        a.serial_no,
        a.platform_serial,
    )
    assert shown["merchant_key_fingerprint"] == payments.fingerprint(a.public_pem)  # compare with the cert
    assert shown["notify_url_path"] == f"{URL}/shop"
    for text in (r.text, client.get(path, headers=_owner(shop)).text):
        assert not any(s in text for s in secrets_)

    with unit_of_work(runtime.sessions, app_id="shop") as db:
        raw = db.execute(
            select(
                type_coerce(WeChatPayMerchant.private_key_pem, String),
                type_coerce(WeChatPayMerchant.api_v3_key, String),
            )
        ).one()
        assert all(v.startswith("enc1:") for v in raw) and not any(s in "".join(raw) for s in secrets_)
        assert payments.get(db, "shop").api_v3_key == a.api_v3_key.decode()  # type: ignore[union-attr]

    bad = body | {"private_key_pem": "-----BEGIN PRIVATE KEY-----\nnot-a-key\n", "api_v3_key": "short-secret"}
    r = client.put(path, json=bad, headers=_owner(shop))
    assert r.status_code == 422
    assert {d["field"] for d in r.json()["details"]} == {"private_key_pem", "api_v3_key"}
    assert "short-secret" not in r.text and "not-a-key" not in r.text

    r = client.delete(path, headers=_owner(shop))
    assert r.status_code == 200 and r.json()["configured"] is False and r.json()["source"] == "none"
    trail = client.get("/admin/audit", params={"action": "/wechatpay"}, headers=_owner(shop)).json()["items"]
    assert [e["action"] for e in trail] == [f"DELETE {path}", f"PUT {path}"]
    dumped = json.dumps(trail, ensure_ascii=False)
    assert not any(s in dumped for s in secrets_) and a.mchid in dumped
    put_entry = trail[1]
    assert put_entry["request"]["api_v3_key"] == put_entry["request"]["private_key_pem"] == "***"
    [row] = put_entry["changes"]
    assert row["table"] == "promo_wechatpay_merchants" and row["after"]["api_v3_key"] == "***"
    assert row["after"]["private_key_pem"] == "***"


def huoli(*args: str, runtime: Runtime, tmp_path: Path, env: dict[str, str] | None = None, stdin: str = ""):  # type: ignore[no-untyped-def]
    full = {
        **os.environ,
        "HUOLI_DATA_DIR": str(tmp_path / "cli-var"),
        "HUOLI_DATABASE_URL": runtime.settings.database_url,
        "HUOLI_ENCRYPTION_KEYS": ",".join(runtime.settings.resolved_encryption_keys()),
        "HUOLI_EVENT_STORE_URL": f"duckdb:///{tmp_path / 'cli-events.duckdb'}",
        "COLUMNS": "200",
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "huoli.cli", *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=300,
        input=stdin,
    )


def test_cli_sets_the_merchant_with_the_apiv3_key_never_on_the_command_line(  # type: ignore[no-untyped-def]
    runtime: Runtime, shop, fake_wechatpay: FakeWeChatPay, tmp_path: Path
) -> None:
    a = fake_wechatpay.add_merchant("1900000201")
    key_file, platform_file = tmp_path / "apiclient_key.pem", tmp_path / "pub_key.pem"
    key_file.write_bytes(a.key_pem)
    platform_file.write_bytes(a.platform_public_pem)
    base = [
        "apps", "set-wechatpay", "--app", "shop", "--mch-id", a.mchid, "--serial", a.serial_no,
        "--private-key-file", str(key_file), "--platform-key-file", str(platform_file),
        "--platform-key-id", a.platform_serial,
    ]  # fmt: skip
    r = huoli(*base, "--api-v3-key", a.api_v3_key.decode(), runtime=runtime, tmp_path=tmp_path)
    assert r.returncode == 1 and "--api-v3-key is not accepted" in " ".join(r.stderr.split())
    r = huoli(*base, runtime=runtime, tmp_path=tmp_path)  # no file, no env, no terminal to ask on
    assert r.returncode == 1 and "no APIv3 key given" in r.stderr
    with unit_of_work(runtime.sessions, app_id="shop") as db:
        assert payments.get(db, "shop") is None

    r = huoli(*base, "--api-v3-key-file", "-", runtime=runtime, tmp_path=tmp_path, stdin="too-short\n")
    assert r.returncode == 1 and "api_v3_key" in r.stderr and "too-short" not in r.stderr + r.stdout
    env = {"HUOLI_APP_WECHATPAY_API_V3_KEY": a.api_v3_key.decode()}
    r = huoli(*base, runtime=runtime, tmp_path=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    shown = json.loads(r.stdout)
    assert shown["configured"] is True and shown["mch_id"] == a.mchid
    assert a.api_v3_key.decode() not in r.stdout
    with unit_of_work(runtime.sessions, app_id="shop") as db:
        row = payments.get(db, "shop")
        assert row is not None and row.api_v3_key == a.api_v3_key.decode()
        assert row.private_key_pem == a.key_pem.decode()

    # `huoli promotions refunds` without deployment options pays the app through its own merchant
    owe_refund(runtime, fake_wechatpay, "shop", "TC00001", a.mchid)
    r = huoli("promotions", "refunds", "--base-url", fake_wechatpay.url, runtime=runtime, tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["succeeded"] == 1 and fake_wechatpay.seen == [(a.mchid, a.serial_no)]

    r = huoli("apps", "clear-wechatpay", "--app", "shop", runtime=runtime, tmp_path=tmp_path)
    assert r.returncode == 0 and "removed" in r.stdout
    with unit_of_work(runtime.sessions, app_id="shop") as db:
        assert payments.get(db, "shop") is None
        from huoli.audit.models import AuditEntry

        entries = db.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        actions = [e.action for e in entries]
        assert actions[-2:] == ["cli apps set-wechatpay", "cli apps clear-wechatpay"]
        dumped = json.dumps([[e.request, e.changes] for e in entries], ensure_ascii=False)
        assert a.api_v3_key.decode() not in dumped and a.key_pem.decode().splitlines()[1] not in dumped


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("mch_id", "19x"),
        ("merchant_serial", "zz"),
        ("platform_key_id", "PUB KEY"),
        ("platform_public_key_pem", "x"),
    ],
)
def test_bad_fields_are_named(field: str, value: str, fake_wechatpay: FakeWeChatPay) -> None:
    body = spec(fake_wechatpay.merchants[MCHID]).model_dump() | {field: value}
    with pytest.raises(ValueError) as exc:
        payments.MerchantIn.model_validate(body)
    assert field in str(exc.value)
