"""Training text for a policy LM: prompts followed by reference or imperfect solutions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reasoning.tasks.base import Problem, Task


def example_text(task: Task, problem: Problem, steps: Sequence[str]) -> str:
    """``prompt + solution``: the question line, then one line per step, the answer line last."""
    return task.prompt(problem) + task.solution_text(steps)


def training_texts(
    task: Task,
    problems: Sequence[Problem],
    rng: np.random.Generator,
    *,
    samples_per_problem: int = 1,
    error_rate: float = 0.1,
) -> list[str]:
    """Solutions sampled with ``error_rate`` mistakes per step, ``samples_per_problem`` each.

    With ``error_rate = 0.1`` and three or four steps, about a third of the solutions contain a
    mistake (a wrong result, a dead end or a roundabout step), so a model trained on them is an
    imperfect policy that search can improve on.
    """
    return [
        example_text(task, problem, task.sample_solution(problem, rng, error_rate))
        for problem in problems
        for _ in range(samples_per_problem)
    ]
