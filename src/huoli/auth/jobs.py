"""Auth's daily prune (also `huoli auth prune`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from huoli.auth import service
from huoli.jobs.registry import JobContext, cron, job
from huoli.settings import Settings


def prune_expired(db: Session, *, now: datetime, settings: Settings) -> dict[str, int]:
    revocations = service.prune_revocations(db=db, now=now)
    # A signed timestamp may lead the server's clock by the skew too: a nonce matters for twice the skew.
    nonces = service.prune_nonces(db=db, older_than=now - 2 * settings.signature_skew)
    return {"revocations": revocations, "nonces": nonces}


@job("auth.prune", schedule=cron("0 4 * * *"), scope="global")
def prune(ctx: JobContext) -> dict[str, object]:
    """Delete expired session revocations and server nonces past the signature window."""
    return dict(prune_expired(ctx.session, now=ctx.now, settings=ctx.rt.settings))
