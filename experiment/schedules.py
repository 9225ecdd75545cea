"""What every training loop shares about its optimiser: the learning-rate schedule and which
parameters are weight-decayed. The self-play learner, the tiny GPT and the verifiers all use
these two functions; a loop that needs a variant parameterises them, never copies them.

Importing this module does not import torch (:func:`decay_groups` does, when called).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from torch import nn

ScheduleShape = Literal["constant", "cosine", "step"]


@dataclass(frozen=True)
class Schedule:
    """A learning rate per optimiser step: linear warm-up from 0 to ``peak`` over
    ``warmup_steps`` steps, then ``shape``:

    - ``constant``: ``peak``;
    - ``cosine``: half a cosine from ``peak`` down to ``floor`` over ``decay_steps`` steps, then
      ``floor`` (Loshchilov & Hutter 2017, without restarts);
    - ``step``: ``peak`` times ``step_factor`` once every ``step_every`` steps.

    Steps after the warm-up are counted from its end."""

    peak: float
    warmup_steps: int = 0
    shape: ScheduleShape = "constant"
    decay_steps: int = 1
    floor: float = 0.0
    step_every: int = 1
    step_factor: float = 1.0

    def __post_init__(self) -> None:
        if self.shape not in ("constant", "cosine", "step"):
            raise ValueError(f"schedule shape must be constant, cosine or step, got {self.shape!r}")
        if self.warmup_steps < 0 or self.decay_steps < 1 or self.step_every < 1:
            raise ValueError(
                "schedule warmup_steps must be >= 0 and decay_steps, step_every >= 1; got "
                f"{self.warmup_steps}, {self.decay_steps}, {self.step_every}"
            )


def learning_rate(schedule: Schedule, step: int) -> float:
    """The learning rate at optimiser step ``step`` (0-based)."""
    if step < schedule.warmup_steps:
        return schedule.peak * (step + 1) / schedule.warmup_steps
    step -= schedule.warmup_steps
    if schedule.shape == "step":
        return schedule.peak * schedule.step_factor ** (step // schedule.step_every)
    if schedule.shape == "cosine":
        progress = min(1.0, step / schedule.decay_steps)
        cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
        return schedule.floor + cosine * (schedule.peak - schedule.floor)
    return schedule.peak


def warmup_cosine(steps: int, warmup_steps: int, peak: float, floor: float) -> Schedule:
    """Warm-up, then a cosine to ``floor`` at the last of ``steps`` steps (as nanoGPT)."""
    return Schedule(
        peak, warmup_steps, "cosine", decay_steps=max(1, steps - warmup_steps), floor=floor
    )


def decay_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Optimiser parameter groups: ``weight_decay`` on weight matrices and convolution kernels
    only; none on biases, normalisation scales and shifts, or embeddings (nanoGPT's
    ``configure_optimizers``: decaying them only pulls features towards zero). Parameters keep
    the model's order within each group; a shared parameter is listed once."""
    from torch import nn

    decay, no_decay, seen = [], [], set()
    for module in model.modules():
        for parameter in module.parameters(recurse=False):
            if id(parameter) in seen:
                continue
            seen.add(id(parameter))
            if parameter.dim() >= 2 and not isinstance(module, nn.Embedding):
                decay.append(parameter)
            else:
                no_decay.append(parameter)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
