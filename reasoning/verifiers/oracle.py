"""The exact checker as a verifier: the ceiling a learned verifier is measured against.

A prefix scores 1 when every step so far is valid and a correct solution still extends it (the
task's step verdict ``ok``), else 0; a finished solution scores 1 exactly when it is correct.
Tasks without a step checker (JSONL data) score unfinished prefixes 1 and finished ones by the
final-answer checker. Costs no FLOPs (the checker is exact arithmetic, not a network).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reasoning.tasks.base import Problem, Task
from reasoning.tasks.format import STEP_DELIMITER, is_final_step, split_steps


class OracleVerifier:
    """Scores texts of the given problems (found by their prompt line) with the task's checker."""

    name = "oracle"
    num_parameters = 0
    flops_per_token = 0.0
    exact = True  # a finished solution's score is its true correctness: a proven value

    def __init__(self, task: Task, problems: Sequence[Problem]):
        self.task = task
        self._problems = {task.prompt(problem): problem for problem in problems}

    def _problem(self, text: str) -> tuple[Problem, str]:
        prompt_end = text.find(STEP_DELIMITER)
        prompt = text[: prompt_end + 1] if prompt_end >= 0 else text + STEP_DELIMITER
        if prompt not in self._problems:
            raise KeyError(
                f"the oracle verifier does not know the problem {prompt.strip()!r}; build it "
                f"with the problems it will score"
            )
        return self._problems[prompt], text[len(prompt) :]

    def _step_oks(self, text: str) -> list[float]:
        problem, solution = self._problem(text)
        steps = split_steps(solution)
        if not steps:
            return []
        if not self.task.has_step_checker:
            oks = [1.0] * len(steps)
            if is_final_step(steps[-1]):
                oks[-1] = float(self.task.check_answer(problem, solution))
            return oks
        return [float(verdict.ok) for verdict in self.task.verdicts(problem, steps)]

    def count_tokens(self, text: str) -> int:
        """Characters: the checker has no tokenizer (and costs no FLOPs)."""
        return len(text)

    def score_prefixes(self, texts: Sequence[str]) -> np.ndarray:
        scores = np.ones(len(texts), np.float64)  # the prompt alone: generated tasks are solvable
        for index, text in enumerate(texts):
            oks = self._step_oks(text)
            if oks:
                scores[index] = oks[-1]
        return scores

    def step_scores(self, texts: Sequence[str]) -> list[np.ndarray]:
        return [np.asarray(self._step_oks(text), np.float64) for text in texts]
