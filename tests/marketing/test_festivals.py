"""Festival dates and the plans they prefill."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from huoli.marketing import festivals as fest

TZ = ZoneInfo("Asia/Shanghai")


def _by_key(year: int) -> dict[str, fest.Festival]:
    return {f.key: f for f in fest.festivals(year, TZ)}


def test_2027_lunar_festivals_match_the_published_calendar() -> None:
    # Second source: 中国科学院紫金山天文台《2027年中国天文年历》 (the lunar calendar the State Council's
    # holiday notices follow): 正月初一 = 2027-02-06, 除夕 = 2027-02-05, 八月十五 = 2027-09-15.
    f = _by_key(2027)
    assert f["chunjie"].day == date(2027, 2, 6)
    assert date(2027, 2, 5) in f["chunjie"].days  # 除夕 starts the holiday
    assert f["zhongqiu"].day == date(2027, 9, 15)
    assert f["yuandan"].day == date(2027, 1, 1)
    assert f["guoqing"].day == date(2027, 10, 1) and f["laodong"].day == date(2027, 5, 1)
    # 年货节: the three weeks that end the day before 除夕
    assert (f["nianhuo"].start, f["nianhuo"].end) == (date(2027, 1, 15), date(2027, 2, 4))
    assert (f["618"].day, f["double11"].day, f["double12"].day) == (
        date(2027, 6, 18),
        date(2027, 11, 11),
        date(2027, 12, 12),
    )


def test_2026_holiday_spans_match_the_state_council_notice() -> None:
    # 国务院办公厅关于2026年部分节假日安排的通知 (国办发明电〔2025〕7号): 元旦 1月1日至3日; 春节 2月15日至23日
    # 放假调休 (2月14日、28日上班); 劳动节 5月1日至5日; 中秋节 9月25日至27日; 国庆节 10月1日至7日.
    def span(key: str) -> tuple[date, date]:
        days = _by_key(2026)[key].days
        return days[0], days[-1]

    assert span("yuandan") == (date(2026, 1, 1), date(2026, 1, 3))
    assert span("chunjie") == (date(2026, 2, 15), date(2026, 2, 23))
    assert _by_key(2026)["chunjie"].day == date(2026, 2, 17)  # 正月初一
    assert span("laodong") == (date(2026, 5, 1), date(2026, 5, 5))
    assert span("zhongqiu") == (date(2026, 9, 25), date(2026, 9, 27))
    assert span("guoqing") == (date(2026, 10, 1), date(2026, 10, 7))


def test_a_festival_plan_covers_its_window() -> None:
    f = _by_key(2026)["double12"]
    kinds = [d["kind"] for d in f.plan]
    assert kinds.count("coupon-templates") >= 2 and "flash-daily" in kinds and "group-campaigns" in kinds
    tiers = [d["body"] for d in f.plan if d["key"].startswith("coupon-1") or d["key"].startswith("coupon-3")]
    assert all(t["threshold_fen"] > t["amount_fen"] for t in tiers)
    assert tiers[0]["valid_from"] == "2026-12-10T00:00:00+08:00"
    assert tiers[0]["valid_until"] == "2026-12-13T00:00:00+08:00"  # through the whole of 12-12, local
    daily = next(d["body"] for d in f.plan if d["kind"] == "flash-daily")
    assert (daily["first_day"], daily["days"], daily["local_time"]) == ("2026-12-10", 3, "10:00")


def test_rhythm_templates_start_from_today() -> None:
    rows = {f.key: f for f in fest.rhythm_templates(date(2026, 12, 7), TZ, date(2027, 1, 8))}
    assert rows["member-day"].day == date(2027, 1, 8)
    assert rows["daily-flash"].plan[0]["body"]["first_day"] == "2026-12-08"
    assert [d["kind"] for d in rows["new-user"].plan] == ["coupon-templates", "gift-packs"]
    assert "member-day" not in {f.key for f in fest.rhythm_templates(date(2026, 12, 7), TZ, None)}
