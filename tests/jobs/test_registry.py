"""The registry finds every domain's jobs; schedules give one period key per firing, in local time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from huoli.jobs.registry import Cron, Every, Registry, ScheduleError, cron, discover, every, job

SH = ZoneInfo("Asia/Shanghai")

EXPECTED = {
    "analytics.rollup": ("app", "primary", "every 5 min"),
    "auth.prune": ("global", "general", "cron 0 4 * * *"),
    "backup.create": ("global", "primary", None),  # its schedule comes from HUOLI_BACKUP_SCHEDULE
    "jobs.prune-runs": ("global", "general", "cron 30 4 * * *"),
    "loyalty.compact-boards": ("app", "general", "every 1 min"),
    "loyalty.expire": ("app", "general", "cron 5 0 * * *"),
    "loyalty.scan-tasks": ("app", "primary", "every 1 min"),
    "loyalty.tier-benefits": ("app", "general", "cron 0 2 * * *"),
    "loyalty.tiers": ("app", "general", "cron 30 1 * * *"),
    "loyalty.warn-expiring": ("app", "general", "cron 0 10 * * *"),
    "privacy.retention": ("global", "primary", "cron 15 3 * * *"),
    "promotions.refunds": ("global", "general", "every 5 min"),
    "promotions.sweep": ("app", "general", "every 1 min"),
    "reports.weekly": ("app", "primary", "cron 0 8 * * 1"),
}


def test_discovery_finds_every_domains_jobs() -> None:
    found = {j.name: (j.scope, j.queue, j.schedule.describe() if j.schedule else None) for j in discover()}
    assert found == EXPECTED
    assert all(j.description for j in discover())


def test_cron_periods_are_local_minutes_of_the_app_timezone() -> None:
    weekly = cron("0 8 * * 1")
    wed = datetime(2026, 12, 9, 3, 0, tzinfo=UTC)  # Wednesday 11:00 in Shanghai
    assert weekly.current(wed, SH) == ("c:2026-12-07T08:00", datetime(2026, 12, 7, 8, 0, tzinfo=SH))
    assert weekly.next_after(wed, SH) == datetime(2026, 12, 14, 8, 0, tzinfo=SH)
    daily = cron("5 0 * * *")
    # 23:50 UTC on the 9th is 07:50 on the 10th in Shanghai: the day's firing was at 00:05 local.
    late = datetime(2026, 12, 9, 23, 50, tzinfo=UTC)
    assert daily.current(late, SH)[0] == "c:2026-12-10T00:05"  # type: ignore[index]
    assert daily.current(late, ZoneInfo("UTC"))[0] == "c:2026-12-09T00:05"  # type: ignore[index]
    # day-of-month and day-of-week both restricted: either matches (cron's rule)
    either = cron("0 9 1 * 1")
    assert either.next_after(datetime(2026, 12, 2, tzinfo=SH), SH) == datetime(2026, 12, 7, 9, 0, tzinfo=SH)
    assert cron("*/15 9-10 * * *").next_after(datetime(2026, 12, 2, 9, 31, tzinfo=SH), SH) == datetime(
        2026, 12, 2, 9, 45, tzinfo=SH
    )


def test_every_counts_periods_from_the_epoch() -> None:
    five = every(minutes=5)
    at = datetime(2026, 12, 9, 3, 7, 30, tzinfo=UTC)
    key, start = five.current(at, SH)  # type: ignore[misc]
    assert start == datetime(2026, 12, 9, 3, 5, tzinfo=UTC) and key == f"e300:{int(start.timestamp()) // 300}"
    assert five.next_after(at, SH) == start + timedelta(minutes=5)
    assert five.current(at + timedelta(minutes=2), SH)[0] == key  # type: ignore[index]


@pytest.mark.parametrize(
    "bad", ["* * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "x * * * *", "*/0 * * * *", "5-1 * * * *"]
)
def test_bad_crontabs_are_refused_with_the_reason(bad: str) -> None:
    with pytest.raises(ScheduleError, match="crontab"):
        cron(bad)


def test_declarations_are_checked() -> None:
    reg = Registry()
    with pytest.raises(ScheduleError):
        every(seconds=30)
    with pytest.raises(ValueError, match="name"):
        job("NoDomain", schedule=None, registry=reg)
    job("test.one", schedule=Every(60), registry=reg)(lambda ctx: {})
    with pytest.raises(ValueError, match="twice"):
        job("test.one", schedule=None, registry=reg)(lambda ctx: {})
    declared = reg.get("test.one")
    assert declared is not None and declared.schedule == Every(60) and declared.scope == "app"
    # Sunday is 0 or 7
    sunday = datetime(2026, 12, 13, 0, 0, tzinfo=SH)
    assert cron("0 0 * * 0").current(sunday, SH) == cron("0 0 * * 7").current(sunday, SH)
    assert isinstance(cron("0 0 * * 7"), Cron)
