"""Promotions' scheduled jobs: the minute sweep (`service.run_jobs`, as `huoli promotions jobs`) and refund
payment through each app's own WeChat Pay merchant (as `huoli promotions refunds`)."""

from __future__ import annotations

from huoli.jobs.registry import JobContext, every, job
from huoli.promotions import flows, payments, service
from huoli.work import Caller, work_in


@job("promotions.sweep", schedule=every(minutes=1))
def sweep(ctx: JobContext) -> dict[str, object]:
    """Expire coupons and unpaid flash reservations, close due group buys, expire bargains, credit
    commissions."""
    assert ctx.app_id is not None  # a per-app job
    work = work_in(ctx.session, ctx.rt, ctx.rt.app_cache.get(ctx.app_id), Caller("job"), ctx.now)
    return service.run_jobs(work)


@job("promotions.refunds", schedule=every(minutes=5), scope="global", transaction=False)
def refunds(ctx: JobContext) -> dict[str, object]:
    """Pay owed group-buy refunds through each app's WeChat Pay merchant (idempotent on out_refund_no); apps
    without one keep theirs pending for `huoli promotions refunds` with the deployment merchant."""
    settings = ctx.rt.settings
    base = settings.wechatpay_notify_base_url.rstrip("/")
    with flows.merchants(ctx.rt, base_url=settings.wechatpay_base_url) as merchants:
        return dict(
            flows.process_refunds(
                ctx.rt,
                pay_for=merchants,
                notify_url=lambda app: f"{base}{payments.notify_path(app)}" if base else None,
            )
        )
