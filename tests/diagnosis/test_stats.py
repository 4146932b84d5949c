"""The doctor's statistics against textbook values and scipy on raw samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as st

from huoli.diagnosis import stats
from huoli.diagnosis.service import _pooled_var, _var


def test_two_proportions_matches_the_textbook_z() -> None:
    # 40/200 now vs 300/1000 before: pooled p = 340/1200, z = (0.2 − 0.3) / sqrt(p(1−p)(1/200 + 1/1000)).
    e = stats.two_proportions(40, 200, 300, 1000, "down")
    p = 340 / 1200
    z = (0.2 - 0.3) / math.sqrt(p * (1 - p) * (1 / 200 + 1 / 1000))
    assert e["statistic"] == pytest.approx(z)
    assert e["p_value"] == pytest.approx(st.norm.cdf(z))
    assert stats.two_proportions(40, 200, 300, 1000, "up")["p_value"] == pytest.approx(1 - st.norm.cdf(z))


def test_welch_from_summaries_equals_scipy_on_samples() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(10, 2, 80), rng.normal(11, 3, 300)
    e = stats.welch(a.mean(), a.var(ddof=1), len(a), b.mean(), b.var(ddof=1), len(b), "down")
    ref = st.ttest_ind(a, b, equal_var=False, alternative="less")
    assert e["statistic"] == pytest.approx(ref.statistic)
    assert e["p_value"] == pytest.approx(ref.pvalue)
    # The summaries the doctor computes in SQL (sum, sum of squares) give the same variance.
    assert _var(float(a.sum()), float((a * a).sum()), len(a)) == pytest.approx(a.var(ddof=1))


def test_pooled_variance_of_windows_is_the_variance_of_their_union() -> None:
    rng = np.random.default_rng(5)
    parts = [rng.poisson(4, n).astype(float) for n in (50, 70, 65)]
    ws = [{"s": p.sum(), "v": p.var(ddof=1), "n": len(p)} for p in parts]
    assert _pooled_var(ws, "s", "v", "n") == pytest.approx(np.concatenate(parts).var(ddof=1))


def test_daily_series_reports_control_limits() -> None:
    base = [100.0, 104, 96, 101, 99, 103, 97] * 4
    e = stats.daily_series([70.0] * 7, base, "down")
    sd = float(np.std(base, ddof=1))
    assert e["control_limits"]["lower"] == pytest.approx(100 - 3 * sd)
    assert e["days_outside"] == 7 and e["p_value"] < 1e-6
    assert stats.daily_series([101.0, 99, 100, 102, 98, 100, 100], base, "down")["p_value"] > 0.3


def test_threshold_tests() -> None:
    # 0 of 1,000 users commented: below 1% (P = 0.99^1000); 12 of 1,000 is not.
    assert stats.rate_vs_threshold(0, 1000, 0.01, "down")["p_value"] == pytest.approx(0.99**1000)
    assert stats.rate_vs_threshold(12, 1000, 0.01, "down")["p_value"] > 0.5
    # 20 share opens for 100 shares vs a 0.5 threshold: P(Poisson(50) ≤ 20).
    assert stats.poisson_vs_threshold(20, 100, 0.5)["p_value"] == pytest.approx(st.poisson.cdf(20, 50))
    e = stats.mean_vs_threshold(8.0, 4.0, 100, 6.0)
    assert e["statistic"] == pytest.approx(10.0) and e["p_value"] < 1e-10
    # current 50 vs 4 windows totalling 400: conditional binomial with q = 1/5.
    e = stats.counts_ratio(50, 400, 4, "down")
    assert e["statistic"] == pytest.approx(0.5)
    assert e["p_value"] == pytest.approx(st.binom.cdf(50, 450, 0.2))


def test_benjamini_hochberg() -> None:
    # The classic example: m = 5, q = 0.05; sorted p 0.01 0.02 0.03 0.04 0.5 → the first four rejected.
    reject, adj = stats.bh([0.04, 0.01, 0.5, 0.03, 0.02], 0.05)
    assert reject == [True, True, False, True, True]
    assert adj == pytest.approx([0.05, 0.05, 0.5, 0.05, 0.05])
    assert stats.bh([0.02, 0.3], 0.01) == ([False, False], [0.04, 0.3])
    assert stats.bh([], 0.05) == ([], [])


def test_bh_keeps_the_false_alarm_rate_under_the_null() -> None:
    """Under the global null (every check healthy) BH rejects anything in at most ~q of the runs."""
    rng = np.random.default_rng(11)
    runs = 2000
    alarms = sum(any(stats.bh(list(rng.random(23)), 0.01)[0]) for _ in range(runs))
    assert alarms / runs < 0.02
