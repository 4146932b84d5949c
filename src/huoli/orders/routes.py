"""HTTP for orders (thin): the merchant backend's signed calls, one per business fact. Each hands the checked
call and its use case to `deps.in_signed_work` (the one unit of work, its nonce recorded first); a repeated
call answers the stored result with `Idempotent-Replayed: true`."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from huoli.deps import RuntimeDep, SignedCallDep, in_signed_work
from huoli.orders import flows
from huoli.orders.schemas import (
    OrderCancelledIn,
    OrderCancelledOut,
    OrderPaidIn,
    OrderPaidOut,
    OrderRefundedIn,
    OrderRefundedOut,
)

router = APIRouter(tags=["orders"])
SERVER = "/v1/server/orders"


def _json(out: BaseModel, replayed: bool) -> Response:
    """Serialised once (response_model only documents it), like the other hot routes."""
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return Response(out.model_dump_json(), media_type="application/json", headers=headers)


@router.post(f"{SERVER}/paid", response_model=OrderPaidOut)
async def order_paid(
    body: OrderPaidIn, runtime: RuntimeDep, call: SignedCallDep, request: Request
) -> Response:
    """The order was paid: points and growth, coupons redeemed, flash reservation settled, group-buy join,
    referral qualified, commissions and the order_paid event — in one transaction. Once per order_id."""
    ip = request.headers.get("x-huoli-client-ip", "")
    return _json(*await flows.pay(runtime, call, body, client_ip=ip))


@router.post(f"{SERVER}/refunded", response_model=OrderRefundedOut)
async def order_refunded(body: OrderRefundedIn, runtime: RuntimeDep, call: SignedCallDep) -> Response:
    """Part or all of a paid order was refunded: points and commissions reversed pro rata (coupons returned
    when nothing is left paid) and the order_refunded event — in one transaction. Once per refund_id."""
    return _json(*await run_in_threadpool(in_signed_work, runtime, call, flows.refund, body))


@router.post(f"{SERVER}/cancelled", response_model=OrderCancelledOut)
async def order_cancelled(body: OrderCancelledIn, runtime: RuntimeDep, call: SignedCallDep) -> Response:
    """The order was cancelled before payment: locked coupons released, the flash reservation's stock
    returned and the order_cancelled event — in one transaction. A paid order answers 409 (refund it)."""
    return _json(*await run_in_threadpool(in_signed_work, runtime, call, flows.cancel, body))
