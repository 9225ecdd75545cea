"""Choosing one solution among candidates: the first finished one, majority vote,
verifier-weighted vote, verifier argmax, by name from :data:`RULES` (HF search-and-learn style);
the best-of-N selections of an evaluation (a rule with a verifier's scores, a PRM's aggregated)
by name from :data:`BEST_OF_N`.

A vote is over final answers (compared after :func:`reasoning.tasks.normalize_answer`); the
system still has to output a solution, so the chosen candidate is one carrying the winning
answer: the first such candidate for majority vote, the highest-scoring one for weighted vote.
Whether it is correct is then up to the task's checker, which on Countdown also checks the steps.

One implementation, :func:`choose`, vectorised over rows of candidates: :func:`select` applies
it to one list, :func:`subset_trials` to many random subsets of size n of a larger pool at once
(Lightman et al. 2023 drew 400 subsets per n and averaged), so both choose alike, ties included.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from reasoning.tasks.jsonl import normalize_answer
from reasoning.verifiers.base import AGGREGATIONS


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


RULES = ("first", "majority", "weighted", "argmax")
SCORED_RULES = ("weighted", "argmax")  # the rules that read verifier scores


def _best(scores: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Per row (T, n), the position of the highest-scoring eligible candidate (the first of
    equal scores; an eligible candidate without a score still beats an ineligible one)."""
    floor = np.finfo(np.float64).min
    scored = np.where(np.isnan(scores), floor, np.maximum(scores, floor))
    return np.argmax(np.where(eligible, scored, -np.inf), axis=1)


def choose(rule: str, codes: np.ndarray, scores: np.ndarray | None) -> np.ndarray:
    """The position (T,) of the candidate ``rule`` chooses in each row of candidates: ``codes``
    (T, n) their answers as ids in [0, A) (equal answers equal ids, -1 for no answer) and
    ``scores`` (T, n) their verifier scores (NaN: none; needed by ``weighted`` and ``argmax``).

    - ``first``: the first candidate with an answer (of independent samples in random order, a
      random finished one: the baseline where every finished candidate claims the same answer,
      as on Countdown, and a vote has nothing to count);
    - ``majority``: the answer most candidates carry; its first carrier;
    - ``weighted``: the answer with the largest total score (a missing score counts 0); its
      highest-scoring carrier (the first of equal scores);
    - ``argmax``: the highest-scoring candidate with an answer (the first of equal scores).

    Ties between answers go to the answer whose first carrier comes first in the row, so the
    choice depends on the candidates and their order only, never on how answers are numbered.
    A row without any answer: position 0 (first, majority) or the best score (weighted,
    argmax)."""
    if rule not in RULES:
        raise ValueError(f"unknown selection {rule!r}; choose one of {sorted(RULES)}")
    if rule in SCORED_RULES and scores is None:
        raise ValueError(f"selection {rule!r} needs verifier scores")
    codes = np.asarray(codes, np.int64)
    trials, size = codes.shape
    values = np.full(codes.shape, np.nan) if scores is None else np.asarray(scores, np.float64)
    answered = codes >= 0
    anything = np.asarray(answered.any(axis=1))  # (T,) rows with some answer
    if rule == "first":
        return np.where(anything, np.argmax(answered, axis=1), 0)
    if rule == "argmax":
        return _best(values, answered | ~anything[:, None])
    answers = int(codes.max()) + 1 if answered.any() else 1
    index = (np.arange(trials)[:, None] * answers + codes)[answered]  # (row, answer) flattened
    weights = np.ones(codes.shape) if rule == "majority" else np.nan_to_num(values, nan=0.0)
    totals = np.bincount(index, weights[answered], trials * answers).reshape(trials, answers)
    first = np.full(trials * answers, size)
    np.minimum.at(first, index, np.broadcast_to(np.arange(size), codes.shape)[answered])
    first = first.reshape(trials, answers)  # (T, A) position of each answer's first carrier
    present = np.where(first < size, totals, -np.inf)
    tied = present == present.max(axis=1, keepdims=True)
    winner = np.argmin(np.where(tied, first, size), axis=1)  # (T,) of the tied, the first seen
    rows = np.arange(trials)
    if rule == "majority":
        return np.where(anything, first[rows, winner], 0)
    carriers = (codes == winner[:, None]) & anything[:, None]
    return _best(values, carriers | ~anything[:, None])


def _codes(answers: Sequence[str | None]) -> np.ndarray:
    """Answer ids (N,) in order of first appearance; -1 for no answer."""
    ids: dict[Hashable, int] = {}
    keys = [answer_key(answer) for answer in answers]
    return np.array(
        [-1 if key is None else ids.setdefault(key, len(ids)) for key in keys], np.int64
    )


def select(name: str, candidates: Sequence[Candidate]) -> int:
    """Index of the candidate the selection ``name`` (``majority``, ``weighted``, ``argmax``;
    see :func:`choose`) picks; candidates must be non-empty."""
    if name not in RULES:
        raise ValueError(f"unknown selection {name!r}; choose one of {sorted(RULES)}")
    if not candidates:
        raise ValueError("cannot select among zero candidates")
    codes = _codes([candidate.answer for candidate in candidates])
    scores = np.array([candidate.score for candidate in candidates], np.float64)
    return int(choose(name, codes[None], scores[None])[0])


def majority_vote(candidates: Sequence[Candidate]) -> int:
    """The first candidate carrying the most frequent answer."""
    return select("majority", candidates)


def weighted_vote(candidates: Sequence[Candidate]) -> int:
    """The best-scoring candidate carrying the answer with the largest total verifier score."""
    return select("weighted", candidates)


def best_score(candidates: Sequence[Candidate]) -> int:
    """The highest-scoring candidate with an answer (any candidate when none has one)."""
    return select("argmax", candidates)


@dataclass(frozen=True)
class BestOfN:
    """A best-of-N selection, named as ``results.csv`` names it (``best_of_n/<name>``): the
    :func:`choose` rule ``rule`` on the scores of the verifier ``verifier`` (None: a vote or the
    first finished sample reads no scores), a PRM's step scores aggregated by ``aggregation``
    (``reasoning.verifiers.AGGREGATIONS``; None for one score per solution). The oracle's argmax
    picks a correct sample whenever there is one, so its accuracy is coverage (pass@k).
    ``needs_distinct_answers``: a vote only means something where answers differ."""

    name: str
    verifier: str | None
    rule: str
    aggregation: str | None = None
    needs_distinct_answers: bool = False


# the learned step verifiers (reasoning.pipeline: Monte-Carlo labels, exact checker labels) and
# the aggregations every one is reported with; the pool stores every step score, so each costs
# nothing more to report
PROCESS_VERIFIERS = ("prm", "prm_checker")

BEST_OF_N: dict[str, BestOfN] = {
    selection.name: selection
    for selection in (
        BestOfN("random_finished", None, "first"),
        BestOfN("majority", None, "majority", needs_distinct_answers=True),
        *(
            BestOfN(f"{verifier}_{rule}_{aggregation}", verifier, rule, aggregation)
            for verifier in PROCESS_VERIFIERS
            for rule in ("weighted", "argmax")
            for aggregation in AGGREGATIONS
        ),
        BestOfN("orm_weighted", "orm", "weighted"),
        BestOfN("orm_argmax", "orm", "argmax"),
        BestOfN("oracle", "oracle", "argmax"),
    )
}


def best_of_n_selection(name: str) -> BestOfN:
    """The best-of-N selection called ``name`` (see :data:`BEST_OF_N`)."""
    if name not in BEST_OF_N:
        raise ValueError(f"unknown best-of-N selection {name!r}; choose from {list(BEST_OF_N)}")
    return BEST_OF_N[name]


@dataclass(frozen=True)
class TrialResult:
    """Best-of-n over random subsets of one problem's pool, per trial (T,)."""

    chosen: np.ndarray  # (T,) int64 pool index of the chosen candidate
    correct: np.ndarray  # (T,) bool, the chosen candidate is correct
    covered: np.ndarray  # (T,) bool, some candidate in the subset is correct
    subsets: np.ndarray  # (T, n) int64 pool indices, ascending


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
    replacement and keep the pool's order, so each trial chooses exactly as :func:`select` on
    ``[pool[i] for i in subset]`` (the same :func:`choose`, vectorised over trials); with
    ``size`` = P every trial is the whole pool (one trial is enough then)."""
    pool = len(answers)
    if not 1 <= size <= pool:
        raise ValueError(f"subset size must be in [1, {pool}] (the pool size), got {size}")
    if selection not in RULES:
        raise ValueError(f"unknown selection {selection!r}; choose one of {sorted(RULES)}")
    if selection in SCORED_RULES and scores is None:
        raise ValueError(f"selection {selection!r} needs verifier scores")
    codes = _codes(answers)
    subsets = np.sort(np.argsort(rng.random((trials, pool)), axis=1)[:, :size], axis=1)  # (T, n)
    values = None if scores is None else np.asarray(scores, np.float64)[subsets]
    position = choose(selection, codes[subsets], values)
    chosen = subsets[np.arange(trials), position]
    correct = np.asarray(correct, bool)
    return TrialResult(
        chosen=chosen,
        correct=correct[chosen],
        covered=np.asarray(correct[subsets].any(axis=1), bool),
        subsets=subsets,
    )
