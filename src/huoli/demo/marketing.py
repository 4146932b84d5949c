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

from huoli.catalog import service as catalog
from huoli.marketing import service as marketing
from huoli.work import Work

# The demo's own items (the generator's catalog): the festival's 3人团 sells the tea the running group buy
# sells, which the calendar warns about.
GROUP_ITEM = "sku_00011"
DAILY_FLASH_DAYS = 14
# What each day's 10:00 秒杀 sells, in turn (an operator fills a session with a couple of catalog items).
DAILY_FLASH_ITEMS = [
    "sku_00003",
    "sku_00015",
    "sku_00027",
    "sku_00038",
    "sku_00051",
    "sku_00066",
    "sku_00074",
]


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
                    # tomorrow's 10:00 already has its session (明日10点秒杀): the series starts the day after
                    body["first_day"] = (today + dt.timedelta(days=2)).isoformat()
                drafts.append(dict(d, body=body))
        created = marketing.apply_plan(work, drafts)
        sessions = [sid for c in created if c["kind"] == "flash-daily" for sid in c["ids"]]
        goods = catalog.get_items(work, DAILY_FLASH_ITEMS)
        items: list[dict[str, Any]] = []
        for n, session_id in enumerate(sessions):
            for k in range(2):
                item = goods[DAILY_FLASH_ITEMS[(2 * n + k) % len(DAILY_FLASH_ITEMS)]]
                body = {
                    "id": f"{session_id}-{k + 1}",
                    "session_id": session_id,
                    "item_id": item.id,
                    "price_fen": item.price_fen * 7 // 10 // 100 * 100 + 90,  # about 7折, priced ¥x.90
                    "original_price_fen": item.price_fen,
                    "stock": 30 + 10 * k,
                }
                items.append({"kind": "flash-items", "body": body})
        return created + marketing.apply_plan(work, items)
