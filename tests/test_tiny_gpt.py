"""The tiny GPT policy: tokenizer, training, KV-cache sampling, log-probs, save/load."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reasoning.lm import (
    CharTokenizer,
    TinyGPTConfig,
    TinyGPTPolicy,
    TrainingConfig,
    build_tiny_gpt,
    complete_solutions,
    greedy_steps,
    load_tiny_gpt,
    save_tiny_gpt,
    train_tiny_gpt,
)
from reasoning.lm.base import step_ends_solution
from reasoning.lm.train import encode_texts
from reasoning.searches import SearchSettings, sample_solutions
from reasoning.tasks import make_task, parse_equation, training_texts

SMALL = TinyGPTConfig(block_size=128, num_layers=2, num_heads=2, embedding_dim=48)


@pytest.fixture(scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the test machine's cores are shared; one thread is fastest there
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def countdown():
    return make_task(
        "countdown", num_numbers=3, target_range=(10, 60), train_size=600, test_size=30, seed=0
    )


@pytest.fixture(scope="module")
def trained(one_thread, countdown):
    """A small model trained for a few seconds on Countdown solutions."""
    texts = training_texts(countdown, countdown.train, np.random.default_rng(0), error_rate=0.1)
    config = TrainingConfig(
        model=SMALL, steps=150, batch_size=16, warmup_steps=10, learning_rate=4e-3
    )
    return train_tiny_gpt(config, texts, np.random.default_rng(1), progress=False)


@pytest.fixture(scope="module")
def policy(trained):
    return TinyGPTPolicy(trained.model, CharTokenizer())


@pytest.fixture(scope="module")
def random_policy(one_thread):
    return TinyGPTPolicy(build_tiny_gpt(SMALL, torch.Generator().manual_seed(0)), CharTokenizer())


def test_tokenizer_round_trip_and_unknown_characters():
    tokenizer = CharTokenizer()
    text = "Q: Use 2 3 4 to make 24.\n2 * 3 = 6\nAnswer: 24\n"
    assert tokenizer.decode(tokenizer.encode(text)) == text
    assert tokenizer.vocab_size == 97 and tokenizer.decode([tokenizer.eos_id]) == ""
    with pytest.raises(ValueError, match="'é' at position 1"):
        tokenizer.encode("fé")


def test_initialisation_is_seeded_and_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    first = build_tiny_gpt(SMALL, torch.Generator().manual_seed(5))
    second = build_tiny_gpt(SMALL, torch.Generator().manual_seed(5))
    assert torch.equal(torch.random.get_rng_state(), state)
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_training_loss_falls_and_compute_is_counted(trained, countdown):
    losses = np.array(trained.losses)
    assert len(losses) == 150
    assert losses[-10:].mean() < 0.5 * losses[:10].mean()
    # compute: 6 x parameters x every token the model read (the question line included,
    # padding not); the loss counts the solution tokens only. Recount both from the same draws:
    # the seed of the initial weights, then one batch of 16 rows per step.
    texts = training_texts(countdown, countdown.train, np.random.default_rng(0), error_rate=0.1)
    tokens, lengths, loss_mask = encode_texts(texts, CharTokenizer(), SMALL.block_size, False)
    rng = np.random.default_rng(1)
    rng.integers(2**62)
    batches = [rng.integers(0, len(tokens), 16) for _ in range(150)]
    read = sum(int((lengths[rows] - 1).sum()) for rows in batches)
    assert trained.tokens == sum(int(loss_mask[rows].sum()) for rows in batches) < read
    assert trained.flops == 6 * trained.model.num_parameters * read


def test_samples_parse_as_steps_and_stop_at_the_delimiter(policy, countdown):
    prompts = [countdown.prompt(p) for p in countdown.test]
    samples = policy.sample_steps(prompts, num_samples=4, max_tokens=24, temperature=1.0, rng=0)
    assert [len(row) for row in samples] == [4] * len(prompts)
    flat = [s for row in samples for s in row]
    for sample in flat:
        assert sample.stop_reason != "delimiter" or sample.text.endswith("\n")
        assert "\n" not in sample.text[:-1] and sample.num_tokens == len(sample.token_logprobs)
    parsed = [parse_equation(s.text) is not None for s in flat]
    assert np.mean(parsed) > 0.7  # the first step of a Countdown solution is "a op b = c"


def test_sampling_is_deterministic_and_the_kv_cache_changes_nothing(policy, countdown):
    prompts = [countdown.prompt(p) for p in countdown.test[:6]]
    prompts[1] += "10 - 3 = 7\n"  # prefixes of different lengths share a padded batch
    no_cache = TinyGPTPolicy(policy.model, policy.tokenizer, use_kv_cache=False)
    runs = [
        sampler.sample_steps(prompts, 3, 20, 0.8, np.random.default_rng(11))
        for sampler in (policy, policy, no_cache)
    ]
    assert runs[0] == runs[1]
    for cached, uncached in zip(runs[0], runs[2], strict=True):
        for a, b in zip(cached, uncached, strict=True):
            assert a.text == b.text and a.stop_reason == b.stop_reason
            np.testing.assert_allclose(a.token_logprobs, b.token_logprobs, atol=1e-4)
    other = policy.sample_steps(prompts, 3, 20, 0.8, np.random.default_rng(12))
    assert other != runs[0]


def test_cached_decoding_matches_a_full_forward(random_policy):
    model, tokenizer = random_policy.model, random_policy.tokenizer
    prefixes = ["Q: Use 1 2 3 to make 9.\n", "Q: x\n", "Q: Start with 4. Add 5.\n4 + 5"]
    continuation = tokenizer.encode(" = 9\n")
    with torch.no_grad():
        tokens, valid, _ = random_policy._encode_prefixes(prefixes)
        cache = model.new_cache(len(prefixes), tokens.shape[1] + len(continuation))
        incremental = [model(tokens, valid, cache)[:, -1]]
        for token in continuation:
            step = torch.full((len(prefixes), 1), token)
            incremental.append(model(step, torch.ones_like(step, dtype=torch.bool), cache)[:, -1])
        for row, prefix in enumerate(prefixes):  # each prefix alone, no padding, no cache
            alone = torch.tensor([tokenizer.encode(prefix) + continuation])
            full = model(alone)[0, -len(continuation) - 1 :]  # (len + 1, V)
            for offset, logits in enumerate(incremental):
                torch.testing.assert_close(logits[row], full[offset], atol=1e-5, rtol=1e-5)


def test_log_probs_match_the_models_log_softmax(policy, countdown):
    prefix = countdown.prompt(countdown.test[0])
    (samples,) = policy.sample_steps([prefix], 4, 24, 1.3, rng=3)
    tokenizer = policy.tokenizer
    with torch.no_grad():
        for sample in samples:
            generated = tokenizer.encode(sample.text)
            if sample.stop_reason == "end_of_text":
                generated.append(tokenizer.eos_id)
            ids = torch.tensor([tokenizer.encode(prefix) + generated])
            log_probs = F.log_softmax(policy.model(ids[:, :-1]), dim=-1)[0]  # (T - 1, V)
            start = len(tokenizer.encode(prefix)) - 1
            expected = [log_probs[start + i, token].item() for i, token in enumerate(generated)]
            np.testing.assert_allclose(sample.token_logprobs, expected, atol=1e-4)
            assert sample.logprob == pytest.approx(sum(expected), abs=1e-3)


def test_a_prefix_samples_the_same_alone_or_in_a_batch(policy, countdown):
    prompts = [countdown.prompt(p) for p in countdown.test[:4]]
    streams = [np.random.default_rng(100 + i) for i in range(4)]
    batch = policy.sample_steps(prompts, 2, 20, 1.0, streams)
    alone = policy.sample_steps(prompts[2:3], 2, 20, 1.0, [np.random.default_rng(102)])
    assert [s.text for s in batch[2]] == [s.text for s in alone[0]]


def test_greedy_and_length_limits(policy, countdown):
    prompts = [countdown.prompt(p) for p in countdown.test[:5]]
    greedy = policy.sample_steps(prompts, 3, 24, 0.0)
    for row in greedy:
        assert len({s.text for s in row}) == 1
    assert [s.text for s in greedy_steps(policy, prompts, 24)] == [row[0].text for row in greedy]
    short = policy.sample_steps(prompts, 2, 2, 1.0, rng=0)
    assert all(s.num_tokens <= 2 for row in short for s in row)
    assert any(s.stop_reason == "length" and not s.finished for row in short for s in row)
    with pytest.raises(ValueError, match="rng"):
        policy.sample_steps(prompts, 1, 4, 1.0)
    with pytest.raises(ValueError, match="block_size"):
        policy.sample_steps(["x" * 200], 1, 4, 0.0)


def test_which_steps_end_a_solution():
    assert step_ends_solution("Answer: 24\n", "delimiter")
    assert step_ends_solution("", "end_of_text")
    assert not step_ends_solution("3 + 4 = 7\n", "delimiter")
    assert not step_ends_solution("Answer: 2", "length")  # cut off: incomplete, not an ending


def test_the_policy_plugs_into_the_searches_and_costs_its_tokens(policy, countdown):
    assert policy.step_delimiter == "\n"
    assert policy.flops_per_token == 2 * policy.num_parameters == 2 * policy.model.num_parameters
    prompts = [countdown.prompt(p) for p in countdown.test[:3]]
    settings = SearchSettings(max_steps=4, max_step_tokens=16)
    for outcome in sample_solutions(policy, prompts, 2, settings, seed=0):
        assert len(outcome.candidates) == 2 and outcome.policy_tokens > 0
        assert outcome.flops == policy.flops_per_token * outcome.policy_tokens


def test_complete_solutions_end_with_an_answer_line_and_are_batch_independent(policy, countdown):
    prompts = [countdown.prompt(p) for p in countdown.test[:6]]
    greedy = complete_solutions(policy, prompts, temperature=0.0, max_steps=6)
    for completion in greedy:
        # one token per character, plus the end-of-text token when the model stopped with it
        assert len(completion.text) <= completion.num_tokens <= len(completion.text) + 1
        assert len(completion.steps) <= 6
        if completion.finished:
            last = completion.steps[-1]
            assert last.startswith("Answer:") or not last.endswith("\n")
    sampled = complete_solutions(
        policy, prompts, temperature=1.0, rng=[np.random.default_rng(i) for i in range(6)]
    )
    again = complete_solutions(
        policy, prompts[3:4], temperature=1.0, rng=[np.random.default_rng(3)]
    )
    assert sampled[3].steps == again[0].steps
    assert sampled[3].logprob == pytest.approx(again[0].logprob, abs=1e-3)


def test_save_and_load_round_trip_without_pickle(policy, tmp_path):
    save_tiny_gpt(tmp_path / "policy", policy.model, policy.tokenizer)
    assert sorted(p.name for p in (tmp_path / "policy").iterdir()) == [
        "config.json",
        "model.safetensors",
    ]
    model, tokenizer = load_tiny_gpt(tmp_path / "policy")
    ids = torch.tensor([tokenizer.encode("Q: Use 1 2 3 to make 7.\n")])
    with torch.no_grad():
        torch.testing.assert_close(model(ids), policy.model(ids), atol=0, rtol=0)
    assert model.config == policy.model.config
    config = json.loads((tmp_path / "policy" / "config.json").read_text())
    config["version"] = 99
    (tmp_path / "policy" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="version 99"):
        load_tiny_gpt(tmp_path / "policy")
