"""Staff accounts: the rules. Callers own the transaction (flows.py for the public sign-in steps, deps.py's
unit of work for the admin routes).

Passwords are hashed with argon2id (argon2-cffi): memory-hard, so a stolen table is slow to guess from. Session,
invitation and reset tokens are 256-bit random, so their SHA-256 is enough to store (like API keys).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from huoli.apps.models import ApiKey, App
from huoli.apps.schemas import Role
from huoli.errors import Conflict, Forbidden, HuoliError, NotFound, Unauthorized, ValidationFailed
from huoli.pagination import PageParams, paginate
from huoli.staff.models import (
    StaffInvitation,
    StaffLoginThrottle,
    StaffMember,
    StaffResetToken,
    StaffRole,
    StaffSession,
)
from huoli.staff.schemas import (
    AppRole,
    InvitationRead,
    LoginIn,
    SessionRead,
    StaffMe,
    StaffMemberRead,
    TotpEnrolment,
)

SESSION_PREFIX = "hls_"  # distinct from API keys (hlk_): deps.operator tells them apart by it
INVITE_PREFIX = "hli_"
RESET_PREFIX = "hlr_"
SESSION_TTL = timedelta(hours=12)
SESSION_IDLE = timedelta(hours=2)
TOUCH_EVERY = timedelta(minutes=1)  # last-seen is written at most this often per session
INVITE_TTL = timedelta(days=7)
RESET_TTL = timedelta(hours=24)
# Sign-in throttle: after N failures (quiet WINDOW resets the count), locked BASE·2^(failures−N), at most MAX_LOCK.
USER_FAILURES = 5
IP_FAILURES = 20
WINDOW = timedelta(minutes=15)
BASE_LOCK = timedelta(seconds=30)
MAX_LOCK = timedelta(hours=1)
TOTP_ISSUER = "huoli"

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile (t=3, m=64 MiB, p=4)


class TooManyAttempts(HuoliError):
    status_code = 429
    code = "too_many_attempts"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            "too many failed sign-ins: try again later", details={"retry_after_s": retry_after_s}
        )
        self.retry_after_s = retry_after_s


class Gone(HuoliError):
    status_code = 410
    code = "gone"


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_id() -> str:
    return secrets.token_hex(8)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def check_password(stored: str | None, password: str) -> bool:
    """The same argon2 work whether or not the account exists, so timing tells nothing about usernames."""
    try:
        return _hasher.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _invalid_credentials() -> Unauthorized:
    return Unauthorized("wrong username or password", code="invalid_credentials")


# -- sign-in throttle -----------------------------------------------------------------------------------------


def throttle_keys(username: str, ip: str | None) -> list[tuple[str, int]]:
    keys = [(f"u:{username.strip().lower()[:64]}", USER_FAILURES)]
    if ip:
        keys.append((f"ip:{ip[:64]}", IP_FAILURES))
    return keys


def check_not_locked(db: Session, keys: list[tuple[str, int]], now: datetime) -> None:
    """429 while any key is locked; the same for unknown usernames, so a lock reveals nothing."""
    rows = db.scalars(select(StaffLoginThrottle).where(StaffLoginThrottle.key.in_([k for k, _ in keys])))
    waits = [(r.locked_until - now).total_seconds() for r in rows if r.locked_until and r.locked_until > now]
    if waits:
        raise TooManyAttempts(max(1, math.ceil(max(waits))))


def record_failure(db: Session, keys: list[tuple[str, int]], now: datetime) -> None:
    for key, limit in keys:
        row = db.get(StaffLoginThrottle, key, with_for_update=True)
        if row is None:
            row = StaffLoginThrottle(key=key, failures=0, last_failure_at=now)
            db.add(row)
        elif now - row.last_failure_at > WINDOW and not (
            row.locked_until and row.locked_until > now - WINDOW
        ):
            row.failures = 0  # a quiet window since the last failure (and its lock) starts the count again
        row.failures += 1
        row.last_failure_at = now
        if row.failures >= limit:
            row.locked_until = now + min(MAX_LOCK, BASE_LOCK * 2 ** (row.failures - limit))
    db.flush()


def clear_failures(db: Session, username: str) -> None:
    row = db.get(StaffLoginThrottle, f"u:{username.strip().lower()[:64]}")
    if row is not None:
        db.delete(row)


# -- TOTP ------------------------------------------------------------------------------------------------------


def _totp_step(secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The time step `code` belongs to (±1 step for clock drift), if newer than the last one used."""
    totp = pyotp.TOTP(secret)
    base = int(now.timestamp()) // totp.interval
    for step in (base, base - 1, base + 1):
        if (last_step is None or step > last_step) and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


# -- sign-in and sessions --------------------------------------------------------------------------------------


@dataclass
class LoginFailure:
    error: HuoliError
    counts: bool  # a wrong password or code counts towards the lock; a missing code does not


def authenticate(db: Session, body: LoginIn, now: datetime) -> StaffMember | LoginFailure:
    member = db.scalar(select(StaffMember).where(StaffMember.username == body.username.strip().lower()))
    if not check_password(member.password_hash if member else None, body.password) or member is None:
        return LoginFailure(_invalid_credentials(), counts=True)
    if member.totp_secret:
        if not body.totp:
            return LoginFailure(
                Unauthorized("enter the code from your authenticator app", code="totp_required"), counts=False
            )
        step = _totp_step(member.totp_secret, body.totp, now, member.totp_last_step)
        if step is None:
            return LoginFailure(
                Unauthorized("wrong or used authenticator code", code="invalid_totp"), counts=True
            )
        member.totp_last_step = step
    return member


def open_session(
    db: Session, member: StaffMember, now: datetime, *, ip: str | None, user_agent: str | None
) -> tuple[StaffSession, str]:
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    row = StaffSession(
        id=_new_id(),
        staff_id=member.id,
        token_hash=_sha(token),
        created_at=now,
        expires_at=now + SESSION_TTL,
        last_seen_at=now,
        user_agent=(user_agent or "")[:300] or None,
        ip=(ip or "")[:64] or None,
    )
    db.add(row)
    db.flush()
    return row, token


def authenticate_session(db: Session, token: str, now: datetime) -> tuple[StaffSession, StaffMember]:
    row = db.scalar(select(StaffSession).where(StaffSession.token_hash == _sha(token)))
    if row is None:
        raise Unauthorized("invalid session token", code="invalid_session")
    if row.revoked_at is not None:
        raise Unauthorized("session revoked: sign in again", code="revoked_session")
    if row.expires_at <= now or row.last_seen_at + SESSION_IDLE <= now:
        raise Unauthorized("session expired: sign in again", code="expired_session")
    member = db.get(StaffMember, row.staff_id)
    if member is None:
        raise Unauthorized("invalid session token", code="invalid_session")
    return row, member


def needs_touch(row: StaffSession, now: datetime) -> bool:
    return now - row.last_seen_at >= TOUCH_EVERY


def touch(db: Session, session_id: str, now: datetime, ip: str | None) -> None:
    values: dict[str, object] = {"last_seen_at": now}
    if ip:
        values["ip"] = ip[:64]
    db.execute(update(StaffSession).where(StaffSession.id == session_id).values(**values))


def end_session(db: Session, token: str, now: datetime) -> None:
    """Logging out an unknown, expired or already revoked token is not an error."""
    db.execute(
        update(StaffSession)
        .where(StaffSession.token_hash == _sha(token), StaffSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def apps_of(db: Session, staff_id: str) -> list[AppRole]:
    rows = db.execute(
        select(StaffRole.app_id, App.name, StaffRole.role)
        .join(App, App.id == StaffRole.app_id)
        .where(StaffRole.staff_id == staff_id)
        .order_by(StaffRole.app_id)
    )
    return [AppRole(app_id=a, name=n, role=Role(r)) for a, n, r in rows]


def me(db: Session, member: StaffMember) -> StaffMe:
    return StaffMe(
        id=member.id,
        username=member.username,
        totp_enabled=member.totp_secret is not None,
        apps=apps_of(db, member.id),
    )


def role_in(db: Session, staff_id: str, app_id: str | None) -> tuple[str, Role]:
    """The app a staff request acts on and the member's role there. Without an app chosen, their only app."""
    if app_id is None:
        rows = list(
            db.execute(select(StaffRole.app_id, StaffRole.role).where(StaffRole.staff_id == staff_id))
        )
        if len(rows) == 1:
            return rows[0][0], Role(rows[0][1])
        if not rows:
            raise Forbidden("you are not a member of any app", code="not_a_member")
        raise ValidationFailed(
            "choose an app: send X-Huoli-App-Id",
            code="app_required",
            details=[{"field": "X-Huoli-App-Id", "message": "a staff session needs the app it acts on"}],
        )
    role = db.scalar(select(StaffRole.role).where(StaffRole.staff_id == staff_id, StaffRole.app_id == app_id))
    if role is None:  # an unknown app and one they don't belong to answer alike
        raise Forbidden("you are not a member of this app", code="not_a_member")
    return app_id, Role(role)


def _session_read(row: StaffSession, current: str | None) -> SessionRead:
    return SessionRead(
        id=row.id,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        expires_at=row.expires_at,
        user_agent=row.user_agent,
        ip=row.ip,
        current=row.id == current,
    )


def sessions_of(db: Session, staff_id: str, now: datetime, current: str | None = None) -> list[SessionRead]:
    """Live sessions, newest first."""
    rows = db.scalars(
        select(StaffSession)
        .where(
            StaffSession.staff_id == staff_id,
            StaffSession.revoked_at.is_(None),
            StaffSession.expires_at > now,
            StaffSession.last_seen_at > now - SESSION_IDLE,
        )
        .order_by(StaffSession.created_at.desc(), StaffSession.id)
    )
    return [_session_read(r, current) for r in rows]


def revoke_session(db: Session, staff_id: str, session_id: str, now: datetime) -> SessionRead:
    row = db.get(StaffSession, session_id)
    if row is None or row.staff_id != staff_id:
        raise NotFound("no such session", code="unknown_session")
    if row.revoked_at is None:
        row.revoked_at = now
    return _session_read(row, None)


def revoke_all(db: Session, staff_id: str, now: datetime, *, keep: str | None = None) -> int:
    q = update(StaffSession).where(StaffSession.staff_id == staff_id, StaffSession.revoked_at.is_(None))
    if keep:
        q = q.where(StaffSession.id != keep)
    return int(db.execute(q.values(revoked_at=now)).rowcount or 0)  # type: ignore[attr-defined]


# -- members of the app (an app-scoped session: StaffRole queries see this app's rows only) --------------------


def _membership(db: Session, staff_id: str) -> tuple[StaffRole, StaffMember]:
    role = db.scalar(select(StaffRole).where(StaffRole.staff_id == staff_id))
    member = db.get(StaffMember, staff_id) if role is not None else None
    if role is None or member is None:
        raise NotFound(f"no staff member {staff_id!r} in this app", code="unknown_staff")
    return role, member


def _member_read(role: StaffRole, member: StaffMember) -> StaffMemberRead:
    return StaffMemberRead(
        id=member.id,
        username=member.username,
        role=Role(role.role),
        totp_enabled=member.totp_secret is not None,
        joined_at=role.created_at,
    )


def members_page(db: Session, page: PageParams) -> tuple[list[StaffMemberRead], str | None]:
    roles, cursor = paginate(db, select(StaffRole), page, order=[StaffRole.id.asc()])
    members = {
        m.id: m
        for m in db.scalars(select(StaffMember).where(StaffMember.id.in_([r.staff_id for r in roles])))
    }
    return [_member_read(r, members[r.staff_id]) for r in roles if r.staff_id in members], cursor


def _owners_left(db: Session, app_id: str, without: str) -> int:
    staff = db.scalar(
        select(func.count())
        .select_from(StaffRole)
        .where(StaffRole.role == Role.owner.value, StaffRole.staff_id != without)
    )
    keys = db.scalar(
        select(func.count())
        .select_from(ApiKey)
        .where(ApiKey.role == Role.owner.value, ApiKey.revoked_at.is_(None))
    )
    return int(staff or 0) + int(keys or 0)


def set_role(db: Session, app_id: str, staff_id: str, role: Role) -> StaffMemberRead:
    row, member = _membership(db, staff_id)
    if row.role == Role.owner.value and role != Role.owner and not _owners_left(db, app_id, staff_id):
        raise Conflict("the app's last owner: make someone else owner first", code="last_owner")
    row.role = role.value
    db.flush()
    return _member_read(row, member)


def remove(db: Session, app_id: str, staff_id: str) -> StaffMemberRead:
    """Out of this app at once (their sessions stop resolving to it); their account stays for other apps."""
    row, member = _membership(db, staff_id)
    if row.role == Role.owner.value and not _owners_left(db, app_id, staff_id):
        raise Conflict("the app's last owner: make someone else owner first", code="last_owner")
    out = _member_read(row, member)
    db.delete(row)
    db.flush()
    return out


def revoke_member_sessions(db: Session, staff_id: str, now: datetime) -> int:
    _membership(db, staff_id)
    return revoke_all(db, staff_id, now)


def add_member(
    db: Session, *, app_id: str, username: str, password: str, role: Role, now: datetime
) -> StaffMember:
    """A new account with a role in the app (the CLI's first owner). An existing username is refused."""
    if db.scalar(select(StaffMember.id).where(StaffMember.username == username)) is not None:
        raise Conflict(
            "username taken",
            code="username_taken",
            details=[{"field": "username", "message": "this username is taken: choose another"}],
        )
    member = StaffMember(
        id=_new_id(), username=username, password_hash=hash_password(password), created_at=now
    )
    db.add(member)
    db.add(StaffRole(app_id=app_id, staff_id=member.id, role=role.value, created_at=now))
    db.flush()
    return member


# -- invitations -----------------------------------------------------------------------------------------------


def _invitation_read(row: StaffInvitation) -> InvitationRead:
    return InvitationRead(
        id=row.id,
        role=Role(row.role),
        note=row.note,
        created_by=row.created_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        accepted_at=row.accepted_at,
        accepted_by=row.accepted_by,
        revoked_at=row.revoked_at,
    )


def invite(
    db: Session, *, role: Role, note: str | None, by: str, now: datetime
) -> tuple[InvitationRead, str]:
    token = INVITE_PREFIX + secrets.token_urlsafe(32)
    row = StaffInvitation(
        id=_new_id(),
        token_hash=_sha(token),
        role=role.value,
        note=note,
        created_by=by,
        created_at=now,
        expires_at=now + INVITE_TTL,
    )
    db.add(row)
    db.flush()
    return _invitation_read(row), token


def invitations_page(db: Session, page: PageParams) -> tuple[list[InvitationRead], str | None]:
    rows, cursor = paginate(
        db,
        select(StaffInvitation),
        page,
        order=[StaffInvitation.created_at.desc(), StaffInvitation.id.desc()],
    )
    return [_invitation_read(r) for r in rows], cursor


def revoke_invitation(db: Session, invitation_id: str, now: datetime) -> InvitationRead:
    row = db.get(StaffInvitation, invitation_id)
    if row is None:
        raise NotFound("no such invitation", code="unknown_invitation")
    if row.accepted_at is None and row.revoked_at is None:
        row.revoked_at = now
    return _invitation_read(row)


def accept_invitation(
    db: Session, token: str, *, username: str, password: str, now: datetime
) -> tuple[StaffMember, str, Role]:
    """Claim the invitation with one conditional UPDATE, so of two concurrent accepts exactly one wins; then a
    new account, or an existing one (its own password) joins the app. Unscoped session: the token names the app."""
    row = db.scalar(select(StaffInvitation).where(StaffInvitation.token_hash == _sha(token)))
    if row is None or row.revoked_at is not None:
        raise NotFound("this invitation link is not valid", code="invalid_invitation")
    if row.expires_at <= now:
        raise Gone("this invitation has expired: ask for a new one", code="invitation_expired")
    claimed = db.execute(
        update(StaffInvitation)
        .where(StaffInvitation.id == row.id, StaffInvitation.accepted_at.is_(None))
        .values(accepted_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if not claimed:
        raise Conflict("this invitation has been used already", code="invitation_used")
    db.refresh(row)
    member = db.scalar(select(StaffMember).where(StaffMember.username == username))
    if member is None:
        if len(password) < 10:
            raise ValidationFailed(
                "password too short", details=[{"field": "password", "message": "at least 10 characters"}]
            )
        member = StaffMember(
            id=_new_id(), username=username, password_hash=hash_password(password), created_at=now
        )
        db.add(member)
    elif not check_password(member.password_hash, password):
        raise Unauthorized(
            "this username exists: enter its password to join, or choose another username",
            code="username_taken",
            details=[
                {"field": "username", "message": "taken: enter that account's password, or choose another"}
            ],
        )
    elif db.scalar(
        select(StaffRole.id).where(StaffRole.staff_id == member.id, StaffRole.app_id == row.app_id)
    ):
        raise Conflict("you are a member of this app already", code="already_member")
    db.add(StaffRole(app_id=row.app_id, staff_id=member.id, role=row.role, created_at=now))
    row.accepted_by = member.id
    db.flush()
    return member, row.app_id, Role(row.role)


# -- password reset --------------------------------------------------------------------------------------------


def issue_reset(
    db: Session, *, staff_id: str, by: str, clear_totp: bool, now: datetime
) -> tuple[str, datetime]:
    _, member = _membership(db, staff_id)
    db.execute(  # one live reset per member: a new one replaces the earlier
        update(StaffResetToken)
        .where(StaffResetToken.staff_id == staff_id, StaffResetToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    token = RESET_PREFIX + secrets.token_urlsafe(32)
    row = StaffResetToken(
        id=_new_id(),
        token_hash=_sha(token),
        staff_id=staff_id,
        created_by=by,
        created_at=now,
        expires_at=now + RESET_TTL,
    )
    db.add(row)
    if clear_totp:
        member.totp_secret = member.totp_pending = None
    db.flush()
    return token, row.expires_at


def reset_password(db: Session, token: str, password: str, now: datetime) -> tuple[StaffMember, str]:
    """Use a reset token once: the new password, every session of the member revoked, their lock lifted."""
    row = db.scalar(select(StaffResetToken).where(StaffResetToken.token_hash == _sha(token)))
    if row is None:
        raise NotFound("this reset link is not valid", code="invalid_reset_token")
    if row.expires_at <= now and row.used_at is None:
        raise Gone("this reset link has expired: ask an owner for a new one", code="reset_token_expired")
    used = db.execute(
        update(StaffResetToken)
        .where(StaffResetToken.id == row.id, StaffResetToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if not used:
        raise Conflict("this reset link has been used already", code="reset_token_used")
    member = db.get(StaffMember, row.staff_id)
    if member is None:
        raise NotFound("this reset link is not valid", code="invalid_reset_token")
    member.password_hash = hash_password(password)
    revoke_all(db, member.id, now)
    clear_failures(db, member.username)
    db.flush()
    return member, row.app_id


# -- TOTP enrolment (the signed-in member's own) ---------------------------------------------------------------


def member(db: Session, staff_id: str) -> StaffMember:
    found = db.get(StaffMember, staff_id)
    if found is None:
        raise NotFound("no such staff member", code="unknown_staff")
    return found


def totp_enrol(db: Session, staff_id: str) -> TotpEnrolment:
    m = member(db, staff_id)
    if m.totp_secret:
        raise Conflict("a second factor is on already: disable it first", code="totp_enabled")
    m.totp_pending = pyotp.random_base32()
    db.flush()
    uri = pyotp.TOTP(m.totp_pending).provisioning_uri(name=m.username, issuer_name=TOTP_ISSUER)
    return TotpEnrolment(secret=m.totp_pending, uri=uri)


def _code_error() -> ValidationFailed:
    return ValidationFailed(
        "wrong authenticator code",
        code="invalid_totp",
        details=[{"field": "code", "message": "wrong or used code: enter the current one"}],
    )


def totp_confirm(db: Session, staff_id: str, code: str, now: datetime) -> None:
    m = member(db, staff_id)
    if not m.totp_pending:
        raise Conflict("start the enrolment first", code="totp_not_enrolling")
    step = _totp_step(m.totp_pending, code, now, None)
    if step is None:
        raise _code_error()
    m.totp_secret, m.totp_pending, m.totp_last_step = m.totp_pending, None, step
    db.flush()


def totp_disable(db: Session, staff_id: str, code: str, now: datetime) -> None:
    m = member(db, staff_id)
    if not m.totp_secret:
        raise Conflict("no second factor is on", code="totp_not_enabled")
    if _totp_step(m.totp_secret, code, now, m.totp_last_step) is None:
        raise _code_error()
    m.totp_secret = m.totp_pending = m.totp_last_step = None
    db.flush()
