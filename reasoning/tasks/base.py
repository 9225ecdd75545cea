"""What every task offers: problems, splits, the prompt format, step and answer checkers, and
reference / deliberately imperfect solutions.

Checking is done in one pass over a solution (:meth:`Task.verdicts`), which gives one
:class:`StepVerdict` per step; :meth:`Task.check_step` and :meth:`Task.check_answer` are views of
it. Verdict semantics, shared by all tasks:

- ``valid``: the step is well formed and true given the state the previous steps *claim* (a
  wrong result written earlier is taken at its word, so a correct step after a mistake is valid);
- ``reachable``: a correct solution extending the steps so far still exists. False once any step
  so far was invalid, or when the claimed state can no longer reach the goal (a dead end);
- for the answer line, ``valid`` means the answer is the correct one and the claimed state
  supports it, so ``valid and reachable`` on the answer line means the solution is correct.
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

from reasoning.tasks.format import (
    format_answer_step,
    format_prompt,
    format_solution,
    is_final_step,
    split_steps,
)

SplitName = Literal["train", "test"]
SPLITS: tuple[SplitName, ...] = ("train", "test")


@dataclass(frozen=True, kw_only=True)
class Problem:
    """One problem: the question text, the correct final answer and optional reference steps.

    ``steps`` are step lines without delimiters and without the answer line; None when the
    problem came without a worked solution (JSONL data).
    """

    question: str
    answer: str
    steps: tuple[str, ...] | None = None

    @property
    def key(self) -> Hashable:
        """Identity for deduplication: two problems with the same key are the same problem."""
        return " ".join(self.question.lower().split())


@dataclass(frozen=True)
class StepVerdict:
    """The exact checker's judgement of one step (see the module docstring)."""

    valid: bool
    reachable: bool
    final: bool
    reason: str = ""  # why the step is invalid or a dead end; "" when it is fine

    @property
    def ok(self) -> bool:
        """Valid and still on the way to a correct solution (the oracle's step label)."""
        return self.valid and self.reachable


class StepCheckerUnavailable(NotImplementedError):
    """Raised by :meth:`Task.check_step` on tasks whose steps are free text."""


class Task(ABC):
    """A family of problems with fixed train/test splits and exact checkers.

    ``has_step_checker`` is False where steps are free text (JSONL data): then only
    :meth:`check_answer` is available.
    """

    name: ClassVar[str]
    has_step_checker: ClassVar[bool] = True
    # whether finished solutions can claim different answers; where they cannot (Countdown's
    # answer line is always the target), a majority vote just takes the first finished sample
    answers_differ: ClassVar[bool] = True

    @abstractmethod
    def split(self, name: SplitName) -> tuple[Problem, ...]:
        """The problems of the ``"train"`` or ``"test"`` split (fixed by the task's seed)."""

    @abstractmethod
    def verdicts(self, problem: Problem, steps: Sequence[str]) -> list[StepVerdict]:
        """Judge every step of a (partial) solution in one pass (delimiters optional)."""

    @abstractmethod
    def sample_solution(
        self, problem: Problem, rng: np.random.Generator, error_rate: float = 0.0
    ) -> list[str]:
        """Step lines of a solution, the answer line last.

        ``error_rate`` is the chance per step of a deliberate mistake (a wrong result, a dead
        end, a roundabout step, as the task supports); 0 gives a correct solution.
        """

    @property
    def train(self) -> tuple[Problem, ...]:
        return self.split("train")

    @property
    def test(self) -> tuple[Problem, ...]:
        return self.split("test")

    def prompt(self, problem: Problem) -> str:
        """The prefix a policy continues: ``"Q: <question>\\n"``."""
        return format_prompt(problem.question)

    def is_final(self, step: str) -> bool:
        """Whether a step is the answer line, which ends a solution."""
        return is_final_step(step)

    def check_step(self, problem: Problem, previous_steps: Sequence[str], step: str) -> StepVerdict:
        """Judge ``step`` after ``previous_steps`` (see the module docstring)."""
        return self.verdicts(problem, [*previous_steps, step])[-1]

    def check_answer(self, problem: Problem, solution_text: str) -> bool:
        """Whether a solution text is correct: it ends in an answer line, every step is valid and
        the answer is right. Text after the first answer line is ignored."""
        steps = split_steps(solution_text)
        if not steps or not is_final_step(steps[-1]):
            return False
        return all(verdict.ok for verdict in self.verdicts(problem, steps))

    def reference_solution(self, problem: Problem) -> list[str]:
        """The problem's reference steps followed by its answer line."""
        return [*(problem.steps or ()), format_answer_step(problem.answer)]

    def solution_text(self, steps: Sequence[str]) -> str:
        """Step lines joined into solution text, each ending with the step delimiter."""
        return format_solution(steps)


class GeneratedTask(Task):
    """A task whose problems are sampled from a generator with difficulty knobs.

    Splits are fixed by ``seed``: the test split is drawn first from its own stream (so it does
    not depend on ``train_size``), then the train split from another stream, skipping any problem
    whose key is already in the test split or drawn before. A split can be given instead
    (:meth:`give_split`); the generated one skips its problems too.
    """

    def __init__(self, *, seed: int = 0, train_size: int = 1000, test_size: int = 100):
        if train_size < 0 or test_size < 0:
            raise ValueError(f"split sizes must be >= 0, got train {train_size}, test {test_size}")
        self.seed = seed
        self.train_size = train_size
        self.test_size = test_size
        self._splits: dict[str, tuple[Problem, ...]] = {}
        self._given: dict[str, tuple[Problem, ...]] = {}

    @abstractmethod
    def sample_problem(self, rng: np.random.Generator) -> Problem | None:
        """One random problem with a reference solution; None when the draw is rejected."""

    def give_split(self, name: SplitName, problems: Sequence[Problem]) -> None:
        """Use ``problems`` (a user's file, say) as split ``name`` instead of generating it. The
        other split, if generated, skips their keys. The generated train split is drawn as it
        would be without a given test split, skipping only the given problems, so that a given
        test file changes the train problems only where they overlap."""
        if self._splits:
            raise RuntimeError("give_split must be called before any split is drawn")
        self._given[name] = tuple(problems)

    def split(self, name: SplitName) -> tuple[Problem, ...]:
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; expected one of {SPLITS}")
        if name == "train" and "train" in self._given and "test" in self._given:
            # Two given files: a test problem is never trained on.
            tested = {problem.key for problem in self._given["test"]}
            return tuple(p for p in self._given["train"] if p.key not in tested)
        if name in self._given:
            return self._given[name]
        if name not in self._splits:
            other = SPLITS[1 - SPLITS.index(name)]
            exclude: set[Hashable] = {problem.key for problem in self._given.get(other, ())}
            if name == "test":
                size = self.test_size
            else:
                exclude |= {problem.key for problem in self._generated_test()}
                size = self.train_size
            rng = np.random.default_rng(np.random.SeedSequence([self.seed, SPLITS.index(name)]))
            self._splits[name] = self._sample_unique(name, rng, size, exclude)
        return self._splits[name]

    def _generated_test(self) -> tuple[Problem, ...]:
        """The test split as generated (even when a test file replaces it: see give_split)."""
        if "test" not in self._given:
            return self.split("test")
        if "generated_test" not in self._splits:
            rng = np.random.default_rng(np.random.SeedSequence([self.seed, SPLITS.index("test")]))
            exclude = {problem.key for problem in self._given.get("train", ())}
            self._splits["generated_test"] = self._sample_unique(
                "test", rng, self.test_size, exclude
            )
        return self._splits["generated_test"]

    def candidates(self, rng: np.random.Generator) -> Iterator[Problem | None]:
        """Problems to fill a split from, in order (None = a rejected draw). By default endless
        random draws; a task with a small finite space yields a shuffle of all of it instead."""
        while True:
            yield self.sample_problem(rng)

    def _sample_unique(
        self, name: str, rng: np.random.Generator, size: int, exclude: set[Hashable]
    ) -> tuple[Problem, ...]:
        problems: list[Problem] = []
        seen = set(exclude)
        max_draws = 50 * size + 1000
        draws = 0
        for problem in itertools.islice(self.candidates(rng), max_draws):
            draws += 1
            if problem is not None and problem.key not in seen:
                seen.add(problem.key)
                problems.append(problem)
                if len(problems) == size:
                    break
        if len(problems) < size:
            raise ValueError(
                f"{self.name}: found only {len(problems)} distinct problems for the {name} split "
                f"after {draws} draws (asked for {size}); widen the difficulty knobs or "
                f"ask for fewer problems"
            )
        return tuple(problems)


def check_error_rate(error_rate: float) -> None:
    if not 0.0 <= error_rate <= 1.0:
        raise ValueError(f"error_rate must be in [0, 1], got {error_rate}")


def check_range(
    name: str, value: Sequence[int], low: int, high: int | None = None
) -> tuple[int, int]:
    """Validate a ``(min, max)`` knob (YAML gives lists) and return it as a tuple."""
    if len(value) != 2 or not all(isinstance(x, int | np.integer) for x in value):
        raise ValueError(f"{name} must be two integers (min, max), got {value!r}")
    first, last = int(value[0]), int(value[1])
    if first > last or first < low or (high is not None and last > high):
        bound = f"within [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name} must satisfy min <= max, {bound}; got {value!r}")
    return first, last
