"""Training text for a policy LM: prompts followed by reference or imperfect solutions."""

from __future__ import annotations

from collections.abc import Collection, Hashable, Sequence

import numpy as np

from reasoning.tasks.base import GeneratedTask, Problem, Task
from reasoning.tasks.format import parse_equation

DRILL_LINES = 8  # arithmetic steps per drill text
DRILL_PROBLEM = Problem(question="Arithmetic.", answer="")


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


def arithmetic_drills(
    task: Task,
    count: int,
    rng: np.random.Generator,
    exclude: Collection[Hashable] = (),
    lines: int = DRILL_LINES,
) -> list[str]:
    """``count`` drill texts for a policy: a question line ``Q: Arithmetic.`` (context, as a
    question is), then ``lines`` arithmetic steps (``a op b = c``) of reference solutions to
    fresh problems drawn with ``rng``, none whose key is in ``exclude`` (the run's own
    problems). Solutions are about a third arithmetic; drills put more carries in each batch
    (docs/results/countdown.md: 80% of a countdown4 policy's results right against 47% without
    them, same steps). Raises UserError for a task whose steps are not arithmetic."""
    from experiment import UserError

    refusal = (
        f"policy.drills: the {task.name} task has no generated problems with arithmetic steps "
        "('a op b = c'); drills are for countdown, game24 and chains"
    )
    if not isinstance(task, GeneratedTask):
        raise UserError(refusal)
    steps: list[str] = []
    draws = 0
    while len(steps) < count * lines:
        problem = task.sample_problem(rng)
        draws += 1
        if draws > 1000 and not steps:
            raise UserError(refusal)
        if problem is None or problem.key in exclude:
            continue
        steps += [step for step in task.reference_solution(problem) if parse_equation(step)]
    return [
        task.prompt(DRILL_PROBLEM) + task.solution_text(steps[start : start + lines])
        for start in range(0, count * lines, lines)
    ]
