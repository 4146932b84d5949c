"""The tests behind "why this is not noise". Each returns evidence: test name, statistic, one-sided p-value
(in the bad direction) and the sample sizes; `bh` controls the false-discovery rate over all of them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal


def _st() -> Any:
    # scipy.stats costs ~1 s to import; only an analysis needs it, not every `huoli` command's start.
    from scipy import stats

    return stats


Direction = Literal["down", "up"]


def _p(x: float) -> float:
    return float(min(1.0, max(0.0, x))) if not math.isnan(x) else 1.0


def two_proportions(k1: int, n1: int, k0: int, n0: int, direction: Direction) -> dict[str, Any]:
    """Pooled two-proportion z-test of the current rate k1/n1 against the baseline k0/n0."""
    p1, p0 = k1 / n1, k0 / n0
    pooled = (k1 + k0) / (n1 + n0)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    z = (p1 - p0) / se if se > 0 else 0.0
    p = _st().norm.cdf(z) if direction == "down" else _st().norm.sf(z)
    return {"test": "two-proportion z-test", "statistic": z, "p_value": _p(p), "n": n1, "n_baseline": n0}


def welch(
    mean1: float, var1: float, n1: int, mean0: float, var0: float, n0: int, direction: Direction
) -> dict[str, Any]:
    """Welch's t-test from summary statistics (means, sample variances, sizes)."""
    if n1 < 2 or n0 < 2:
        return {"test": "Welch t-test", "statistic": 0.0, "p_value": 1.0, "n": n1, "n_baseline": n0}
    if var1 <= 0 and var0 <= 0:
        # Both samples constant: any difference is exact, no difference is none.
        diff = mean1 - mean0
        bad = diff < 0 if direction == "down" else diff > 0
        return {
            "test": "Welch t-test",
            "statistic": 0.0,
            "p_value": 0.0 if bad else 1.0,
            "n": n1,
            "n_baseline": n0,
        }
    res = _st().ttest_ind_from_stats(
        mean1,
        math.sqrt(max(var1, 0.0)),
        n1,
        mean0,
        math.sqrt(max(var0, 0.0)),
        n0,
        equal_var=False,
        alternative="less" if direction == "down" else "greater",
    )
    return {
        "test": "Welch t-test",
        "statistic": float(res.statistic),
        "p_value": _p(float(res.pvalue)),
        "n": n1,
        "n_baseline": n0,
    }


def daily_series(current: Sequence[float], baseline: Sequence[float], direction: Direction) -> dict[str, Any]:
    """Welch's t-test of the current window's daily values against the baseline's, plus the baseline's
    Shewhart 3-sigma control limits (reported so an operator sees how far outside normal the days are)."""
    n1, n0 = len(current), len(baseline)
    m1 = sum(current) / n1 if n1 else 0.0
    m0 = sum(baseline) / n0 if n0 else 0.0
    v1 = sum((x - m1) ** 2 for x in current) / (n1 - 1) if n1 > 1 else 0.0
    v0 = sum((x - m0) ** 2 for x in baseline) / (n0 - 1) if n0 > 1 else 0.0
    out = welch(m1, v1, n1, m0, v0, n0, direction)
    sd = math.sqrt(v0)
    out.update(
        test="Welch t-test on daily values",
        control_limits={"center": m0, "lower": m0 - 3 * sd, "upper": m0 + 3 * sd},
        days_outside=sum(1 for x in current if (x < m0 - 3 * sd if direction == "down" else x > m0 + 3 * sd)),
    )
    return out


def rate_vs_threshold(k: int, n: int, threshold: float, direction: Direction) -> dict[str, Any]:
    """Exact binomial test that the true rate is below (direction down) or above the threshold."""
    res = _st().binomtest(k, n, threshold, alternative="less" if direction == "down" else "greater")
    return {"test": "exact binomial test vs threshold", "statistic": k / n, "p_value": _p(res.pvalue), "n": n}


def counts_ratio(current: int, baseline: int, windows: int, direction: Direction) -> dict[str, Any]:
    """Poisson counts: the current window's count against `windows` baseline windows' total, by the
    conditional binomial test (current | total ~ Binomial(total, 1 / (windows + 1)) when the rate is equal)."""
    total = current + baseline
    if total == 0:
        return {"test": "conditional Poisson test", "statistic": 0.0, "p_value": 1.0, "n": 0}
    q = 1 / (windows + 1)
    res = _st().binomtest(current, total, q, alternative="less" if direction == "down" else "greater")
    return {
        "test": "conditional Poisson test",
        "statistic": current / (baseline / windows) if baseline else math.inf,
        "p_value": _p(res.pvalue),
        "n": total,
    }


def poisson_vs_threshold(events: int, exposure: int, threshold: float) -> dict[str, Any]:
    """Events per unit of exposure below the threshold: P(X ≤ events) for X ~ Poisson(threshold × exposure)."""
    p = _st().poisson.cdf(events, threshold * exposure)
    return {
        "test": "Poisson test vs threshold",
        "statistic": events / exposure,
        "p_value": _p(p),
        "n": exposure,
    }


def mean_vs_threshold(mean: float, var: float, n: int, threshold: float) -> dict[str, Any]:
    """One-sample t-test that the mean exceeds the threshold."""
    if n < 2:
        return {"test": "one-sample t-test vs threshold", "statistic": 0.0, "p_value": 1.0, "n": n}
    se = math.sqrt(max(var, 0.0) / n)
    if se == 0:
        return {
            "test": "one-sample t-test vs threshold",
            "statistic": 0.0,
            "p_value": 0.0 if mean > threshold else 1.0,
            "n": n,
        }
    t = (mean - threshold) / se
    return {
        "test": "one-sample t-test vs threshold",
        "statistic": t,
        "p_value": _p(_st().t.sf(t, n - 1)),
        "n": n,
    }


def bh(p_values: Sequence[float], q: float) -> tuple[list[bool], list[float]]:
    """Benjamini–Hochberg: which hypotheses are rejected at false-discovery rate q, and adjusted p-values."""
    m = len(p_values)
    if m == 0:
        return [], []
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p_values[i] * m / rank)
        adjusted[i] = min(1.0, running)
    return [a <= q for a in adjusted], adjusted


def variance(s: float, sq: float, n: int) -> float:
    """Sample variance from the sum and the sum of squares (what the SQL aggregates return)."""
    return max((sq - s * s / n) / (n - 1), 0.0) if n > 1 else 0.0


def pooled_variance(ws: list[dict[str, Any]], sum_key: str, var_key: str, n_key: str) -> float:
    """Variance of the union of several windows' samples, from each window's sum, variance and size."""
    n = sum(w[n_key] for w in ws)
    if n < 2:
        return 0.0
    total = sum(w[sum_key] for w in ws)
    sq = sum(w[var_key] * (w[n_key] - 1) + (w[sum_key] ** 2 / w[n_key] if w[n_key] else 0.0) for w in ws)
    return variance(total, sq, n)
