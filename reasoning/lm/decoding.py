"""Whole solutions from any :class:`StepPolicy`, one step at a time (greedy or sampled)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reasoning.lm.base import RandomSource, StepPolicy


@dataclass(frozen=True)
class Completion:
    """A solution continued from a prefix: its steps (delimiters included) and their cost."""

    steps: tuple[str, ...]
    num_tokens: int
    logprob: float  # nats, sum over generated tokens
    finished: bool  # ended with an answer line or end of text (not cut by max_steps / max tokens)

    @property
    def text(self) -> str:
        return "".join(self.steps)


def _streams(rng: RandomSource, count: int) -> list[np.random.Generator] | None:
    if rng is None:
        return None
    if isinstance(rng, int | np.integer):
        rng = np.random.default_rng(int(rng))
    if isinstance(rng, np.random.Generator):
        return list(rng.spawn(count))
    if len(rng) != count:
        raise ValueError(f"got {len(rng)} generators for {count} prefixes; pass one per prefix")
    return list(rng)


def complete_solutions(
    policy: StepPolicy,
    prefixes: Sequence[str],
    *,
    temperature: float = 0.0,
    rng: RandomSource = None,
    max_steps: int = 12,
    max_step_tokens: int = 48,
) -> list[Completion]:
    """Continue every prefix step by step until it ends, ``max_steps`` steps, or a step runs past
    ``max_step_tokens`` tokens. Every prefix draws from its own stream (spawned from ``rng`` when
    it is one generator), so a prefix completes the same alone or in a batch."""
    streams = _streams(rng, len(prefixes)) if temperature > 0 else None
    steps: list[list[str]] = [[] for _ in prefixes]
    tokens = [0] * len(prefixes)
    logprobs = [0.0] * len(prefixes)
    finished = [False] * len(prefixes)
    active = list(range(len(prefixes)))
    for _ in range(max_steps):
        if not active:
            break
        samples = policy.sample_steps(
            [prefixes[i] + "".join(steps[i]) for i in active],
            num_samples=1,
            max_tokens=max_step_tokens,
            temperature=temperature,
            rng=None if streams is None else [streams[i] for i in active],
        )
        still_active = []
        for index, (sample,) in zip(active, samples, strict=True):
            steps[index].append(sample.text)
            tokens[index] += sample.num_tokens
            logprobs[index] += sample.logprob
            if sample.finished:
                finished[index] = True
            elif sample.stop_reason == "delimiter":
                still_active.append(index)
        active = still_active
    return [
        Completion(tuple(steps[i]), tokens[i], logprobs[i], finished[i])
        for i in range(len(prefixes))
    ]
