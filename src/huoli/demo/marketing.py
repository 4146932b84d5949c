"""The demo's marketing calendar: the next festival's plan (双12 in December, 年货节 after it …), a month of
daily 10:00 秒杀 and the member day's coupon, applied through the marketing service as an operator would from
the calendar's "用节日模板创建" — so the calendar shows a plan, a member day, the daily sessions and the
clashes they make with the running campaigns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy.orm import Session

from huoli.marketing import service as marketing
from huoli.work import Work

# The demo's own items (the generator's catalog): the festival's 3人团 sells the tea the running group buy
# sells, which the calendar warns about.
GROUP_ITEM = "sku_00011"
DAILY_FLASH_DAYS = 14


def plan_calendar(
    unit: Callable[[], AbstractContextManager[Session]],
    work_at: Callable[[Session, dt.datetime], Work],
    now: dt.datetime,
) -> list[dict[str, Any]]:
    """Apply the next festival's plan and the daily rhythm in one unit (the demo builder's `unit` and `w`);
    returns what was created per draft."""
    with unit() as db:
        work = work_at(db, now)
        today = work.today
        rows = marketing.festival_templates(work, today.year) + marketing.festival_templates(
            work, today.year + 1
        )
        festival = next(
            f for f in rows if f["kind"] == "festival" and dt.date.fromisoformat(f["end"]) >= today
        )
        # the daily 秒杀 below covers the festival's days: its own daily sessions are left out, as an operator
        # unticks them in the plan drawer
        drafts = [dict(d, body=dict(d["body"])) for d in festival["plan"] if d["kind"] != "flash-daily"]
        for d in drafts:
            if d["kind"] == "group-campaigns":
                d["body"]["item_id"] = GROUP_ITEM
        rhythm = {f["key"]: f for f in rows[: len(rows) // 2] if f["kind"] == "rhythm"}
        for key in ("daily-flash", "member-day"):
            for d in rhythm.get(key, {}).get("plan", []):
                body = dict(d["body"])
                if d["kind"] == "flash-daily":
                    body["days"] = DAILY_FLASH_DAYS
                drafts.append(dict(d, body=body))
        return marketing.apply_plan(work, drafts)
