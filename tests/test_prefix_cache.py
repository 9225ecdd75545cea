"""Reusing the keys and values of earlier prefixes gives the samples a full prefill gives."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.reasoning_search import ending_steps
from reasoning.lm import CharTokenizer, TinyGPTConfig, TinyGPTPolicy, build_tiny_gpt
from reasoning.lm.prefix_cache import PrefixCache

SMALL = TinyGPTConfig(block_size=128, num_layers=2, num_heads=2, embedding_dim=48)


def _policies() -> tuple[TinyGPTPolicy, TinyGPTPolicy]:
    model = build_tiny_gpt(SMALL, torch.Generator().manual_seed(0))
    ending_steps(model, CharTokenizer().token_id("\n"))
    return (
        TinyGPTPolicy(model, CharTokenizer()),
        TinyGPTPolicy(model, CharTokenizer(), prefix_cache_tokens=0),
    )


def _streams(count: int) -> list[np.random.Generator]:
    return [np.random.default_rng(seed) for seed in range(count)]


def test_a_child_prefix_samples_as_without_the_prefix_cache():
    reusing, full = _policies()
    prompts = ["Q: Use 1 2 3 to make 9.\n", "Q: x\n"]
    first = reusing.sample_steps(prompts, 3, 12, 1.0, rng=_streams(2))
    assert first == full.sample_steps(prompts, 3, 12, 1.0, rng=_streams(2))
    children = [
        prompt + sample.text
        for prompt, samples in zip(prompts, first, strict=True)
        for sample in samples
    ]
    hits_before = reusing.prefix_cache.hits
    again = reusing.sample_steps(children, 2, 12, 1.0, rng=_streams(len(children)))
    expected = full.sample_steps(children, 2, 12, 1.0, rng=_streams(len(children)))
    # A child made by a step that ended at the delimiter found all its tokens but the last in
    # the cache; the others (cut by the token limit) found none.
    extended = [child for child in children if child.endswith("\n")]
    assert extended
    child_tokens = sum(len(reusing.tokenizer.encode(child)) - 1 for child in extended)
    assert reusing.prefix_cache.hits - hits_before == child_tokens
    for got, want in zip(again, expected, strict=True):
        for a, b in zip(got, want, strict=True):
            assert a.text == b.text and a.stop_reason == b.stop_reason
            np.testing.assert_allclose(a.token_logprobs, b.token_logprobs, atol=1e-5)


def test_new_weights_forget_the_kept_prefixes():
    reusing, full = _policies()
    prompts = ["Q: Use 1 2 3 to make 9.\n"]
    first = reusing.sample_steps(prompts, 4, 12, 1.0, rng=_streams(1))
    assert len(reusing.prefix_cache) > 0
    with torch.no_grad():  # a training step, in place, on the model both policies share
        for parameter in reusing.model.parameters():
            parameter.mul_(1.01)
    children = [prompts[0] + sample.text for sample in first[0]]
    again = reusing.sample_steps(children, 2, 12, 1.0, rng=_streams(len(children)))
    assert reusing.prefix_cache.hits == 0
    assert again == full.sample_steps(children, 2, 12, 1.0, rng=_streams(len(children)))


def test_the_cache_keeps_at_most_its_tokens_dropping_the_least_recently_used():
    cache = PrefixCache(max_tokens=5)
    state = (torch.zeros(1, 1, 2, 1), torch.zeros(1, 1, 2, 1))  # (layers, H, n, D)
    cache.store([1, 2], *state)
    cache.store([3, 4], *state)
    assert cache.longest([1, 2, 9], limit=2)[0] == 2  # [1, 2] is now the most recent
    cache.store([5, 6], *state)  # 6 tokens > 5: [3, 4] goes
    assert cache.tokens == 4 and len(cache) == 2
    assert cache.longest([3, 4, 9], limit=2) == (0, None)
    assert cache.longest([1, 2, 9], limit=1) == (0, None)  # never longer than the limit
    with pytest.raises(ValueError, match="max_tokens"):
        PrefixCache(0)
