"""Merchant-backend calls under /v1/server/promotions (HMAC-signed) and WeChat Pay's refund notifications.

The order calls here are deprecated aliases: /v1/server/orders/{paid,refunded,cancelled} settles every
domain's part of an order in one transaction (docs/orders.md). They keep working for one release.
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from huoli.apps.models import App
from huoli.deps import RuntimeDep, SignedAppDep, SignedWorkDep
from huoli.errors import ValidationFailed
from huoli.promotions import flows, payments, service
from huoli.promotions.schemas import (
    GroupJoinIn,
    GroupJoinOut,
    OrderCancelledIn,
    OrderCancelledOut,
    OrderPaidIn,
    OrderPaidOut,
    OrderRefundedIn,
    OrderRefundedOut,
)
from huoli.runtime import Runtime
from huoli.users.service import derive_user_id
from huoli.wechat.pay import WeChatPayError, parse_refund_notification

router = APIRouter(tags=["promotions"])
SERVER = "/v1/server/promotions"


def _server_user(app: App, user_id: str | None, openid: str | None) -> str:
    if user_id:
        return user_id
    if openid:
        return derive_user_id(app, openid)
    raise ValidationFailed(
        "user_id or openid required", details=[{"field": "user_id", "message": "required"}]
    )


@router.post(f"{SERVER}/orders/paid", deprecated=True, response_model=OrderPaidOut)
def server_order_paid(
    body: OrderPaidIn, runtime: RuntimeDep, app: SignedAppDep, request: Request
) -> OrderPaidOut:
    """The order was paid: redeem its coupons, settle its flash reservation, qualify a referral (first order),
    create commissions. Idempotent: report it as often as you like. Deprecated alias: /v1/server/orders/paid."""
    uid = _server_user(app, body.user_id, body.openid)
    return flows.order_paid(
        runtime, app, uid=uid, body=body, client_ip=request.headers.get("x-huoli-client-ip", "")
    )


@router.post(f"{SERVER}/orders/refunded", deprecated=True, response_model=OrderRefundedOut)
def server_order_refunded(body: OrderRefundedIn, work: SignedWorkDep) -> OrderRefundedOut:
    """Deprecated alias: /v1/server/orders/refunded."""
    return OrderRefundedOut.model_validate(service.order_refunded(work, order_id=body.order_id))


@router.post(f"{SERVER}/orders/cancelled", deprecated=True, response_model=OrderCancelledOut)
def server_order_cancelled(body: OrderCancelledIn, work: SignedWorkDep) -> OrderCancelledOut:
    """Deprecated alias: /v1/server/orders/cancelled."""
    r = service.order_cancelled(work, order_id=body.order_id, flash_reservation_id=body.flash_reservation_id)
    return OrderCancelledOut.model_validate(r)


@router.post(f"{SERVER}/groups/join", response_model=GroupJoinOut)
def server_group_join(body: GroupJoinIn, work: SignedWorkDep) -> GroupJoinOut:
    """A member's payment for a group buy was confirmed (WeChat Pay notify). Idempotent on out_trade_no.
    A payment that can't join (closed, full, duplicate, wrong amount) is answered 'rejected' and refunded."""
    joined = service.join_group(
        work,
        campaign_id=body.campaign_id,
        group_id=body.group_id,
        user_id=_server_user(work.app, body.user_id, body.openid),
        out_trade_no=body.out_trade_no,
        paid_fen=body.paid_fen,
    )
    return GroupJoinOut.model_validate(joined)


def _notify_answer(status: int, message: str) -> Response:
    # WeChat Pay's own failure shape; anything but 200/204 makes it send the notification again later.
    return Response(orjson.dumps({"code": "FAIL", "message": message}), status, media_type="application/json")


async def _refund_notice(request: Request, runtime: Runtime, app_id: str | None) -> Response:
    """Verify with the keys of the app the URL names (its own, else the deployment's; no app: the
    deployment's), decrypt, and apply to that app's refund only (no app: the refund out_refund_no names)."""
    found = await run_in_threadpool(flows.notify_keys, runtime, app_id)
    if found == "unknown":
        return _notify_answer(404, f"no app {app_id!r}")
    if not isinstance(found, payments.NotifyKeys):
        return _notify_answer(
            503, "refund notifications are not configured (HUOLI_WECHATPAY_* or the app's merchant)"
        )
    body = await request.body()
    try:
        notice = parse_refund_notification(
            request.headers,
            body,
            verifier=found.verifier,
            api_v3_key=found.api_v3_key,
            now_s=runtime.clock().timestamp(),
        )
    except WeChatPayError as exc:
        return _notify_answer(401, exc.message)
    if await run_in_threadpool(flows.apply_refund_notice, runtime, app_id, notice) is None:
        return _notify_answer(404, f"no refund {notice.out_refund_no!r} of that order and amount")
    return Response(status_code=204)


@router.post(f"{payments.NOTIFY_PATH}/{{app_id}}", status_code=204, response_class=Response)
async def wechatpay_refund_notify_app(
    app_id: Annotated[str, Path(max_length=64)], request: Request, runtime: RuntimeDep
) -> Response:
    """WeChat Pay's refund result notification (《退款结果通知》) for one app: the refund's notify_url when
    `huoli promotions refunds --notify-base-url` is set, or the URL configured on that merchant's platform.
    Verified with that app's platform key and decrypted with its APIv3 key (the deployment's when it has
    none): a notification signed for another app answers 401 and changes nothing. 204 acknowledges it."""
    return await _refund_notice(request, runtime, app_id)


@router.post(payments.NOTIFY_PATH, status_code=204, response_class=Response)
async def wechatpay_refund_notify(request: Request, runtime: RuntimeDep) -> Response:
    """The deployment-wide notify_url (before keys per app): verified with the HUOLI_WECHATPAY_* keys, the
    refund found by its out_refund_no in any app. Prefer the URL naming the app."""
    return await _refund_notice(request, runtime, None)
