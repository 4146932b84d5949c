"""WeChat Pay API v3 refunds (``api.mch.weixin.qq.com``): apply for a refund and query it.

Semantics huoli relies on (WeChat Pay v3 《申请退款》):

* ``out_refund_no`` is the idempotency key: WeChat refunds one amount per number, and a failed refund is
  retried with the *same* number (never a new one, which could refund twice).
* At most 50 partial refunds per order; the refund total never exceeds the order total.
* The refund API accepts about 150 requests/s per merchant (and 6/s of erroneous ones): this client paces
  itself (default 100/s, shared by all threads using the client) instead of tripping FREQUENCY_LIMITED.
* Errors come as an HTTP status with ``{"code", "message"}``; :data:`ERROR_CODES` lists the documented ones.

Request signing: ``Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",
timestamp="…",serial_no="…"`` over ``METHOD\nPATH?QUERY\nTIMESTAMP\nNONCE\nBODY\n``, RSA-SHA256 (PKCS#1 v1.5)
with the merchant API private key (:func:`rsa_signer`).
Response verification (《验证签名》): every 2xx answer must carry ``Wechatpay-Timestamp``, ``-Nonce``,
``-Serial`` and ``-Signature`` — an RSA-SHA256 signature over ``TIMESTAMP\nNONCE\nBODY\n`` by the WeChat Pay
platform key named by the serial (a platform certificate or, in the newer mode, the 微信支付公钥 with its
``PUB_KEY_ID_…``), fresh within 5 minutes (:func:`rsa_verifier`). An answer that fails is not trusted: the
call raises ``INVALID_RESPONSE_SIGNATURE`` and the caller may query the same ``out_refund_no`` again.
Refund notifications (《退款结果通知》): WeChat Pay POSTs ``{id, event_type: REFUND.SUCCESS | REFUND.ABNORMAL
| REFUND.CLOSED, resource: {algorithm: AEAD_AES_256_GCM, ciphertext, nonce, associated_data}}`` to the
``notify_url``, signed like an answer; the resource decrypts with the merchant's APIv3 key
(:func:`parse_refund_notification`). A 200/204 acknowledges it; anything else makes WeChat send it again.
"""

from __future__ import annotations

import base64
import json as jsonlib
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

DEFAULT_BASE_URL = "https://api.mch.weixin.qq.com"
REFUND_PATH = "/v3/refund/domestic/refunds"
DOCUMENTED_QPS_LIMIT = 150
DEFAULT_QPS = 100.0

# Documented error codes of the v3 refund APIs: code → (HTTP status, meaning, retry the same request?).
ERROR_CODES: dict[str, tuple[int, str, bool]] = {
    "PARAM_ERROR": (400, "parameter error", False),
    "INVALID_REQUEST": (400, "valid format but against business rules (e.g. amount over the order)", False),
    "MCH_NOT_EXISTS": (400, "merchant id does not exist", False),
    "SIGN_ERROR": (401, "signature error", False),
    "NO_AUTH": (403, "merchant not authorised for refunds", False),
    "NOT_ENOUGH": (403, "insufficient balance to refund", True),
    "USER_ACCOUNT_ABNORMAL": (403, "the payer's account is abnormal; refund through other channels", False),
    "RESOURCE_NOT_EXISTS": (404, "order or refund does not exist", False),
    "FREQUENCY_LIMITED": (429, "frequency limited", True),
    "SYSTEM_ERROR": (500, "system error; retry with the same out_refund_no", True),
}

Signer = Callable[[bytes], str]
# (serial, message, base64 signature) → valid?
Verifier = Callable[[str, bytes, str], bool]
RESPONSE_MAX_SKEW_S = 300  # WeChat Pay's advice: refuse answers whose timestamp is more than 5 minutes off


def rsa_signer(private_key_pem: bytes) -> Signer:
    """RSA-SHA256 (PKCS#1 v1.5) with the merchant API private key, as WeChat Pay v3 requires."""
    key = serialization.load_pem_private_key(private_key_pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the merchant API key must be an RSA private key (apiclient_key.pem)")

    def sign(message: bytes) -> str:
        return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()

    return sign


def load_public_key(pem: bytes) -> rsa.RSAPublicKey:
    """A platform key from a PEM public key (微信支付公钥) or a PEM X.509 platform certificate."""
    if b"BEGIN CERTIFICATE" in pem:
        key: Any = x509.load_pem_x509_certificate(pem).public_key()
    else:
        key = serialization.load_pem_public_key(pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the WeChat Pay platform key must be an RSA public key or certificate")
    return key


def rsa_verifier(platform_keys: Mapping[str, bytes]) -> Verifier:
    """Checks response signatures with the platform key of the serial WeChat names (serial → PEM)."""
    keys = {serial: load_public_key(pem) for serial, pem in platform_keys.items()}
    if not keys:
        raise ValueError("at least one WeChat Pay platform key is needed")

    def verify(serial: str, message: bytes, signature: str) -> bool:
        key = keys.get(serial)
        if key is None:
            return False
        try:
            key.verify(
                base64.b64decode(signature, validate=True), message, padding.PKCS1v15(), hashes.SHA256()
            )
        except (InvalidSignature, ValueError):
            return False
        return True

    return verify


def response_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    """What the platform signs: the raw body bytes, not a re-encoding of the parsed JSON."""
    return f"{timestamp}\n{nonce}\n".encode() + body + b"\n"


def message_to_sign(method: str, path_and_query: str, timestamp: str, nonce: str, body: str) -> bytes:
    return f"{method}\n{path_and_query}\n{timestamp}\n{nonce}\n{body}\n".encode()


class WeChatPayError(Exception):
    """A refund call failed. ``code`` is WeChat Pay's code, or ``UNAVAILABLE`` for transport failures."""

    def __init__(
        self, code: str, message: str, *, http_status: int | None = None, retryable: bool | None = None
    ):
        self.code = code
        self.message = message
        self.http_status = http_status
        known = ERROR_CODES.get(code)
        self.retryable = retryable if retryable is not None else (known[2] if known else False)
        super().__init__(f"WeChat Pay {code} [HTTP {http_status}]: {message}")


def signature_problem(
    headers: Mapping[str, str], body: bytes, verifier: Verifier, now_s: float
) -> str | None:
    """Why a signed message from WeChat Pay (an answer or a notification) can't be trusted, or None."""
    h = {k.lower(): v for k, v in headers.items()}
    timestamp, nonce = h.get("wechatpay-timestamp", ""), h.get("wechatpay-nonce", "")
    serial, signature = h.get("wechatpay-serial", ""), h.get("wechatpay-signature", "")
    if not (timestamp and nonce and serial and signature):
        return "signature headers missing"
    if not timestamp.isdigit() or abs(now_s - int(timestamp)) > RESPONSE_MAX_SKEW_S:
        return "timestamp outside 5 minutes"
    if not verifier(serial, response_message(timestamp, nonce, body), signature):
        return f"signature does not verify with platform key {serial!r}"
    return None


@dataclass(frozen=True)
class RefundNotice:
    notification_id: str
    event_type: str  # REFUND.SUCCESS | REFUND.ABNORMAL | REFUND.CLOSED
    out_refund_no: str
    out_trade_no: str
    refund_id: str
    status: str  # SUCCESS | ABNORMAL | CLOSED
    refund_fen: int
    total_fen: int
    mchid: str = ""  # the merchant the refund belongs to (in the encrypted resource)


def parse_refund_notification(
    headers: Mapping[str, str], body: bytes, *, verifier: Verifier, api_v3_key: bytes, now_s: float
) -> RefundNotice:
    """Verify and decrypt a refund notification; raises WeChatPayError(INVALID_NOTIFICATION) when it is not
    genuine, fresh and well-formed (then answer non-2xx: WeChat sends it again)."""

    def bad(message: str) -> WeChatPayError:
        return WeChatPayError("INVALID_NOTIFICATION", message, retryable=False)

    problem = signature_problem(headers, body, verifier, now_s)
    if problem is not None:
        raise bad(problem)
    try:
        note = jsonlib.loads(body)
        res = note["resource"]
        if res.get("algorithm") != "AEAD_AES_256_GCM":
            raise bad(f"unknown algorithm {res.get('algorithm')!r}")
        plain = AESGCM(api_v3_key).decrypt(
            res["nonce"].encode(),
            base64.b64decode(res["ciphertext"]),
            (res.get("associated_data") or "").encode() or None,
        )
        data = jsonlib.loads(plain)
        return RefundNotice(
            notification_id=str(note["id"]),
            event_type=str(note["event_type"]),
            out_refund_no=str(data["out_refund_no"]),
            out_trade_no=str(data["out_trade_no"]),
            refund_id=str(data["refund_id"]),
            status=str(data["refund_status"]),
            refund_fen=int(data["amount"]["refund"]),
            total_fen=int(data["amount"]["total"]),
            mchid=str(data.get("mchid") or ""),
        )
    except WeChatPayError:
        raise
    except InvalidTag:
        raise bad("the resource does not decrypt with this APIv3 key") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise bad(f"malformed notification: {type(exc).__name__}: {exc}") from None


@dataclass(frozen=True)
class RefundResult:
    refund_id: str
    out_refund_no: str
    out_trade_no: str
    status: str  # SUCCESS | PROCESSING | CLOSED | ABNORMAL
    refund_fen: int
    total_fen: int


class Pacer:
    """Spaces calls at least 1/qps apart across threads (a leaky bucket without bursts)."""

    def __init__(
        self,
        qps: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 0 < qps <= DOCUMENTED_QPS_LIMIT:
            raise ValueError(f"qps must be in (0, {DOCUMENTED_QPS_LIMIT}]")
        self.interval = 1.0 / qps
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = 0.0

    def wait(self) -> None:
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            self._sleep(slot - now)


class WeChatPayClient:
    """Refunds for one merchant (mchid). Thread-safe; share one instance so the pacing is shared."""

    def __init__(
        self,
        *,
        mchid: str,
        serial_no: str,
        signer: Signer,
        verifier: Verifier,
        base_url: str = DEFAULT_BASE_URL,
        qps: float = DEFAULT_QPS,
        http: httpx.Client | None = None,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.mchid = mchid
        self.serial_no = serial_no
        self._signer = signer
        self._verifier = verifier
        self._clock = clock
        self.base_url = base_url.rstrip("/")
        self.pacer = Pacer(qps)
        self._owns_http = http is None
        self._http = http or httpx.Client(timeout=timeout)

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> WeChatPayClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def refund(
        self,
        *,
        out_trade_no: str,
        out_refund_no: str,
        refund_fen: int,
        total_fen: int,
        reason: str | None = None,
        notify_url: str | None = None,
    ) -> RefundResult:
        """Apply for a refund. Retrying with the same out_refund_no never refunds twice."""
        if not 0 < refund_fen <= total_fen:
            raise ValueError("0 < refund_fen <= total_fen")
        body: dict[str, Any] = {
            "out_trade_no": out_trade_no,
            "out_refund_no": out_refund_no,
            "amount": {"refund": refund_fen, "total": total_fen, "currency": "CNY"},
        }
        if reason:
            body["reason"] = reason[:80]
        if notify_url:
            body["notify_url"] = notify_url
        return self._result(self._request("POST", REFUND_PATH, body))

    def query_refund(self, out_refund_no: str) -> RefundResult:
        return self._result(self._request("GET", f"{REFUND_PATH}/{out_refund_no}", None))

    @staticmethod
    def _result(data: dict[str, Any]) -> RefundResult:
        try:
            amount = data["amount"]
            return RefundResult(
                refund_id=str(data["refund_id"]),
                out_refund_no=str(data["out_refund_no"]),
                out_trade_no=str(data.get("out_trade_no", "")),
                status=str(data["status"]),
                refund_fen=int(amount["refund"]),
                total_fen=int(amount["total"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise WeChatPayError("UNAVAILABLE", f"malformed refund response: {exc}", retryable=True) from None

    def _authorization(self, method: str, path: str, body: str) -> str:
        timestamp = str(int(self._clock()))
        nonce = secrets.token_hex(16)
        signature = self._signer(message_to_sign(method, path, timestamp, nonce, body))
        return (
            f'WECHATPAY2-SHA256-RSA2048 mchid="{self.mchid}",nonce_str="{nonce}",signature="{signature}",'
            f'timestamp="{timestamp}",serial_no="{self.serial_no}"'
        )

    def _request(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        text = jsonlib.dumps(body, ensure_ascii=False, separators=(",", ":")) if body is not None else ""
        headers = {
            "Authorization": self._authorization(method, path, text),
            "Accept": "application/json",
            "User-Agent": "huoli",
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        self.pacer.wait()
        failure = None
        try:
            response = self._http.request(
                method,
                f"{self.base_url}{path}",
                content=text.encode() if body is not None else None,
                headers=headers,
            )
        except httpx.HTTPError as exc:
            failure = f"{type(exc).__name__}: {exc}"
        if failure is not None:
            raise WeChatPayError("UNAVAILABLE", failure, retryable=True)
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 300:
            code = data.get("code") if isinstance(data, dict) else None
            message = data.get("message", "") if isinstance(data, dict) else response.text[:200]
            retry = response.status_code >= 500 or response.status_code == 429
            raise WeChatPayError(
                str(code or "UNAVAILABLE"),
                str(message),
                http_status=response.status_code,
                retryable=None if code in ERROR_CODES else retry,
            )
        self._check_signature(response)
        if not isinstance(data, dict):
            raise WeChatPayError(
                "UNAVAILABLE", "non-JSON response", http_status=response.status_code, retryable=True
            )
        return data

    def _check_signature(self, response: httpx.Response) -> None:
        """Trust a 2xx answer only when WeChat Pay's platform key signed exactly these bytes, recently."""
        problem = signature_problem(response.headers, response.content, self._verifier, self._clock())
        if problem is not None:
            raise WeChatPayError(
                "INVALID_RESPONSE_SIGNATURE",
                f"response {problem}",
                http_status=response.status_code,
                retryable=False,
            )
