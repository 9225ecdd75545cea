"""Coverage: the unbiased pass@k. (Intervals are ``experiment.stats``', shared with the games.)"""

from __future__ import annotations

import numpy as np

__all__ = ["pass_at_k"]


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
