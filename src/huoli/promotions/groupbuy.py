"""Group buying (拼团): members join only with a payment the merchant backend confirms.

State machine of a group: open → succeeded (full, or filled by policy at the deadline) | failed (deadline
missed; every member refunded). Joins and the deadline job both change the group through conditional
UPDATEs of its one row (`… WHERE status = 'open' …`), so whichever commits first decides and the other
sees the result: a payment that arrives after the group closed or filled is kept as 'rejected' and
refunded. Filler members are virtual: they are a count, never a payment or a commission.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from huoli.errors import Conflict, NotFound
from huoli.promotions import compliance, lifecycle
from huoli.promotions.common import event_key, get_named, new_id
from huoli.promotions.models import Group, GroupCampaign, GroupMember, Refund
from huoli.promotions.schemas import GroupCampaignIn
from huoli.wechat.pay import RefundNotice
from huoli.work import Work


def create_campaign(work: Work, spec: GroupCampaignIn) -> GroupCampaign:
    compliance.enforce(compliance.check_group(spec))
    db = work.db
    if get_named(db, GroupCampaign, spec.id) is not None:
        raise Conflict(f"group campaign {spec.id!r} exists", code="exists")
    row = GroupCampaign(
        id=spec.id,
        app_id=work.app_id,
        name=spec.name,
        item_id=spec.item_id,
        original_price_fen=spec.original_price_fen,
        group_price_fen=spec.group_price_fen,
        leader_price_fen=spec.leader_price_fen if spec.leader_price_fen is not None else spec.group_price_fen,
        size=spec.size,
        duration_s=spec.duration_s,
        fill_policy=spec.fill_policy,
        fill_min_real=spec.fill_min_real,
        active=True,
        starts_at=spec.starts_at,
        ends_at=spec.ends_at,
        rules_text=compliance.rules_text("group", spec),
        created_at=work.now,
    )
    db.add(row)
    db.flush()
    return row


def get_campaign(db: Session, campaign_id: str) -> GroupCampaign:
    c = get_named(db, GroupCampaign, campaign_id)
    if c is None:
        raise NotFound("group campaign not found")
    return c


def get_group(db: Session, group_id: str) -> Group:
    g = db.get(Group, group_id)
    if g is None:
        raise NotFound("group not found")
    return g


def _event(work: Work, name: str, key: str, user: str | None, props: dict[str, object]) -> None:
    work.emit(name, key=event_key(name, key), user_id=user, properties=props)


def _owe_refund(work: Work, member: GroupMember, reason: str) -> None:
    """Record the refund owed for a member; the refund job pays it. One refund per member, ever."""
    now = work.now
    work.db.add(
        Refund(
            id=new_id("rf"),
            app_id=work.app_id,
            out_refund_no=f"RF{member.id}",  # stable: a retried refund reuses it (WeChat Pay idempotency)
            out_trade_no=member.out_trade_no,
            refund_fen=member.paid_fen,
            total_fen=member.paid_fen,
            reason=reason,
            source=member.id,
            status="pending",
            attempts=0,
            created_at=now,
            updated_at=now,
        )
    )
    if member.status == "joined":
        member.status = "refunding"


def join(
    work: Work, *, campaign_id: str, group_id: str | None, user_id: str, out_trade_no: str, paid_fen: int
) -> tuple[GroupMember, Group | None]:
    """A paid join confirmed by the merchant backend (signed call). Idempotent on out_trade_no.

    Opens a group when group_id is None. A join that can't be honoured is recorded and refunded, not lost.
    """
    db, app_id, now = work.db, work.app_id, work.now
    seen = db.scalars(select(GroupMember).where(GroupMember.out_trade_no == out_trade_no)).first()
    if seen is not None:
        return seen, db.get(Group, seen.group_id)
    campaign = get_named(db, GroupCampaign, campaign_id)
    if campaign is None:
        raise NotFound(f"group campaign {campaign_id!r} not found")
    member = GroupMember(
        id=new_id("gbm"),
        app_id=app_id,
        group_id=group_id or "",
        user_id=user_id,
        is_leader=group_id is None,
        out_trade_no=out_trade_no,
        paid_fen=paid_fen,
        status="joined",
        joined_at=now,
    )
    expected = campaign.leader_price_fen if group_id is None else campaign.group_price_fen
    if group_id is None:
        # a new group only while the campaign runs; groups already forming may still fill
        running = lifecycle.state(campaign, now) == "running"
        if not running or paid_fen != expected:
            return _reject(work, member, None, "amount_mismatch" if running else "activity_not_running"), None
        group = Group(
            id=new_id("grp"),
            app_id=app_id,
            campaign_id=campaign.id,
            leader_user_id=user_id,
            size=campaign.size,
            member_count=1,
            filled_count=0,
            status="open",
            opened_at=now,
            deadline=now + timedelta(seconds=campaign.duration_s),
        )
        db.add(group)
        member.group_id = group.id
        db.add(member)
        db.flush()
        _event(
            work,
            "group_opened",
            group.id,
            user_id,
            {
                "group_id": group.id,
                "campaign_id": campaign.id,
                "order_id": out_trade_no,
                "amount_fen": paid_fen,
            },
        )
        return member, group
    found = db.get(Group, group_id)
    if found is None or found.campaign_id != campaign.id:
        raise NotFound(f"group {group_id!r} not found")
    group = found
    if paid_fen != expected:
        return _reject(work, member, group, "amount_mismatch"), group
    # The conditional increment is the seat: it serialises with other joins and with the deadline job.
    seat = db.execute(
        update(Group)
        .where(
            Group.id == group.id,
            Group.status == "open",
            Group.member_count < Group.size,
            Group.deadline > now,
        )
        .values(member_count=Group.member_count + 1)
        .returning(Group.member_count, Group.size)
    ).first()
    db.refresh(group)
    if seat is None:
        return _reject(
            work, member, group, f"group_{group.status}" if group.status != "open" else "group_full_or_late"
        ), group
    dup = db.scalars(
        select(GroupMember.id).where(
            GroupMember.group_id == group.id, GroupMember.user_id == user_id, GroupMember.status == "joined"
        )
    ).first()
    if dup is not None:
        # We hold the group's row lock from the UPDATE above, so giving the seat back is race-free.
        db.execute(update(Group).where(Group.id == group.id).values(member_count=Group.member_count - 1))
        db.refresh(group)
        return _reject(work, member, group, "already_member"), group
    db.add(member)
    db.flush()
    _event(
        work,
        "group_joined",
        member.id,
        user_id,
        {
            "group_id": group.id,
            "campaign_id": campaign.id,
            "order_id": out_trade_no,
            "amount_fen": paid_fen,
            "member_count": seat[0],
        },
    )
    if seat[0] == seat[1]:
        _succeed(work, group, filled=0)
    return member, group


def _reject(work: Work, member: GroupMember, group: Group | None, reason: str) -> GroupMember:
    member.status = "rejected"
    work.db.add(member)
    work.db.flush()
    _owe_refund(work, member, reason)
    _event(
        work,
        "group_join_rejected",
        member.id,
        member.user_id,
        {"group_id": member.group_id, "order_id": member.out_trade_no, "reason": reason},
    )
    return member


def _succeed(work: Work, group: Group, *, filled: int) -> bool:
    got = work.db.execute(
        update(Group)
        .where(Group.id == group.id, Group.status == "open")
        .values(status="succeeded", closed_at=work.now, filled_count=filled)
        .returning(Group.id)
    ).first()
    if got is not None:
        work.db.refresh(group)
        _event(
            work,
            "group_succeeded",
            group.id,
            group.leader_user_id,
            {
                "group_id": group.id,
                "campaign_id": group.campaign_id,
                "members": group.member_count,
                "filled": filled,
            },
        )
    return got is not None


def close_due(work: Work, *, limit: int = 500) -> dict[str, int]:
    """Deadline job: every open group past its deadline succeeds by fill policy or fails (and owes refunds).

    Safe to run concurrently and repeatedly: each group closes through one conditional UPDATE.
    """
    db, now = work.db, work.now
    out = {"failed": 0, "filled": 0}
    due = db.scalars(
        select(Group)
        .where(Group.status == "open", Group.deadline <= now)
        .order_by(Group.deadline)
        .limit(limit)
    ).all()
    for group in due:
        campaign = get_named(db, GroupCampaign, group.campaign_id, app_id=group.app_id)
        assert campaign is not None
        # Lock-and-read the row so the fill decision uses the member count that the join race settled on.
        current = db.execute(
            update(Group)
            .where(Group.id == group.id, Group.status == "open")
            .values(status="open")
            .returning(Group.member_count)
        ).first()
        if current is None:
            continue
        if campaign.fill_policy == "fill" and current[0] >= campaign.fill_min_real:
            if _succeed(work, group, filled=group.size - current[0]):
                out["filled"] += 1
            continue
        failed = db.execute(
            update(Group)
            .where(Group.id == group.id, Group.status == "open")
            .values(status="failed", closed_at=now)
            .returning(Group.id)
        ).first()
        if failed is None:
            continue
        out["failed"] += 1
        members = db.scalars(
            select(GroupMember).where(GroupMember.group_id == group.id, GroupMember.status == "joined")
        ).all()
        for m in members:
            _owe_refund(work, m, "group_failed")
        _event(
            work,
            "group_failed",
            group.id,
            group.leader_user_id,
            {"group_id": group.id, "campaign_id": group.campaign_id, "members": len(members)},
        )
    return out


# -- refunds ------------------------------------------------------------------------------------------


def settle(work: Work, row: Refund, outcome: str, refund_id: str | None) -> str:
    """Apply WeChat's word on a refund (an answer, a query or a notification); idempotent. Returns the
    counter it belongs to: succeeded, processing or failed."""
    if refund_id:
        row.refund_id = refund_id
    if outcome == "SUCCESS":
        if row.status != "succeeded":
            row.status = "succeeded"
            member = work.db.get(GroupMember, row.source)
            if member is not None:
                member.status = "refunded"
            work.emit(
                "promo_refund_succeeded",
                key=event_key("promo_refund_succeeded", row.out_refund_no),
                ts=row.updated_at,
                user_id=member.user_id if member else None,
                properties={"amount_fen": row.refund_fen, "order_id": row.out_trade_no, "reason": row.reason},
            )
        return "succeeded"
    if outcome == "PROCESSING":
        if row.status != "succeeded":  # a late answer never undoes a success a notification brought
            row.status = "processing"
        return "processing"
    # CLOSED / ABNORMAL / non-retryable errors need an operator (e.g. refund to a bank card).
    if row.status != "succeeded":
        row.status = "failed"
    return "failed"


def refund_for_notice(db: Session, notice: RefundNotice) -> Refund | None:
    """The refund a verified notification is about; None when no refund of ours has that out_refund_no (for
    that order, amount and merchant). A session scoped to an app finds only that app's refunds."""
    row = db.scalars(select(Refund).where(Refund.out_refund_no == notice.out_refund_no)).first()
    if row is None or row.out_trade_no != notice.out_trade_no or row.refund_fen != notice.refund_fen:
        return None
    if notice.mchid and row.mch_id and notice.mchid != row.mch_id:
        return None  # another merchant's refund that happens to share the number: not this one
    return row


def apply_refund_notice(work: Work, row: Refund, notice: RefundNotice) -> str:
    """WeChat Pay's refund notification on its refund (refund_for_notice): the same outcome as a query
    (idempotent: WeChat may send it several times)."""
    row.updated_at = work.now
    row.last_error = None if notice.status == "SUCCESS" else f"notification: {notice.event_type}"
    return settle(work, row, notice.status, notice.refund_id)
