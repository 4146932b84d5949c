"""The festivals Chinese shops plan campaigns around, their dates for a year, and the plan each one prefills.

Lunar and statutory days (元旦, 春节, 劳动节, 中秋, 国庆) come from the `holidays` package (its China calendar
follows the State Council's notices and the lunar calendar); shopping festivals are fixed days (618, 双11,
双12, 520, 情人节); 年货节 is the three weeks before 春节. Rhythm templates (会员日, 每天10点秒杀, 新人首单立减)
have no festival day: their plan starts from the day they are asked for.

A plan is a list of drafts, each {kind, key, body}: `body` is the create body of the promotions admin route
for `kind` (promotions.service.create_activity), so the console can edit it field by field and send it back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays

FESTIVAL_KINDS = ("festival", "rhythm")
# The years whose statutory breaks the holidays package knows in full: 中秋 and 端午 became public holidays in
# 2008, and its lunar tables end in 2100.
FIRST_YEAR, LAST_YEAR = 2008, 2100


@dataclass(frozen=True)
class Festival:
    key: str
    name: dict[str, str]  # {"zh": …, "en": …}
    kind: str  # festival | rhythm
    day: date  # the festival day (a rhythm template: the first day of its plan)
    start: date  # the campaign window, local days, both included
    end: date
    days: tuple[date, ...] = ()  # the festival's own days (the public holiday), for the calendar marks
    plan: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "kind": self.kind,
            "day": self.day.isoformat(),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "days": [d.isoformat() for d in self.days],
            "plan": self.plan,
        }


_NAMES = {
    "元旦": "yuandan",
    "农历除夕": "chuxi",
    "春节": "chunjie",
    "劳动节": "laodong",
    "中秋节": "zhongqiu",
}
_NAMES["国庆节"] = "guoqing"


@dataclass(frozen=True)
class Statutory:
    named: dict[str, list[date]]  # the days the holidays package names after the festival (除夕 its own)
    breaks: dict[
        str, list[date]
    ]  # the whole break around them (春节's starts with the rest days before 除夕)


def statutory_days(year: int) -> Statutory:
    """元旦 / 除夕 / 春节 / 劳动节 / 中秋 / 国庆 of `year` from the holidays package, and each one's whole break
    as the State Council announces it: its days plus the 补假, 调休 rest days and weekends joined to them, minus
    the weekend days made working days (the package names them in its rest days' labels: "由 2026-02-14 调休")."""
    table = holidays.China(years=[year - 1, year, year + 1], language="zh_CN")
    working = set()
    for label in table.values():
        for token in str(label).replace("（", " ").replace("）", " ").split():
            try:
                working.add(date.fromisoformat(token))
            except ValueError:
                continue

    def rest(d: date) -> bool:
        return d in table or (d.weekday() >= 5 and d not in working)

    named: dict[str, list[date]] = {}
    for day, label in sorted(table.items()):
        key = _NAMES.get(str(label).split("（")[0])
        if key is not None and day.year == year:
            named.setdefault(key, []).append(day)
    breaks: dict[str, list[date]] = {}
    for key, own in named.items():
        lo, hi = own[0], own[-1]
        if key == "chunjie" and "chuxi" in named:
            lo = named["chuxi"][0]
        elif key == "chuxi":
            continue
        while rest(lo - timedelta(days=1)):
            lo -= timedelta(days=1)
        while rest(hi + timedelta(days=1)):
            hi += timedelta(days=1)
        breaks[key] = [lo + timedelta(days=i) for i in range((hi - lo).days + 1)]
    return Statutory(named=named, breaks=breaks)


def _local(day: date, tz: ZoneInfo, at: time = time(0, 0)) -> str:
    return datetime.combine(day, at, tzinfo=tz).isoformat()


def _window(start: date, end: date, tz: ZoneInfo) -> dict[str, str]:
    """A coupon window covering whole local days start..end."""
    return {"valid_from": _local(start, tz), "valid_until": _local(end + timedelta(days=1), tz)}


def _slug(key: str, year: int) -> str:
    return f"{key}-{year}"


def _coupon(
    key: str, start: date, end: date, tz: ZoneInfo, threshold_yuan: int, off_yuan: int, label: str
) -> dict[str, Any]:
    return {
        "kind": "coupon-templates",
        "key": f"coupon-{threshold_yuan}-{off_yuan}",
        "body": {
            "id": f"{key}-m{threshold_yuan}j{off_yuan}",
            "name": f"{label} 满{threshold_yuan}减{off_yuan}",
            "kind": "threshold",
            "threshold_fen": threshold_yuan * 100,
            "amount_fen": off_yuan * 100,
            **_window(start, end, tz),
            "total_limit": 1000,
            "per_user_limit": 1,
            "claim_trigger": "user_claim",
        },
    }


def _daily_flash(key: str, start: date, end: date, label: str) -> dict[str, Any]:
    return {
        "kind": "flash-daily",
        "key": "flash-daily",
        "title": f"{label} 每天10点秒杀",
        "body": {
            "prefix": f"{key}-flash",
            "first_day": start.isoformat(),
            "days": (end - start).days + 1,
            "local_time": "10:00",
            "duration_minutes": 60,
        },
    }


def _group(key: str, start: date, end: date, tz: ZoneInfo, label: str) -> dict[str, Any]:
    return {
        "kind": "group-campaigns",
        "key": "group",
        "body": {
            "id": f"{key}-group",
            "name": f"{label} 3人团",
            "item_id": "",  # the operator picks the item (ItemPicker)
            "original_price_fen": 9900,
            "group_price_fen": 6900,
            "size": 3,
            "duration_s": 86400,
            "starts_at": _local(start, tz),
            "ends_at": _local(end + timedelta(days=1), tz),
        },
    }


def _referral(key: str, start: date, end: date, tz: ZoneInfo, label: str) -> list[dict[str, Any]]:
    reward = {
        "kind": "coupon-templates",
        "key": "referral-reward",
        "body": {
            "id": f"{key}-invite10",
            "name": f"{label} 邀请有礼 无门槛10元",
            "kind": "fixed",
            "amount_fen": 1000,
            "valid_days": 7,
            "per_user_limit": 20,
            "claim_trigger": "reward",
        },
    }
    program = {
        "kind": "referral-programs",
        "key": "referral",
        "body": {
            "id": f"{key}-invite",
            "name": f"{label} 邀请好友首单各得10元",
            "qualifying_action": "first_order",
            "referrer_template_id": f"{key}-invite10",
            "invitee_template_id": f"{key}-invite10",
            "max_rewards_per_referrer": 20,
            "starts_at": _local(start, tz),
            "ends_at": _local(end + timedelta(days=1), tz),
        },
    }
    return [reward, program]


def festival_plan(key: str, start: date, end: date, tz: ZoneInfo, label: str) -> list[dict[str, Any]]:
    """The usual festival campaign: two 满减 tiers over the window, 10:00 秒杀 every day of it, a 3人团 and an
    invitation push (分享回流) that ends with it."""
    return [
        _coupon(key, start, end, tz, 199, 30, label),
        _coupon(key, start, end, tz, 399, 70, label),
        _daily_flash(key, start, end, label),
        _group(key, start, end, tz, label),
        *_referral(key, start, end, tz, label),
    ]


@dataclass(frozen=True)
class _Rule:
    key: str
    zh: str
    en: str
    # (year, statutory days) → (festival day, window start, window end, the festival's own days)
    dates: Callable[[int, Statutory], tuple[date, date, date, tuple[date, ...]]]


def _fixed(month: int, day: int, lead: int) -> Callable[[int, Statutory], Any]:
    def dates(year: int, _: Statutory) -> tuple[date, date, date, tuple[date, ...]]:
        d = date(year, month, day)
        return d, d - timedelta(days=lead), d, (d,)

    return dates


def _holiday(name: str, lead: int) -> Callable[[int, Statutory], Any]:
    def dates(year: int, stat: Statutory) -> tuple[date, date, date, tuple[date, ...]]:
        days = stat.breaks[name]
        return stat.named[name][0], days[0] - timedelta(days=lead), days[-1], tuple(days)

    return dates


def _nianhuo(year: int, stat: Statutory) -> tuple[date, date, date, tuple[date, ...]]:
    # 年货节: the three weeks before 除夕, when families stock up and couriers still deliver
    eve = stat.named["chunjie"][0] - timedelta(days=1)
    start = eve - timedelta(days=21)
    return start, start, eve - timedelta(days=1), ()


def _chunjie(year: int, stat: Statutory) -> tuple[date, date, date, tuple[date, ...]]:
    days = stat.breaks["chunjie"]
    return stat.named["chunjie"][0], days[0], days[-1], tuple(days)


# Calendar order; `lead` days of warm-up before the day (预热).
RULES: tuple[_Rule, ...] = (
    _Rule("yuandan", "元旦", "New Year's Day", _holiday("yuandan", 2)),
    _Rule("nianhuo", "年货节", "New Year goods festival", _nianhuo),
    _Rule("chunjie", "春节", "Spring Festival", _chunjie),
    _Rule("valentine", "情人节", "Valentine's Day", _fixed(2, 14, 4)),
    _Rule("laodong", "劳动节", "Labour Day", _holiday("laodong", 3)),
    _Rule("520", "520", "520 (love day)", _fixed(5, 20, 3)),
    _Rule("618", "618", "618", _fixed(6, 18, 17)),
    _Rule("zhongqiu", "中秋", "Mid-Autumn Festival", _holiday("zhongqiu", 7)),
    _Rule("guoqing", "国庆", "National Day", _holiday("guoqing", 3)),
    _Rule("double11", "双11", "Double 11 (Singles' Day)", _fixed(11, 11, 10)),
    _Rule("double12", "双12", "Double 12", _fixed(12, 12, 2)),
)


def festivals(year: int, tz: ZoneInfo) -> list[Festival]:
    """Every festival of `year` with its window and plan."""
    stat = statutory_days(year)
    out = []
    for rule in RULES:
        day, start, end, days = rule.dates(year, stat)
        key = _slug(rule.key, year)
        out.append(
            Festival(
                key=rule.key,
                name={"zh": rule.zh, "en": rule.en},
                kind="festival",
                day=day,
                start=start,
                end=end,
                days=days,
                plan=festival_plan(key, start, end, tz, rule.zh),
            )
        )
    return out


def rhythm_templates(today: date, tz: ZoneInfo, member_day: date | None) -> list[Festival]:
    """The everyday rhythm: the next member day (when the loyalty rules set one), 10:00 秒杀 every day for the
    next 30 days, and a 新人首单立减 gift pack."""
    out = []
    if member_day is not None:
        key = f"memberday{member_day:%Y%m%d}"
        coupon = _coupon(key, member_day, member_day, tz, 100, 15, f"{member_day:%m月}会员日")
        out.append(
            Festival(
                key="member-day",
                name={"zh": "每月会员日", "en": "Monthly member day"},
                kind="rhythm",
                day=member_day,
                start=member_day,
                end=member_day,
                days=(member_day,),
                plan=[coupon],
            )
        )
    first = today + timedelta(days=1)
    last = first + timedelta(days=29)
    daily = _daily_flash(f"daily{first:%Y%m%d}", first, last, "日常")
    out.append(
        Festival(
            key="daily-flash",
            name={"zh": "每天10点秒杀", "en": "Daily 10:00 flash sale"},
            kind="rhythm",
            day=first,
            start=first,
            end=last,
            plan=[daily],
        )
    )
    key = f"newuser{today:%Y%m%d}"
    out.append(
        Festival(
            key="new-user",
            name={"zh": "新人首单立减", "en": "New-user first-order discount"},
            kind="rhythm",
            day=today,
            start=today,
            end=today,
            plan=[
                {
                    "kind": "coupon-templates",
                    "key": "new-user-coupon",
                    "body": {
                        "id": f"{key}-10",
                        "name": "新人首单立减10元",
                        "kind": "fixed",
                        "amount_fen": 1000,
                        "valid_days": 7,
                        "per_user_limit": 1,
                        "claim_trigger": "new_user",
                    },
                },
                {
                    "kind": "gift-packs",
                    "key": "new-user-pack",
                    "body": {
                        "id": f"{key}-pack",
                        "name": "新人礼包",
                        "template_ids": [f"{key}-10"],
                        "new_user_days": 7,
                    },
                },
            ],
        )
    )
    return out
