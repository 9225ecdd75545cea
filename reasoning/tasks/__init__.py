"""Verifiable reasoning tasks: problems, the text format, exact checkers, splits, solutions.

``make_task(name, **knobs)`` builds one of :data:`TASKS` (``countdown``, ``arithmetic_chain``,
``game24``, ``jsonl``). The text format is described in :mod:`reasoning.tasks.format`, the
checker semantics in :mod:`reasoning.tasks.base`. No torch here.
"""

from reasoning.tasks.base import (
    GeneratedTask,
    Problem,
    StepCheckerUnavailable,
    StepVerdict,
    Task,
)
from reasoning.tasks.chains import ArithmeticChainTask, ChainProblem
from reasoning.tasks.countdown import CountdownTask
from reasoning.tasks.format import (
    ANSWER_PREFIX,
    STEP_DELIMITER,
    Equation,
    extract_answer,
    format_prompt,
    format_solution,
    is_final_step,
    parse_equation,
    split_steps,
)
from reasoning.tasks.game24 import Game24Task
from reasoning.tasks.jsonl import (
    JsonlFormatError,
    JsonlTask,
    answers_match,
    load_jsonl_problems,
    normalize_answer,
)
from reasoning.tasks.pool import NumbersProblem
from reasoning.tasks.registry import TASKS, make_task, task_knobs
from reasoning.tasks.solutions import example_text, training_texts

__all__ = [
    "ANSWER_PREFIX",
    "STEP_DELIMITER",
    "TASKS",
    "ArithmeticChainTask",
    "ChainProblem",
    "CountdownTask",
    "Equation",
    "Game24Task",
    "GeneratedTask",
    "JsonlFormatError",
    "JsonlTask",
    "NumbersProblem",
    "Problem",
    "StepCheckerUnavailable",
    "StepVerdict",
    "Task",
    "answers_match",
    "example_text",
    "extract_answer",
    "format_prompt",
    "format_solution",
    "is_final_step",
    "load_jsonl_problems",
    "make_task",
    "normalize_answer",
    "parse_equation",
    "split_steps",
    "task_knobs",
    "training_texts",
]
