"""A fake WeChat Pay v3 refund API (``api.mch.weixin.qq.com``) over real HTTP on 127.0.0.1, for tests.

Endpoints (shapes of WeChat Pay v3 《申请退款》/《查询单笔退款》):

* ``POST /v3/refund/domestic/refunds`` body ``{out_trade_no, out_refund_no, reason?, notify_url?,
  amount: {refund, total, currency}}`` → 200 ``{refund_id, out_refund_no, out_trade_no, status, amount,
  create_time, …}``
* ``GET  /v3/refund/domestic/refunds/{out_refund_no}`` → the same object
* ``refund_notification(out_refund_no)`` builds what WeChat Pay POSTs to the refund's ``notify_url``
  (《退款结果通知》): the refund encrypted with AEAD_AES_256_GCM under the APIv3 key, the envelope signed with
  the platform key; the test delivers it to huoli's route

Errors are an HTTP status with ``{"code", "message"}``: 401 SIGN_ERROR (bad or missing
``WECHATPAY2-SHA256-RSA2048`` authorization; this fake verifies the RSA-SHA256 signature with the merchant's
public key, as WeChat Pay does with the merchant certificate), 400 PARAM_ERROR (malformed body, total ≠ order
total), 400 INVALID_REQUEST (refund over the refundable amount, > 50 refunds per order, same out_refund_no
with different parameters), 404 RESOURCE_NOT_EXISTS (unknown order or refund), 429 FREQUENCY_LIMITED (more
than ``qps_limit`` requests in any one-second window, 150 like the real API), and injected failures
(``fail_next``: SYSTEM_ERROR 500, NOT_ENOUGH 403, …). Idempotency: the same ``out_refund_no`` with the same
parameters returns the existing refund and never refunds twice.

Every answer is signed like the real one: ``Wechatpay-Timestamp``, ``-Nonce``, ``-Serial`` (the platform
key id) and ``-Signature`` (RSA-SHA256 over ``TIMESTAMP\nNONCE\nBODY\n`` with the platform private key). Keys
are generated per process (nothing secret is committed): ``MERCHANT_KEY_PEM`` signs requests,
``PLATFORM_PUBLIC_PEM`` checks answers. ``tamper_next(n)`` changes the next answers' bodies after signing.

Merchants: ``MCHID`` (the default, keys above) and any ``add_merchant(mchid)`` adds, each with its own API
key pair, certificate serial, platform key (``PUB_KEY_ID_…``) and APIv3 key. A request is checked against
the merchant its ``mchid`` names; an order belongs to the merchant it was added for (another merchant's
refund of it is RESOURCE_NOT_EXISTS); answers and notifications are signed with that merchant's platform
key; ``seen`` lists (mchid, serial_no) of every verified request.

Controls: ``add_order``, ``fail_next``, ``processing`` (new refunds answer PROCESSING until ``settle()``),
``refunds`` (by out_refund_no), ``refunded_fen(out_trade_no)``, ``calls``, ``max_qps_seen``.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import uvicorn
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from huoli.wechat.pay import (
    REFUND_PATH,
    WeChatPayClient,
    message_to_sign,
    response_message,
    rsa_signer,
    rsa_verifier,
)

MCHID = "1900000109"
SERIAL_NO = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"  # the merchant certificate's serial
PLATFORM_SERIAL = "PUB_KEY_ID_0114232134912410000000000000"  # 微信支付公钥 id
API_V3_KEY = b"huoli-test-apiv3-key-32-bytes-ok"  # the merchant's APIv3 key: 32 bytes


def _pem_pair() -> tuple[rsa.RSAPrivateKey, bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, private, public


_MERCHANT_KEY, MERCHANT_KEY_PEM, MERCHANT_PUBLIC_PEM = _pem_pair()
_PLATFORM_KEY, PLATFORM_KEY_PEM, PLATFORM_PUBLIC_PEM = _pem_pair()


@dataclass(frozen=True)
class Merchant:
    """One merchant (商户号) the fake knows: its API key pair, its WeChat Pay platform key and APIv3 key."""

    mchid: str
    serial_no: str
    key: rsa.RSAPrivateKey
    key_pem: bytes
    public_pem: bytes
    platform_key: rsa.RSAPrivateKey
    platform_public_pem: bytes
    platform_serial: str
    api_v3_key: bytes

    @classmethod
    def generate(cls, mchid: str) -> Merchant:
        """A second merchant with keys of its own (generated per test run)."""
        key, key_pem, public_pem = _pem_pair()
        platform_key, _, platform_public_pem = _pem_pair()
        return cls(
            mchid=mchid,
            serial_no=secrets.token_hex(20).upper(),
            key=key,
            key_pem=key_pem,
            public_pem=public_pem,
            platform_key=platform_key,
            platform_public_pem=platform_public_pem,
            platform_serial=f"PUB_KEY_ID_{mchid}{secrets.randbelow(10**12):012d}",
            api_v3_key=secrets.token_hex(16).encode(),
        )


DEFAULT_MERCHANT = Merchant(
    MCHID,
    SERIAL_NO,
    _MERCHANT_KEY,
    MERCHANT_KEY_PEM,
    MERCHANT_PUBLIC_PEM,
    _PLATFORM_KEY,
    PLATFORM_PUBLIC_PEM,
    PLATFORM_SERIAL,
    API_V3_KEY,
)

_AUTH_RE = re.compile(r'(\w+)="([^"]*)"')


@dataclass
class _Order:
    out_trade_no: str
    total_fen: int
    transaction_id: str
    mchid: str = MCHID


@dataclass
class _Refund:
    refund_id: str
    out_refund_no: str
    out_trade_no: str
    transaction_id: str
    refund_fen: int
    total_fen: int
    reason: str | None
    status: str
    create_time: str
    success_time: str | None = None
    mchid: str = MCHID
    notify_url: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "refund_id": self.refund_id,
            "out_refund_no": self.out_refund_no,
            "transaction_id": self.transaction_id,
            "out_trade_no": self.out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "success_time": self.success_time,
            "create_time": self.create_time,
            "status": self.status,
            "funds_account": "AVAILABLE",
            "amount": {
                "total": self.total_fen,
                "refund": self.refund_fen,
                "payer_total": self.total_fen,
                "payer_refund": self.refund_fen,
                "settlement_refund": self.refund_fen,
                "settlement_total": self.total_fen,
                "discount_refund": 0,
                "currency": "CNY",
            },
        }


def _sign(response: Response, *, tamper: bool = False, merchant: Merchant = DEFAULT_MERCHANT) -> Response:
    """Sign the answer with the merchant's platform key (then spoil it if asked: a man in the middle)."""
    timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
    message = response_message(timestamp, nonce, bytes(response.body))
    signature = merchant.platform_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    response.headers.update(
        {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Serial": merchant.platform_serial,
            "Wechatpay-Signature": base64.b64encode(signature).decode(),
        }
    )
    if tamper:
        response.body = (
            bytes(response.body).replace(b'"SUCCESS"', b'"CLOSED"').replace(b'"amount"', b'"amount" ')
        )
        response.headers["content-length"] = str(len(response.body))
    return response


def _err(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def _now_text() -> str:
    return datetime.now(UTC).astimezone().isoformat(timespec="seconds")


@dataclass
class FakeWeChatPay:
    qps_limit: int = 150
    processing: bool = False
    orders: dict[str, _Order] = field(default_factory=dict)
    refunds: dict[str, _Refund] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    max_qps_seen: int = 0
    merchants: dict[str, Merchant] = field(default_factory=lambda: {MCHID: DEFAULT_MERCHANT})
    # (mchid, serial_no) of every request whose signature verified: which merchant huoli called as
    seen: list[tuple[str, str]] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _failures: list[tuple[int, str]] = field(default_factory=list)
    _tamper: int = 0
    _window: deque[float] = field(default_factory=deque)
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    _port: int | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError("FakeWeChatPay is not running")
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> FakeWeChatPay:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(self._build_app(), log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="fake-wechatpay", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("fake WeChat Pay server failed to start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = self._port = None

    def reset(self) -> None:
        with self._lock:
            self.qps_limit = 150
            self.processing = False
            self.orders.clear()
            self.refunds.clear()
            self.calls.clear()
            self.max_qps_seen = 0
            self.merchants = {MCHID: DEFAULT_MERCHANT}
            self.seen.clear()
            self._failures.clear()
            self._window.clear()
            self._tamper = 0

    def client(
        self,
        *,
        qps: float = 100.0,
        key_pem: bytes | None = None,
        platform_pem: bytes | None = None,
        clock: Callable[[], float] = time.time,
        merchant: Merchant = DEFAULT_MERCHANT,
    ) -> WeChatPayClient:
        return WeChatPayClient(
            mchid=merchant.mchid,
            serial_no=merchant.serial_no,
            signer=rsa_signer(key_pem or merchant.key_pem),
            verifier=rsa_verifier({merchant.platform_serial: platform_pem or merchant.platform_public_pem}),
            base_url=self.url,
            qps=qps,
            clock=clock,
        )

    # -- controls ---------------------------------------------------------------------------------

    def add_merchant(self, mchid: str) -> Merchant:
        """Another merchant with keys of its own; its orders are paid to it and only it can refund them."""
        merchant = Merchant.generate(mchid)
        with self._lock:
            self.merchants[mchid] = merchant
        return merchant

    def add_order(self, out_trade_no: str, total_fen: int, mchid: str = MCHID) -> None:
        with self._lock:
            self.orders[out_trade_no] = _Order(
                out_trade_no, total_fen, f"4200{secrets.randbelow(10**24):024d}", mchid
            )

    def fail_next(self, n: int, code: str = "SYSTEM_ERROR") -> None:
        status = {
            "SYSTEM_ERROR": 500,
            "NOT_ENOUGH": 403,
            "FREQUENCY_LIMITED": 429,
            "USER_ACCOUNT_ABNORMAL": 403,
        }
        with self._lock:
            self._failures.extend([(status.get(code, 400), code)] * n)

    def tamper_next(self, n: int) -> None:
        with self._lock:
            self._tamper += n

    def settle(self) -> None:
        with self._lock:
            for r in self.refunds.values():
                if r.status == "PROCESSING":
                    r.status, r.success_time = "SUCCESS", _now_text()

    def refund_notification(
        self,
        out_refund_no: str,
        *,
        api_v3_key: bytes | None = None,
        timestamp: int | None = None,
        event_type: str | None = None,
        merchant: Merchant | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """What WeChat Pay POSTs to the refund's notify_url (《退款结果通知》): the refund, encrypted with
        AEAD_AES_256_GCM under the APIv3 key, in an envelope signed with the platform key like an answer —
        the keys of the merchant that took the refund unless `merchant` / `api_v3_key` say otherwise."""
        with self._lock:
            r = self.refunds[out_refund_no]
            status = r.status
            merchant = merchant or self.merchants[r.mchid]
            api_v3_key = api_v3_key or merchant.api_v3_key
            resource = {
                "mchid": merchant.mchid,
                "out_trade_no": r.out_trade_no,
                "transaction_id": r.transaction_id,
                "out_refund_no": r.out_refund_no,
                "refund_id": r.refund_id,
                "refund_status": status,
                "success_time": r.success_time,
                "user_received_account": "支付用户零钱",
                "amount": {"total": r.total_fen, "refund": r.refund_fen, "payer_total": r.total_fen,
                           "payer_refund": r.refund_fen},
            }  # fmt: skip
        nonce = secrets.token_hex(6)  # 12 characters, as WeChat sends
        ciphertext = AESGCM(api_v3_key).encrypt(nonce.encode(), json.dumps(resource).encode(), b"refund")
        envelope = {
            "id": f"EV-{secrets.token_hex(10)}",
            "create_time": _now_text(),
            "resource_type": "encrypt-resource",
            "event_type": event_type or f"REFUND.{status}",
            "summary": "退款成功" if status == "SUCCESS" else "退款异常",
            "resource": {
                "original_type": "refund",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": base64.b64encode(ciphertext).decode(),
                "associated_data": "refund",
                "nonce": nonce,
            },
        }
        body = json.dumps(envelope, ensure_ascii=False).encode()
        ts, sig_nonce = str(timestamp if timestamp is not None else int(time.time())), secrets.token_hex(16)
        signature = merchant.platform_key.sign(
            response_message(ts, sig_nonce, body), padding.PKCS1v15(), hashes.SHA256()
        )
        headers = {
            "Content-Type": "application/json",
            "Wechatpay-Timestamp": ts,
            "Wechatpay-Nonce": sig_nonce,
            "Wechatpay-Serial": merchant.platform_serial,
            "Wechatpay-Signature": base64.b64encode(signature).decode(),
        }
        return headers, body

    def refunded_fen(self, out_trade_no: str) -> int:
        with self._lock:
            return sum(r.refund_fen for r in self.refunds.values() if r.out_trade_no == out_trade_no)

    # -- protocol ---------------------------------------------------------------------------------

    def _check(self, request: Request, body: bytes) -> tuple[Response | None, Merchant]:
        now = time.monotonic()
        with self._lock:
            self._window.append(now)
            while self._window and self._window[0] <= now - 1.0:
                self._window.popleft()
            self.max_qps_seen = max(self.max_qps_seen, len(self._window))
            if len(self._window) > self.qps_limit:
                return _err(429, "FREQUENCY_LIMITED", "Frequency limit exceeded"), DEFAULT_MERCHANT
        auth = request.headers.get("authorization", "")
        scheme, _, params = auth.partition(" ")
        fields = dict(_AUTH_RE.findall(params))
        if scheme != "WECHATPAY2-SHA256-RSA2048" or not {
            "mchid",
            "nonce_str",
            "signature",
            "timestamp",
        } <= set(fields):
            return _err(401, "SIGN_ERROR", "Authorization header missing or malformed"), DEFAULT_MERCHANT
        merchant = self.merchants.get(fields["mchid"])
        if merchant is None:
            return _err(400, "MCH_NOT_EXISTS", "mchid does not exist"), DEFAULT_MERCHANT
        if fields.get("serial_no") != merchant.serial_no:
            return _err(401, "SIGN_ERROR", "unknown merchant certificate serial_no"), merchant
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        message = message_to_sign(
            request.method, path, fields["timestamp"], fields["nonce_str"], body.decode()
        )
        try:
            merchant.key.public_key().verify(
                base64.b64decode(fields["signature"]), message, padding.PKCS1v15(), hashes.SHA256()
            )
        except (InvalidSignature, ValueError):
            return _err(401, "SIGN_ERROR", "signature verification failed"), merchant
        with self._lock:
            self.seen.append((merchant.mchid, merchant.serial_no))
            if self._failures:
                status, code = self._failures.pop(0)
                return _err(status, code, f"injected {code}"), merchant
        return None, merchant

    def _build_app(self) -> FastAPI:
        app = FastAPI()

        @app.post(REFUND_PATH)
        async def apply(request: Request) -> Response:
            return self._signed(*await self._apply(request))

        @app.get(REFUND_PATH + "/{out_refund_no}")
        async def query(out_refund_no: str, request: Request) -> Response:
            return self._signed(*self._query(out_refund_no, request))

        return app

    def _signed(self, response: Response, merchant: Merchant) -> Response:
        with self._lock:
            tamper = self._tamper > 0
            self._tamper -= tamper
        return _sign(response, tamper=tamper, merchant=merchant)

    async def _apply(self, request: Request) -> tuple[Response, Merchant]:
        raw = await request.body()
        self.calls["refund"] += 1
        early, merchant = self._check(request, raw)
        if early is not None:
            return early, merchant
        try:
            body = json.loads(raw)
            out_trade_no = body["out_trade_no"]
            out_refund_no = body["out_refund_no"]
            refund = body["amount"]["refund"]
            total = body["amount"]["total"]
            assert body["amount"].get("currency", "CNY") == "CNY"
            assert isinstance(refund, int) and isinstance(total, int) and refund > 0
            assert re.fullmatch(r"[0-9A-Za-z_\-|*@]{1,64}", out_refund_no)
        except Exception:
            return _err(400, "PARAM_ERROR", "invalid request body"), merchant
        with self._lock:
            order = self.orders.get(out_trade_no)
            if order is None or order.mchid != merchant.mchid:  # another merchant's order is unknown here
                return _err(404, "RESOURCE_NOT_EXISTS", "订单不存在"), merchant
            if total != order.total_fen:
                return _err(400, "PARAM_ERROR", "订单金额与原订单金额不一致"), merchant
            seen = self.refunds.get(out_refund_no)
            if seen is not None:
                if (seen.out_trade_no, seen.refund_fen) != (out_trade_no, refund):
                    return _err(400, "INVALID_REQUEST", "退款单号重复但参数不一致"), merchant
                return JSONResponse(seen.to_json()), merchant
            done = [r for r in self.refunds.values() if r.out_trade_no == out_trade_no]
            if len(done) >= 50:
                return _err(400, "INVALID_REQUEST", "部分退款次数超过50次"), merchant
            if sum(r.refund_fen for r in done) + refund > order.total_fen:
                return _err(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额"), merchant
            r = _Refund(
                refund_id=f"5030{secrets.randbelow(10**24):024d}",
                out_refund_no=out_refund_no,
                out_trade_no=out_trade_no,
                transaction_id=order.transaction_id,
                refund_fen=refund,
                total_fen=total,
                reason=body.get("reason"),
                status="PROCESSING" if self.processing else "SUCCESS",
                create_time=_now_text(),
                success_time=None if self.processing else _now_text(),
                mchid=merchant.mchid,
                notify_url=body.get("notify_url"),
            )
            self.refunds[out_refund_no] = r
            return JSONResponse(r.to_json()), merchant

    def _query(self, out_refund_no: str, request: Request) -> tuple[Response, Merchant]:
        self.calls["query"] += 1
        early, merchant = self._check(request, b"")
        if early is not None:
            return early, merchant
        with self._lock:
            r = self.refunds.get(out_refund_no)
            if r is None or r.mchid != merchant.mchid:
                return _err(404, "RESOURCE_NOT_EXISTS", "退款单不存在"), merchant
            return JSONResponse(r.to_json()), merchant


@pytest.fixture(scope="session")
def fake_wechatpay_server() -> Iterator[FakeWeChatPay]:
    server = FakeWeChatPay().start()
    yield server
    server.stop()


@pytest.fixture
def fake_wechatpay(fake_wechatpay_server: FakeWeChatPay) -> FakeWeChatPay:
    fake_wechatpay_server.reset()
    return fake_wechatpay_server
