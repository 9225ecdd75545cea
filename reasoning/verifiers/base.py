"""What every verifier offers, and how step scores become one solution score.

A verifier reads texts that begin with the prompt line (``"Q: ...\\n"``) followed by zero or more
steps, each ending with the step delimiter, and scores them in [0, 1]: the probability that the
solution so far is on the way to a correct answer (a PRM), that the finished solution is correct
(an ORM), or exactly 0 / 1 (the oracle). Every call scores a whole batch at once.

Aggregation of step scores into a solution score is chosen by name from :data:`AGGREGATIONS`
(HF search-and-learn style): ``last`` (the final prefix's score; Snell et al. 2024 found it best
with soft-label PRMs), ``min`` and ``product`` (Lightman et al. 2023's PRM score: the product of
per-step correctness probabilities). No torch here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from reasoning.tasks.format import STEP_DELIMITER


class Verifier(Protocol):
    """Scores step prefixes; ``name`` is ``prm``, ``orm``, ``oracle`` or a user's own."""

    @property
    def name(self) -> str: ...

    @property
    def flops_per_token(self) -> float:
        """Forward FLOPs per token read (about 2 x parameters; 0 for the exact checker)."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens this verifier reads for ``text`` (by its own tokenizer): what its FLOPs are
        counted on, ``flops_per_token`` each."""
        ...

    def score_prefixes(self, texts: Sequence[str]) -> np.ndarray:
        """Scores (L,) float64 in [0, 1] of L texts (prompt + steps so far), in one batch."""
        ...

    def step_scores(self, texts: Sequence[str]) -> list[np.ndarray]:
        """For each text, the score after each of its steps (T_i,) (the prompt is not a step)."""
        ...


def _last(scores: np.ndarray) -> float:
    return float(scores[-1])


def _min(scores: np.ndarray) -> float:
    return float(np.min(scores))


def _product(scores: np.ndarray) -> float:
    return float(np.prod(scores))


AGGREGATIONS: dict[str, Callable[[np.ndarray], float]] = {
    "last": _last,
    "min": _min,
    "product": _product,
}


def aggregate(name: str, step_scores: Sequence[float] | np.ndarray) -> float:
    """One solution score from its step scores (T,) by the aggregation ``name``."""
    if name not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {name!r}; choose one of {sorted(AGGREGATIONS)}")
    scores = np.asarray(step_scores, np.float64)
    if scores.ndim != 1 or scores.size == 0:
        raise ValueError(f"aggregate needs a non-empty 1-D array of step scores, got {scores!r}")
    return AGGREGATIONS[name](scores)


def score_solutions(
    verifier: Verifier, texts: Sequence[str], aggregation: str = "last"
) -> np.ndarray:
    """Solution scores (L,) of L texts (prompt + steps): step scores in one batched call,
    aggregated by name. A text without steps scores as its prompt."""
    per_text = verifier.step_scores(texts)
    empty = [i for i, scores in enumerate(per_text) if len(scores) == 0]
    result = np.zeros(len(texts), np.float64)
    if empty:
        result[empty] = verifier.score_prefixes([texts[i] for i in empty])
    for index, scores in enumerate(per_text):
        if len(scores):
            result[index] = aggregate(aggregation, scores)
    return result


def step_end_positions(text: str, delimiter: str = STEP_DELIMITER) -> list[int]:
    """Character positions where the prompt and each step end (the delimiter; for a last step
    cut before its delimiter, the last character). Entry 0 is the prompt's end."""
    positions = [i for i, char in enumerate(text) if char == delimiter]
    if text and not text.endswith(delimiter):
        positions.append(len(text) - 1)
    return positions
