"""The policy interface every language-model backend implements (tiny GPT here; Hugging Face and
OpenAI-compatible HTTP backends plug in the same way).

A policy continues text prefixes (``"Q: ...\\n"`` plus the steps so far, see
:mod:`reasoning.tasks.format`) by one step at a time: it samples up to and including the step
delimiter, or up to its end-of-text token, or up to ``max_tokens``.

Compute: a dense transformer's forward pass costs about ``2 * parameters`` FLOPs per token
(Kaplan et al. 2020, REFERENCES.md "Compute accounting"); backends report that as
``flops_per_token`` (attention over the context, which is small here, is not counted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from experiment import UserError
from reasoning.tasks.format import STEP_DELIMITER, is_final_step

StopReason = Literal["delimiter", "end_of_text", "length"]
# One generator for the whole call, one per prefix (so a prefix samples the same alone or in any
# batch), an integer seed, or None (only for temperature 0).
RandomSource = np.random.Generator | Sequence[np.random.Generator] | int | None


@dataclass(frozen=True)
class StepSample:
    """One sampled step.

    ``text``: the step up to and including the delimiter (or up to end of text / max tokens);
    ``token_logprobs``: log-probability (nats) of each generated token under the model at
    temperature 1 (the end-of-text token included when it stopped there), whatever temperature it
    was sampled at; ``logprob`` their sum; ``num_tokens`` tokens generated (the cost);
    ``finished``: the step ends the solution (a complete answer line, or end of text);
    ``stop_reason`` ``"length"`` marks a step cut off by the token limit (incomplete).
    """

    text: str
    token_logprobs: tuple[float, ...]
    finished: bool
    stop_reason: StopReason

    @property
    def num_tokens(self) -> int:
        return len(self.token_logprobs)

    @property
    def logprob(self) -> float:
        return float(sum(self.token_logprobs))


class StepPolicy(Protocol):
    """What the search over steps needs from a language model."""

    @property
    def step_delimiter(self) -> str: ...

    @property
    def num_parameters(self) -> int: ...

    @property
    def flops_per_token(self) -> float:
        """Forward FLOPs per generated or scored token (about 2 x parameters)."""
        ...

    def sample_steps(
        self,
        prefixes: Sequence[str],
        num_samples: int,
        max_tokens: int,
        temperature: float,
        rng: RandomSource = None,
    ) -> list[list[StepSample]]:
        """``num_samples`` next steps for every prefix: result[p][k] is sample k of prefix p.
        ``temperature`` 0 is greedy decoding (then all samples of a prefix are equal)."""
        ...


class PolicyLoadError(UserError, ValueError):
    """A policy spec or model directory that names nothing loadable: a bad prefix, a missing
    path, a bad option (raised by ``reasoning.lm.backends.load_policy`` and the backends)."""


def check_sampling_arguments(num_samples: int, max_tokens: int, temperature: float) -> None:
    """The argument check every backend's ``sample_steps`` starts with."""
    if max_tokens < 1 or num_samples < 0 or temperature < 0:
        raise ValueError(
            f"need max_tokens >= 1, num_samples >= 0, temperature >= 0; got {max_tokens}, "
            f"{num_samples}, {temperature}"
        )


def step_ends_solution(text: str, stop_reason: StopReason) -> bool:
    """A step ends the solution when the model ended the text, or when it is a complete answer
    line (one cut off by the token limit is an incomplete step, not an ending)."""
    if stop_reason == "end_of_text":
        return True
    return stop_reason == "delimiter" and is_final_step(text)


def uniform_draws(
    rng: RandomSource, num_prefixes: int, num_samples: int, max_tokens: int
) -> np.ndarray:
    """Uniform [0, 1) draws (P, K, max_tokens) for inverse-CDF sampling of every token.

    With one generator per prefix, prefix ``p`` draws only from ``rng[p]``, so its samples do not
    depend on which other prefixes share the batch.
    """
    shape = (num_samples, max_tokens)
    if rng is None:
        raise ValueError("sampling at temperature > 0 needs rng (a numpy Generator or a seed)")
    if isinstance(rng, int | np.integer):
        rng = np.random.default_rng(int(rng))
    if isinstance(rng, np.random.Generator):
        return rng.random((num_prefixes, *shape))
    if len(rng) != num_prefixes:
        raise ValueError(
            f"got {len(rng)} generators for {num_prefixes} prefixes; pass one per prefix"
        )
    return (
        np.stack([generator.random(shape) for generator in rng])
        if num_prefixes
        else np.zeros((0, *shape))
    )


def greedy_steps(policy: StepPolicy, prefixes: Sequence[str], max_tokens: int) -> list[StepSample]:
    """The most likely next step of every prefix (temperature 0)."""
    return [samples[0] for samples in policy.sample_steps(prefixes, 1, max_tokens, 0.0)]


__all__ = [
    "STEP_DELIMITER",
    "PolicyLoadError",
    "RandomSource",
    "StepPolicy",
    "StepSample",
    "StopReason",
    "greedy_steps",
    "step_ends_solution",
    "uniform_draws",
]
