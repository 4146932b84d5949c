"""Bargaining (砍价): 'invite N friends to buy at the floor price', with every cut fixed when it starts.

The platform forbids random or unstated outcomes, so the number of helpers is shown up front and the cuts
are a deterministic function of (price − floor, N) — the k-th helper always cuts the same amount, and the
cuts sum exactly to price − floor. One help per helper per bargain is a unique key; the seat for the k-th
cut is a conditional increment of the bargain's helped_count.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from huoli.db import insert_or_ignore
from huoli.errors import Conflict, HuoliError, NotFound
from huoli.promotions import compliance, lifecycle
from huoli.promotions.common import dumps, event_key, get_named, loads, new_id
from huoli.promotions.models import Bargain, BargainCampaign, BargainHelp
from huoli.promotions.schemas import BargainCampaignIn
from huoli.work import Work


def allocate_cuts(total_fen: int, helpers: int) -> list[int]:
    """Split total_fen into `helpers` positive cuts, front-loaded (weights N, N−1, …, 1), summing exactly.

    Early helpers see bigger cuts (the familiar shape) but nothing is random: same inputs, same cuts.
    """
    if helpers < 1 or total_fen < helpers:
        raise ValueError("need total_fen >= helpers >= 1")
    weights = list(range(helpers, 0, -1))
    spare = total_fen - helpers  # every helper first gets 1 fen, so no cut is ever 0
    wsum = sum(weights)
    cuts = [1 + spare * w // wsum for w in weights]
    # Hand the rounding remainder out one fen at a time from the first helper: keeps the order non-increasing.
    for i in range(total_fen - sum(cuts)):
        cuts[i % helpers] += 1
    return cuts


def create_campaign(work: Work, spec: BargainCampaignIn) -> BargainCampaign:
    compliance.enforce(compliance.check_bargain(spec))
    db = work.db
    if get_named(db, BargainCampaign, spec.id) is not None:
        raise Conflict(f"bargain campaign {spec.id!r} exists", code="exists")
    row = BargainCampaign(
        id=spec.id,
        app_id=work.app_id,
        name=spec.name,
        item_id=spec.item_id,
        price_fen=spec.price_fen,
        floor_fen=spec.floor_fen,
        helpers_needed=spec.helpers_needed,
        duration_s=spec.duration_s,
        active=True,
        starts_at=spec.starts_at,
        ends_at=spec.ends_at,
        rules_text=compliance.rules_text("bargain", spec),
        created_at=work.now,
    )
    db.add(row)
    db.flush()
    return row


def get(db: Session, bargain_id: str) -> Bargain:
    b = db.get(Bargain, bargain_id)
    if b is None:
        raise NotFound("bargain not found")
    return b


def campaign_rules_text(db: Session, b: Bargain) -> str:
    """The rule text of the bargain's campaign (shown to the owner and every helper)."""
    c = get_named(db, BargainCampaign, b.campaign_id, app_id=b.app_id)
    return c.rules_text if c else ""


def start(work: Work, *, campaign_id: str, user_id: str) -> Bargain:
    """Start (or return the user's existing) bargain; the cuts are fixed here, once."""
    db, now = work.db, work.now
    existing = db.scalars(
        select(Bargain).where(Bargain.campaign_id == campaign_id, Bargain.user_id == user_id)
    ).first()
    if existing is not None:
        return existing
    c = get_named(db, BargainCampaign, campaign_id)
    if c is None:
        raise NotFound(f"bargain campaign {campaign_id!r} not found")
    lifecycle.require_running(c, "bargain-campaigns", now)
    bid = new_id("brg")
    insert_or_ignore(
        db,
        Bargain,
        {
            "id": bid,
            "app_id": work.app_id,
            "campaign_id": c.id,
            "user_id": user_id,
            "price_fen": c.price_fen,
            "floor_fen": c.floor_fen,
            "helpers_needed": c.helpers_needed,
            "cuts": dumps(allocate_cuts(c.price_fen - c.floor_fen, c.helpers_needed)),
            "helped_count": 0,
            "current_price_fen": c.price_fen,
            "status": "active",
            "started_at": now,
            "expires_at": now + timedelta(seconds=c.duration_s),
        },
    )
    row = db.scalars(select(Bargain).where(Bargain.campaign_id == c.id, Bargain.user_id == user_id)).one()
    if row.id == bid:
        work.emit(
            "bargain_started",
            key=event_key("bargain_started", bid),
            user_id=user_id,
            properties={"item_id": c.item_id, "bargain_id": bid, "helpers_needed": c.helpers_needed},
        )
    return row


def help_bargain(work: Work, *, bargain_id: str, helper_user_id: str) -> BargainHelp:
    """A friend helps: they take the next pre-allocated cut. Raises for self-help, repeats, done or expired."""
    db, now = work.db, work.now
    b = db.get(Bargain, bargain_id)
    if b is None:
        raise NotFound(f"bargain {bargain_id!r} not found")
    if b.user_id == helper_user_id:
        raise HuoliError("you can't help your own bargain", code="self_help")
    campaign = get_named(db, BargainCampaign, b.campaign_id)
    if campaign is not None:  # a paused or ended campaign takes no more help
        lifecycle.require_running(campaign, "bargain-campaigns", now)
    seat = db.execute(
        update(Bargain)
        .where(
            Bargain.id == b.id,
            Bargain.status == "active",
            Bargain.helped_count < Bargain.helpers_needed,
            Bargain.expires_at > now,
        )
        .values(helped_count=Bargain.helped_count + 1)
        .returning(Bargain.helped_count)
    ).first()
    if seat is None:
        db.refresh(b)
        code = "bargain_expired" if b.expires_at <= now or b.status == "expired" else "bargain_completed"
        raise Conflict("this bargain no longer takes help", code=code)
    seq = seat[0]
    cut = loads(b.cuts)[seq - 1]
    if not insert_or_ignore(
        db,
        BargainHelp,
        {
            "id": new_id("bh"),
            "app_id": work.app_id,
            "bargain_id": b.id,
            "helper_user_id": helper_user_id,
            "seq": seq,
            "cut_fen": cut,
            "helped_at": now,
        },
    ):
        raise Conflict("you already helped this bargain", code="already_helped")  # rolls back the seat too
    done = seq == b.helpers_needed
    db.execute(
        update(Bargain)
        .where(Bargain.id == b.id)
        .values(
            current_price_fen=Bargain.current_price_fen - cut,
            **({"status": "completed"} if done else {}),
        )
    )
    work.emit(
        "bargain_helped",
        key=event_key("bargain_helped", f"{b.id}:{seq}"),
        user_id=helper_user_id,
        properties={"bargain_id": b.id, "seq": seq, "cut_fen": cut, "owner_id": b.user_id},
    )
    if done:
        work.emit(
            "bargain_completed",
            key=event_key("bargain_completed", b.id),
            user_id=b.user_id,
            properties={"bargain_id": b.id, "price_fen": b.floor_fen},
        )
    h = db.scalars(select(BargainHelp).where(BargainHelp.bargain_id == b.id, BargainHelp.seq == seq)).one()
    return h


def expire(work: Work) -> int:
    """Job: active bargains past expiry stop taking help (the owner keeps no partial price)."""
    rows = work.db.execute(
        update(Bargain)
        .where(Bargain.status == "active", Bargain.expires_at <= work.now)
        .values(status="expired")
        .returning(Bargain.id, Bargain.user_id, Bargain.helped_count)
    ).all()
    for bid, uid, helped in rows:
        work.emit(
            "bargain_expired",
            key=event_key("bargain_expired", bid),
            user_id=uid,
            properties={"bargain_id": bid, "helped": helped},
        )
    return len(rows)
