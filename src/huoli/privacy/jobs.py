"""The daily retention sweep (also `huoli privacy retention`): events and WeChat session keys past their
retention periods (event_retention_days, wx_session_key_retention_days)."""

from __future__ import annotations

from huoli.jobs.registry import JobContext, cron, job
from huoli.privacy import retention


@job("privacy.retention", schedule=cron("15 3 * * *"), scope="global", queue="primary", transaction=False)
def apply_retention(ctx: JobContext) -> dict[str, object]:
    """Delete events and WeChat session keys past their retention periods (idempotent: a rerun finds less)."""
    return dict(retention.apply_retention(ctx.rt, now=ctx.now))
