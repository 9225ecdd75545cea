"""Countdown: reach a target from a few numbers with + - * /.

Rules (as in the TV game): each step ``a op b = c`` uses two available numbers, which are consumed,
and adds ``c``; every result must be a positive integer (so ``a - b`` needs ``a > b`` and ``a / b``
needs ``b`` to divide ``a``); not every number has to be used. The answer line ``Answer: T`` may
be written once the target ``T`` is among the available numbers.

Difficulty knobs: ``num_numbers`` (2..7), ``number_range``, ``target_range``, and ``min_steps`` (the
fewest steps a solution must need). Only solvable problems are generated.

Problem files: ``test_file`` / ``train_file`` (JSON lines ``{"numbers": [25, 4, 7, 3], "target":
98}``, other fields ignored; :func:`load_countdown_file`) replace a generated split, keeping the
exact step and answer checkers; the generated other split skips their problems. A malformed
line is refused naming the file, the line and the field.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from reasoning.tasks.base import SplitName, check_range
from reasoning.tasks.format import Equation, Number
from reasoning.tasks.jsonl import json_lines
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
        test_file: str | None = None,
        train_file: str | None = None,
    ):
        super().__init__(
            num_numbers=num_numbers, number_range=number_range, seed=seed,
            train_size=train_size, test_size=test_size,
        )  # fmt: skip
        if not 1 <= min_steps <= num_numbers - 1:
            raise ValueError(f"min_steps must be in [1, num_numbers - 1], got {min_steps}")
        self.target_range = check_range("target_range", target_range, low=1)
        self.min_steps = min_steps
        files: tuple[tuple[SplitName, str | None], ...] = (
            ("test", test_file), ("train", train_file),
        )  # fmt: skip
        for split, path in files:
            if path is not None:
                self.give_split(split, load_countdown_file(self, path, solved=split == "train"))

    def sample_problem(self, rng: np.random.Generator) -> NumbersProblem | None:
        numbers = self.draw_numbers(rng)
        target = int(rng.integers(self.target_range[0], self.target_range[1] + 1))
        steps_needed = min_steps(numbers, target, self.rules)
        if steps_needed is None or steps_needed < self.min_steps:
            return None
        return self.make_problem(numbers, target, self.reference_steps(numbers, target, rng))

    def make_problem(
        self, numbers: Sequence[int], target: int, steps: tuple[str, ...] | None
    ) -> NumbersProblem:
        """The problem of reaching ``target`` from ``numbers`` (sorted), with reference
        ``steps`` (None: none given)."""
        numbers = tuple(sorted(int(number) for number in numbers))
        return NumbersProblem(
            question=f"Use {' '.join(map(str, numbers))} to make {target}.",
            answer=str(target),
            steps=steps,
            numbers=numbers,
            target=int(target),
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


COUNTDOWN_LINE = '{"numbers": [25, 4, 7, 3], "target": 98}'


def _positive_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def load_countdown_file(
    task: CountdownTask, path: str | Path, *, solved: bool = False
) -> tuple[NumbersProblem, ...]:
    """The Countdown problems of a JSON-lines file, in file order, repeats dropped (blank lines
    skipped): ``numbers`` a list of 2..7 positive integers, ``target`` a positive integer, other
    fields ignored. ``solved``: every problem must be solvable, and gets a reference solution
    (train problems: the policy learns from them); otherwise unsolvable problems are kept (no
    method can solve them, which lowers every accuracy alike)."""
    path = Path(path)

    def refuse(line_number: int, message: str) -> ValueError:
        return ValueError(f"{path}:{line_number}: {message}; expected a line like {COUNTDOWN_LINE}")

    problems: dict[object, NumbersProblem] = {}
    for line_number, record in json_lines(path, "Countdown problem file", refuse):
        numbers, target = _fields(record, functools.partial(refuse, line_number))
        steps = None
        if solved:
            if min_steps(tuple(sorted(numbers)), target, task.rules) is None:
                raise refuse(
                    line_number,
                    f"target {target} cannot be made from {numbers}: a train problem needs a "
                    f"solution to learn from",
                )
            rng = np.random.default_rng(np.random.SeedSequence([task.seed, line_number]))
            steps = task.reference_steps(sorted(numbers), target, rng)
        problem = task.make_problem(numbers, target, steps)
        problems.setdefault(problem.key, problem)
    if not problems:
        raise ValueError(f"{path}: the file has no problems; expected lines like {COUNTDOWN_LINE}")
    return tuple(problems.values())


def _fields(record: object, refuse: Callable[[str], ValueError]) -> tuple[list[int], int]:
    """``numbers`` and ``target`` of one parsed line, checked."""
    from reasoning.tasks.solver import MAX_NUMBERS

    if not isinstance(record, dict):
        raise refuse("a line must be a JSON object")
    for name in ("numbers", "target"):
        if name not in record:
            raise refuse(f"missing field {name!r}")
    numbers, target = record["numbers"], record["target"]
    if (
        not isinstance(numbers, list)
        or not 2 <= len(numbers) <= MAX_NUMBERS
        or not all(_positive_integer(number) for number in numbers)
    ):
        raise refuse(
            f"field 'numbers' must be a list of 2 to {MAX_NUMBERS} positive integers, got "
            f"{numbers!r}"
        )
    if not _positive_integer(target):
        raise refuse(f"field 'target' must be a positive integer, got {target!r}")
    return numbers, target
