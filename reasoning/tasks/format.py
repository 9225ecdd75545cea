"""The text format every task writes and every policy backend reads.

A worked example (Countdown)::

    Q: Use 2 3 4 7 to make 26.
    7 * 4 = 28
    28 - 2 = 26
    Answer: 26

- The prompt is one line: ``"Q: " + question + "\\n"``; whitespace in the question (newlines
  included) is collapsed to single spaces so that the question never spans two lines.
- Each step is one line ending with :data:`STEP_DELIMITER` (``"\\n"``). A policy samples one step
  at a time, up to and including the delimiter. Empty lines are not steps.
- The final step is ``"Answer: X"`` (also ending with ``"\\n"``); it ends the solution, and any
  line after it is ignored. The tiny GPT is trained with an end-of-text token after it.
- Arithmetic steps read ``"a op b = c"``: ``op`` one of ``+ - * /`` with whitespace on both sides,
  numbers are integers or fractions written ``n/d`` without spaces (``8/3``), negative numbers
  with a leading ``-`` (``3 - 5 = -2``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

STEP_DELIMITER = "\n"
QUESTION_PREFIX = "Q: "
ANSWER_PREFIX = "Answer:"
OPERATORS = ("+", "-", "*", "/")

Number = int | Fraction

_NUMBER = r"-?\d+(?:/\d+)?"
_EQUATION = re.compile(rf"^\s*({_NUMBER})\s+([-+*/])\s+({_NUMBER})\s*=\s*({_NUMBER})\s*$")


@dataclass(frozen=True)
class Equation:
    """One arithmetic step ``left operator right = result`` (the result as written, maybe wrong)."""

    left: Fraction
    operator: str
    right: Fraction
    result: Fraction

    def text(self) -> str:
        """The step line without its delimiter, e.g. ``"8 / 3 = 8/3"``."""
        left, right, result = (format_number(x) for x in (self.left, self.right, self.result))
        return f"{left} {self.operator} {right} = {result}"

    def true_result(self) -> Fraction | None:
        """What ``left operator right`` really is; None for a division by zero."""
        return apply_operator(self.left, self.operator, self.right)

    def is_true(self) -> bool:
        return self.true_result() == self.result


def apply_operator(left: Number, operator: str, right: Number) -> Fraction | None:
    """Exact rational arithmetic; None for a division by zero."""
    left, right = Fraction(left), Fraction(right)
    if operator == "+":
        return left + right
    if operator == "-":
        return left - right
    if operator == "*":
        return left * right
    if operator == "/":
        return None if right == 0 else left / right
    raise ValueError(f"unknown operator {operator!r}; expected one of {OPERATORS}")


def format_number(value: Number) -> str:
    """``12``, ``-3``, ``8/3`` (a Fraction with denominator 1 prints as an integer)."""
    value = Fraction(value)
    if value.denominator == 1:
        return str(value.numerator)
    return f"{value.numerator}/{value.denominator}"


def parse_number(text: str) -> Fraction | None:
    """Parse ``"12"``, ``"-3"`` or ``"8/3"``; None when it is not such a number."""
    text = text.strip()
    if not re.fullmatch(_NUMBER, text):
        return None
    numerator, _, denominator = text.partition("/")
    if denominator and int(denominator) == 0:
        return None
    return Fraction(int(numerator), int(denominator) if denominator else 1)


def parse_equation(step: str) -> Equation | None:
    """Parse a step line ``"a op b = c"``; None when the line does not have that form."""
    match = _EQUATION.match(step)
    if match is None:
        return None
    left, right, result = (parse_number(match.group(i)) for i in (1, 3, 4))
    if left is None or right is None or result is None:
        return None
    return Equation(left, match.group(2), right, result)


def format_prompt(question: str) -> str:
    """``"Q: <question on one line>\\n"``: the prefix a policy continues."""
    return QUESTION_PREFIX + " ".join(question.split()) + STEP_DELIMITER


def format_answer_step(answer: str) -> str:
    """The final step line without its delimiter: ``"Answer: 24"``."""
    return f"{ANSWER_PREFIX} {' '.join(str(answer).split())}"


def format_solution(steps: Sequence[str]) -> str:
    """Join step lines (the answer line included) into solution text, one line per step."""
    return "".join(" ".join(step.split()) + STEP_DELIMITER for step in steps)


def is_final_step(step: str) -> bool:
    """True for the answer line, which ends a solution."""
    return step.strip().startswith(ANSWER_PREFIX)


def split_steps(solution_text: str) -> list[str]:
    """Step lines of a solution (stripped, without delimiters), up to the first answer line.

    A leading question line (``"Q: ..."``) is skipped, so a full prompt + solution text works too.
    """
    steps = []
    for index, line in enumerate(solution_text.split(STEP_DELIMITER)):
        line = line.strip()
        if not line or (index == 0 and line.startswith(QUESTION_PREFIX.strip())):
            continue
        steps.append(line)
        if is_final_step(line):
            break
    return steps


def answer_of_step(step: str) -> str | None:
    """The ``X`` of an answer line ``"Answer: X"``; None for any other step."""
    step = step.strip()
    if not step.startswith(ANSWER_PREFIX):
        return None
    return step[len(ANSWER_PREFIX) :].strip()


def extract_answer(solution_text: str) -> str | None:
    """The final answer of a solution text: the ``X`` of its first ``"Answer: X"`` line."""
    steps = split_steps(solution_text)
    return answer_of_step(steps[-1]) if steps else None
