"""Game of 24: combine four numbers (1..13), each exactly once, into 24 with + - * /.

Rules (as the real game): intermediate results may be negative or fractional (exact
:class:`fractions.Fraction` arithmetic, written ``n/d`` in steps); division by zero is not allowed;
all numbers must be used, so the answer line ``Answer: 24`` may be written only when the pool is
exactly ``[24]``. Only solvable instances are generated (1362 of the 1820 multisets of 1..13).

Difficulty knobs: ``num_numbers`` (2..7), ``number_range``, ``target``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from fractions import Fraction

import numpy as np

from reasoning.tasks.base import Problem
from reasoning.tasks.format import Equation, Number
from reasoning.tasks.pool import NumbersProblem, PoolTask
from reasoning.tasks.solver import RATIONALS, can_make, canonical, derive

MAX_ENUMERATED = 200_000  # number multisets beyond which splits are filled by random draws


class Game24Task(PoolTask):
    name = "game24"
    rules = RATIONALS
    uses_all_numbers = True
    rules_text = "no division by zero"

    def __init__(
        self,
        *,
        num_numbers: int = 4,
        number_range: Sequence[int] = (1, 13),
        target: int = 24,
        seed: int = 0,
        train_size: int = 1000,
        test_size: int = 100,
    ):
        super().__init__(
            num_numbers=num_numbers, number_range=number_range, seed=seed,
            train_size=train_size, test_size=test_size,
        )  # fmt: skip
        self.target = int(target)

    def sample_problem(self, rng: np.random.Generator) -> NumbersProblem | None:
        return self._problem(self.draw_numbers(rng), rng)

    def candidates(self, rng: np.random.Generator) -> Iterator[Problem | None]:
        """A shuffle of every multiset of numbers when there are few (1820 for four of 1..13),
        so a split can hold all solvable ones; random draws otherwise."""
        low, high = self.number_range
        if math.comb(high - low + self.num_numbers, self.num_numbers) > MAX_ENUMERATED:
            yield from super().candidates(rng)
            return
        every = list(
            itertools.combinations_with_replacement(range(low, high + 1), self.num_numbers)
        )
        for index in rng.permutation(len(every)):
            yield self._problem(every[index], rng)

    def _problem(self, numbers: tuple[int, ...], rng: np.random.Generator) -> NumbersProblem | None:
        """The problem for these numbers with a random reference solution; None if unsolvable."""
        pool = [Fraction(number) for number in numbers]
        if not can_make(canonical(pool), self.target, self.rules):
            return None
        return NumbersProblem(
            question=f"Use each of {' '.join(map(str, numbers))} once to make {self.target}.",
            answer=str(self.target),
            steps=self.reference_steps(numbers, self.target, rng),
            numbers=numbers,
            target=self.target,
        )

    def goal_met(self, problem: NumbersProblem, pool: Sequence[Number]) -> bool:
        return len(pool) == 1 and pool[0] == problem.target

    def remaining_steps(self, problem: NumbersProblem, pool: Sequence[Number]) -> int | None:
        if can_make(canonical(pool), problem.target, self.rules):
            return len(pool) - 1
        return None

    def plan(
        self, problem: NumbersProblem, pool: Sequence[Number], rng: np.random.Generator
    ) -> list[Equation]:
        return derive(canonical(pool), problem.target, self.rules, rng)
