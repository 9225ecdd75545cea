"""Comparisons of a reasoning evaluation: paired differences with intervals, and every method on
one matched test-compute axis.

- ``differences.csv``: each method at each budget against a baseline on the same test problems,
  the mean of the per-problem differences with a 95% percentile bootstrap interval over
  problems (``experiment.stats.bootstrap_interval``: resampling problems, both methods
  together, is what makes the interval paired). Baselines: greedy decoding for every method; the
  random finished sample for every best-of-N selection by a verifier; the ORM for a PRM's
  selection by the same rule (``prm_argmax_min`` against ``orm_argmax``, ...).
- ``matched_compute.csv``: at N samples' worth of test FLOPs (the mean FLOPs of the random
  finished sample's best-of-N: policy tokens only), each method's largest budget that costs no
  more, and its accuracy; so that methods are compared at matched compute, not at matched
  nominal budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from experiment.stats import bootstrap_interval
from reasoning.pipeline.evaluation import MethodResult
from reasoning.pipeline.results import ResultRow

BASELINE_SAMPLE = "best_of_n/random_finished"


@dataclass(frozen=True)
class Difference:
    """``method`` minus ``baseline`` at ``budget`` (the baseline's own budget for greedy)."""

    method: str
    budget: int
    baseline: str
    difference: float  # accuracy points, as a fraction of problems
    interval_low: float  # 95% paired bootstrap over problems
    interval_high: float
    problems: int


def _baselines(method: str, names: set[str]) -> list[str]:
    """What ``method`` is compared with, besides greedy (see the module docstring)."""
    family, _, selection = method.partition("/")
    if family != "best_of_n" or method == BASELINE_SAMPLE:
        return []
    baselines = [BASELINE_SAMPLE] if selection not in ("oracle", "majority") else []
    if selection.startswith("prm"):
        rule = "weighted" if "_weighted" in selection else "argmax"
        baselines.append(f"best_of_n/orm_{rule}")
    return [name for name in baselines if name in names]


def paired_differences(
    results: Sequence[MethodResult], rng: np.random.Generator, resamples: int = 1000
) -> list[Difference]:
    """Every method at every budget against greedy, and the best-of-N ones against their
    baselines at the same budget; see the module docstring."""
    by_key = {(result.method, int(result.budget)): result for result in results}
    names = {result.method for result in results}
    greedy = by_key.get(("greedy", 1))
    rows = []
    for result in results:
        pairs = [] if greedy is None or result is greedy else [greedy]
        pairs += [
            by_key[(name, int(result.budget))]
            for name in _baselines(result.method, names)
            if (name, int(result.budget)) in by_key
        ]
        for baseline in pairs:
            difference = result.correct - baseline.correct  # (P,) paired by problem
            low, high = bootstrap_interval(difference, rng, resamples)
            rows.append(
                Difference(
                    result.method,
                    int(result.budget),
                    baseline.method,
                    float(difference.mean()),
                    low,
                    high,
                    len(difference),
                )  # fmt: skip
            )
    return rows


@dataclass(frozen=True)
class MatchedRow:
    """``method`` at the most it can do within ``samples_worth`` samples' test FLOPs."""

    samples_worth: int
    flops: float  # the FLOPs of that many random finished samples, per problem
    method: str
    budget: int  # the method's budget chosen (its largest that costs no more)
    test_flops: float
    accuracy: float
    interval_low: float
    interval_high: float


def matched_compute(rows: Sequence[ResultRow]) -> list[MatchedRow]:
    """Each method's row at every N samples' worth of test FLOPs (see the module docstring);
    empty without best-of-N rows of the random finished sample."""
    reference = sorted(
        (row for row in rows if row.method == BASELINE_SAMPLE), key=lambda row: row.budget
    )
    methods: dict[str, list[ResultRow]] = {}
    for row in rows:
        methods.setdefault(row.method, []).append(row)
    matched = []
    for point in reference:
        for method, group in methods.items():
            affordable = [row for row in group if row.test_flops <= point.test_flops * (1 + 1e-9)]
            if not affordable:
                continue
            best = max(affordable, key=lambda row: (row.test_flops, row.budget))
            matched.append(
                MatchedRow(
                    point.budget,
                    point.test_flops,
                    method,
                    best.budget,
                    best.test_flops,
                    best.accuracy,
                    best.interval_low,
                    best.interval_high,
                )  # fmt: skip
            )
    return matched
