"""Verifiers measured directly, on a pool of the policy's own solutions to held-out problems.

- **step AUC**: how well a verifier's score after each step separates the steps the exact
  checker accepts (valid, and the goal still reachable: the oracle's step label, once wrong
  always wrong) from those it rejects; the area under the ROC curve over every step of every
  sampled solution (0.5: no better than chance);
- **top-1 selection**: of the problems where at least one sampled solution is correct, the
  fraction where the verifier's best finished solution (by the aggregated step scores, as
  best-of-N's argmax selects) is a correct one.

Both are what search asks of a verifier and neither needs a search to measure (Lightman et al.
2023 measure their PRM the same way). Each carries its 95% interval: the AUC's from resampling
the problems (a cluster bootstrap: the steps of one problem, and the samples of one problem,
share its difficulty, so resampling steps alone would make the interval too narrow), top-1's a
Wilson interval over the solvable problems. No torch here: verifiers come in through their
interface.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from experiment.stats import percentile_interval, wilson_interval
from reasoning.tasks.base import Problem, Task
from reasoning.tasks.format import extract_answer
from reasoning.verifiers.base import AGGREGATIONS, Verifier, aggregate
from reasoning.verifiers.oracle import OracleVerifier


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` (N,) for binary ``labels`` (N,): the chance that a
    random positive scores above a random negative, ties counting half (Mann-Whitney U over
    average ranks); NaN when one class is missing."""
    scores, labels = np.asarray(scores, np.float64), np.asarray(labels, bool)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = rankdata(scores)
    u = ranks[labels].sum() - positives * (positives + 1) / 2
    return float(u / (positives * negatives))


def clustered_auc_interval(
    scores: np.ndarray,
    labels: np.ndarray,
    clusters: np.ndarray,
    rng: np.random.Generator,
    resamples: int = 1000,
) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of :func:`roc_auc` (``scores``, ``labels``), resampling
    whole ``clusters`` (N,) (a problem's steps) with replacement; a resample with one class
    missing counts against both bounds (:func:`experiment.stats.percentile_interval`). NaN
    bounds where the AUC itself is undefined."""
    scores, labels = np.asarray(scores, np.float64), np.asarray(labels, bool)
    names, members = np.unique(np.asarray(clusters), return_inverse=True)
    if np.isnan(roc_auc(scores, labels)):
        return float("nan"), float("nan")
    order = np.argsort(members, kind="stable")
    starts = np.searchsorted(members[order], np.arange(len(names) + 1))
    samples = np.empty(resamples)
    for b in range(resamples):
        drawn = rng.integers(len(names), size=len(names))
        rows = np.concatenate([order[starts[c] : starts[c + 1]] for c in drawn])
        samples[b] = roc_auc(scores[rows], labels[rows])
    low, high = percentile_interval(samples)
    return float(low), float(high)


@dataclass(frozen=True)
class VerifierMeasurement:
    """One verifier on the held-out pool."""

    name: str
    step_auc: float  # against the exact checker's step labels, every step of every solution
    step_auc_interval: tuple[float, float]  # 95%, problems resampled
    top1: dict[str, float]  # aggregation -> accuracy of its best finished solution
    top1_interval: dict[str, tuple[float, float]]  # aggregation -> 95% Wilson interval
    steps: int  # steps scored
    positive_steps: float  # fraction of them the checker accepts
    problems: int  # problems with a correct solution among their samples (top-1's denominator)

    def summary(self) -> str:
        """One line: the AUC and every top-1 with their intervals."""
        top1 = ", ".join(
            f"{a} {v:.3f} ({self.top1_interval[a][0]:.3f}-{self.top1_interval[a][1]:.3f})"
            for a, v in self.top1.items()
        )
        low, high = self.step_auc_interval
        return (
            f"step AUC {self.step_auc:.3f} ({low:.3f}-{high:.3f}; {self.steps} steps, "
            f"{self.positive_steps:.2f} right); top-1 of {self.problems} solvable: {top1}"
        )


def measure_verifiers(
    task: Task,
    problems: Sequence[Problem],
    solutions: Sequence[Sequence[str]],
    verifiers: Mapping[str, Verifier],
    aggregations: Sequence[str] = tuple(AGGREGATIONS),
    rng: np.random.Generator | None = None,
    resamples: int = 1000,
) -> list[VerifierMeasurement]:
    """Step AUC and top-1 selection of each verifier on ``solutions[p]`` (texts after the
    prompt) sampled for ``problems[p]``, with their intervals (``resamples`` bootstrap draws of
    the problems from ``rng``, the same draws for every verifier); see the module docstring.
    Solutions without steps are left out; unfinished ones count for the AUC but cannot be
    chosen."""
    oracle = OracleVerifier(task, problems)
    texts, owners, correct, finished = [], [], [], []
    for index, (problem, samples) in enumerate(zip(problems, solutions, strict=True)):
        for solution in samples:
            if not solution.strip():
                continue
            texts.append(task.prompt(problem) + solution)
            owners.append(index)
            correct.append(task.check_answer(problem, solution))
            finished.append(extract_answer(solution) is not None)
    owners_array, correct_array = np.asarray(owners), np.asarray(correct, bool)
    finished_array = np.asarray(finished, bool)
    labels = [np.minimum.accumulate(scores) for scores in oracle.step_scores(texts)]
    step_labels = np.concatenate(labels) > 0.5 if labels else np.zeros(0, bool)
    step_owners = np.repeat(owners_array, [len(label) for label in labels]).astype(int)
    seed = (rng or np.random.default_rng(0)).integers(2**63)
    solvable = [p for p in range(len(problems)) if correct_array[owners_array == p].any()]
    measurements = []
    for name, verifier in verifiers.items():
        per_text = verifier.step_scores(texts)
        scores = np.concatenate(per_text) if per_text else np.zeros(0)
        top1, top1_interval = {}, {}
        for aggregation in aggregations:
            solution_scores = np.array(
                [aggregate(aggregation, s) if len(s) else -np.inf for s in per_text]
            )
            solution_scores[~finished_array] = -np.inf
            chosen = [
                np.flatnonzero(owners_array == p)[
                    int(np.argmax(solution_scores[owners_array == p]))
                ]
                for p in solvable
            ]
            top1[aggregation] = float(correct_array[chosen].mean()) if chosen else float("nan")
            top1_interval[aggregation] = wilson_interval(
                float(correct_array[chosen].sum()), len(chosen)
            )
        measurements.append(
            VerifierMeasurement(
                name=name,
                step_auc=roc_auc(scores, step_labels),
                step_auc_interval=clustered_auc_interval(
                    scores, step_labels, step_owners, np.random.default_rng(seed), resamples
                ),
                top1=top1,
                top1_interval=top1_interval,
                steps=int(step_labels.size),
                positive_steps=float(step_labels.mean()) if step_labels.size else float("nan"),
                problems=len(solvable),
            )
        )
    return measurements
