"""Properties of the statistics beyond the golden table: CUPED, ratio metrics, sequential validity."""

from __future__ import annotations

import numpy as np

from huoli.experiments.stats import (
    CupedStat,
    MeanStat,
    RatioStat,
    cuped_moments,
    moments,
    sequential_test,
    users_needed,
    welch_t_test,
)


def cuped(x: np.ndarray, y: np.ndarray) -> CupedStat:
    return CupedStat(len(y), y.sum(), (y**2).sum(), x.sum(), (x**2).sum(), (x * y).sum())


def test_cuped_shrinks_the_interval_and_keeps_the_estimate_unbiased() -> None:
    rng = np.random.default_rng(7)
    n = 20_000
    pre_a, pre_b = rng.gamma(2.0, 5.0, n), rng.gamma(2.0, 5.0, n)
    post_a = 0.9 * pre_a + rng.normal(0, 2, n)
    post_b = 0.9 * pre_b + rng.normal(0, 2, n) + 0.3
    plain = welch_t_test(
        moments(MeanStat(n, post_a.sum(), (post_a**2).sum())),
        moments(MeanStat(n, post_b.sum(), (post_b**2).sum())),
        relative=False,
    )
    a, b, theta = cuped_moments(cuped(pre_a, post_a), cuped(pre_b, post_b))
    adjusted = welch_t_test(a, b, relative=False)
    assert 0.85 < theta < 0.95
    assert adjusted.se < plain.se / 3
    assert adjusted.ci[0] < 0.3 < adjusted.ci[1]
    assert adjusted.significant and not (plain.ci[0] > 0.3 or plain.ci[1] < 0.3)


def test_ratio_delta_method_matches_resampling() -> None:
    rng = np.random.default_rng(3)
    n = 4000
    orders = rng.poisson(2.0, n) + 1
    revenue = orders * rng.gamma(3.0, 1000.0, n)
    stat = RatioStat(
        n, revenue.sum(), (revenue**2).sum(), orders.sum(), (orders**2).sum(), (revenue * orders).sum()
    )
    boot = []
    for _ in range(400):
        i = rng.integers(0, n, n)
        boot.append(revenue[i].sum() / orders[i].sum())
    assert abs(np.sqrt(stat.variance / n) / np.std(boot) - 1) < 0.15
    assert stat.mean == revenue.sum() / orders.sum()


def test_sequential_interval_is_wider_than_fixed_horizon_and_contains_it() -> None:
    a = moments(MeanStat(5000, 5000 * 10.0, 5000 * (100.0 + 4.0)))
    b = moments(MeanStat(5000, 5000 * 10.2, 5000 * (10.2**2 + 4.0)))
    fixed, seq = welch_t_test(a, b), sequential_test(a, b, tuning=10_000)
    assert seq.ci[0] < fixed.ci[0] < fixed.ci[1] < seq.ci[1]
    assert seq.p_value is not None and fixed.p_value is not None and seq.p_value >= fixed.p_value


def test_sequential_false_positive_rate_under_peeking_stays_near_alpha() -> None:
    rng = np.random.default_rng(11)
    false_positives = 0
    runs = 200
    for _ in range(runs):
        xa, xb = rng.normal(10, 3, 4000), rng.normal(10, 3, 4000)
        for k in range(400, 4001, 400):  # ten peeks
            ra, rb = xa[:k], xb[:k]
            res = sequential_test(
                moments(MeanStat(k, ra.sum(), (ra**2).sum())),
                moments(MeanStat(k, rb.sum(), (rb**2).sum())),
                tuning=8000,
            )
            if res.significant:
                false_positives += 1
                break
    assert false_positives / runs <= 0.05


def test_users_needed_grows_as_effect_shrinks() -> None:
    a = moments(MeanStat(1000, 1000 * 10.0, 1000 * 104.0))
    small = moments(MeanStat(1000, 1000 * 10.05, 1000 * (10.05**2 + 4)))
    big = moments(MeanStat(1000, 1000 * 10.5, 1000 * (10.5**2 + 4)))
    assert users_needed(a, small) > users_needed(a, big) > 0


def test_a_variant_at_zero_without_variance_has_no_relative_interval_but_an_absolute_one() -> None:
    """Control converts 10/20, the variant 0/20: the relative lift's delta-method se is 0 (it divided by it)."""
    from huoli.experiments.stats import ProportionStat, bayesian_test

    a, b = moments(ProportionStat(20, 10)), moments(ProportionStat(20, 0))
    for test in (welch_t_test, sequential_test, bayesian_test):
        rel = test(a, b, relative=True)
        assert rel.se == 0 and rel.ci == (0.0, 0.0)
        ab = test(a, b, relative=False)
        assert ab.se > 0 and ab.lift == -0.5 and ab.ci[0] < -0.5 < ab.ci[1]
