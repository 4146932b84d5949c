"""How the doctor's numbers and words read, in Chinese and English: rates as percentages, p-values as
"p < 0.001", severities and the verdict in words. The CLI, the API's text fields and the weekly report use
these; the console mirrors them (console/diagnosis.js)."""

from __future__ import annotations

import math
from typing import Any, Literal

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")
Unit = Literal["rate", "count", "ratio", "ms", "days", "pages"]

SEVERITY: dict[str, dict[str, str]] = {
    "high": {"zh": "严重", "en": "High"},
    "medium": {"zh": "警告", "en": "Warning"},
    "low": {"zh": "提示", "en": "Notice"},
}

# The tests' names (stats.py and the checks) in Chinese; English is the name itself.
TESTS_ZH: dict[str, str] = {
    "Welch t-test on daily values": "每日数值的 Welch t 检验",
    "Welch t-test": "Welch t 检验",
    "two-proportion z-test": "两比例 z 检验",
    "two-proportion z-test: bounce of slow vs fast landings": "两比例 z 检验：慢页与快页的跳出率",
    "exact binomial test vs threshold": "对阈值的精确二项检验",
    "exact binomial test of inflow share vs Pulse threshold": "流入占比对 Pulse 阈值的精确二项检验",
    "conditional Poisson test": "条件泊松检验",
    "Poisson test vs threshold": "对阈值的泊松检验",
    "one-sample t-test vs threshold": "对阈值的单样本 t 检验",
    "exact count: no item or page first seen in the window": "精确计数：窗口内没有首次出现的商品或页面",
    "exact count of message events": "消息事件的精确计数",
}

UNIT_SUFFIX: dict[str, dict[str, str]] = {
    "days": {"zh": " 天", "en": " days"},
    "pages": {"zh": " 页", "en": " pages"},
}


def number(v: float | int | None, unit: str = "count", lang: Lang = "en") -> str:
    """A value as an operator reads it: rates 12.3%, counts 1,234, durations 4.2 s, ratios 0.82."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if unit == "rate":
        return f"{v * 100:.1f}%"
    if unit == "ms":
        return f"{v / 1000:,.1f} s" if abs(v) >= 1000 else f"{v:,.0f} ms"
    if unit in UNIT_SUFFIX:
        return f"{v:,.1f}".removesuffix(".0") + UNIT_SUFFIX[unit][lang]
    if unit == "ratio":
        return f"{v:,.2f}"
    return f"{v:,.0f}" if float(v).is_integer() or abs(v) >= 100 else f"{v:,.1f}"


def change(v: float | None) -> str:
    """A relative change: +12.3% / −28.0%."""
    if v is None or not math.isfinite(v):
        return "–"
    return f"{v * 100:+.1f}%".replace("-", "−")


def p_value(p: float | None) -> str:
    """ "p < 0.001" below a thousandth (never "p = 0"), else two significant digits."""
    if p is None or not math.isfinite(p):
        return "p = –"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.2g}" if p < 0.01 else f"p = {p:.3f}".rstrip("0").rstrip(".")


def severity(s: str, lang: Lang) -> str:
    return SEVERITY[s][lang] if s in SEVERITY else s


def finding_text(f: dict[str, Any], lang: Lang) -> dict[str, str]:
    """A finding's display strings: severity word, current / baseline / change, p-values."""
    unit = f.get("unit", "count")
    e = f.get("evidence", {})
    return {
        "severity": severity(f["severity"], lang),
        "current": number(f.get("current"), unit, lang),
        "baseline": number(f.get("baseline"), unit, lang),
        "change": change(f.get("change")),
        "p": p_value(e.get("p_value")),
        "p_adjusted": p_value(e.get("p_adjusted")).replace("p", "p(BH)", 1),
        "test": test_name(str(e.get("test", "")), lang),
    }


def test_name(name: str, lang: Lang) -> str:
    return TESTS_ZH.get(name, name) if lang == "zh" else name


def verdict(d: dict[str, Any], lang: Lang) -> str:
    """One sentence: not enough data (what is needed, what there is), no problems, or how many by severity."""
    data = d.get("data") or {}
    if not data.get("enough", True):
        return not_enough(data, lang)
    fs = d.get("findings", [])
    if not fs:
        return {
            "zh": f"运行 {len(d['checked'])} 项检查，未发现问题：各项指标都在阈值内或与噪声无法区分。",
            "en": f"{len(d['checked'])} checks ran, no problems found: every check is within its thresholds "
            "or indistinguishable from noise.",
        }[lang]
    counts = {s: sum(1 for f in fs if f["severity"] == s) for s in SEVERITY}
    parts = [f"{SEVERITY[s][lang]} {n}" for s, n in counts.items() if n]
    sep = "，" if lang == "zh" else ", "
    return {
        "zh": f"运行 {len(d['checked'])} 项检查，发现 {len(fs)} 个问题（{sep.join(parts)}）。",
        "en": f"{len(d['checked'])} checks ran, {len(fs)} problems found ({sep.join(parts)}).",
    }[lang]


def not_enough(data: dict[str, Any], lang: Lang) -> str:
    have, need = data.get("history_days", 0), data.get("needed_days", 0)
    if have < need:
        return {
            "zh": f"数据不足：诊断需要至少 {need} 天的事件记录（当前窗口加一个基线窗口），该应用只有 {have} 天。"
            "无法判断是否有问题。",
            "en": f"Not enough data: the diagnosis needs at least {need} days of events (the current window and "
            f"one baseline window); this app has {have}. It cannot tell whether anything is wrong.",
        }[lang]
    n, users = data.get("min_sample", 0), data.get("active_users", 0)
    return {
        "zh": f"数据不足：每项检查至少需要 {n} 个用户或会话，当前窗口只有 {users} 个活跃用户，没有一项检查能运行。"
        "无法判断是否有问题。",
        "en": f"Not enough data: each check needs at least {n} users or sessions; the current window has {users} "
        "active users, so no check could run. It cannot tell whether anything is wrong.",
    }[lang]


def end_note(d: dict[str, Any], lang: Lang) -> str:
    """Why the window ends where it does, when the doctor chose it (no end date given)."""
    if d.get("end_source") == "last_event_day":
        return {
            "zh": f"未指定截止日期：窗口截止于最后一天有事件的日期 {d['end']}。",
            "en": f"No end date given: the window ends on the last day with events, {d['end']}.",
        }[lang]
    if d.get("end_source") == "yesterday":
        return {
            "zh": f"未指定截止日期：窗口截止于昨天 {d['end']}。",
            "en": f"No end date given: the window ends yesterday, {d['end']}.",
        }[lang]
    return ""
