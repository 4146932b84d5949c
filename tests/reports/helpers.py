"""A small hand-checkable event log around ISO week 2026-W10 (Mon 2 – Sun 8 March, Asia/Shanghai).

Previous week 2026-W09 is 23 February – 1 March. Every expected figure in the tests is counted from this
list by hand (see the comments); nothing is derived from the code under test.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.analytics.fixtures import at, ev, table

from huoli.runtime import Runtime

WEEK = "2026-W10"
NOW = dt.datetime(2026, 3, 20, 4, 0, tzinfo=dt.UTC)  # well after both weeks: every D1/D7 cell is complete
HOSTILE_PAGE = 'pages/<script>alert("x")</script>'
HOSTILE_CHANNEL = '"><img src="http://evil.example/x.png">'


def rows(app_id: str) -> list[dict[str, Any]]:
    def e(name: str, user: str, day: str, hm: str = "10:00", **cols: Any) -> dict[str, Any]:
        return ev(name, user, at(day, hm), app_id=app_id, **cols)

    out = [
        # previous week: u1 (new 23 Feb, back 24 Feb with an order), u2 (new 25 Feb), u6 (new 1 Mar 23:59)
        e("app_show", "u1", "2026-02-23", channel="ads", scene=1001, session_id="s1"),
        e("page_view", "u1", "2026-02-23", "10:01", page="p/home", session_id="s1"),
        e("order_paid", "u1", "2026-02-24", order_id="o1", amount_fen=1000),
        e("app_show", "u2", "2026-02-25", channel="kol", scene=1047, session_id="s2"),
        e("app_show", "u6", "2026-03-01", "23:59", channel="kol", scene=1047, session_id="s3"),
        # this week: u1 on Mon + Tue (order 3000 fen), u3 new Mon and back Tue (D1), u4 new Sun 23:30
        e("app_show", "u1", "2026-03-02", channel="ads", scene=1001, session_id="s4"),
        e("app_show", "u1", "2026-03-03", channel="ads", scene=1001, session_id="s5"),
        e("order_paid", "u1", "2026-03-03", "10:05", order_id="o2", amount_fen=3000),
        e("app_show", "u3", "2026-03-02", channel="kol", scene=1047, session_id="s6"),
        e("share", "u3", "2026-03-02", "10:02", share_id="c1"),
        e("app_show", "u3", "2026-03-03", channel=HOSTILE_CHANNEL, scene=1047, session_id="s7"),
        e("app_show", "u4", "2026-03-08", "23:30", channel="kol", scene=1047, session_id="s8"),
        # next week (must not count): u5 at 00:10 on Monday 9 March
        e("app_show", "u5", "2026-03-09", "00:10", channel="kol", scene=1047, session_id="s9"),
        # coupons: u1 and u3 claim this week, u2 claimed last week
        e("coupon_claimed", "u2", "2026-02-25", "10:03", coupon_id="c-2"),
        e("coupon_claimed", "u1", "2026-03-02", "10:03", coupon_id="c-1"),
        e("coupon_claimed", "u3", "2026-03-02", "10:04", coupon_id="c-3"),
    ]
    # 25 views of a hostile page name by u1 on Monday: the one page above the movers' minimum volume (20)
    out += [
        e("page_view", "u1", "2026-03-02", f"11:{i:02d}", page=HOSTILE_PAGE, session_id="s4")
        for i in range(25)
    ]
    return out


def seed(runtime: Runtime, app_id: str) -> None:
    runtime.store.append([table(rows(app_id))])
