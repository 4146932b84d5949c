"""Demo only: a minimal fake of the WeChat endpoints the demo's flows call, served by the demo process.

`huoli demo run` starts it on 127.0.0.1 (a free port) and points its own process's `wechat_api_base` and
`wechatpay_base_url` at it, and the demo app's wx_appid / wx_secret and WeChat Pay merchant are the fake's
(`DemoKeys`, kept in <data_dir>/demo/wechat.json, mode 600). Nothing else starts it: `huoli serve` never
serves these paths, and a deployment's settings keep WeChat's real hosts (docs/demo.md).

* ``GET  /sns/jscode2session``: any `wx.login()` code logs in as one deterministic demo shopper (`DEMO_OPENID`)
* ``POST /cgi-bin/stable_token``, ``POST /wxa/getuserriskrank`` (risk rank 0),
  ``POST /cgi-bin/message/subscribe/send`` (accepted)
* ``POST /v3/refund/domestic/refunds``, ``GET …/{out_refund_no}``: WeChat Pay refunds, answered SUCCESS,
  request signatures checked with the demo merchant's key, answers signed with the demo platform key
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from huoli.wechat.client import (
    JSCODE2SESSION_PATH,
    STABLE_TOKEN_PATH,
    SUBSCRIBE_SEND_PATH,
    USER_RISK_RANK_PATH,
)
from huoli.wechat.pay import REFUND_PATH, message_to_sign, response_message, rsa_signer, rsa_verifier

DEMO_WX_APPID = "wx00000000000000de"  # well-formed; no real mini-program has it
DEMO_OPENID = "o_demo_shopper_0001"
DEMO_MCHID = "1900000001"
DEMO_MERCHANT_SERIAL = "DE0DE0DE0DE0DE0DE0DE0DE0DE0DE0DE0DE0DE0D"
DEMO_PLATFORM_KEY_ID = "PUB_KEY_ID_DEMO0000000000000000000000"


@dataclass(frozen=True)
class DemoKeys:
    """The demo's fake WeChat credentials: made once per data dir, so the app's stored merchant keys and the
    fake that answers for them stay a pair across runs."""

    wx_secret: str
    api_v3_key: str
    merchant_private_pem: str
    merchant_public_pem: str
    platform_private_pem: str
    platform_public_pem: str


def _key_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private.decode(), public.decode()


def load_keys(path: Path) -> DemoKeys:
    """The keys in `path`, created (mode 600) on the first run."""
    if path.exists():
        return DemoKeys(**json.loads(path.read_text()))
    merchant, platform = _key_pair(), _key_pair()
    keys = DemoKeys(
        wx_secret="demo-" + secrets.token_hex(16),
        api_v3_key=secrets.token_hex(16),  # 32 ASCII characters, as WeChat Pay's APIv3 key
        merchant_private_pem=merchant[0],
        merchant_public_pem=merchant[1],
        platform_private_pem=platform[0],
        platform_public_pem=platform[1],
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(asdict(keys), indent=2))
    return keys


def _err(errcode: int, errmsg: str) -> JSONResponse:
    return JSONResponse({"errcode": errcode, "errmsg": errmsg})


def _pay_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def _authorization(header: str) -> dict[str, str]:
    scheme, _, rest = header.partition(" ")
    if scheme != "WECHATPAY2-SHA256-RSA2048":
        return {}
    parts = (p.split("=", 1) for p in rest.split(","))
    return {k.strip(): v.strip().strip('"') for k, v in (p for p in parts if len(p) == 2)}


class DemoWeChat:
    """The fake, in a daemon thread of this process (`start()` / `stop()`, or a `with` block)."""

    def __init__(self, keys: DemoKeys, *, host: str = "127.0.0.1") -> None:
        self.keys = keys
        self.host = host
        self._sign = rsa_signer(keys.platform_private_pem.encode())
        self._verify = rsa_verifier({DEMO_MERCHANT_SERIAL: keys.merchant_public_pem.encode()})
        self._lock = threading.Lock()
        self._tokens: set[str] = set()
        self.refunds: dict[str, dict[str, Any]] = {}  # out_refund_no → the refund as answered
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # --- lifecycle

    def start(self) -> DemoWeChat:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(self._app(), log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="demo-wechat", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the demo WeChat fake did not start")
            time.sleep(0.01)
        self.url = f"http://{self.host}:{port}"
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> DemoWeChat:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def environ(self) -> dict[str, str]:
        """The settings that send this process's (and its workers') WeChat calls to the fake."""
        return {"HUOLI_WECHAT_API_BASE": self.url, "HUOLI_WECHATPAY_BASE_URL": self.url}

    # --- the HTTP app

    def _signed(self, status: int, data: dict[str, Any]) -> Response:
        body = json.dumps(data, ensure_ascii=False).encode()
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        return Response(
            body,
            status_code=status,
            media_type="application/json",
            headers={
                "Wechatpay-Timestamp": timestamp,
                "Wechatpay-Nonce": nonce,
                "Wechatpay-Serial": DEMO_PLATFORM_KEY_ID,
                "Wechatpay-Signature": self._sign(response_message(timestamp, nonce, body)),
            },
        )

    def _pay_request_ok(self, request: Request, body: bytes) -> bool:
        auth = _authorization(request.headers.get("authorization", ""))
        if auth.get("mchid") != DEMO_MCHID or auth.get("serial_no") != DEMO_MERCHANT_SERIAL:
            return False
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        message = message_to_sign(
            request.method, path, auth.get("timestamp", ""), auth.get("nonce_str", ""), body.decode()
        )
        return self._verify(DEMO_MERCHANT_SERIAL, message, auth.get("signature", ""))

    def _app(self) -> FastAPI:
        app = FastAPI(title="huoli demo: fake WeChat", openapi_url=None, docs_url=None, redoc_url=None)
        keys = self.keys

        @app.get(JSCODE2SESSION_PATH)
        def jscode2session(appid: str = "", secret: str = "", js_code: str = "", grant_type: str = "") -> Any:
            if appid != DEMO_WX_APPID:
                return _err(40013, "invalid appid")
            if secret != keys.wx_secret:
                return _err(40125, "invalid appsecret")
            if grant_type != "authorization_code" or not js_code:
                return _err(40029, "invalid code")
            return {"openid": DEMO_OPENID, "session_key": secrets.token_urlsafe(16)}

        @app.post(STABLE_TOKEN_PATH)
        async def stable_token(request: Request) -> Any:
            payload = await request.json()
            if payload.get("appid") != DEMO_WX_APPID or payload.get("secret") != keys.wx_secret:
                return _err(40125, "invalid appsecret")
            token = "DEMO_AT_" + secrets.token_hex(16)
            with self._lock:
                self._tokens.add(token)
            return {"access_token": token, "expires_in": 7200}

        def token_ok(request: Request) -> bool:
            with self._lock:
                return request.query_params.get("access_token", "") in self._tokens

        @app.post(USER_RISK_RANK_PATH)
        def risk_rank(request: Request) -> Any:
            if not token_ok(request):
                return _err(40001, "invalid credential")
            return {"errcode": 0, "errmsg": "getuserriskrank succ", "risk_rank": 0}

        @app.post(SUBSCRIBE_SEND_PATH)
        def subscribe_send(request: Request) -> Any:
            if not token_ok(request):
                return _err(40001, "invalid credential")
            return {"errcode": 0, "errmsg": "ok", "msgid": secrets.randbelow(10**12)}

        @app.post(REFUND_PATH)
        async def refund(request: Request) -> Response:
            body = await request.body()
            if not self._pay_request_ok(request, body):
                return _pay_error(401, "SIGN_ERROR", "signature error")
            try:
                data = json.loads(body)
                out_refund_no, amount = str(data["out_refund_no"]), data["amount"]
                refund_fen, total_fen = int(amount["refund"]), int(amount["total"])
            except (ValueError, KeyError, TypeError):
                return _pay_error(400, "PARAM_ERROR", "malformed refund request")
            if not 0 < refund_fen <= total_fen:
                return _pay_error(400, "INVALID_REQUEST", "refund over the order total")
            with self._lock:
                existing = self.refunds.get(out_refund_no)
                if existing is None:
                    now = datetime.now(UTC).isoformat(timespec="seconds")
                    existing = {
                        "refund_id": "50300" + secrets.token_hex(12),
                        "out_refund_no": out_refund_no,
                        "out_trade_no": str(data.get("out_trade_no", "")),
                        "channel": "ORIGINAL",
                        "user_received_account": "支付用户零钱",
                        "status": "SUCCESS",
                        "create_time": now,
                        "success_time": now,
                        "amount": {"refund": refund_fen, "total": total_fen, "currency": "CNY"},
                    }
                    self.refunds[out_refund_no] = existing
            return self._signed(200, existing)

        @app.get(REFUND_PATH + "/{out_refund_no}")
        async def query_refund(out_refund_no: str, request: Request) -> Response:
            if not self._pay_request_ok(request, b""):
                return _pay_error(401, "SIGN_ERROR", "signature error")
            with self._lock:
                found = self.refunds.get(out_refund_no)
            if found is None:
                return _pay_error(404, "RESOURCE_NOT_EXISTS", "refund does not exist")
            return self._signed(200, found)

        return app


__all__ = [
    "DEMO_MCHID",
    "DEMO_MERCHANT_SERIAL",
    "DEMO_OPENID",
    "DEMO_PLATFORM_KEY_ID",
    "DEMO_WX_APPID",
    "DemoKeys",
    "DemoWeChat",
    "load_keys",
]
