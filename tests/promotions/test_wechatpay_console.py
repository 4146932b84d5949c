"""The WeChat Pay merchant console page in Chromium, in Chinese and English: a bad PEM is refused next to its
field and nothing is saved; a good merchant (private key from a file read in the browser, platform key pasted)
shows ids, serials and fingerprints, never a secret; clearing (after a confirmation) goes back to none; other
roles are told it is for owners only."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import String, select, type_coerce
from tests.browser.fixtures import ConsoleSession, LiveServer

from huoli.db import read_only
from huoli.promotions import payments
from huoli.promotions.models import WeChatPayMerchant

SHOTS = Path(os.environ.get("HUOLI_SHOTS_DIR", "/tmp/shots"))
API_V3_KEY = "0123456789abcdefABCDEF0123456789"
MCH_ID = "1900000109"
SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
PLATFORM_ID = "PUB_KEY_ID_0119000001092024112200000001"


def _keys() -> tuple[str, str]:
    """(merchant private key PEM, platform public key PEM), made fresh for the test."""
    merchant = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    platform = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    private_pem = merchant.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = platform.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return private_pem, public_pem


def _shot(console: ConsoleSession, name: str) -> None:
    # else the sticky top bar lands mid-page in a full-page shot
    console.page.evaluate("window.scrollTo(0, 0)")
    console.shot(name)
    SHOTS.mkdir(parents=True, exist_ok=True)
    console.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _stored(live_server: LiveServer) -> list[tuple[str, str]]:
    with read_only(live_server.runtime.sessions, app_id="shop") as db:
        rows = db.execute(
            select(
                type_coerce(WeChatPayMerchant.private_key_pem, String),
                type_coerce(WeChatPayMerchant.api_v3_key, String),
            )
        ).all()
    return [(str(a), str(b)) for a, b in rows]


def test_set_replace_and_clear_the_merchant(
    console: ConsoleSession,
    live_server: LiveServer,
    open_console: Callable[..., ConsoleSession],
    tmp_path: Path,
) -> None:
    private_pem, public_pem = _keys()
    key_file = tmp_path / "apiclient_key.pem"
    key_file.write_text(private_pem)
    console.allow_console_error("422")
    page = console.page
    page.locator("#nav a[data-page=wechatpay]").click()
    console.wait_ready()
    assert page.locator(".page-title").inner_text() == "微信支付商户"
    page.locator("#wechatpay-source[data-source=none]").wait_for()
    assert page.locator("#wechatpay-notify-url").inner_text() == (
        f"{live_server.url}{payments.NOTIFY_PATH}/shop"
    )
    assert page.locator("#wechatpay-clear").count() == 0  # nothing to clear
    _shot(console, "wechatpay-zh-empty")

    # A bad private key (pasted) and a short APIv3 key: said next to each field, nothing saved.
    page.locator("#wechatpay-mch_id").fill(MCH_ID)
    page.locator("#wechatpay-merchant_serial").fill(SERIAL)
    page.locator("#wechatpay-private_key_pem").fill(
        "-----BEGIN PRIVATE KEY-----\nnot-a-key\n-----END PRIVATE KEY-----"
    )
    page.locator("#wechatpay-api_v3_key").fill("short-secret")
    page.locator("#wechatpay-platform_public_key_pem").fill(public_pem)
    page.locator("#wechatpay-platform_key_id").fill(PLATFORM_ID)
    page.locator("#wechatpay-save").click()
    errors = page.locator("#wechatpay-form .field-error")
    errors.first.wait_for()
    by_field = {
        errors.nth(i).get_attribute("data-field"): errors.nth(i).inner_text() for i in range(errors.count())
    }
    assert set(by_field) == {"private_key_pem", "api_v3_key"}
    assert "RSA 私钥" in by_field["private_key_pem"] and "32 个" in by_field["api_v3_key"]
    assert page.locator("#wechatpay-private_key_pem").get_attribute("aria-invalid") == "true"
    assert _stored(live_server) == []
    _shot(console, "wechatpay-zh-errors")

    # The private key from a file (read in the browser, its content not put on screen), the rest typed.
    page.locator("#wechatpay-private_key_pem").fill("")
    page.locator("#wechatpay-private_key_pem-file").set_input_files(str(key_file))
    page.locator("#wechatpay-private_key_pem-note").get_by_text("apiclient_key.pem").wait_for()
    assert page.locator("#wechatpay-private_key_pem").is_hidden()
    _shot(console, "wechatpay-zh-file")
    page.locator("#wechatpay-api_v3_key").fill(API_V3_KEY)
    page.locator("#wechatpay-save").click()
    page.locator("#wechatpay-source[data-source=app]").wait_for()
    facts = page.locator("#wechatpay-facts").inner_text()
    expected_fp = payments.fingerprint(private_pem.encode(), private=True)
    assert MCH_ID in facts and SERIAL in facts and PLATFORM_ID in facts and expected_fp in facts
    assert payments.fingerprint(public_pem.encode()) in facts
    body = page.locator("body").inner_text()
    assert API_V3_KEY not in body and "PRIVATE KEY" not in body  # secrets never on screen
    assert page.locator("#wechatpay-api_v3_key").input_value() == ""  # the form is emptied after a save
    assert page.locator("#wechatpay-form-title").inner_text() == "替换商户配置"
    stored = _stored(live_server)
    assert len(stored) == 1 and all(v.startswith("enc1:") for v in stored[0])
    _shot(console, "wechatpay-zh-configured")

    page.locator(".toast").wait_for(state="detached")  # the Chinese toast, before the language changes
    page.locator("#lang-toggle").click()
    page.locator("#nav a[data-page=wechatpay]").get_by_text("WeChat Pay merchant").wait_for()
    page.locator("#wechatpay-source[data-source=app]").wait_for()
    assert page.locator(".page-title").inner_text() == "WeChat Pay merchant"
    assert "This app's own merchant" in page.locator("#wechatpay-facts").inner_text()
    page.locator("#wechatpay-save").click()  # an empty form: every field's rule, in English
    page.locator("#wechatpay-form .field-error").nth(5).wait_for()
    assert "6–32 digits" in page.locator("#wechatpay-form .field-error[data-field=mch_id]").inner_text()
    _shot(console, "wechatpay-en-configured")

    page.locator("#wechatpay-clear").click()  # clearing asks first
    page.locator(".el-message-box", has_text="cannot be undone").wait_for()
    assert all(r.method != "DELETE" for r in console.api_requests("/admin/promotions/wechatpay"))
    console.confirm()
    page.locator("#wechatpay-source[data-source=none]").wait_for()
    assert _stored(live_server) == []
    assert page.locator("#wechatpay-clear").count() == 0
    _shot(console, "wechatpay-en-cleared")

    page.locator("#lang-toggle").click()
    page.locator("#wechatpay-source[data-source=none]").wait_for()
    assert "未配置" in page.locator("#wechatpay-facts").inner_text()
    # the refusals still on the form are said again in Chinese
    assert (
        page.locator("#wechatpay-form .field-error[data-field=mch_id]").inner_text() == "商户号为 6–32 位数字"
    )


def test_other_roles_are_told_it_is_for_owners(
    live_server: LiveServer, open_console: Callable[..., ConsoleSession]
) -> None:
    keys = live_server.make_app("shop", "小店")
    for role in ("operator", "analyst"):
        session = open_console(keys[role])
        session.allow_console_error("403")
        session.page.locator("#nav a[data-page=wechatpay]").click()
        session.page.locator("#wechatpay-forbidden").get_by_text("只有所有者角色的密钥").wait_for()
        assert session.page.locator("#wechatpay-form").count() == 0
    session.page.locator("#lang-toggle").click()
    session.page.locator("#wechatpay-forbidden").get_by_text("Only an owner key").wait_for()
    _shot(session, "wechatpay-en-analyst")
