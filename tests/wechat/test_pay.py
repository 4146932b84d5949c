"""WeChat Pay refund client against the fake v3 server on 127.0.0.1: idempotency, errors, pacing."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from tests.fakes.wechatpay_server import (
    PLATFORM_KEY_PEM,
    PLATFORM_PUBLIC_PEM,
    PLATFORM_SERIAL,
    FakeWeChatPay,
    _pem_pair,
    fake_wechatpay,
    fake_wechatpay_server,
)

from huoli.wechat.pay import Pacer, WeChatPayError, response_message, rsa_signer, rsa_verifier

__all__ = ["fake_wechatpay", "fake_wechatpay_server"]
_, OTHER_KEY_PEM, OTHER_PUBLIC_PEM = _pem_pair()


def test_refund_is_idempotent_on_out_refund_no(fake_wechatpay: FakeWeChatPay) -> None:
    fake_wechatpay.add_order("T20261122001", 3000)
    with fake_wechatpay.client() as pay:
        a = pay.refund(out_trade_no="T20261122001", out_refund_no="R1", refund_fen=1000, total_fen=3000)
        b = pay.refund(out_trade_no="T20261122001", out_refund_no="R1", refund_fen=1000, total_fen=3000)
        assert a == b and a.status == "SUCCESS"
        assert fake_wechatpay.refunded_fen("T20261122001") == 1000
        with pytest.raises(WeChatPayError) as e:  # same number, other amount: refused, not a second refund
            pay.refund(out_trade_no="T20261122001", out_refund_no="R1", refund_fen=500, total_fen=3000)
        assert (e.value.code, e.value.http_status, e.value.retryable) == ("INVALID_REQUEST", 400, False)
        pay.refund(out_trade_no="T20261122001", out_refund_no="R2", refund_fen=2000, total_fen=3000)
        with pytest.raises(WeChatPayError) as e:
            pay.refund(out_trade_no="T20261122001", out_refund_no="R3", refund_fen=1, total_fen=3000)
        assert e.value.code == "INVALID_REQUEST"  # nothing left to refund
        assert pay.query_refund("R2").refund_fen == 2000


def test_documented_errors(fake_wechatpay: FakeWeChatPay) -> None:
    fake_wechatpay.add_order("T20261122002", 100)
    with fake_wechatpay.client() as pay:
        with pytest.raises(WeChatPayError) as e:
            pay.refund(out_trade_no="NOPE00", out_refund_no="R1", refund_fen=1, total_fen=100)
        assert (e.value.code, e.value.http_status) == ("RESOURCE_NOT_EXISTS", 404)
        with pytest.raises(WeChatPayError) as e:
            pay.refund(out_trade_no="T20261122002", out_refund_no="R1", refund_fen=1, total_fen=99)
        assert e.value.code == "PARAM_ERROR"
        fake_wechatpay.fail_next(1, "SYSTEM_ERROR")
        with pytest.raises(WeChatPayError) as e:
            pay.refund(out_trade_no="T20261122002", out_refund_no="R1", refund_fen=1, total_fen=100)
        assert (e.value.code, e.value.retryable) == ("SYSTEM_ERROR", True)
        fake_wechatpay.fail_next(1, "NOT_ENOUGH")
        with pytest.raises(WeChatPayError) as e:
            pay.refund(out_trade_no="T20261122002", out_refund_no="R1", refund_fen=1, total_fen=100)
        assert (e.value.code, e.value.http_status) == ("NOT_ENOUGH", 403)
        # The retry with the same number succeeds once the fault clears.
        assert pay.refund(out_trade_no="T20261122002", out_refund_no="R1", refund_fen=1, total_fen=100).status
        with pytest.raises(WeChatPayError) as e:
            pay.query_refund("R-unknown")
        assert e.value.code == "RESOURCE_NOT_EXISTS"
    with fake_wechatpay.client(key_pem=OTHER_KEY_PEM) as bad, pytest.raises(WeChatPayError) as e:
        bad.query_refund("R1")
    assert (e.value.code, e.value.http_status) == ("SIGN_ERROR", 401)


def test_answers_are_trusted_only_when_the_platform_signed_them(fake_wechatpay: FakeWeChatPay) -> None:
    fake_wechatpay.add_order("T20261122004", 900)
    with fake_wechatpay.client() as pay:
        fake_wechatpay.tamper_next(1)  # a man in the middle turns SUCCESS into CLOSED after signing
        with pytest.raises(WeChatPayError) as e:
            pay.refund(out_trade_no="T20261122004", out_refund_no="R1", refund_fen=300, total_fen=900)
        assert (e.value.code, e.value.retryable) == ("INVALID_RESPONSE_SIGNATURE", False)
        # WeChat did refund: asking again with the same number is safe and now verifies.
        assert pay.query_refund("R1").status == "SUCCESS"
        assert fake_wechatpay.refunded_fen("T20261122004") == 300
    # The right signature from a key we were not given is refused too.
    with fake_wechatpay.client(platform_pem=OTHER_PUBLIC_PEM) as pay, pytest.raises(WeChatPayError) as e:
        pay.query_refund("R1")
    assert e.value.code == "INVALID_RESPONSE_SIGNATURE"


def test_platform_signatures_check_serial_bytes_and_encoding() -> None:
    message = response_message("1763800000", "abc", b'{"a":1}')
    assert message == b'1763800000\nabc\n{"a":1}\n'
    verify = rsa_verifier({PLATFORM_SERIAL: PLATFORM_PUBLIC_PEM})
    signature = rsa_signer(PLATFORM_KEY_PEM)(message)
    assert verify(PLATFORM_SERIAL, message, signature)
    assert not verify("PUB_KEY_ID_other", message, signature)  # a serial we don't know
    assert not verify(PLATFORM_SERIAL, message + b" ", signature)
    assert not verify(PLATFORM_SERIAL, message, "not base64!")
    with pytest.raises(ValueError):
        rsa_signer(PLATFORM_PUBLIC_PEM)  # a public key where the merchant's private key belongs


def test_an_answer_signed_over_five_minutes_ago_is_refused(fake_wechatpay: FakeWeChatPay) -> None:
    fake_wechatpay.add_order("T20261122005", 100)
    with fake_wechatpay.client() as pay:
        pay.refund(out_trade_no="T20261122005", out_refund_no="R1", refund_fen=100, total_fen=100)
    # Our clock 6 minutes ahead of the answer's timestamp: a replayed answer looks exactly like this.
    with fake_wechatpay.client(clock=lambda: time.time() + 360) as late, pytest.raises(WeChatPayError) as e:
        late.query_refund("R1")
    assert e.value.code == "INVALID_RESPONSE_SIGNATURE" and "5 minutes" in e.value.message


def test_processing_then_success(fake_wechatpay: FakeWeChatPay) -> None:
    fake_wechatpay.add_order("T20261122003", 500)
    fake_wechatpay.processing = True
    with fake_wechatpay.client() as pay:
        assert pay.refund(
            out_trade_no="T20261122003", out_refund_no="R9", refund_fen=500, total_fen=500
        ).status == ("PROCESSING")
        fake_wechatpay.settle()
        assert pay.query_refund("R9").status == "SUCCESS"


def test_pacer_spaces_calls_across_threads() -> None:
    now = [0.0]
    slept: list[float] = []
    lock = threading.Lock()

    def sleep(s: float) -> None:
        with lock:
            slept.append(s)

    pacer = Pacer(100, clock=lambda: now[0], sleep=sleep)
    threads = [threading.Thread(target=pacer.wait) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(round(s, 3) for s in slept) == [round(0.01 * i, 3) for i in range(1, 10)]
    with pytest.raises(ValueError):
        Pacer(151)


def test_a_burst_of_refunds_stays_under_the_documented_limit(fake_wechatpay: FakeWeChatPay) -> None:
    # 200 refunds from 16 threads through one paced client: never FREQUENCY_LIMITED by the 150/s fake.
    for i in range(200):
        fake_wechatpay.add_order(f"TB{i:06d}", 100)
    errors: list[Exception] = []
    with fake_wechatpay.client(qps=140) as pay:

        def run(k: int) -> None:
            for i in range(k, 200, 16):
                try:
                    pay.refund(
                        out_trade_no=f"TB{i:06d}", out_refund_no=f"RB{i}", refund_fen=100, total_fen=100
                    )
                except WeChatPayError as exc:
                    errors.append(exc)

        threads = [threading.Thread(target=run, args=(k,)) for k in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    assert len(fake_wechatpay.refunds) == 200
    assert fake_wechatpay.max_qps_seen <= 150


def test_a_platform_certificate_works_like_the_public_key() -> None:
    key = serialization.load_pem_private_key(PLATFORM_KEY_PEM, password=None)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())  # type: ignore[arg-type]
        .serial_number(0x5157F09E)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())  # type: ignore[arg-type]
    )
    message = response_message("1763800000", "n", b"{}")
    verify = rsa_verifier({"5157F09E": cert.public_bytes(serialization.Encoding.PEM)})
    assert verify("5157F09E", message, rsa_signer(PLATFORM_KEY_PEM)(message))
