"""Searches over reasoning steps on the search core, with a fake policy (no torch): the
expander's batching, priors and costs; beam and best-of-N as rules of the core; selections on
hand-built candidate sets; and, with the oracle verifier, search beating greedy decoding."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import pytest

from reasoning.lm.base import StepSample
from reasoning.searches import (
    Candidate,
    ReasoningExpander,
    SearchSettings,
    beam_search,
    bootstrap_interval,
    greedy_solutions,
    majority_vote,
    mcts_search,
    pass_at_k,
    sample_solutions,
    select,
    subset_trials,
    weighted_vote,
    wilson_interval,
)
from reasoning.tasks import make_task, parse_equation
from reasoning.tasks.solver import POSITIVE_INTEGERS, legal_equations
from reasoning.verifiers import OracleVerifier
from search.beam import Beam
from search.core import Search, Streams
from search.rules import Gumbel, Puct

QUESTION = re.compile(r"Use ([\d ]+) to make (\d+)\.")


class LegalStepPolicy:
    """A Countdown policy that knows the rules but not the way: each step is a uniformly random
    legal step (or the answer line, once the target is reached, with probability 0.9). At
    temperature 0 it takes the first legal step in a fixed order, which rarely leads anywhere.
    Counts its calls and rows, so tests can check batching."""

    step_delimiter = "\n"
    num_parameters = 1000
    flops_per_token = 2000.0

    def __init__(self) -> None:
        self.calls: list[int] = []

    def _options(self, prefix: str) -> list[str]:
        question, *steps = prefix.split("\n")[:-1]
        numbers, target = QUESTION.search(question).groups()
        pool = [int(x) for x in numbers.split()]
        for step in steps:
            equation = parse_equation(step)
            pool.remove(int(equation.left))
            pool.remove(int(equation.right))
            pool.append(int(equation.result))
        if int(target) in pool:
            return [f"Answer: {target}\n"]
        options = sorted(
            {
                equation.text() + "\n"
                for i in range(len(pool))
                for j in range(i + 1, len(pool))
                for equation in legal_equations(pool[i], pool[j], POSITIVE_INTEGERS)
            }
        )
        if not options:
            return [f"Answer: {max(pool)}\n"]
        return options

    def sample_steps(self, prefixes, num_samples, max_tokens, temperature, rng=None):
        self.calls.append(len(prefixes))
        generators = rng if isinstance(rng, Sequence) else [rng] * len(prefixes)
        result = []
        for prefix, generator in zip(prefixes, generators, strict=True):
            options = self._options(prefix)
            row = []
            for _ in range(num_samples):
                if temperature == 0:
                    index = 0
                elif options[0].startswith("Answer") and len(options) == 1:
                    index = 0
                else:
                    index = int(generator.integers(len(options)))
                text = options[index]
                logprob = -math.log(len(options))
                row.append(
                    StepSample(
                        text=text,
                        token_logprobs=(logprob,) + (0.0,) * (len(text) - 1),
                        finished=text.startswith("Answer"),
                        stop_reason="delimiter",
                    )
                )
            result.append(row)
        return result


@pytest.fixture(scope="module")
def countdown():
    return make_task(
        "countdown", num_numbers=4, target_range=(10, 60), min_steps=2, train_size=0, test_size=40
    )


@pytest.fixture(scope="module")
def oracle(countdown):
    return OracleVerifier(countdown, countdown.test)


def solved(task, outcomes) -> np.ndarray:
    return np.array(
        [task.check_answer(p, o.text) for p, o in zip(task.test, outcomes, strict=True)]
    )


def test_expander_on_the_core_batches_samples_and_counts_costs(countdown, oracle):
    policy = LegalStepPolicy()
    settings = SearchSettings(max_steps=5, max_step_tokens=20)
    expander = ReasoningExpander(policy, oracle, (4,), settings)
    prompts = [countdown.prompt(p) for p in countdown.test[:6]]
    roots = expander.add_roots(prompts, range(6))
    result = Search(expander, Puct(), num_simulations=10).run(roots, np.arange(6))
    # one sample_steps call per evaluation round, covering every search at once
    assert policy.calls[0] == 6 and len(policy.calls) <= 1 + 10
    assert max(policy.calls) == 6
    # priors: exp(log p) normalised over the distinct candidates (all equally likely here)
    for b in range(6):
        valid = result.tree.valid[b, 0]
        np.testing.assert_allclose(result.tree.prior[b, 0][valid], 1.0 / valid.sum(), rtol=1e-6)
    assert (result.visit_counts.sum(axis=1) == 10).all()
    # single agent: values are never sign-flipped, so the root value is the mean of leaf values
    assert (result.root_values >= -1).all() and (result.root_values <= 1).all()
    for b in range(6):
        tokens = expander.policy_tokens[b]
        assert tokens > 0 and expander.flops(b) == pytest.approx(2000.0 * tokens)  # oracle: free
    # a node reached again is not sampled again
    before = len(policy.calls)
    expander.evaluate(roots, np.arange(6), Streams(range(6)))
    assert len(policy.calls) == before


def test_search_is_independent_of_the_batch(countdown, oracle):
    settings = SearchSettings(max_steps=5)
    prompts = [countdown.prompt(p) for p in countdown.test[:8]]
    policy = LegalStepPolicy()
    for run in (
        lambda prompts, ids: beam_search(
            policy, oracle, prompts, 2, 2, settings, 3, problem_ids=ids
        ),
        lambda prompts, ids: mcts_search(
            policy, oracle, prompts, Puct(), 6, 4, settings, 3, problem_ids=ids
        ),
        lambda prompts, ids: sample_solutions(policy, prompts, 3, settings, 3, problem_ids=ids),
    ):
        batched = run(prompts, range(8))
        alone = run(prompts[5:6], [5])[0]
        assert alone.text == batched[5].text and alone.flops == batched[5].flops
        assert [c.text for c in alone.candidates] == [c.text for c in batched[5].candidates]
        assert [o.text for o in run(prompts, range(8))] == [o.text for o in batched]
    pool = sample_solutions(LegalStepPolicy(), prompts, 6, settings, seed=1)
    smaller = sample_solutions(LegalStepPolicy(), prompts, 3, settings, seed=1)
    for big, small in zip(pool, smaller, strict=True):  # the first n of a pool are the pool of n
        assert [c.text for c in big.candidates[:3]] == [c.text for c in small.candidates]


def test_beam_rule_keeps_the_best_beams_per_level(countdown, oracle):
    policy = LegalStepPolicy()
    settings = SearchSettings(max_steps=4)
    expander = ReasoningExpander(policy, oracle, (6, 3), settings, sample_on="expand")
    prompts = [countdown.prompt(p) for p in countdown.test[:4]]
    roots = expander.add_roots(prompts, range(4))
    result = Search(expander, Beam(2), num_simulations=6 * 4).run(roots, np.arange(4))
    tree = result.tree
    for b in range(4):
        count = tree.num_nodes[b]
        depth = np.zeros(count, int)
        for n in range(1, count):
            depth[n] = depth[tree.parent[b, n]] + 1
        assert (depth == 1).sum() == 6  # the root's N = 6 samples
        for level in range(1, depth.max()):
            parents = {tree.parent[b, n] for n in range(count) if depth[n] == level + 1}
            level_nodes = [n for n in range(count) if depth[n] == level and not tree.terminal[b, n]]
            assert len(parents) <= 2  # at most num_beams prefixes expanded per level
            best = sorted(level_nodes, key=lambda n: (-tree.raw_value[b, n], n))[:2]
            assert parents <= set(best)  # ... and they are the best-valued ones
            for parent in parents:  # every kept beam gets all M = 3 expansions
                assert (tree.children[b, parent] >= 0).sum() == 3


def test_oracle_search_solves_more_than_greedy(countdown, oracle):
    settings = SearchSettings(max_steps=5)
    prompts = [countdown.prompt(p) for p in countdown.test]
    policy = LegalStepPolicy()
    greedy = solved(countdown, greedy_solutions(policy, prompts, settings)).mean()
    beam = solved(countdown, beam_search(policy, oracle, prompts, 2, 4, settings, seed=0)).mean()
    gumbel = solved(
        countdown,
        mcts_search(policy, oracle, prompts, Gumbel(max_considered=8), 8, 8, settings, seed=0),
    ).mean()
    puct = solved(
        countdown, mcts_search(policy, oracle, prompts, Puct(), 8, 8, settings, seed=0)
    ).mean()
    best_of = sample_solutions(
        policy, prompts, 16, settings, 0, verifier=oracle, selection="argmax"
    )
    assert greedy < 0.3
    for accuracy in (beam, gumbel, puct):
        assert accuracy > greedy + 0.3, (greedy, beam, gumbel, puct)
    # best-of-N with the oracle picks a correct sample whenever there is one: coverage
    covered = [
        any(countdown.check_answer(p, c.text) for c in o.candidates)
        for p, o in zip(countdown.test, best_of, strict=True)
    ]
    np.testing.assert_array_equal(solved(countdown, best_of), covered)
    assert np.mean(covered) > greedy


def test_gumbel_mcts_does_not_get_worse_with_budget(countdown, oracle):
    settings = SearchSettings(max_steps=5)
    prompts = [countdown.prompt(p) for p in countdown.test]
    accuracies = [
        solved(
            countdown,
            mcts_search(
                LegalStepPolicy(), oracle, prompts, Gumbel(max_considered=8), n, 8, settings, seed=0
            ),
        ).mean()
        for n in (2, 8, 32)
    ]
    assert accuracies[0] <= accuracies[1] + 0.05 and accuracies[1] <= accuracies[2] + 0.05, (
        accuracies
    )


def candidates(answers, scores, correct=None):
    return [
        Candidate(f"... {a}\n", a, a is not None, s) for a, s in zip(answers, scores, strict=True)
    ]


def test_majority_and_weighted_votes_on_hand_built_candidates():
    pool = candidates(["5", "7", "7", None, "5", "7", "9"], [0.9, 0.1, 0.2, 0.99, 0.8, 0.1, 0.95])
    assert pool[majority_vote(pool)].answer == "7"  # three votes for 7
    # weighted: 5 has 0.9 + 0.8 = 1.7 > 7's 0.4 > 9's 0.95 ... 1.7 wins; its best carrier
    assert weighted_vote(pool) == 0
    # argmax: the best finished candidate, never the unfinished one scoring 0.99
    assert select("argmax", pool) == 6
    # ties between answers go to the one seen first; "7.0" and "7" are the same answer
    tie = candidates(["3", "4", "4", "3"], [0.5] * 4)
    assert tie[majority_vote(tie)].answer == "3"
    assert majority_vote(candidates(["7.0", "8", "7"], [0, 0, 0])) == 0
    with pytest.raises(ValueError, match="unknown selection 'mode'"):
        select("mode", pool)


def test_subset_trials_match_the_plain_selections():
    answers = ["5", "7", "7", None, "5", "7", "9"]
    scores = np.array([0.9, 0.1, 0.2, 0.99, 0.8, 0.1, 0.95])
    correct = np.array([True, False, False, False, True, False, False])
    rng = np.random.default_rng(0)
    pool = candidates(answers, scores)
    for name in ("majority", "weighted", "argmax"):
        whole = subset_trials(answers, correct, scores, name, 7, 5, rng)
        assert set(whole.correct.tolist()) == {bool(correct[select(name, pool)])}, name
        assert whole.covered.all()
    one = subset_trials(answers, correct, scores, "argmax", 1, 4000, rng)
    assert one.correct.mean() == pytest.approx(2 / 7, abs=0.03)  # a random single sample
    # best-of-n with the oracle is coverage: the unbiased pass@k estimate
    for k in (1, 2, 4):
        covered = subset_trials(answers, correct, scores, "argmax", k, 4000, rng).covered.mean()
        assert covered == pytest.approx(pass_at_k(7, 2, k), abs=0.03)


def test_pass_at_k_and_intervals():
    assert pass_at_k(10, 0, 5) == 0.0 and pass_at_k(10, 6, 5) == 1.0
    assert pass_at_k(10, 1, 1) == pytest.approx(0.1)
    assert pass_at_k(4, 2, 2) == pytest.approx(1 - 1 / 6)  # 1 - C(2,2)/C(4,2)
    low, high = wilson_interval(5, 10)
    assert low < 0.5 < high and (round(low, 3), round(high, 3)) == (0.237, 0.763)
    low, high = bootstrap_interval(np.r_[np.ones(30), np.zeros(70)], np.random.default_rng(0))
    assert low < 0.3 < high and high - low < 0.25
