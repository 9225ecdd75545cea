"""Countdown: reach a target from a few numbers with + - * /.

Rules (as in the TV game): each step ``a op b = c`` uses two available numbers, which are consumed,
and adds ``c``; every result must be a positive integer (so ``a - b`` needs ``a > b`` and ``a / b``
needs ``b`` to divide ``a``); not every number has to be used. The answer line ``Answer: T`` may
be written once the target ``T`` is among the available numbers.

Difficulty knobs: ``num_numbers`` (2..7), ``number_range``, ``target_range``, and ``min_steps`` (the
fewest steps a solution must need). Only solvable problems are generated.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reasoning.tasks.base import check_range
from reasoning.tasks.format import Equation, Number
from reasoning.tasks.pool import NumbersProblem, PoolTask
from reasoning.tasks.solver import (
    POSITIVE_INTEGERS,
    can_make,
    canonical,
    derive,
    min_steps,
    sub_multisets,
)


class CountdownTask(PoolTask):
    name = "countdown"
    rules = POSITIVE_INTEGERS
    uses_all_numbers = False
    rules_text = "results must be positive integers; division only when exact"

    def __init__(
        self,
        *,
        num_numbers: int = 4,
        number_range: Sequence[int] = (1, 10),
        target_range: Sequence[int] = (10, 100),
        min_steps: int = 1,
        seed: int = 0,
        train_size: int = 1000,
        test_size: int = 100,
    ):
        super().__init__(
            num_numbers=num_numbers, number_range=number_range, seed=seed,
            train_size=train_size, test_size=test_size,
        )  # fmt: skip
        if not 1 <= min_steps <= num_numbers - 1:
            raise ValueError(f"min_steps must be in [1, num_numbers - 1], got {min_steps}")
        self.target_range = check_range("target_range", target_range, low=1)
        self.min_steps = min_steps

    def sample_problem(self, rng: np.random.Generator) -> NumbersProblem | None:
        numbers = self.draw_numbers(rng)
        target = int(rng.integers(self.target_range[0], self.target_range[1] + 1))
        steps_needed = min_steps(numbers, target, self.rules)
        if steps_needed is None or steps_needed < self.min_steps:
            return None
        return NumbersProblem(
            question=f"Use {' '.join(map(str, numbers))} to make {target}.",
            answer=str(target),
            steps=self.reference_steps(numbers, target, rng),
            numbers=numbers,
            target=target,
        )

    def goal_met(self, problem: NumbersProblem, pool: Sequence[Number]) -> bool:
        return problem.target in pool

    def remaining_steps(self, problem: NumbersProblem, pool: Sequence[Number]) -> int | None:
        return min_steps(canonical(pool), problem.target, self.rules)

    def plan(
        self, problem: NumbersProblem, pool: Sequence[Number], rng: np.random.Generator
    ) -> list[Equation]:
        steps = self.remaining_steps(problem, pool)
        if steps is None:
            raise ValueError(f"cannot reach {problem.target} from {sorted(pool)}")
        subsets = [
            subset
            for subset in sub_multisets(canonical(pool), steps + 1)
            if can_make(subset, problem.target, self.rules)
        ]
        return derive(subsets[rng.integers(len(subsets))], problem.target, self.rules, rng)
