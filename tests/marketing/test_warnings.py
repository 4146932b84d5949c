"""The calendar's warning rules on plain activities (no database)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from huoli.marketing.service import find_warnings

TZ = ZoneInfo("Asia/Shanghai")
CLIP = (date(2026, 12, 1), date(2026, 12, 31))


def _at(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, tzinfo=TZ)


def _act(kind: str, id_: str, start: datetime | None, end: datetime | None, **kw: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "id": id_,
        "name": id_,
        "state": "scheduled",
        "starts_at": start,
        "ends_at": end,
        **kw,
    }


def _codes(acts: list[dict[str, Any]], **kw: Any) -> list[tuple[str, list[str], list[str]]]:
    args = {"member_days": [], "festival_days": {}, "tz": TZ, "clip": CLIP, **kw}
    return [
        (w["code"], [a["id"] for a in w["activities"]], w["days"])
        for w in find_warnings(acts, **args)  # type: ignore[arg-type]
    ]


def test_two_discounts_on_one_item_overlapping_in_time() -> None:
    flash = _act("flash-sessions", "f1", _at(10, 10), _at(10, 11), item_ids=["sku-1", "sku-2"])
    group = _act("group-campaigns", "g1", _at(9), _at(12), item_ids=["sku-2"])
    later = _act("bargain-campaigns", "b1", _at(11), _at(13), item_ids=["sku-2"])
    other = _act("group-campaigns", "g2", _at(9), _at(12), item_ids=["sku-9"])
    out = _codes([flash, group, later, other])
    assert ("same_item_discounts", ["f1", "g1"], ["2026-12-10"]) in out
    assert ("same_item_discounts", ["g1", "b1"], ["2026-12-11"]) in out  # overlap [11th, 12th) local
    assert not any(
        "f1" in ids and "b1" in ids for _, ids, _ in out
    )  # 10:00-11:00 on the 10th vs from the 11th
    assert not any("g2" in ids for _, ids, _ in out)


def test_an_always_on_activity_overlaps_everything_but_an_ended_one_nothing() -> None:
    always = _act("group-campaigns", "g0", None, None, item_ids=["sku-1"])
    flash = _act("flash-sessions", "f1", _at(10, 10), _at(10, 11), item_ids=["sku-1"])
    ended = {**_act("bargain-campaigns", "b0", None, None, item_ids=["sku-1"]), "state": "ended"}
    assert _codes([always, flash, ended]) == [("same_item_discounts", ["g0", "f1"], ["2026-12-10"])]


def test_flash_session_on_a_member_day() -> None:
    on = _act("flash-sessions", "f8", _at(8, 10), _at(8, 11))
    off = _act("flash-sessions", "f9", _at(9, 10), _at(9, 11))
    # 23:30 on the 7th to 00:30 on the 8th, local: it runs into the member day
    late = _act(
        "flash-sessions", "f7", datetime(2026, 12, 7, 23, 30, tzinfo=TZ), _at(8, 0).replace(minute=30)
    )
    out = _codes([on, off, late], member_days=[date(2026, 12, 8)])
    assert sorted(out) == [
        ("flash_during_member_day", ["f7"], ["2026-12-08"]),
        ("flash_during_member_day", ["f8"], ["2026-12-08"]),
    ]


def test_coupons_of_the_same_threshold_overlapping() -> None:
    a = _act("coupon-templates", "c1", _at(1), _at(15), threshold_fen=19900)
    b = _act("coupon-templates", "c2", _at(10), _at(20), threshold_fen=19900)
    c = _act("coupon-templates", "c3", _at(10), _at(20), threshold_fen=39900)
    out = _codes([a, b, c])
    days = [f"2026-12-{d:02d}" for d in range(10, 15)]
    assert out == [("same_threshold_coupons", ["c1", "c2"], days)]


def test_an_activity_stopping_just_before_or_during_a_festival() -> None:
    festival = {d: {"zh": "双12", "en": "Double 12"} for d in (date(2026, 12, 12),)}
    before = _act("group-campaigns", "g1", _at(1), _at(12))  # last day the 11th
    through = _act("group-campaigns", "g2", _at(1), _at(13))  # last day the 12th: the plan
    out = find_warnings([before, through], member_days=[], festival_days=festival, tz=TZ, clip=CLIP)
    assert [(w["code"], w["activities"][0]["id"], w["days"]) for w in out] == [
        ("ends_on_festival", "g1", ["2026-12-11"])
    ]
    assert out[0]["params"] == {"festival": {"zh": "双12", "en": "Double 12"}, "festival_day": "2026-12-12"}
