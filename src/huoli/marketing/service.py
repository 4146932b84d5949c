"""The marketing calendar: every scheduled activity of promotions and loyalty on one timeline, the clashes an
operator should know about before they happen, festival plans applied in one unit of work, and per-activity
results (read from promotions).

Activities are plain dicts here ({kind, id, name, state, starts_at, ends_at, item_ids, …}); the warning rules
are pure functions of them, the member days and the festival days, so they are tested on plain data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from itertools import combinations
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from huoli.catalog import service as catalog
from huoli.errors import HuoliError, ValidationFailed
from huoli.loyalty import service as loyalty
from huoli.marketing import festivals as fest
from huoli.promotions import service as promotions
from huoli.work import Work

MAX_RANGE_DAYS = 92  # a quarter: the calendar's widest view, and a bound on what one request reads

# Which console page shows each kind (the promotions and loyalty domains' page ids).
PAGES = {
    "coupon-templates": "promo-coupons",
    "gift-packs": "promo-coupons",
    "flash-sessions": "promo-flash",
    "group-campaigns": "promo-groupbuy",
    "bargain-campaigns": "promo-bargain",
    "referral-programs": "promo-referral",
    "member-day": "loyalty-tiers",
    "points-mall": "loyalty-mall",
    "task": "loyalty-tasks",
    "checkin": "loyalty-checkin",
}
# Kinds that lower an item's price: two of them on one item at once stack or fight over the same margin.
DISCOUNTING = frozenset({"coupon-templates", "flash-sessions", "group-campaigns", "bargain-campaigns"})
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)  # an open start or end (always-on), a day inside datetime's range
LATEST = datetime(9999, 12, 30, tzinfo=UTC)


# -- range -------------------------------------------------------------------------------------------------


def parse_range(start: str | None, end: str | None) -> tuple[date, date]:
    """ISO local days, end ≥ start, at most MAX_RANGE_DAYS days; 422 naming the field otherwise."""
    errors: list[dict[str, str]] = []
    days: dict[str, date] = {}
    for name, value in (("start", start), ("end", end)):
        if not value:
            errors.append({"field": name, "message": "required: a day as YYYY-MM-DD"})
            continue
        try:
            days[name] = date.fromisoformat(value)
        except ValueError:
            errors.append({"field": name, "message": "expected YYYY-MM-DD, a real day (e.g. 2026-12-07)"})
    if not errors:
        if days["end"] < days["start"]:
            errors.append({"field": "end", "message": "must not be before start"})
        elif (days["end"] - days["start"]).days + 1 > MAX_RANGE_DAYS:
            errors.append({"field": "end", "message": f"the range may span at most {MAX_RANGE_DAYS} days"})
    if errors:
        raise ValidationFailed("invalid date range", details=errors)
    return days["start"], days["end"]


# -- warnings (pure) ---------------------------------------------------------------------------------------


def _span(a: dict[str, Any]) -> tuple[datetime, datetime]:
    """An activity's time span; a missing end is open (always-on), a missing start began long ago."""
    return a.get("starts_at") or EARLIEST, a.get("ends_at") or LATEST


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> tuple[datetime, datetime] | None:
    (a0, a1), (b0, b1) = _span(a), _span(b)
    lo, hi = max(a0, b0), min(a1, b1)
    return (lo, hi) if lo < hi else None


def _local_days(lo: datetime, hi: datetime, tz: ZoneInfo, clip: tuple[date, date]) -> list[date]:
    """The local days [lo, hi) touches, within the calendar's range."""
    first = max(lo.astimezone(tz).date(), clip[0]) if lo.year > 1 else clip[0]
    last_instant = hi - timedelta(microseconds=1)
    last = min(last_instant.astimezone(tz).date(), clip[1]) if hi.year < 9999 else clip[1]
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _ref(a: dict[str, Any]) -> dict[str, Any]:
    return {"kind": a["kind"], "id": a["id"], "name": a["name"]}


def find_warnings(
    activities: Sequence[dict[str, Any]],
    *,
    member_days: Iterable[date],
    festival_days: dict[date, dict[str, str]],
    tz: ZoneInfo,
    clip: tuple[date, date],
) -> list[dict[str, Any]]:
    """The clashes in a set of activities: {code, activities, days, params}. `params` holds what the console
    puts into its sentence (item ids, threshold, festival name); days are ISO local days within `clip`."""
    out: list[dict[str, Any]] = []
    live = [a for a in activities if a.get("state") != "ended"]
    for a, b in combinations(live, 2):
        both = {a["kind"], b["kind"]}
        span = _overlap(a, b)
        if span is None:
            continue
        shared = sorted(set(a.get("item_ids") or ()) & set(b.get("item_ids") or ()))
        if shared and a["kind"] in DISCOUNTING and b["kind"] in DISCOUNTING:
            days = _local_days(*span, tz, clip)
            out.append(_warning("same_item_discounts", [a, b], days, {"item_ids": shared}))
        if (
            both == {"coupon-templates"}
            and a.get("threshold_fen")
            and a.get("threshold_fen") == b.get("threshold_fen")
        ):
            days = _local_days(*span, tz, clip)
            out.append(
                _warning("same_threshold_coupons", [a, b], days, {"threshold_fen": a["threshold_fen"]})
            )
    member = sorted(set(member_days))
    for a in live:
        if a["kind"] == "flash-sessions" and a.get("starts_at") is not None:
            touched = set(_local_days(*_span(a), tz, clip))
            clash = [d for d in member if d in touched]
            if clash:
                out.append(_warning("flash_during_member_day", [a], clash, {}))
        end = a.get("ends_at")
        # a flash session is one hour of a series (the next one is tomorrow): its end is no campaign's end
        if end is not None and a["kind"] != "flash-sessions":
            last = (end - timedelta(microseconds=1)).astimezone(tz).date()
            # it stops while the festival's traffic is still to come: its next day is a festival day (ending
            # on a festival's last day is the plan, not a clash)
            after = last + timedelta(days=1)
            if after in festival_days and clip[0] <= last <= clip[1]:
                params = {"festival": festival_days[after], "festival_day": after.isoformat()}
                out.append(_warning("ends_on_festival", [a], [last], params))
    return out


def _warning(
    code: str, acts: list[dict[str, Any]], days: list[date], params: dict[str, Any]
) -> dict[str, Any]:
    return {
        "code": code,
        "activities": [_ref(a) for a in acts],
        "days": [d.isoformat() for d in days],
        "params": params,
    }


# -- calendar ----------------------------------------------------------------------------------------------


def festival_days(
    start: date, end: date, tz: ZoneInfo
) -> tuple[list[dict[str, Any]], dict[date, dict[str, str]]]:
    """Festivals whose window touches [start, end] and a map of each festival day to its name."""
    shown: list[dict[str, Any]] = []
    by_day: dict[date, dict[str, str]] = {}
    for year in range(start.year, end.year + 1):
        for f in fest.festivals(year, tz):
            if f.start <= end and f.end >= start:
                shown.append({k: v for k, v in f.as_dict().items() if k != "plan"})
            for d in f.days or (f.day,):
                if f.key != "nianhuo":  # a season, not a day
                    by_day[d] = f.name
    return shown, by_day


def member_days(work: Work, start: date, end: date) -> list[date]:
    """The loyalty tier rules' monthly member days (会员日) in [start, end]."""
    return list(loyalty.member_days(work, start, end))


def calendar(work: Work, start: date, end: date) -> dict[str, Any]:
    tz = work.tz
    entries: list[dict[str, Any]] = []
    for a in promotions.activities(work, start, end):
        entries.append(_entry(a.model_dump()))
    coupons = [e["id"] for e in entries if e["kind"] == "coupon-templates"]
    for e, fen in _by_id(entries, promotions.coupon_thresholds(work.db, coupons)):
        e["threshold_fen"] = fen
    for row in loyalty.scheduled_activities(work, start, end):
        entries.append(_entry(dict(row)))
    members = member_days(work, start, end)
    shown, by_day = festival_days(start, end, tz)
    warnings = find_warnings(entries, member_days=members, festival_days=by_day, tz=tz, clip=(start, end))
    named = catalog.get_items(work, {i for w in warnings for i in w["params"].get("item_ids", ())})
    for w in warnings:
        if "item_ids" in w["params"]:  # the sentence names the goods, not only their ids
            w["params"]["item_titles"] = {i: named[i].title for i in w["params"]["item_ids"] if i in named}
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "timezone": str(tz),
        "entries": entries,
        "member_days": [d.isoformat() for d in members],
        "festivals": shown,
        "warnings": warnings,
    }


def _by_id(entries: list[dict[str, Any]], values: dict[str, int]) -> list[tuple[dict[str, Any], int]]:
    return [(e, values[e["id"]]) for e in entries if e["kind"] == "coupon-templates" and e["id"] in values]


def _entry(row: dict[str, Any]) -> dict[str, Any]:
    kind = row["kind"]
    return {
        "kind": kind,
        "id": row["id"],
        "name": row.get("name") or row["id"],
        "state": row.get("state") or "running",
        "starts_at": row.get("starts_at"),
        "ends_at": row.get("ends_at"),
        "item_ids": list(row.get("item_ids") or []),
        "figures": row.get("figures"),
        "link": {"page": PAGES.get(kind, "promotions"), "params": {"id": row["id"]}},
    }


# -- festivals and plans -----------------------------------------------------------------------------------


def festival_templates(work: Work, year: int) -> list[dict[str, Any]]:
    """The year's festivals and the rhythm templates, each with its plan of drafts."""
    tz = work.tz
    today = work.today
    upcoming = member_days(work, today, today + timedelta(days=62))
    rows = [f.as_dict() for f in fest.festivals(year, tz)]
    rows += [f.as_dict() for f in fest.rhythm_templates(today, tz, upcoming[0] if upcoming else None)]
    return rows


def apply_plan(work: Work, drafts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Create every draft through promotions in the caller's unit of work: all or nothing. Every draft is
    checked first (errors name `drafts.<i>.<field>`); a refusal while creating names its draft too and,
    raised, rolls the whole unit back."""
    errors: list[dict[str, str]] = []
    for i, d in enumerate(drafts):
        if d.get("kind") not in promotions.PLAN_KINDS:
            errors.append({"field": f"drafts.{i}.kind", "message": f"one of {list(promotions.PLAN_KINDS)}"})
            continue
        try:
            promotions.validate_activity(d["kind"], dict(d.get("body") or {}))
        except ValidationError as exc:
            errors += _field_errors(i, exc)
    if errors:
        raise ValidationFailed("the plan has invalid drafts; nothing was created", details=errors)
    created: list[dict[str, Any]] = []
    for i, d in enumerate(drafts):
        try:
            ids = promotions.create_activity(work, d["kind"], dict(d["body"]))
        except HuoliError as exc:
            raise _at_draft(i, exc) from exc
        created.append({"index": i, "kind": d["kind"], "ids": ids})
    return created


def _field_errors(i: int, exc: ValidationError) -> list[dict[str, str]]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()))
        out.append({"field": f"drafts.{i}.body" + (f".{loc}" if loc else ""), "message": str(err["msg"])})
    return out


def _at_draft(i: int, exc: HuoliError) -> HuoliError:
    """The same refusal, its details pointed at the draft (a conflict on an id names the draft's id)."""
    details: list[dict[str, str]] = []
    if isinstance(exc.details, list):
        for d in exc.details:
            if isinstance(d, dict) and "field" in d:
                details.append({**d, "field": f"drafts.{i}.body.{d['field']}"})
    if not details:
        field = "id" if exc.code == "exists" else ""
        details = [{"field": f"drafts.{i}.body" + (f".{field}" if field else ""), "message": exc.message}]
    out = type(exc)(f"draft {i}: {exc.message}; nothing was created", details=details, code=exc.code)
    return out
