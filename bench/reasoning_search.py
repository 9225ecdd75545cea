"""Reasoning searches: policy tokens per second of beam search and MCTS over steps, over the raw
batched sampling tokens per second of the same tiny LM (goal >= 0.8).

The LM is the offline default's architecture (``TinyGPTConfig()``) with seeded random weights,
steered to end steps (:func:`ending_steps`; throughput does not depend on what it learned); the
verifier is a free stand-in (a hash of the
text) so that the figure measures the policy side of the search. Raw sampling: one
``sample_steps`` call of fresh prompts with as many rows as the search's widest call, no search.
Each search runs with the prefix cache (``reasoning.lm.prefix_cache``) and without it, in
alternating rounds with the raw sampler (the ratio of medians).

    python -m bench.reasoning_search [--quick]
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import numpy as np

from bench.common import interleaved_rates, parse_arguments, report


class HashVerifier:
    """A verifier that costs nothing: a fixed pseudo-random score per text."""

    name = "hash"
    flops_per_token = 0.0

    def count_tokens(self, text: str) -> int:
        return len(text)

    def score_prefixes(self, texts: Sequence[str]) -> np.ndarray:
        digests = [hashlib.blake2b(text.encode(), digest_size=4).digest() for text in texts]
        return np.array([int.from_bytes(d, "little") / 2**32 for d in digests], np.float64)

    def step_scores(self, texts: Sequence[str]) -> list[np.ndarray]:
        return [self.score_prefixes([text]) for text in texts]


def ending_steps(model, delimiter_id: int, boost: float = 2.6):  # noqa: ANN001, ANN201
    """``model`` with its final LayerNorm's bias set to raise the step delimiter's logit by
    about ``boost`` at every position: seeded random weights then write steps of about ten
    tokens (2.6: e^2.6 / (96 + e^2.6) is about 1/8 per token), as a trained LM does, so that a
    search tree has children to extend. Returns the model."""
    import torch

    with torch.no_grad():
        direction = model.head.weight[delimiter_id]  # (C,)
        model.final_norm.bias.copy_(boost * direction / direction.square().sum())
    return model


def measure(problems: int, rounds: int, seconds: float) -> dict:
    import torch

    from reasoning.lm import CharTokenizer, TinyGPTConfig, TinyGPTPolicy, build_tiny_gpt
    from reasoning.searches import SearchSettings
    from reasoning.searches.methods import beam_search, mcts_search
    from reasoning.tasks import make_task
    from reasoning.tasks.format import STEP_DELIMITER
    from search.rules import Puct

    torch.set_num_threads(1)
    tokenizer = CharTokenizer()
    model = build_tiny_gpt(TinyGPTConfig(), torch.Generator().manual_seed(0))
    ending_steps(model, tokenizer.token_id(STEP_DELIMITER))
    task = make_task("countdown")
    prompts = [task.prompt(problem) for problem in task.test[:problems]]
    settings = SearchSettings(max_steps=4, max_step_tokens=16)
    verifier = HashVerifier()
    beams, expansions = 4, 4

    def policy(reuse: bool) -> TinyGPTPolicy:
        return TinyGPTPolicy(model, tokenizer, prefix_cache_tokens=32768 if reuse else 0)

    def beam(reuse: bool) -> Callable[[], int]:
        def run() -> int:
            outcomes = beam_search(
                policy(reuse), verifier, prompts, beams, expansions, settings, seed=0
            )
            return sum(outcome.policy_tokens for outcome in outcomes)

        return run

    def mcts(reuse: bool) -> Callable[[], int]:
        def run() -> int:
            outcomes = mcts_search(policy(reuse), verifier, prompts, Puct(), 8, 4, settings, seed=0)
            return sum(outcome.policy_tokens for outcome in outcomes)

        return run

    raw_policy = policy(False)

    def raw() -> int:
        # The widest call a search makes: every problem's root with beams x expansions samples.
        samples = raw_policy.sample_steps(
            prompts, beams * expansions, settings.max_step_tokens, settings.temperature,
            rng=[np.random.default_rng(seed) for seed in range(len(prompts))],
        )  # fmt: skip
        return sum(sample.num_tokens for row in samples for sample in row)

    works = {
        "raw_sampling": raw,
        "beam_prefix_cache": beam(True),
        "beam_full_prefill": beam(False),
        "mcts_prefix_cache": mcts(True),
        "mcts_full_prefill": mcts(False),
    }
    for work in works.values():  # warm up: torch's first calls of each shape are slow
        work()
    rates = interleaved_rates(works, rounds, seconds)
    ratios = {
        name: round(rate / rates["raw_sampling"], 3)
        for name, rate in rates.items()
        if name != "raw_sampling"
    }
    return {
        "tokens_per_s": {name: round(rate) for name, rate in rates.items()},
        "ratios": ratios,
        "problems": problems,
        "beam": f"{beams} beams x {expansions} expansions",
        "mcts": "puct, 8 simulations, 4 candidates",
        "max_steps": settings.max_steps,
        "max_step_tokens": settings.max_step_tokens,
    }


def main(argv: list[str] | None = None) -> dict:
    args = parse_arguments(__doc__, argv)
    result = measure(*((4, 2, 0.5) if args.quick else (16, 5, 2.0)))
    ratios = result["ratios"]
    result["ratio"] = min(ratios["beam_prefix_cache"], ratios["mcts_prefix_cache"])
    line = (
        f"raw sampling {result['tokens_per_s']['raw_sampling']:,} tokens/s; beam "
        f"{ratios['beam_prefix_cache']:.2f}x of it ({ratios['beam_full_prefill']:.2f}x without "
        f"the prefix cache), mcts {ratios['mcts_prefix_cache']:.2f}x "
        f"({ratios['mcts_full_prefill']:.2f}x), ratio={result['ratio']:.2f}"
    )
    return report("reasoning_search", result, line)


if __name__ == "__main__":
    main()
