"""Loyalty's scheduled jobs (in the app's timezone); each calls the same `service.run_job` as
`huoli loyalty job …` and `POST /admin/loyalty/jobs/{job}`."""

from __future__ import annotations

from huoli.jobs.registry import JobContext, cron, every, job
from huoli.loyalty import service
from huoli.loyalty.context import ctx_for


def _run(ctx: JobContext, name: str) -> dict[str, object]:
    loyalty = ctx_for(ctx.work())
    return service.run_job(
        ctx.session, loyalty, job=name, store=ctx.rt.store if name == "scan-tasks" else None
    )


@job("loyalty.expire", schedule=cron("5 0 * * *"))
def expire(ctx: JobContext) -> dict[str, object]:
    """Expire points lots past their expiry (one `expire` transfer per lot, `points_expired` per member)."""
    return _run(ctx, "expire")


@job("loyalty.warn-expiring", schedule=cron("0 10 * * *"))
def warn_expiring(ctx: JobContext) -> dict[str, object]:
    """Warn members whose points expire within the window (`points_expiring_soon`, once per lot)."""
    return _run(ctx, "warn-expiring")


@job("loyalty.tiers", schedule=cron("30 1 * * *"))
def tiers(ctx: JobContext) -> dict[str, object]:
    """Re-evaluate member tiers (downgrades by the app's rule; upgrades happen at once anyway)."""
    return _run(ctx, "tiers")


@job("loyalty.tier-benefits", schedule=cron("0 2 * * *"))
def tier_benefits(ctx: JobContext) -> dict[str, object]:
    """Issue each tier's monthly coupons and birthday gifts (keyed per month/year: later runs add nothing)."""
    return _run(ctx, "tier-benefits")


@job("loyalty.scan-tasks", schedule=every(minutes=1), queue="primary")
def scan_tasks(ctx: JobContext) -> dict[str, object]:
    """Count task progress and active days from the event log since the last scan."""
    return _run(ctx, "scan-tasks")


@job("loyalty.compact-boards", schedule=every(minutes=1))
def compact_boards(ctx: JobContext) -> dict[str, object]:
    """Fold leaderboard count deltas into one row per score (keeps rank reads short)."""
    return _run(ctx, "compact-boards")
