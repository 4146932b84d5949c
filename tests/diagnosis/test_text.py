"""How the doctor's numbers read: rates as percentages, never "p = 0", severities and the verdict in words in
Chinese and English, and "not enough data" saying how much is needed and how much there is."""

from __future__ import annotations

from huoli.diagnosis import text


def test_numbers_read_as_an_operator_reads_them() -> None:
    assert text.number(0.1234, "rate") == "12.3%"
    assert text.number(0.0, "rate") == "0.0%"
    assert text.number(1234.0, "count") == "1,234" and text.number(12.44, "count") == "12.4"
    assert text.number(4200, "ms") == "4.2 s" and text.number(850, "ms") == "850 ms"
    assert text.number(0.8234, "ratio") == "0.82"
    assert text.number(16.0, "days", "zh") == "16 天" and text.number(9.46, "pages", "en") == "9.5 pages"
    assert text.number(None, "rate") == "–" and text.number(float("nan"), "rate") == "–"
    assert text.change(-0.2834) == "−28.3%" and text.change(0.05) == "+5.0%" and text.change(None) == "–"


def test_p_values_never_read_zero() -> None:
    assert text.p_value(0.0) == "p < 0.001"
    assert text.p_value(6.4e-38) == "p < 0.001"
    assert text.p_value(0.0042) == "p = 0.0042"
    assert text.p_value(0.25) == "p = 0.25" and text.p_value(1.0) == "p = 1"


def test_severities_and_verdicts_in_words() -> None:
    assert [text.severity(s, "zh") for s in ("high", "medium", "low")] == ["严重", "警告", "提示"]
    assert [text.severity(s, "en") for s in ("high", "medium", "low")] == ["High", "Warning", "Notice"]
    enough = {"enough": True}
    d = {"checked": ["a", "b", "c"], "findings": [{"severity": "high"}, {"severity": "low"}], "data": enough}
    assert text.verdict(d, "zh") == "运行 3 项检查，发现 2 个问题（严重 1，提示 1）。"
    assert text.verdict(d, "en") == "3 checks ran, 2 problems found (High 1, Notice 1)."
    assert "未发现问题" in text.verdict({"checked": ["a"], "findings": [], "data": enough}, "zh")


def test_not_enough_data_says_what_is_needed_and_what_there_is() -> None:
    short = {"enough": False, "history_days": 5, "needed_days": 14, "min_sample": 30, "active_users": 3}
    d = {"checked": [], "findings": [], "data": short}
    assert text.verdict(d, "zh").startswith("数据不足") and "14 天" in text.verdict(d, "zh")
    assert "只有 5 天" in text.verdict(d, "zh")
    assert text.verdict(d, "en").startswith("Not enough data") and "needs at least 14 days" in text.verdict(
        d, "en"
    )
    few = {**short, "history_days": 40}
    en = text.verdict({**d, "data": few}, "en")
    assert "at least 30 users" in en and "has 3 active users" in en


def test_every_test_name_reads_in_chinese() -> None:
    import inspect

    from huoli.diagnosis import stats
    from huoli.diagnosis.checks import churn_outrunning_growth, root_cause

    src = "".join(inspect.getsource(m) for m in (stats, root_cause, churn_outrunning_growth))
    import re

    names = set(re.findall(r'"test": "([^"]+)"', src)) | set(re.findall(r'\["test"\] = "([^"]+)"', src))
    assert len(names) >= 9
    for name in names:
        assert text.test_name(name, "zh") != name, name
        assert text.test_name(name, "en") == name
