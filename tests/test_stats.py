"""Interval statistics shared by both domains (experiment.stats): Wilson as scipy computes it
(and as it did before scipy), the bootstrap reproducible and covering at its level."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binomtest, norm

from experiment.stats import bootstrap_interval, score_interval, wilson_interval


def _wilson_before_scipy(successes: float, trials: int, z: float = 1.96) -> tuple[float, float]:
    """experiment.stats.wilson_interval as it was written at a244c38 (a reference)."""
    rate = successes / trials
    denominator = 1.0 + z * z / trials
    centre = (rate + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(rate * (1 - rate) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@pytest.mark.parametrize(("successes", "trials"), [(0, 10), (5, 10), (37, 40), (400, 400), (3, 7)])
def test_wilson_equals_scipy_and_the_numbers_before(successes, trials):
    low, high = wilson_interval(successes, trials)
    assert (low, high) == _wilson_before_scipy(successes, trials)  # exactly
    level = 2 * norm.cdf(1.96) - 1  # the confidence level whose two-sided z is 1.96
    reference = binomtest(successes, trials).proportion_ci(level, method="wilson")
    assert (low, high) == pytest.approx((reference.low, reference.high), abs=1e-12)


def test_wilson_of_a_match_counts_draws_half():
    score, low, high = score_interval(wins=6, draws=4, losses=10)
    assert score == 0.4 and (low, high) == wilson_interval(8.0, 20)
    assert (round(low, 3), round(high, 3)) == (0.219, 0.613)
    assert wilson_interval(3, 0) == (0.0, 1.0)


def test_bootstrap_is_reproducible_and_brackets_the_mean():
    values = np.r_[np.ones(30), np.zeros(70)]
    first = bootstrap_interval(values, np.random.default_rng(0))
    assert first == bootstrap_interval(values, np.random.default_rng(0))
    assert first != bootstrap_interval(values, np.random.default_rng(1))
    low, high = first
    # the mean's standard error is sqrt(0.3 * 0.7 / 100) = 0.046: about +-0.09 at 95%
    assert 0.19 < low < 0.23 and 0.37 < high < 0.41
    assert bootstrap_interval(np.zeros(0), np.random.default_rng(0)) == (0.0, 1.0)
    assert bootstrap_interval(np.array([0.25]), np.random.default_rng(0)) == (0.25, 0.25)


def test_bootstrap_covers_the_truth_at_its_level():
    """Over 200 simulated evaluations of 100 problems solved with probability 0.3, the 95%
    interval holds 0.3 between 90% and 99% of the time (the percentile bootstrap runs a little
    narrow at this size)."""
    rng = np.random.default_rng(7)
    covered = []
    for _ in range(200):
        values = (rng.random(100) < 0.3).astype(float)
        low, high = bootstrap_interval(values, rng, resamples=500)
        covered.append(low <= 0.3 <= high)
    assert 0.90 <= np.mean(covered) <= 0.99, np.mean(covered)
