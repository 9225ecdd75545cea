"""Shared logic of the "combine a pool of numbers into a target" tasks (Countdown, Game of 24).

The state after some steps is the pool: the starting numbers minus those consumed plus the
results written (a step ``a op b = c`` consumes one ``a`` and one ``b`` and adds ``c``). A subclass
sets the arithmetic rules and says when the goal is met and whether it can still be reached.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import ClassVar

import numpy as np

from reasoning.tasks.base import (
    GeneratedTask,
    Problem,
    StepVerdict,
    check_error_rate,
    check_range,
)
from reasoning.tasks.format import (
    Equation,
    Number,
    answer_of_step,
    format_answer_step,
    format_number,
    parse_equation,
    parse_number,
)
from reasoning.tasks.solver import MAX_NUMBERS, POSITIVE_INTEGERS, legal_equations, step_is_legal

WRONG_RESULT_OFFSETS = (-10, -3, -2, -1, 1, 2, 3, 10)  # slips a person (or an LM) makes
MAX_STEPS_FACTOR = 3  # a sampled solution has at most this many steps per starting number


@dataclass(frozen=True, kw_only=True)
class NumbersProblem(Problem):
    """Numbers to combine and the target to reach."""

    numbers: tuple[int, ...]
    target: int

    @property
    def key(self) -> Hashable:
        return (type(self).__name__, tuple(sorted(self.numbers)), self.target)


class PoolTask(GeneratedTask):
    """Countdown-like task over a pool of numbers; see :mod:`reasoning.tasks.solver` for rules."""

    rules: ClassVar[str]
    uses_all_numbers: ClassVar[
        bool
    ]  # the goal needs every number (24) or just the target (Countdown)
    # the answer line names the target, which the prompt gives: a vote counts copies of it
    answers_differ = False

    def __init__(
        self,
        *,
        num_numbers: int,
        number_range: Sequence[int],
        seed: int = 0,
        train_size: int = 1000,
        test_size: int = 100,
    ):
        super().__init__(seed=seed, train_size=train_size, test_size=test_size)
        if not 2 <= num_numbers <= MAX_NUMBERS:
            raise ValueError(f"num_numbers must be in [2, {MAX_NUMBERS}], got {num_numbers}")
        self.num_numbers = num_numbers
        self.number_range = check_range("number_range", number_range, low=1)

    def draw_numbers(self, rng: np.random.Generator) -> tuple[int, ...]:
        """``num_numbers`` uniform draws from ``number_range``, sorted."""
        low, high = self.number_range
        return tuple(sorted(int(x) for x in rng.integers(low, high + 1, self.num_numbers)))

    # --- what a subclass decides -------------------------------------------------------------
    def goal_met(self, problem: NumbersProblem, pool: Sequence[Number]) -> bool:
        """Whether the answer line may be written now."""
        raise NotImplementedError

    def remaining_steps(self, problem: NumbersProblem, pool: Sequence[Number]) -> int | None:
        """Fewest steps that still reach the goal from ``pool``; None for a dead end."""
        raise NotImplementedError

    def plan(
        self, problem: NumbersProblem, pool: Sequence[Number], rng: np.random.Generator
    ) -> list[Equation]:
        """A random shortest correct continuation from ``pool`` (which must be able to reach)."""
        raise NotImplementedError

    # --- pool arithmetic ---------------------------------------------------------------------
    def _number(self, value: Fraction) -> Number | None:
        """A parsed number in the pool's type; None if the rules do not allow it."""
        if self.rules == POSITIVE_INTEGERS:
            return int(value) if value.denominator == 1 else None
        return value

    def _trusted(self, value: Fraction) -> Number:
        """A number the generator itself wrote (so the rules allow it), in the pool's type."""
        number = self._number(value)
        assert number is not None, f"{value} is not a {self.name} number"
        return number

    def initial_pool(self, problem: NumbersProblem) -> list[Number]:
        return [self._trusted(Fraction(number)) for number in problem.numbers]

    def _after(self, pool: Sequence[Number], equation: Equation) -> list[Number]:
        remaining = list(pool)
        remaining.remove(self._trusted(equation.left))
        remaining.remove(self._trusted(equation.right))
        return remaining + [self._trusted(equation.result)]

    def _apply(self, pool: list[Number], step: str) -> tuple[list[Number], bool, str]:
        """(pool after the step as claimed, valid, reason)."""
        equation = parse_equation(step)
        if equation is None:
            return pool, False, f"{step.strip()!r} is not a step of the form 'a op b = c'"
        left, right, result = (
            self._number(x) for x in (equation.left, equation.right, equation.result)
        )
        if left is None or right is None or result is None:
            return pool, False, f"{self.name} uses whole numbers only: {step.strip()!r}"
        remaining = list(pool)
        for operand in (left, right):
            if operand not in remaining:
                available = " ".join(format_number(x) for x in sorted(pool))
                return pool, False, f"{format_number(operand)} is not available (have {available})"
            remaining.remove(operand)
        claimed = remaining + [result]
        if not step_is_legal(left, equation.operator, right, self.rules):
            return claimed, False, f"{step.strip()!r} breaks the rules ({self.rules_text})"
        true_result = equation.true_result()
        if true_result != equation.result:
            assert true_result is not None  # a division by zero is not legal
            computed = f"{format_number(left)} {equation.operator} {format_number(right)}"
            wrong = f"{computed} is {format_number(true_result)}, not {format_number(result)}"
            return claimed, False, wrong
        return claimed, True, ""

    rules_text: ClassVar[str] = ""

    def _judge_answer(
        self, problem: NumbersProblem, pool: list[Number], step: str
    ) -> tuple[bool, str]:
        answer = parse_number(answer_of_step(step) or "")
        if answer is None or answer != problem.target:
            return False, f"the answer must be the target {problem.target}, got {step.strip()!r}"
        if not self.goal_met(problem, pool):
            have = " ".join(format_number(x) for x in sorted(pool))
            return False, f"the steps do not reach {problem.target} as required (have {have})"
        return True, ""

    # --- checking ----------------------------------------------------------------------------
    def verdicts(self, problem: Problem, steps: Sequence[str]) -> list[StepVerdict]:
        assert isinstance(problem, NumbersProblem)
        pool = self.initial_pool(problem)
        verdicts: list[StepVerdict] = []
        all_valid, finished = True, False
        for step in steps:
            if finished:
                verdict = StepVerdict(False, False, self.is_final(step), "step after the answer")
            elif self.is_final(step):
                finished = True
                valid, reason = self._judge_answer(problem, pool, step)
                verdict = StepVerdict(valid, valid and all_valid, True, reason)
            else:
                pool, valid, reason = self._apply(pool, step)
                reachable = all_valid and valid and self.remaining_steps(problem, pool) is not None
                if valid and not reachable:
                    reason = (
                        "an earlier step was invalid"
                        if not all_valid
                        else f"dead end: {problem.target} can no longer be reached"
                    )
                verdict = StepVerdict(valid, reachable, False, reason)
            all_valid = all_valid and verdict.valid
            verdicts.append(verdict)
        return verdicts

    # --- solutions ---------------------------------------------------------------------------
    def _legal_steps(self, pool: Sequence[Number]) -> list[Equation]:
        steps = set()
        for i in range(len(pool)):
            for j in range(i + 1, len(pool)):
                steps.update(legal_equations(pool[i], pool[j], self.rules))
        return sorted(steps, key=lambda e: (e.left, e.operator, e.right))

    def _mistake(
        self,
        problem: NumbersProblem,
        pool: list[Number],
        planned: Equation,
        rng: np.random.Generator,
    ) -> Equation:
        """A deliberate mistake: a dead-end step, a roundabout step (one that makes no progress)
        or a wrong result, the kind drawn uniformly; a wrong result when the drawn kind is not
        possible here."""
        kind = ("dead_end", "roundabout", "wrong_result")[rng.integers(3)]
        if kind != "wrong_result":
            progress = self.remaining_steps(problem, pool)
            legal = self._legal_steps(pool)
            for index in rng.permutation(len(legal)):  # the first of the kind, in random order
                after = self.remaining_steps(problem, self._after(pool, legal[index]))
                if (kind == "dead_end" and after is None) or (
                    kind == "roundabout"
                    and after is not None
                    and progress is not None
                    and after >= progress
                ):
                    return legal[index]
        offset = WRONG_RESULT_OFFSETS[rng.integers(len(WRONG_RESULT_OFFSETS))]
        wrong = planned.result + offset
        if self.rules == POSITIVE_INTEGERS and wrong <= 0:
            wrong = planned.result + abs(offset)
        return Equation(planned.left, planned.operator, planned.right, wrong)

    def sample_solution(
        self, problem: Problem, rng: np.random.Generator, error_rate: float = 0.0
    ) -> list[str]:
        assert isinstance(problem, NumbersProblem)
        check_error_rate(error_rate)
        pool = self.initial_pool(problem)
        plan = self.plan(problem, pool, rng)
        steps: list[str] = []
        for _ in range(MAX_STEPS_FACTOR * len(problem.numbers)):
            if self.goal_met(problem, pool) or len(pool) < 2:
                break
            if plan and rng.random() < error_rate:
                equation = self._mistake(problem, pool, plan[0], rng)
                on_plan = False
            elif plan:
                equation, on_plan = plan.pop(0), True
            else:  # lost: wander with legal steps, giving up now and then
                if steps and not self.uses_all_numbers and rng.random() < 0.3:
                    break
                legal = self._legal_steps(pool)
                equation, on_plan = legal[rng.integers(len(legal))], True
            pool = self._after(pool, equation)
            steps.append(equation.text())
            if not on_plan:
                reachable = self.remaining_steps(problem, pool) is not None
                plan = self.plan(problem, pool, rng) if reachable else []
        closest = min(pool, key=lambda x: (abs(x - problem.target), x))
        answer = problem.target if self.goal_met(problem, pool) else closest
        return steps + [format_answer_step(format_number(answer))]

    def reference_steps(
        self, numbers: Sequence[int], target: int, rng: np.random.Generator
    ) -> tuple[str, ...]:
        problem = NumbersProblem(
            question="", answer=str(target), numbers=tuple(numbers), target=target
        )
        return tuple(eq.text() for eq in self.plan(problem, self.initial_pool(problem), rng))
