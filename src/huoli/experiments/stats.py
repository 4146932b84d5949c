"""Experiment statistics on summary statistics (pure numpy/scipy), numerically equal to GrowthBook's gbstats.

Inputs are per-variation sufficient statistics — a mean metric is (n, Σx, Σx²), a proportion is (n, Σx) —
so results for millions of users cost microseconds once the event store has aggregated them.
Lifts: absolute = mean_B − mean_A; relative = (mean_B − mean_A) / mean_A with the delta-method variance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def _sps() -> Any:
    # scipy.stats costs ~1 s to import; only an analysis needs it, not every `huoli` command's start.
    from scipy import stats

    return stats


@dataclass(frozen=True)
class MeanStat:
    """A per-user metric in one variation: n users, Σx, Σx² (x = the user's value)."""

    n: int
    sum: float
    sum_squares: float

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        if self.n <= 1:
            return 0.0
        return max((self.sum_squares - self.sum**2 / self.n) / (self.n - 1), 0.0)


@dataclass(frozen=True)
class ProportionStat:
    """A 0/1 metric: n users, of whom `conversions` converted (variance p(1 − p), as gbstats)."""

    n: int
    conversions: float

    @property
    def sum(self) -> float:
        return self.conversions

    @property
    def mean(self) -> float:
        return self.conversions / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        p = self.mean
        return p * (1 - p)


@dataclass(frozen=True)
class RatioStat:
    """A ratio metric Σnum / Σden over users (e.g. revenue per order), with the per-user moments it needs."""

    n: int
    num_sum: float
    num_sum_squares: float
    den_sum: float
    den_sum_squares: float
    num_den_sum: float

    @property
    def mean(self) -> float:
        return self.num_sum / self.den_sum if self.den_sum else 0.0

    @property
    def variance(self) -> float:
        """Delta-method variance of the ratio, scaled to one user (so variance / n is the ratio's variance)."""
        n = self.n
        if n <= 1 or self.den_sum == 0:
            return 0.0
        mx, my = self.num_sum / n, self.den_sum / n
        vx = (self.num_sum_squares - self.num_sum**2 / n) / (n - 1)
        vy = (self.den_sum_squares - self.den_sum**2 / n) / (n - 1)
        cxy = (self.num_den_sum - self.num_sum * self.den_sum / n) / (n - 1)
        return max(vx / my**2 - 2 * cxy * mx / my**3 + vy * mx**2 / my**4, 0.0)


@dataclass(frozen=True)
class CupedStat:
    """A mean metric adjusted by its own pre-exposure value (CUPED): post (n, Σy, Σy²), pre Σx, Σx², Σxy."""

    n: int
    post_sum: float
    post_sum_squares: float
    pre_sum: float
    pre_sum_squares: float
    cross_sum: float

    def moments(self) -> tuple[float, float, float, float, float]:
        n = self.n
        my, mx = self.post_sum / n, self.pre_sum / n
        vy = (self.post_sum_squares - self.post_sum**2 / n) / (n - 1)
        vx = (self.pre_sum_squares - self.pre_sum**2 / n) / (n - 1)
        cxy = (self.cross_sum - self.post_sum * self.pre_sum / n) / (n - 1)
        return my, mx, vy, vx, cxy


Stat = MeanStat | ProportionStat | RatioStat


@dataclass(frozen=True)
class Moments:
    """What every test needs from a variation: its mean, per-unit variance and unit count."""

    n: int
    mean: float
    variance: float


def moments(stat: Stat) -> Moments:
    return Moments(stat.n, stat.mean, stat.variance)


def cuped_moments(a: CupedStat, b: CupedStat) -> tuple[Moments, Moments, float]:
    """Adjust both variations with one pooled θ = cov(pre, post) / var(pre); returns (A, B, θ).

    The adjusted mean is mean_post − θ·(mean_pre − pooled pre mean): unbiased because assignment is random,
    with variance var_post − 2θ·cov + θ²·var_pre (smaller whenever pre and post correlate).
    """
    ya, xa, vya, vxa, ca = a.moments()
    yb, xb, vyb, vxb, cb = b.moments()
    n = a.n + b.n
    var_x = ((a.n - 1) * vxa + (b.n - 1) * vxb) / (n - 2) if n > 2 else 0.0
    cov = ((a.n - 1) * ca + (b.n - 1) * cb) / (n - 2) if n > 2 else 0.0
    theta = cov / var_x if var_x > 0 else 0.0
    pooled_x = (a.pre_sum + b.pre_sum) / n

    def adjusted(y: float, x: float, vy: float, vx: float, c: float, k: int) -> Moments:
        return Moments(k, y - theta * (x - pooled_x), max(vy - 2 * theta * c + theta**2 * vx, 0.0))

    return adjusted(ya, xa, vya, vxa, ca, a.n), adjusted(yb, xb, vyb, vxb, cb, b.n), theta


@dataclass(frozen=True)
class Effect:
    """Point estimate and variance of B − A (absolute) or (B − A) / A (relative, delta method)."""

    estimate: float
    variance: float
    dof: float

    @property
    def se(self) -> float:
        return math.sqrt(self.variance) if self.variance > 0 else 0.0


def effect(a: Moments, b: Moments, *, relative: bool) -> Effect:
    va, vb = a.variance / a.n, b.variance / b.n
    if relative:
        est = (b.mean - a.mean) / a.mean
        var = b.variance / (a.mean**2 * b.n) + a.variance * b.mean**2 / (a.mean**4 * a.n)
    else:
        est = b.mean - a.mean
        var = va + vb
    denom = va**2 / (a.n - 1) + vb**2 / (b.n - 1)
    dof = (va + vb) ** 2 / denom if denom > 0 else math.inf
    return Effect(est, var, dof)


@dataclass(frozen=True)
class TestResult:
    """One comparison of a variation against control. `ci` is two-sided at 1 − alpha."""

    lift: float
    ci: tuple[float, float]
    p_value: float | None
    se: float
    relative: bool
    method: str
    chance_to_win: float | None = None
    risk: tuple[float, float] | None = None  # expected loss of (keeping control, shipping B)
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def significant(self) -> bool:
        return self.ci[0] > 0 or self.ci[1] < 0


def _usable(a: Moments, b: Moments, relative: bool) -> bool:
    if a.n < 2 or b.n < 2 or (a.variance <= 0 and b.variance <= 0):
        return False
    return not (relative and a.mean == 0)


def _blank(relative: bool, method: str) -> TestResult:
    return TestResult(0.0, (0.0, 0.0), 1.0, 0.0, relative, method, None, None)


def welch_t_test(a: Moments, b: Moments, *, relative: bool = True, alpha: float = 0.05) -> TestResult:
    """Two-sided Welch t-test (Welch–Satterthwaite degrees of freedom), as gbstats' TwoSidedTTest."""
    if not _usable(a, b, relative):
        return _blank(relative, "frequentist")
    e = effect(a, b, relative=relative)
    if e.se <= 0:  # e.g. relative lift of a variant at 0 with no variance: no interval to report
        return _blank(relative, "frequentist")
    crit = float(_sps().t.ppf(1 - alpha / 2, e.dof))
    t_stat = e.estimate / e.se
    p = float(2 * _sps().t.sf(abs(t_stat), e.dof))
    w = crit * e.se
    return TestResult(e.estimate, (e.estimate - w, e.estimate + w), p, e.se, relative, "frequentist")


def sequential_rho(alpha: float, tuning: float) -> float:
    """Mixture parameter chosen so the sequence is tightest at N* = `tuning` total units."""
    return math.sqrt((-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / tuning)


def sequential_test(
    a: Moments, b: Moments, *, relative: bool = True, alpha: float = 0.05, tuning: float = 5000
) -> TestResult:
    """Always-valid confidence sequence (Waudby-Smith et al., asymptotic CS eq. 9): safe to peek daily.

    The p-value is the smallest alpha at which the sequence excludes 0 (capped at 1).
    """
    if not _usable(a, b, relative):
        return _blank(relative, "sequential")
    e = effect(a, b, relative=relative)
    if e.se <= 0:  # e.g. relative lift of a variant at 0 with no variance: no interval to report
        return _blank(relative, "sequential")
    n = a.n + b.n
    rho = sequential_rho(alpha, tuning)
    s2 = e.variance * n
    nr2 = n * rho**2
    w = math.sqrt(s2) * math.sqrt(2 * (nr2 + 1) / (n**2 * rho**2) * math.log(math.sqrt(nr2 + 1) / alpha))
    # Solve the width formula for alpha at which |estimate| equals the half-width.
    z2 = e.estimate**2 / e.variance if e.variance > 0 else 0.0
    log_alpha = math.log(math.sqrt(nr2 + 1)) - z2 * nr2 / (2 * (nr2 + 1))
    p = min(1.0, math.exp(log_alpha))
    return TestResult(e.estimate, (e.estimate - w, e.estimate + w), p, e.se, relative, "sequential")


def bayesian_test(a: Moments, b: Moments, *, relative: bool = True, alpha: float = 0.05) -> TestResult:
    """Gaussian effect model with gbstats' default (flat, improper) prior: posterior N(estimate, se²).

    chance to win = P(effect > 0); risk = (E[max(effect, 0)], E[max(−effect, 0)]): the expected loss of
    keeping control and of shipping B, in the lift's units.
    """
    if not _usable(a, b, relative):
        return _blank(relative, "bayesian")
    e = effect(a, b, relative=relative)
    if e.se <= 0:  # e.g. relative lift of a variant at 0 with no variance: no interval to report
        return _blank(relative, "bayesian")
    mu, sd = e.estimate, e.se
    ctw = float(_sps().norm.sf(0, loc=mu, scale=sd))
    lo, hi = (float(x) for x in _sps().norm.ppf([alpha / 2, 1 - alpha / 2], loc=mu, scale=sd))
    z = mu / sd
    gain = mu * float(_sps().norm.cdf(z)) + sd * float(_sps().norm.pdf(z))
    risk = (gain, gain - mu)
    return TestResult(mu, (lo, hi), None, sd, relative, "bayesian", ctw, risk)


def srm_p_value(users: Sequence[float], weights: Sequence[float]) -> float:
    """χ² goodness of fit of observed users per variation against the configured split."""
    obs = np.asarray(users, dtype=float)
    w = np.asarray(weights, dtype=float)
    total = obs.sum()
    if total <= 0 or len(obs) < 2:
        return 1.0
    exp = total * w / w.sum()
    mask = exp > 0
    x2 = float((((obs - exp) ** 2)[mask] / exp[mask]).sum())
    return float(_sps().chi2.sf(x2, int(mask.sum()) - 1))


SRM_THRESHOLD = 0.001


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in input order."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj
    return [float(x) for x in out]


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg (FDR) adjusted p-values, in input order."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")[::-1]
    ranks = np.arange(m, 0, -1)
    adj = np.minimum(1.0, np.minimum.accumulate(p[order] * m / ranks))
    out = np.empty(m)
    out[order] = adj
    return [float(x) for x in out]


def users_needed(
    a: Moments, b: Moments, *, relative: bool = True, alpha: float = 0.05, power: float = 0.8
) -> int:
    """Total users (both arms) for the observed effect to reach significance at `power` — 0 if unknowable."""
    e = effect(a, b, relative=relative) if _usable(a, b, relative) else None
    if e is None or e.estimate == 0:
        return 0
    z = float(_sps().norm.ppf(1 - alpha / 2) + _sps().norm.ppf(power))
    # variance scales as 1/n: find n where z·se(n) = |estimate|
    per_unit = e.variance * (a.n + b.n)
    return math.ceil(per_unit * (z / e.estimate) ** 2)
