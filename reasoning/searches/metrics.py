"""Accuracy statistics: unbiased pass@k (coverage), Wilson and bootstrap intervals."""

from __future__ import annotations

import numpy as np

from experiment.stats import wilson_interval

__all__ = ["bootstrap_interval", "pass_at_k", "wilson_interval"]


def pass_at_k(num_samples: int, num_correct: int, k: int) -> float:
    """Unbiased pass@k from n >= k samples of which c are correct (Chen et al. 2021,
    REFERENCES.md): ``1 - C(n - c, k) / C(n, k)``, computed as a product for stability."""
    if not 1 <= k <= num_samples or not 0 <= num_correct <= num_samples:
        raise ValueError(
            f"pass@k needs 1 <= k <= n and 0 <= c <= n; got n={num_samples}, c={num_correct}, k={k}"
        )
    if num_samples - num_correct < k:
        return 1.0
    # C(n-c, k) / C(n, k) = prod_{i = n-c+1}^{n} (1 - k / i)
    terms = 1.0 - k / np.arange(num_samples - num_correct + 1, num_samples + 1)
    return float(1.0 - np.prod(terms))


def bootstrap_interval(
    values: np.ndarray, rng: np.random.Generator, resamples: int = 1000, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-problem values (P,) (each in [0, 1]:
    solved or not, or an average over subsets), resampling problems with replacement."""
    values = np.asarray(values, np.float64)
    if values.size == 0:
        return 0.0, 1.0
    means = values[rng.integers(0, values.size, (resamples, values.size))].mean(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)
