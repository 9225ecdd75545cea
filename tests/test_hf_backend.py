"""The Hugging Face backend: a tiny random GPT-2 saved locally, loaded offline as a StepPolicy."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from reasoning.lm.backends import PolicyLoadError, load_policy  # noqa: E402
from reasoning.lm.hf import HuggingFacePolicy  # noqa: E402
from reasoning.searches import SearchSettings, sample_solutions  # noqa: E402

END_OF_TEXT = "<|endoftext|>"
# merged tokens that carry the delimiter: one ends with it, one carries text past it
MERGES = [(".", "\n"), ("\n", "A")]
# about how far the fixture's model leans towards each token (a random token's logit is about 0)
BIASED_LOGITS = {"\n": 2.5, ".\n": 2.0, "\nA": 2.0, END_OF_TEXT: 1.5}
PREFIXES = ["Q: Use 2 3 4 to make 24.\n", "Q: 7 - 5\n2 + 2 = 4\n"]


def build_tokenizer():
    """A character-level BPE tokenizer (printable ASCII, newline, two merges), built offline."""
    vocab = {END_OF_TEXT: 0}
    for char in ["\n"] + [chr(code) for code in range(32, 127)]:
        vocab[char] = len(vocab)
    for left, right in MERGES:
        vocab[left + right] = len(vocab)
    model = tokenizers.Tokenizer(tokenizers.models.BPE(vocab=vocab, merges=MERGES))
    model.decoder = tokenizers.decoders.Fuse()  # concatenate, no spaces between tokens
    return transformers.PreTrainedTokenizerFast(tokenizer_object=model, eos_token=END_OF_TEXT)


@pytest.fixture(scope="module")
def model_directory(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the test machine's cores are shared; one thread is fastest there
    tokenizer = build_tokenizer()
    config = transformers.GPT2Config(
        n_layer=2,
        n_embd=32,
        n_head=2,
        n_positions=64,
        vocab_size=len(tokenizer),
        bos_token_id=0,
        eos_token_id=0,
    )
    with torch.random.fork_rng():  # GPT-2 initialises from the global generator
        torch.manual_seed(0)
        model = transformers.GPT2LMHeadModel(config)
    # Random weights write near-uniform text that seldom ends a line; point the final hidden
    # state at the newline tokens and end of text (tied embeddings) so steps end in a few tokens.
    with torch.no_grad():
        direction = torch.nn.functional.normalize(
            torch.randn(32, generator=torch.Generator()), dim=0
        )
        model.transformer.ln_f.weight.fill_(0.1)
        model.transformer.ln_f.bias.copy_(direction)
        embeddings = model.transformer.wte.weight
        for token, logit in BIASED_LOGITS.items():
            embeddings[tokenizer.convert_tokens_to_ids(token)] = logit * direction
    directory = tmp_path_factory.mktemp("gpt2")
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    yield directory
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def policy(model_directory) -> HuggingFacePolicy:
    loaded = load_policy(f"hf:{model_directory}")
    assert isinstance(loaded, HuggingFacePolicy)
    return loaded


def direct_logprobs(policy: HuggingFacePolicy, prefix: str, token_ids) -> list[float]:
    """log_softmax of one unpadded, uncached forward over prefix + generated tokens."""
    context = policy.encode(prefix)
    tokens = torch.tensor([context + list(token_ids)])
    with torch.no_grad():
        log_probs = F.log_softmax(policy.model(tokens).logits[0].float(), dim=-1)  # (T, V)
    positions = range(len(context) - 1, len(context) - 1 + len(token_ids))
    return [log_probs[t, token].item() for t, token in zip(positions, token_ids, strict=True)]


def test_loads_offline_as_a_step_policy_with_its_parameter_count(policy, model_directory):
    reference = transformers.GPT2LMHeadModel.from_pretrained(model_directory)
    expected = sum(p.numel() for p in reference.parameters())  # tied head counted once
    assert policy.num_parameters == expected
    assert policy.flops_per_token == 2 * expected
    assert policy.step_delimiter == "\n"
    # it plugs into the searches as any StepPolicy, and its tokens are costed
    settings = SearchSettings(max_steps=2, max_step_tokens=6)
    for outcome in sample_solutions(policy, PREFIXES, 2, settings, seed=0):
        assert len(outcome.candidates) == 2 and outcome.policy_tokens > 0
        assert outcome.flops == 2 * expected * outcome.policy_tokens


def test_samples_stop_right_after_the_delimiter(policy):
    tokenizer = policy.tokenizer
    steps = policy.sample_step_tokens(PREFIXES, 24, max_tokens=10, temperature=1.0, rng=3)
    reasons = [step.sample.stop_reason for row in steps for step in row]
    assert {"delimiter", "end_of_text", "length"} <= set(reasons)
    cut_tokens = 0
    for row in steps:
        assert len(row) == 24
        for step in row:
            sample, ids = step.sample, step.token_ids
            assert sample.num_tokens == len(ids) and 1 <= len(ids) <= 10
            if sample.stop_reason == "delimiter":
                assert sample.text.endswith("\n") and sample.text.count("\n") == 1
                assert "\n" in tokenizer.decode([ids[-1]])
                cut_tokens += ids[-1] == tokenizer.convert_tokens_to_ids("\nA")
            elif sample.stop_reason == "end_of_text":
                assert ids[-1] == tokenizer.eos_token_id and "\n" not in sample.text
                assert sample.finished
            else:
                assert len(ids) == 10 and "\n" not in sample.text
    assert cut_tokens > 0  # "\nA" steps end with "\n": the "A" is not part of the step


def test_logprobs_equal_a_direct_forward_pass(policy):
    steps = policy.sample_step_tokens(PREFIXES, 4, max_tokens=10, temperature=0.7, rng=5)
    for prefix, row in zip(PREFIXES, steps, strict=True):
        for step in row:
            expected = direct_logprobs(policy, prefix, step.token_ids)
            np.testing.assert_allclose(step.sample.token_logprobs, expected, atol=1e-4)
            assert step.sample.logprob == pytest.approx(sum(expected), abs=1e-3)


def test_sampling_is_deterministic_and_each_prefix_independent_of_its_batch(policy):
    def sample(prefixes, seeds):
        generators = [np.random.default_rng(seed) for seed in seeds]
        return policy.sample_steps(prefixes, 6, max_tokens=10, temperature=1.0, rng=generators)

    batch = sample(PREFIXES, [11, 12])
    again = sample(PREFIXES, [11, 12])
    alone = sample(PREFIXES[1:], [12])
    assert [[s.text for s in row] for row in batch] == [[s.text for s in row] for row in again]
    assert [s.text for s in batch[1]] == [s.text for s in alone[0]]
    for padded, single in zip(batch[1], alone[0], strict=True):
        np.testing.assert_allclose(padded.token_logprobs, single.token_logprobs, atol=1e-5)
    other = sample(PREFIXES, [13, 14])
    assert [s.text for s in other[0]] != [s.text for s in batch[0]]
    with pytest.raises(ValueError, match="needs rng"):
        policy.sample_steps(PREFIXES, 2, max_tokens=5, temperature=1.0)


def test_greedy_is_deterministic_and_follows_the_argmax(policy):
    unbiased = copy.deepcopy(policy.model)
    with torch.no_grad():  # undo the fixture's pull towards newlines: greedy runs to max_tokens
        unbiased.transformer.ln_f.weight.fill_(1.0)
        unbiased.transformer.ln_f.bias.zero_()
        for token in BIASED_LOGITS:
            unbiased.transformer.wte.weight[policy.tokenizer.convert_tokens_to_ids(token)] = 0.0
    policy = HuggingFacePolicy(unbiased, policy.tokenizer)
    first = policy.sample_step_tokens(PREFIXES, 3, max_tokens=10, temperature=0.0)
    second = policy.sample_step_tokens(PREFIXES, 3, max_tokens=10, temperature=0.0)
    for prefix, row, row_again in zip(PREFIXES, first, second, strict=True):
        assert len({step.token_ids for step in row + row_again}) == 1
        assert row[0].sample.num_tokens > 1
        ids = list(row[0].token_ids)
        context = policy.encode(prefix)
        with torch.no_grad():
            logits = policy.model(torch.tensor([context + ids])).logits[0]
        assert logits[len(context) - 1 : -1].argmax(dim=-1).tolist() == ids


def test_a_prefix_longer_than_the_context_is_refused(policy):
    with pytest.raises(ValueError, match="prefix 0 has 70 tokens; the model's context is 64"):
        policy.sample_steps(["x" * 70], 1, max_tokens=4, temperature=0.0)


def test_bad_specs_and_paths_name_the_problem(tmp_path):
    with pytest.raises(PolicyLoadError, match="does not exist"):
        load_policy(f"hf:{tmp_path / 'missing'}")
    with pytest.raises(PolicyLoadError, match="holds no transformers model"):
        load_policy(f"hf:{tmp_path}")
    with pytest.raises(PolicyLoadError, match="unknown backend 'gguf'"):
        load_policy("gguf:/models/x")
    with pytest.raises(PolicyLoadError, match="names no path"):
        load_policy("hf:")
    with pytest.raises(PolicyLoadError, match="no such directory and no backend prefix"):
        load_policy("models/nothing-here")
