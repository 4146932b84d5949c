"""WeChat Pay merchants per app: which merchant refunds an app's payments and whose keys its notifications
must verify and decrypt with.

Precedence: an app's own `promo_wechatpay_merchants` row, else the deployment-wide settings
(`HUOLI_WECHATPAY_API_V3_KEY`, `…_PLATFORM_KEY_FILE`, `…_PLATFORM_SERIAL` for notifications; the
`huoli promotions refunds` options / `HUOLI_WECHATPAY_MCHID` … for refunds), else nothing (notifications
answer 503, refunds wait). The merchant private key and the APIv3 key are encrypted at rest
(crypto.EncryptedString); nothing here returns them.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from cryptography.hazmat.primitives import serialization
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.orm import Session

from huoli.promotions.models import WeChatPayMerchant
from huoli.settings import Settings
from huoli.wechat.pay import DEFAULT_BASE_URL, DEFAULT_QPS, Verifier, WeChatPayClient, load_public_key
from huoli.wechat.pay import rsa_signer as _rsa_signer
from huoli.wechat.pay import rsa_verifier as _rsa_verifier

NOTIFY_PATH = "/v1/promotions/wechatpay/refund-notify"
# A 3072-bit PKCS#8 key is about 2,500 characters; 3,000 still fits the 4,096-character encrypted column.
MAX_PEM_CHARS = 3000


class MerchantIn(BaseModel):
    """An app's WeChat Pay merchant (商户号) as the merchant platform (pay.weixin.qq.com) issues it."""

    model_config = ConfigDict(extra="forbid")

    mch_id: str = Field(pattern=r"^[0-9]{6,32}$", description="商户号")
    merchant_serial: str = Field(
        pattern=r"^[0-9A-Fa-f]{8,64}$", description="Serial number of the merchant API certificate."
    )
    private_key_pem: str = Field(
        min_length=1, max_length=MAX_PEM_CHARS, description="Merchant API private key (apiclient_key.pem)."
    )
    api_v3_key: str = Field(description="APIv3 key: 32 characters.")
    platform_key_id: str = Field(
        pattern=r"^[A-Za-z0-9_\-]{1,64}$",
        description="Id of the WeChat Pay public key (PUB_KEY_ID_…) or platform certificate serial.",
    )
    platform_public_key_pem: str = Field(
        min_length=1,
        max_length=MAX_PEM_CHARS,
        description="WeChat Pay public key (微信支付公钥, PEM) or platform certificate (PEM).",
    )

    # Messages never quote the value: a refused secret must not come back in the error or a log.
    @field_validator("private_key_pem")
    @classmethod
    def _private_key(cls, value: str) -> str:
        try:
            _rsa_signer(value.encode())
        # ValueError, TypeError (an encrypted key), UnsupportedAlgorithm: all a 422, never a 500
        except Exception:
            raise ValueError("not an RSA private key in PEM (apiclient_key.pem)") from None
        return value

    @field_validator("api_v3_key")
    @classmethod
    def _api_v3_key(cls, value: str) -> str:
        if len(value.encode()) != 32 or not value.isascii() or not value.isprintable():
            raise ValueError("the APIv3 key is 32 printable ASCII characters")
        return value

    @field_validator("platform_public_key_pem")
    @classmethod
    def _platform_key(cls, value: str) -> str:
        try:
            load_public_key(value.encode())
        except Exception:  # as above: whatever the PEM parser raises is a bad field
            raise ValueError("not an RSA public key or certificate in PEM (pub_key.pem)") from None
        return value


class MerchantOut(BaseModel):
    """What operators may see of the configuration: never the private key or the APIv3 key."""

    configured: bool = Field(description="The app has a merchant of its own.")
    source: Literal["app", "deployment", "none"] = Field(
        description="Whose keys the app's notifications use now: its own, the deployment settings', or none."
    )
    mch_id: str | None = None
    merchant_serial: str | None = None
    merchant_key_fingerprint: str | None = Field(
        None,
        description="SHA-256 of the public half of the merchant private key (compare with the certificate).",
    )
    platform_key_id: str | None = None
    platform_key_fingerprint: str | None = None
    updated_at: datetime | None = None
    notify_url_path: str = Field(description="The refund notify_url path naming this app.")


def fingerprint(public_pem_or_private: bytes, *, private: bool = False) -> str:
    """sha256:<hex> of the DER SubjectPublicKeyInfo: the same for a private key and its certificate."""
    if private:
        key = serialization.load_pem_private_key(public_pem_or_private, password=None).public_key()
    else:
        key = load_public_key(public_pem_or_private)
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


def notify_path(app_id: str) -> str:
    return f"{NOTIFY_PATH}/{app_id}"


def get(db: Session, app_id: str) -> WeChatPayMerchant | None:
    return db.get(WeChatPayMerchant, app_id)


def put(*, db: Session, app_id: str, spec: MerchantIn, now: datetime) -> WeChatPayMerchant:
    """Set or replace the app's merchant (the whole configuration at once: keys belong together). Narrow
    parameters: `huoli apps set-wechatpay` calls it too (no event, no settings)."""
    row = get(db, app_id)
    if row is None:
        row = WeChatPayMerchant(app_id=app_id)
        db.add(row)
    row.mch_id = spec.mch_id
    row.merchant_serial = spec.merchant_serial.upper()
    row.private_key_pem = spec.private_key_pem
    row.api_v3_key = spec.api_v3_key
    row.platform_key_id = spec.platform_key_id
    row.platform_public_key_pem = spec.platform_public_key_pem
    row.updated_at = now
    db.flush()
    return row


def clear(*, db: Session, app_id: str) -> bool:
    """Remove the app's merchant (it falls back to the deployment settings); whether there was one."""
    row = get(db, app_id)
    if row is None:
        return False
    db.delete(row)
    db.flush()
    return True


def _deployment_ready(settings: Settings) -> bool:
    return bool(
        settings.wechatpay_api_v3_key
        and settings.wechatpay_platform_key_file
        and settings.wechatpay_platform_serial
    )


def view(row: WeChatPayMerchant | None, settings: Settings, app_id: str) -> MerchantOut:
    if row is None:
        return MerchantOut(
            configured=False,
            source="deployment" if _deployment_ready(settings) else "none",
            notify_url_path=notify_path(app_id),
        )
    return MerchantOut(
        configured=True,
        source="app",
        mch_id=row.mch_id,
        merchant_serial=row.merchant_serial,
        merchant_key_fingerprint=fingerprint(row.private_key_pem.encode(), private=True),
        platform_key_id=row.platform_key_id,
        platform_key_fingerprint=fingerprint(row.platform_public_key_pem.encode()),
        updated_at=row.updated_at,
        notify_url_path=notify_path(app_id),
    )


# -- notifications ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NotifyKeys:
    source: Literal["app", "deployment"]
    verifier: Verifier
    api_v3_key: bytes


_verifiers: dict[tuple[str, str], Verifier] = {}


def _verifier(key_id: str, pem: bytes) -> Verifier:
    # Parsed once per key (by content, so a replaced key file or configuration is picked up at once).
    cache_key = (key_id, hashlib.sha256(pem).hexdigest())
    found = _verifiers.get(cache_key)
    if found is None:
        found = _verifiers[cache_key] = _rsa_verifier({key_id: pem})
    return found


def deployment_notify_keys(settings: Settings) -> NotifyKeys | None:
    """The deployment-wide keys (HUOLI_WECHATPAY_*), or None when they are not all set."""
    if not _deployment_ready(settings):
        return None
    assert settings.wechatpay_platform_key_file is not None
    pem = settings.wechatpay_platform_key_file.read_bytes()
    return NotifyKeys(
        "deployment",
        _verifier(settings.wechatpay_platform_serial, pem),
        settings.wechatpay_api_v3_key.encode(),
    )


def notify_keys(db: Session, settings: Settings, app_id: str) -> NotifyKeys | None:
    """The keys the app's notifications must verify and decrypt with: its own, else the deployment's."""
    row = get(db, app_id)
    if row is None:
        return deployment_notify_keys(settings)
    return NotifyKeys(
        "app", _verifier(row.platform_key_id, row.platform_public_key_pem.encode()), row.api_v3_key.encode()
    )


# -- refunds ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeploymentMerchant:
    """The merchant of `huoli promotions refunds`' own options: for apps without one of their own."""

    mch_id: str
    merchant_serial: str
    private_key_pem: bytes
    platform_key_id: str
    platform_public_key_pem: bytes


def own_merchant(db: Session, app_id: str) -> DeploymentMerchant | None:
    """The app's own merchant as a refund run needs it (decrypted keys), or None."""
    row = get(db, app_id)
    if row is None:
        return None
    return DeploymentMerchant(
        row.mch_id,
        row.merchant_serial,
        row.private_key_pem.encode(),
        row.platform_key_id,
        row.platform_public_key_pem.encode(),
    )


class Merchants:
    """Refund clients per app for one refund run: each app's own merchant, else the deployment's, else None.

    Apps of one merchant share one client, so the pacing (WeChat's limit is per merchant) is shared too.
    `own(app_id)` reads an app's own merchant (flows.merchants gives it a unit of work of its own)."""

    def __init__(
        self,
        own: Callable[[str], DeploymentMerchant | None],
        *,
        fallback: DeploymentMerchant | None = None,
        base_url: str = DEFAULT_BASE_URL,
        qps: float = DEFAULT_QPS,
        make_client: Callable[..., WeChatPayClient] = WeChatPayClient,
    ) -> None:
        self._own = own
        self._fallback = fallback
        self._base_url = base_url
        self._qps = qps
        self._make = make_client
        self._by_app: dict[str, WeChatPayClient | None] = {}
        self._by_merchant: dict[tuple[str, str, str, str], WeChatPayClient] = {}
        self._lock = threading.Lock()

    def _client(self, m: DeploymentMerchant) -> WeChatPayClient:
        key = (
            m.mch_id,
            m.merchant_serial,
            m.platform_key_id,
            hashlib.sha256(m.private_key_pem + m.platform_public_key_pem).hexdigest(),
        )
        client = self._by_merchant.get(key)
        if client is None:
            client = self._by_merchant[key] = self._make(
                mchid=m.mch_id,
                serial_no=m.merchant_serial,
                signer=_rsa_signer(m.private_key_pem),
                verifier=_verifier(m.platform_key_id, m.platform_public_key_pem),
                base_url=self._base_url,
                qps=self._qps,
            )
        return client

    def __call__(self, app_id: str) -> WeChatPayClient | None:
        with self._lock:
            if app_id not in self._by_app:
                chosen = self._own(app_id) or self._fallback
                self._by_app[app_id] = self._client(chosen) if chosen is not None else None
            return self._by_app[app_id]

    def close(self) -> None:
        for client in self._by_merchant.values():
            client.close()

    def __enter__(self) -> Merchants:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
