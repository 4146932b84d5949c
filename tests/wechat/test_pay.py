"""WeChat Pay refund client against the fake v3 server on 127.0.0.1: idempotency, errors, pacing."""

from __future__ import annotations

import threading

import pytest
from tests.fakes.wechatpay_server import FakeWeChatPay, fake_wechatpay, fake_wechatpay_server

from huoli.wechat.pay import Pacer, WeChatPayError

__all__ = ["fake_wechatpay", "fake_wechatpay_server"]


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
    with fake_wechatpay.client(key="wrong-key") as bad, pytest.raises(WeChatPayError) as e:
        bad.query_refund("R1")
    assert (e.value.code, e.value.http_status) == ("SIGN_ERROR", 401)


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
