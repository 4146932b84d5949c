"""Rendering is a pure function of a WeeklyReport: every data string is escaped (HTML) or neutralised
(Markdown table cells), nothing in the HTML can load anything, numbers are formatted by kind."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import pytest

from huoli.reports import render
from huoli.reports.service import Kpi, Mover, MoverGroup, WeeklyReport
from huoli.reports.weeks import parse_week

EVIL = '<script>alert(1)</script>"><img src=x onerror=alert(2)>|**bold**'


def _report() -> WeeklyReport:
    week = parse_week("2026-W47")
    daily = [
        {
            "date": (d).isoformat(),
            "week": w,
            "weekday": d.isoweekday(),
            "dau": 10 + i,
            "new_users": i,
            "opens": 3,
        }
        for w, wk in (("previous", week.previous()), ("current", week))
        for i, d in enumerate(wk.days())
    ]
    return WeeklyReport(
        app_id="shop",
        app_name=EVIL,
        tz="Asia/Shanghai",
        week=week,
        previous_week=week.previous(),
        generated_at=dt.datetime(2026, 11, 24, tzinfo=dt.UTC),
        kpis=[
            Kpi("wau", "activity", {"zh": "周活跃用户", "en": "WAU"}, "count", 1200, 1000),
            Kpi("bounce_rate", "activity", {"zh": "跳出率", "en": "Bounce rate"}, "rate", 0.25, 0.2, "down"),
            Kpi("gmv_fen", "conversion", {"zh": "成交额", "en": "GMV"}, "fen", 123456, None),
            Kpi("d1_retention", "retention", {"zh": "次留", "en": "D1"}, "rate", 0.3, 0.3),
            Kpi("share_rate", "interaction", {"zh": "分享率", "en": "Share rate"}, "rate", None, 0.1),
        ],
        daily=daily,
        movers=[
            MoverGroup(
                "page",
                {"zh": "页面", "en": "Pages"},
                {"zh": "浏览次数", "en": "page views"},
                20,
                [Mover(EVIL, EVIL, 50, 10, 40, 4.0), Mover("p/b", "p/b", 5, 30, -25, -25 / 30)],
            ),
            MoverGroup("channel", {"zh": "渠道", "en": "Channels"}, {"zh": "用户", "en": "users"}, 20, []),
        ],
        experiments=[
            {
                "key": "exp-1",
                "name": EVIL,
                "status": "running",
                "phase": "started",
                "started_at": "",
                "stopped_at": None,
                "shipped_variant": None,
                "as_of": "",
                "users": {EVIL: 3, "b": 4},
                "srm_warning": True,
                "verdict": {"decision": "keep_running", "text": EVIL},
            }
        ],
        promotions={
            "mechanics": [
                {
                    "key": "coupons",
                    "label": {"zh": "优惠券", "en": "Coupons"},
                    "users": 5,
                    "previous_users": 2,
                    "events": {"coupon_claimed": 5},
                    "previous_events": {"coupon_claimed": 2},
                }
            ],
            "campaigns": [{"mechanic": "coupons", "id": "c1", "name": EVIL}],
        },
        findings={
            "current": ["2026-11-16", "2026-11-22"],
            "baseline": ["2026-10-19", "2026-11-15"],
            "checked": ["a", "b"],
            "findings": [
                {
                    "id": "activity.dau",
                    "severity": "high",
                    "title": {"zh": EVIL, "en": EVIL},
                    "metric": "activity.series.dau",
                    "current": 90.0,
                    "baseline": 100.0,
                    "change": -0.1,
                    "users_affected": 10,
                    "playbooks": ["recall_campaign"],
                    "playbook_titles": [{"zh": "召回", "en": "Recall"}],
                },
                {
                    "id": "conversion.order_rate",
                    "severity": "low",
                    "title": {"zh": "下单率下降", "en": "Order rate falling"},
                    "metric": "conversion.order_rate",
                    "current": 0.045,
                    "baseline": 0.05649,
                    "change": -0.2034,
                    "users_affected": 84,
                    "playbooks": [],
                    "playbook_titles": [],
                },
            ],
        },
    )


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_html_escapes_data_and_loads_nothing(lang: render.Lang) -> None:
    html = render.html(_report(), lang)
    parser = _Tags()
    parser.feed(html)
    tags = [t for t, _ in parser.tags]
    assert "script" not in tags and "img" not in tags and "iframe" not in tags
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # nothing that could fetch: no src, no href except the data: favicon, no url() or @import in CSS
    for tag, attrs in parser.tags:
        assert "src" not in attrs, tag
        assert attrs.get("href") in (None, "data:,"), (tag, attrs)
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
    assert not re.search(r"url\(|@import", html)
    assert re.findall(r"https?://[^\s\"'<]+", html) == ["http://www.w3.org/2000/svg"] * html.count("<svg")
    assert "default-src 'none'" in html  # the file carries its own policy


def test_html_numbers_and_trends() -> None:
    html = render.html(_report(), "zh")
    assert "1,200" in html and "+20.0%" in html  # count: relative change
    assert "¥1,234.56" in html  # fen
    assert "25.0%" in html and "+5.0 个百分点" in html  # rate: points
    assert 'class="num worse">+5.0' in html  # bounce up is worse
    assert "-10.0%" in html  # the finding's relative change
    assert ">4.5%<" in html and ">5.6%<" in html and "-20.3%" in html  # a rate finding shows percentages


def test_markdown_cells_are_neutralised() -> None:
    md = render.markdown(_report(), "en")
    assert not re.search(r"(?<!\\)[<>]", md)  # every angle bracket from data is backslash-escaped
    assert "\\<script\\>" in md and "\\|\\*\\*bold\\*\\*" in md
    # every table row keeps its column count: a pipe in data cannot add a column
    for block in md.split("\n\n"):
        lines = [ln for ln in block.splitlines() if ln.startswith("|")]
        if lines:
            widths = {len(re.findall(r"(?<!\\)\|", ln)) for ln in lines}
            assert len(widths) == 1, block
    assert "| WAU | 1,200 | 1,000 | +20.0% ▲ |" in md
    assert "| Bounce rate | 25.0% | 20.0% | +5.0 pp ▼ |" in md
    assert "Recall" in md and "activity.dau" in md


def test_findings_read_in_words_and_percentages() -> None:
    r = _report()
    r.findings["findings"].append(
        {
            "id": "churn.pulse",
            "severity": "medium",
            "title": {"zh": "流失超过增长", "en": "Churn outrunning growth"},
            "metric": "lifecycle.rows.pulse",
            "unit": "ratio",
            "current": 0.8234,
            "baseline": 1.31,
            "change": None,
            "users_affected": 5,
            "playbooks": [],
            "playbook_titles": [],
        }
    )
    r.findings["findings"][1]["unit"] = "rate"
    html = render.html(r, "zh")
    sev = re.findall(r'<span class="sev sev-(\w+)">([^<]+)</span>', html)
    assert sev == [("high", "严重"), ("low", "提示"), ("medium", "警告")]
    assert ">0.82<" in html and ">1.31<" in html  # a ratio is not a percentage
    assert ">4.5%<" in html and ">5.6%<" in html  # a rate is
    md = render.markdown(r, "en")
    assert "| High |" in md and "| Notice |" in md and "| Warning |" in md
    assert "| high |" not in md


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_not_enough_data_is_not_nothing_unusual(lang: render.Lang) -> None:
    r = _report()
    r.findings.update(
        findings=[],
        checked=[],
        data={"enough": False, "history_days": 3, "needed_days": 14, "min_sample": 30, "active_users": 4},
    )
    for out in (render.html(r, lang), render.markdown(r, lang)):
        assert render.TEXT["no_findings"][lang] not in out
        assert ("数据不足" if lang == "zh" else "Not enough data") in out
        assert "14" in out and "3" in out
    r.findings["data"]["enough"] = True
    assert render.TEXT["no_findings"][lang] in render.html(r, lang)
