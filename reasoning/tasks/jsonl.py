"""Problems a user brings as JSON lines (GSM8K / MATH style).

Each non-empty line is one object::

    {"question": "Tom has 3 apples ...", "answer": "72", "steps": ["3 * 24 = 72"]}

- ``question``: a non-empty string;
- ``answer``: a string or a number. In a string, text after a GSM8K ``####`` marker is the answer;
- ``steps`` (optional): a list of strings, the worked solution one step per entry (whitespace,
  newlines included, is collapsed: a step is one line of the text format).

Other fields are ignored. Malformed input raises :class:`JsonlFormatError` naming the file, the
line and the field. Steps are free text, so this task has no step checker
(``has_step_checker = False``); the final-answer checker compares normalised answers: numbers
exactly as rationals (``"1,000"``, ``"1000.0"`` and ``1000`` agree; so do ``"0.5"`` and ``"1/2"``),
anything else as case-folded text with whitespace collapsed, after unwrapping ``\\boxed{...}``,
``$...$`` and ``\\text{...}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from reasoning.tasks.base import (
    SPLITS,
    Problem,
    SplitName,
    StepCheckerUnavailable,
    StepVerdict,
    Task,
)
from reasoning.tasks.format import ANSWER_PREFIX, extract_answer, format_answer_step

EXAMPLE_LINE = '{"question": "...", "answer": "42", "steps": ["..."]}'


class JsonlFormatError(ValueError):
    """A JSONL task file is malformed; the message names the file, line and field."""


def _field_error(path: Path, line_number: int, message: str) -> JsonlFormatError:
    return JsonlFormatError(f"{path}:{line_number}: {message}; expected a line like {EXAMPLE_LINE}")


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def problem_from_record(record: object, path: Path, line_number: int) -> Problem:
    """Validate one parsed JSON line and make a :class:`Problem` of it."""
    if not isinstance(record, dict):
        message = f"a line must be a JSON object, got {_type_name(record)}"
        raise _field_error(path, line_number, message)
    question = record.get("question")
    if "question" not in record:
        raise _field_error(path, line_number, "missing field 'question'")
    if not isinstance(question, str) or not question.strip():
        raise _field_error(
            path,
            line_number,
            f"field 'question' must be a non-empty string, got {_type_name(question)}",
        )
    if "answer" not in record:
        raise _field_error(path, line_number, "missing field 'answer'")
    answer = record["answer"]
    if isinstance(answer, bool) or not isinstance(answer, str | int | float):
        raise _field_error(
            path,
            line_number,
            f"field 'answer' must be a string or a number, got {_type_name(answer)}",
        )
    answer_text = str(answer).rsplit("####", 1)[-1].strip()
    if not answer_text:
        raise _field_error(path, line_number, "field 'answer' is empty")
    steps = record.get("steps")
    if steps is not None:
        if not isinstance(steps, list):
            raise _field_error(
                path,
                line_number,
                f"field 'steps' must be a list of strings, got {_type_name(steps)}",
            )
        for index, step in enumerate(steps):
            if not isinstance(step, str):
                raise _field_error(
                    path,
                    line_number,
                    f"field 'steps[{index}]' must be a string, got {_type_name(step)}",
                )
            if step.strip().startswith(ANSWER_PREFIX):
                raise _field_error(
                    path,
                    line_number,
                    f"field 'steps[{index}]' starts with {ANSWER_PREFIX!r}; give the final answer "
                    f"in 'answer' only",
                )
        steps = tuple(" ".join(step.split()) for step in steps if step.strip())
    return Problem(question=" ".join(question.split()), answer=answer_text, steps=steps)


def json_lines(
    path: Path, what: str, error: Callable[[int, str], Exception]
) -> Iterator[tuple[int, object]]:
    """(line number, parsed value) of every non-blank line of ``path``, a ``what`` file;
    ``error(line_number, message)`` is raised for a line that is not JSON."""
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist")
    with path.open(encoding="utf-8") as lines:
        for line_number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as problem:
                message = f"not valid JSON ({problem.msg} at column {problem.colno})"
                raise error(line_number, message) from None
            yield line_number, record


def load_jsonl_problems(path: str | Path) -> list[Problem]:
    """All problems of a JSONL file, in file order (blank lines skipped)."""
    path = Path(path)
    problems = [
        problem_from_record(record, path, line_number)
        for line_number, record in json_lines(
            path, "JSONL task file", lambda number, message: _field_error(path, number, message)
        )
    ]
    if not problems:
        raise JsonlFormatError(
            f"{path}: the file has no problems; expected lines like {EXAMPLE_LINE}"
        )
    return problems


_BOXED = re.compile(r"\\boxed\{(.*)\}")
_TEXT = re.compile(r"\\(?:text|mathrm|textbf)\{([^{}]*)\}")
_FRAC = re.compile(r"^(-?)\\[dt]?frac\{(-?\d+)\}\{(\d+)\}$")
_THOUSANDS = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")


def normalize_answer(answer: str | int | float) -> Fraction | str:
    """A number as an exact Fraction where the text is one, else case-folded collapsed text."""
    text = str(answer).strip()
    boxed = _BOXED.findall(text)
    if boxed:
        text = boxed[-1]
    text = _TEXT.sub(r"\1", text).strip().strip("$").strip()
    text = text.rstrip(".").strip()
    fraction = _FRAC.match(text)
    if fraction:
        text = f"{fraction.group(1)}{fraction.group(2)}/{fraction.group(3)}"
    number_text = text.lstrip("$").strip()
    if _THOUSANDS.match(number_text):
        number_text = number_text.replace(",", "")
    try:
        return Fraction(number_text)
    except (ValueError, ZeroDivisionError):
        return " ".join(text.casefold().split())


def answers_match(given: str | int | float, expected: str | int | float) -> bool:
    """Whether two final answers agree after :func:`normalize_answer`."""
    return normalize_answer(given) == normalize_answer(expected)


class JsonlTask(Task):
    """User problems from JSONL files, with a final-answer checker and no step checker.

    With ``test_path``, the test split is that file and the train split is ``path`` minus any
    question also in the test file; otherwise ``path`` is split by ``seed``, a ``test_fraction``
    going to test. Questions are deduplicated (case and whitespace ignored).
    """

    name = "jsonl"
    has_step_checker = False

    def __init__(
        self,
        *,
        path: str | Path,
        test_path: str | Path | None = None,
        test_fraction: float = 0.2,
        seed: int = 0,
    ):
        if not 0.0 <= test_fraction <= 1.0:
            raise ValueError(f"test_fraction must be in [0, 1], got {test_fraction}")
        problems = _unique(load_jsonl_problems(path))
        if test_path is not None:
            test = _unique(load_jsonl_problems(test_path))
            test_keys = {problem.key for problem in test}
            train = [problem for problem in problems if problem.key not in test_keys]
        else:
            order = np.random.default_rng(np.random.SeedSequence([seed, 2])).permutation(
                len(problems)
            )
            num_test = int(round(test_fraction * len(problems)))
            test = [problems[i] for i in order[:num_test]]
            train = [problems[i] for i in order[num_test:]]
        self._splits = {"train": tuple(train), "test": tuple(test)}

    def split(self, name: SplitName) -> tuple[Problem, ...]:
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; expected one of {SPLITS}")
        return self._splits[name]

    def verdicts(self, problem: Problem, steps: Sequence[str]) -> list[StepVerdict]:
        raise StepCheckerUnavailable(
            "the jsonl task has free-text steps and no step checker (has_step_checker is False); "
            "use check_answer on whole solutions"
        )

    def check_answer(self, problem: Problem, solution_text: str) -> bool:
        answer = extract_answer(solution_text)
        return answer is not None and answers_match(answer, problem.answer)

    def sample_solution(
        self, problem: Problem, rng: np.random.Generator, error_rate: float = 0.0
    ) -> list[str]:
        """The problem's own steps and answer; this task cannot make deliberate mistakes."""
        if error_rate != 0.0:
            raise ValueError("the jsonl task cannot write imperfect steps; use error_rate=0")
        return [*(problem.steps or ()), format_answer_step(problem.answer)]


def _unique(problems: list[Problem]) -> list[Problem]:
    seen, unique = set(), []
    for problem in problems:
        if problem.key not in seen:
            seen.add(problem.key)
            unique.append(problem)
    return unique
