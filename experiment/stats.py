"""Interval statistics shared by the game arena and the reasoning evaluation (REFERENCES.md,
"Ratings"): the Wilson interval of a win or success rate, the percentile bootstrap interval of a
mean, and the Elo difference of a score. One function per kind; both domains call these."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

_NORMAL = NormalDist()


def normal_quantile(probability: float) -> float:
    """The standard normal quantile Phi^-1(``probability``): 1.959964 at 0.975, 1.644854 at 0.95.
    The one place every interval of the project takes its z from."""
    return _NORMAL.inv_cdf(probability)


Z_95 = normal_quantile(0.975)  # two-sided 95% intervals
ONE_SIDED_Z_95 = normal_quantile(0.95)  # one-sided 95% bounds: P(rate <= bound) = 95%


# Wilson intervals keep z = 1.96, the rounded Z_95 they were first published with: every score
# interval in docs/results reads the same again (tests/test_stats.py holds them to it exactly).
WILSON_Z_95 = 1.96


def wilson_interval(successes: float, trials: int, z: float = WILSON_Z_95) -> tuple[float, float]:
    """Wilson score interval of a success rate; (0, 1) for no trials. Draws count half a win.

    This is ``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")`` (tested equal), with
    one thing scipy does not take: a count with half wins (a match's draws), which is why the
    formula is written out rather than called."""
    if trials <= 0:
        return 0.0, 1.0
    rate = successes / trials
    denominator = 1.0 + z * z / trials
    centre = (rate + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(rate * (1 - rate) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def bootstrap_interval(
    values: np.ndarray, rng: np.random.Generator, resamples: int = 1000, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (N,) (per-problem results, say:
    solved or not, or an average over subsets), resampling them with replacement
    (``scipy.stats.bootstrap``); the same generator state gives the same interval. (0, 1) for no
    values; a single value is its own interval."""
    from scipy.stats import bootstrap

    values = np.asarray(values, np.float64)
    if values.size == 0:
        return 0.0, 1.0
    if values.size == 1:
        return float(values[0]), float(values[0])
    result = bootstrap(
        (values,), np.mean, n_resamples=resamples, confidence_level=level,
        method="percentile", vectorized=True, rng=rng,
    )  # fmt: skip
    low, high = result.confidence_interval
    return float(low), float(high)


def score_interval(wins: int, draws: int, losses: int) -> tuple[float, float, float]:
    """A player's score over a match (draws count half) and its Wilson 95% interval."""
    games = wins + draws + losses
    if games == 0:
        return 0.5, 0.0, 1.0
    low, high = wilson_interval(wins + 0.5 * draws, games)
    return (wins + 0.5 * draws) / games, low, high


def percentile_interval(samples: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """The percentile bootstrap interval (low, high), each (...), of ``samples`` (B, ...): the
    (1 - level) / 2 and (1 + level) / 2 quantiles over the first axis. A resample that left a
    value undefined (NaN: a rating the resampled games do not bound, a fit with too few points)
    counts against both bounds, as -inf for the low one and +inf for the high one, so that an
    interval never looks narrower than the resamples allow. No samples: NaN bounds."""
    samples = np.asarray(samples, np.float64)
    if len(samples) == 0:
        nothing = np.full(samples.shape[1:], np.nan)
        return nothing, nothing.copy()
    tail = round((1 - level) / 2, 12)  # 0.025, not 0.025000000000000022: one order statistic off
    return _quantiles(samples, tail, 1 - tail)


def _quantiles(samples: np.ndarray, low_level: float, high_level: float) -> tuple:
    """The ``low_level`` quantile with NaN samples as -inf and the ``high_level`` one with them
    as +inf (:func:`percentile_interval`)."""
    undefined = np.isnan(samples)
    low = np.quantile(np.where(undefined, -np.inf, samples), low_level, 0, method="inverted_cdf")
    high = np.quantile(np.where(undefined, np.inf, samples), high_level, 0, method="inverted_cdf")
    return low, high


def bias_corrected_interval(
    estimate: float, samples: np.ndarray, level: float = 0.95
) -> tuple[float, float]:
    """The bias-corrected percentile bootstrap interval (Efron 1981; Efron and Tibshirani, "An
    Introduction to the Bootstrap", 14.3) of the statistic ``estimate`` from its values on
    ``samples`` (B,) resamples. Where the resamples' values sit mostly on one side of the
    estimate, the statistic is median-biased, and the resamples repeat that bias on top of it:
    the plain percentile interval then sits twice the bias off the truth. With z0 the normal
    quantile of the share of defined resamples below the estimate (ties half), the interval
    takes the quantiles Phi(2 z0 -+ z) instead of Phi(-+z); z0 = 0 gives
    :func:`percentile_interval`, as does an estimate that is not finite. Undefined (NaN)
    resamples count against both bounds, as there."""
    samples = np.asarray(samples, np.float64)
    if len(samples) == 0:
        return math.nan, math.nan
    defined = samples[~np.isnan(samples)]
    bias = 0.0
    if math.isfinite(estimate) and len(defined):
        below = np.mean(defined < estimate) + 0.5 * np.mean(defined == estimate)
        edge = 0.5 / len(defined)  # a share of 0 or 1 says only "beyond every resample"
        bias = normal_quantile(float(min(max(below, edge), 1 - edge)))
    z = normal_quantile((1 + level) / 2)
    low, high = _quantiles(samples, _NORMAL.cdf(2 * bias - z), _NORMAL.cdf(2 * bias + z))
    return float(low), float(high)
