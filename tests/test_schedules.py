"""experiment.schedules: the one learning-rate schedule and weight-decay grouping. The tiny GPT
and the verifiers keep the schedule they had (the self-play learner's: test_learner.py)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from experiment.schedules import Schedule, decay_groups, learning_rate, warmup_cosine

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def _learning_rate_at_before_issue_12(config, step: int) -> float:
    """reasoning.lm.train.learning_rate_at as it was at a244c38 (a reference)."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return config.min_learning_rate + cosine * (config.learning_rate - config.min_learning_rate)


@pytest.mark.parametrize("recipe", sorted(CONFIGS.glob("countdown*.yaml")), ids=lambda p: p.stem)
def test_the_policy_and_verifier_schedules_are_unchanged(recipe):
    from experiment.config import load_config
    from reasoning.pipeline.config import ReasonConfig

    config = load_config(ReasonConfig, recipe)
    for training in (config.policy.training, config.verifier.training):
        schedule = warmup_cosine(
            training.steps, training.warmup_steps, training.learning_rate,
            training.min_learning_rate,
        )  # fmt: skip
        for step in range(training.steps + 10):
            assert learning_rate(schedule, step) == _learning_rate_at_before_issue_12(
                training, step
            )  # exactly: the policy trains bit for bit as before


def test_schedule_shapes():
    cosine = Schedule(1.0, warmup_steps=10, shape="cosine", decay_steps=100, floor=0.1)
    assert [learning_rate(cosine, s) for s in (0, 4, 9)] == pytest.approx([0.1, 0.5, 1.0])
    assert learning_rate(cosine, 60) == pytest.approx(0.55)  # half way down: (1 + 0.1) / 2
    assert learning_rate(cosine, 110) == learning_rate(cosine, 10_000) == pytest.approx(0.1)
    step = Schedule(1.0, shape="step", step_every=5, step_factor=0.5)
    assert [learning_rate(step, s) for s in (4, 5, 14, 15)] == [1.0, 0.5, 0.25, 0.125]
    assert learning_rate(Schedule(0.3), 10**6) == 0.3
    with pytest.raises(ValueError, match="constant, cosine or step"):
        Schedule(1.0, shape="linear")  # type: ignore[arg-type]


def test_decay_groups_hold_matrices_and_kernels_only():
    from reasoning.lm.model import TinyGPTConfig, build_tiny_gpt

    model = build_tiny_gpt(TinyGPTConfig(block_size=16, num_layers=1, num_heads=2, embedding_dim=8),
                           torch.Generator().manual_seed(0))  # fmt: skip
    decayed, plain = decay_groups(model, 0.1)
    assert (decayed["weight_decay"], plain["weight_decay"]) == (0.1, 0.0)
    names = {id(p): name for name, p in model.named_parameters()}
    # the tiny GPT's own rule before issue 12, in the model's parameter order
    assert [names[id(p)] for p in decayed["params"]] == [
        name for name, p in model.named_parameters() if p.dim() >= 2 and "embedding" not in name
    ]
    assert len(decayed["params"]) + len(plain["params"]) == len(list(model.parameters()))
    conv = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3), torch.nn.BatchNorm2d(4))
    decayed, plain = decay_groups(conv, 0.1)
    assert [p.shape for p in decayed["params"]] == [torch.Size([4, 2, 3, 3])]
    assert len(plain["params"]) == 3  # the conv bias, the batch-norm scale and shift
    tied = torch.nn.Linear(3, 3)
    shared = torch.nn.Sequential(tied, tied)
    assert len(decay_groups(shared, 0.1)[0]["params"]) == 1  # a shared weight is listed once
