"""Tasks by name: ``make_task("countdown", num_numbers=5, seed=1)``."""

from __future__ import annotations

import difflib
import inspect
from typing import Any

from reasoning.tasks.base import Task
from reasoning.tasks.chains import ArithmeticChainTask
from reasoning.tasks.countdown import CountdownTask
from reasoning.tasks.game24 import Game24Task
from reasoning.tasks.jsonl import JsonlTask

TASKS: dict[str, type[Task]] = {
    CountdownTask.name: CountdownTask,
    ArithmeticChainTask.name: ArithmeticChainTask,
    Game24Task.name: Game24Task,
    JsonlTask.name: JsonlTask,
}


def _nearest(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def task_knobs(name: str) -> dict[str, Any]:
    """The knobs of a task and their defaults (``inspect.Parameter.empty`` when required)."""
    parameters = inspect.signature(TASKS[name].__init__).parameters
    return {key: p.default for key, p in parameters.items() if key != "self"}


def make_task(name: str, **knobs: Any) -> Task:
    """Build a registered task; an unknown name or knob fails naming the nearest valid one."""
    if name not in TASKS:
        raise ValueError(
            f"unknown task {name!r}{_nearest(name, list(TASKS))}; known: {sorted(TASKS)}"
        )
    valid = task_knobs(name)
    for knob in knobs:
        if knob not in valid:
            raise ValueError(
                f"task {name!r} has no knob {knob!r}{_nearest(knob, list(valid))}; "
                f"valid knobs: {sorted(valid)}"
            )
    return TASKS[name](**knobs)
