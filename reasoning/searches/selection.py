"""Choosing one solution among candidates: majority vote, verifier-weighted vote, verifier
argmax, by name from :data:`SELECTIONS` (HF search-and-learn style).

A vote is over final answers (compared after :func:`reasoning.tasks.normalize_answer`); the
system still has to output a solution, so the chosen candidate is one carrying the winning
answer: the first such candidate for majority vote, the highest-scoring one for weighted vote.
Whether it is correct is then up to the task's checker, which on Countdown also checks the steps.

:func:`subset_trials` evaluates best-of-n for many random subsets of size n of a larger pool
at once (Lightman et al. 2023 drew 400 subsets per n and averaged), vectorised over trials.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from reasoning.tasks.jsonl import normalize_answer


@dataclass(frozen=True)
class Candidate:
    """A solution a search produced: the text after the prompt, its final answer (None when it
    did not finish), the verifier's solution score in [0, 1] (NaN without a verifier) and the
    policy tokens generated along its own path."""

    text: str
    answer: str | None
    finished: bool
    score: float = float("nan")
    num_tokens: int = 0


def answer_key(answer: str | None) -> Hashable | None:
    """What votes are counted by: the normalised final answer; None for no answer."""
    return None if answer is None else normalize_answer(answer)


def _scores(candidates: Sequence[Candidate]) -> np.ndarray:
    scores = np.array([c.score for c in candidates], np.float64)
    return np.where(np.isnan(scores), -np.inf, scores)


def _vote(candidates: Sequence[Candidate], weights: np.ndarray) -> Hashable | None:
    """The answer with the largest total weight (ties: the one seen first)."""
    totals: dict[Hashable, float] = {}
    for candidate, weight in zip(candidates, weights, strict=True):
        key = answer_key(candidate.answer)
        if key is not None:
            totals[key] = totals.get(key, 0.0) + float(weight)
    if not totals:
        return None
    return max(totals, key=lambda key: totals[key])  # max keeps the first of equal totals


def majority_vote(candidates: Sequence[Candidate]) -> int:
    """The first candidate carrying the most frequent answer."""
    winner = _vote(candidates, np.ones(len(candidates)))
    if winner is None:
        return 0
    return next(i for i, c in enumerate(candidates) if answer_key(c.answer) == winner)


def weighted_vote(candidates: Sequence[Candidate]) -> int:
    """The best-scoring candidate carrying the answer with the largest total verifier score."""
    scores = _scores(candidates)
    winner = _vote(candidates, np.where(np.isfinite(scores), scores, 0.0))
    if winner is None:
        return best_score(candidates)
    members = [i for i, c in enumerate(candidates) if answer_key(c.answer) == winner]
    return max(members, key=lambda i: scores[i])


def best_score(candidates: Sequence[Candidate]) -> int:
    """The highest-scoring finished candidate (any candidate when none finished)."""
    scores = _scores(candidates)
    finished = np.array([c.finished for c in candidates])
    if finished.any():
        scores = np.where(finished, scores, -np.inf)
    return int(np.argmax(scores))


SELECTIONS: dict[str, Callable[[Sequence[Candidate]], int]] = {
    "majority": majority_vote,
    "weighted": weighted_vote,
    "argmax": best_score,
}


def select(name: str, candidates: Sequence[Candidate]) -> int:
    """Index of the candidate the selection ``name`` chooses (candidates must be non-empty)."""
    if name not in SELECTIONS:
        raise ValueError(f"unknown selection {name!r}; choose one of {sorted(SELECTIONS)}")
    if not candidates:
        raise ValueError("cannot select among zero candidates")
    return SELECTIONS[name](candidates)


@dataclass(frozen=True)
class TrialResult:
    """Best-of-n over random subsets of one problem's pool, per trial (T,)."""

    chosen: np.ndarray  # (T,) int64 pool index of the chosen candidate, -1 for none
    correct: np.ndarray  # (T,) bool, the chosen candidate is correct
    covered: np.ndarray  # (T,) bool, some candidate in the subset is correct
    subsets: np.ndarray  # (T, n) int64 pool indices


def subset_trials(
    answers: Sequence[str | None],
    correct: np.ndarray,
    scores: np.ndarray | None,
    selection: str,
    size: int,
    trials: int,
    rng: np.random.Generator,
) -> TrialResult:
    """Apply ``selection`` to ``trials`` random subsets of ``size`` of a pool of P candidates:
    ``answers`` (P,) (None: unfinished), ``correct`` (P,) bool by the task's checker, ``scores``
    (P,) verifier scores (needed by ``weighted`` and ``argmax``). Subsets are drawn without
    replacement; with ``size`` = P every trial is the whole pool (one trial is enough then)."""
    pool = len(answers)
    if not 1 <= size <= pool:
        raise ValueError(f"subset size must be in [1, {pool}] (the pool size), got {size}")
    if selection not in SELECTIONS:
        raise ValueError(f"unknown selection {selection!r}; choose one of {sorted(SELECTIONS)}")
    codes_by_key: dict[Hashable, int] = {}
    codes = np.array(
        [
            -1
            if answer_key(a) is None
            else codes_by_key.setdefault(answer_key(a), len(codes_by_key))
            for a in answers
        ],
        np.int64,
    )  # (P,) answer ids in order of first appearance, -1 for none
    if selection != "majority" and scores is None:
        raise ValueError(f"selection {selection!r} needs verifier scores")
    weights = np.ones(pool) if scores is None else np.asarray(scores, np.float64)
    subsets = np.argsort(rng.random((trials, pool)), axis=1)[:, :size]  # (T, n)
    subset_codes, subset_weights = codes[subsets], weights[subsets]  # (T, n)
    answered = subset_codes >= 0
    rows = np.arange(trials)
    if selection == "argmax":
        finished_scores = np.where(answered, subset_weights, -np.inf)
        position = np.argmax(
            np.where(answered.any(axis=1, keepdims=True), finished_scores, subset_weights), axis=1
        )
    else:
        totals = np.zeros((trials, max(len(codes_by_key), 1)))
        vote_weights = subset_weights if selection == "weighted" else np.ones_like(subset_weights)
        np.add.at(
            totals,
            (np.repeat(rows, size)[answered.reshape(-1)], subset_codes[answered]),
            vote_weights[answered],
        )
        winners = np.argmax(totals, axis=1)  # ties: the answer seen first in the pool
        members = subset_codes == winners[:, None]
        if selection == "majority":
            position = np.argmax(members, axis=1)  # the first carrier of the answer
        else:
            position = np.argmax(np.where(members, subset_weights, -np.inf), axis=1)
        position = np.where(answered.any(axis=1), position, 0)
    chosen = subsets[rows, position]
    correct = np.asarray(correct, bool)
    return TrialResult(
        chosen=chosen,
        correct=correct[chosen],
        covered=np.asarray(correct[subsets].any(axis=1), bool),
        subsets=subsets,
    )
