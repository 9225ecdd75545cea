"""Arithmetic chains: a start value and a list of operations, applied one per step.

``Q: Start with 7. Add 5, multiply by 3, subtract 4.`` is solved by ``7 + 5 = 12``,
``12 * 3 = 36``, ``36 - 4 = 32``, ``Answer: 32``.

Rules: step ``i`` must apply the ``i``-th operation to the current value (the previous step's
result as written), and be arithmetically exact. Generated chains stay within
``[0, max_value]`` and divide only exactly; after a wrong result, a later step is still *valid*
when it correctly continues from the wrong value, but no longer *reachable* (a dead end).

Difficulty knobs: ``num_operations``, ``start_range``, ``operand_range``, ``max_value``,
``operations`` (any of add, subtract, multiply, divide) and ``wording`` (``words``, ``symbols``
or ``mixed``).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from reasoning.tasks.base import GeneratedTask, Problem, StepVerdict, check_error_rate, check_range
from reasoning.tasks.format import (
    Equation,
    answer_of_step,
    apply_operator,
    format_answer_step,
    format_number,
    parse_equation,
    parse_number,
)

OPERATION_SYMBOLS = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/"}
OPERATION_WORDS = {"+": "add {}", "-": "subtract {}", "*": "multiply by {}", "/": "divide by {}"}
WORDINGS = ("words", "symbols", "mixed")
WRONG_RESULT_OFFSETS = (-10, -2, -1, 1, 2, 10)


@dataclass(frozen=True, kw_only=True)
class ChainProblem(Problem):
    """``start`` followed by ``operations`` as ``(symbol, operand)`` pairs."""

    start: int
    operations: tuple[tuple[str, int], ...]

    @property
    def key(self) -> Hashable:
        return ("ChainProblem", self.start, self.operations)


class ArithmeticChainTask(GeneratedTask):
    name = "arithmetic_chain"

    def __init__(
        self,
        *,
        num_operations: int = 4,
        start_range: Sequence[int] = (1, 20),
        operand_range: Sequence[int] = (2, 9),
        max_value: int = 200,
        operations: Sequence[str] = ("add", "subtract", "multiply", "divide"),
        wording: str = "words",
        seed: int = 0,
        train_size: int = 1000,
        test_size: int = 100,
    ):
        super().__init__(seed=seed, train_size=train_size, test_size=test_size)
        if num_operations < 1:
            raise ValueError(f"num_operations must be >= 1, got {num_operations}")
        unknown = [name for name in operations if name not in OPERATION_SYMBOLS]
        if unknown or not operations:
            raise ValueError(
                f"operations must be a non-empty subset of {list(OPERATION_SYMBOLS)}, "
                f"got {list(operations)}"
            )
        if wording not in WORDINGS:
            raise ValueError(f"wording must be one of {WORDINGS}, got {wording!r}")
        self.num_operations = num_operations
        self.start_range = check_range("start_range", start_range, low=0)
        self.operand_range = check_range("operand_range", operand_range, low=1)
        self.max_value = max_value
        self.symbols = tuple(OPERATION_SYMBOLS[name] for name in operations)
        self.wording = wording

    # --- generation --------------------------------------------------------------------------
    def _operand_choices(self, symbol: str, value: int) -> list[int]:
        operands = range(self.operand_range[0], self.operand_range[1] + 1)
        allowed = {
            "+": lambda d: value + d <= self.max_value,
            "-": lambda d: value - d >= 0,
            "*": lambda d: value * d <= self.max_value,
            "/": lambda d: value % d == 0,
        }[symbol]
        return [operand for operand in operands if allowed(operand)]

    def _describe(self, symbol: str, operand: int, rng: np.random.Generator) -> str:
        use_words = self.wording == "words" or (self.wording == "mixed" and rng.random() < 0.5)
        return OPERATION_WORDS[symbol].format(operand) if use_words else f"{symbol} {operand}"

    def sample_problem(self, rng: np.random.Generator) -> ChainProblem | None:
        start = int(rng.integers(self.start_range[0], self.start_range[1] + 1))
        value, operations = start, []
        for _ in range(self.num_operations):
            choices = [(s, self._operand_choices(s, value)) for s in self.symbols]
            choices = [(s, operands) for s, operands in choices if operands]
            if not choices:
                return None
            symbol, operands = choices[rng.integers(len(choices))]
            operand = operands[rng.integers(len(operands))]
            operations.append((symbol, operand))
            value = int(apply_operator(value, symbol, operand))  # type: ignore[arg-type]
        described = ", ".join(self._describe(s, d, rng) for s, d in operations)
        question = f"Start with {start}. {described[0].upper()}{described[1:]}."
        problem = ChainProblem(
            question=question, answer=str(value), start=start, operations=tuple(operations)
        )
        steps = self._steps(problem, error_rate=0.0, rng=rng)
        return ChainProblem(
            question=question,
            answer=str(value),
            steps=tuple(steps),
            start=start,
            operations=tuple(operations),
        )

    def _steps(
        self, problem: ChainProblem, error_rate: float, rng: np.random.Generator
    ) -> list[str]:
        value, steps = Fraction(problem.start), []
        for symbol, operand in problem.operations:
            result = apply_operator(value, symbol, operand)
            assert result is not None  # operands are >= 1
            if error_rate > 0 and rng.random() < error_rate:
                result += WRONG_RESULT_OFFSETS[rng.integers(len(WRONG_RESULT_OFFSETS))]
            steps.append(Equation(value, symbol, Fraction(operand), result).text())
            value = result
        return steps

    def sample_solution(
        self, problem: Problem, rng: np.random.Generator, error_rate: float = 0.0
    ) -> list[str]:
        """A correct chain, or with ``error_rate`` per step a wrong result later steps build on."""
        assert isinstance(problem, ChainProblem)
        check_error_rate(error_rate)
        steps = self._steps(problem, error_rate, rng)
        final = parse_equation(steps[-1]).result  # type: ignore[union-attr]
        return steps + [format_answer_step(format_number(final))]

    # --- checking ----------------------------------------------------------------------------
    def verdicts(self, problem: Problem, steps: Sequence[str]) -> list[StepVerdict]:
        assert isinstance(problem, ChainProblem)
        value, index = Fraction(problem.start), 0
        verdicts: list[StepVerdict] = []
        all_valid, finished = True, False
        for step in steps:
            if finished:
                verdict = StepVerdict(False, False, self.is_final(step), "step after the answer")
            elif self.is_final(step):
                finished = True
                valid, reason = self._judge_answer(problem, value, index, step)
                verdict = StepVerdict(valid, valid and all_valid, True, reason)
            else:
                valid, reason, value, index = self._judge_step(problem, value, index, step)
                if valid and not all_valid:
                    reason = "an earlier step was invalid"
                verdict = StepVerdict(valid, valid and all_valid, False, reason)
            all_valid = all_valid and verdict.valid
            verdicts.append(verdict)
        return verdicts

    def _judge_step(
        self, problem: ChainProblem, value: Fraction, index: int, step: str
    ) -> tuple[bool, str, Fraction, int]:
        """(valid, reason, value after, operations applied after) for one non-final step."""
        equation = parse_equation(step)
        if equation is None:
            return False, f"{step.strip()!r} is not a step of the form 'a op b = c'", value, index
        if index >= len(problem.operations):
            return False, "all operations were already applied", value, index
        symbol, operand = problem.operations[index]
        expected = f"{format_number(value)} {symbol} {operand}"
        applies_next = equation.operator == symbol and equation.right == operand
        next_index = index + 1 if applies_next else index
        if equation.left != value or not applies_next:
            return False, f"the next step must compute {expected}", equation.result, next_index
        if not equation.is_true():
            true_result = format_number(equation.true_result())  # type: ignore[arg-type]
            reason = f"{expected} is {true_result}, not {format_number(equation.result)}"
            return False, reason, equation.result, next_index
        return True, "", equation.result, next_index

    def _judge_answer(
        self, problem: ChainProblem, value: Fraction, index: int, step: str
    ) -> tuple[bool, str]:
        if index < len(problem.operations):
            left = len(problem.operations) - index
            return False, f"answered with {left} operation(s) still to apply"
        answer = parse_number(answer_of_step(step) or "")
        if answer is None or answer != value or answer != Fraction(problem.answer):
            return False, f"the answer is not {problem.answer}: {step.strip()!r}"
        return True, ""
