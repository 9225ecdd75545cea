"""Searches over reasoning steps on the search core, with a fake policy (no torch): the
expander's batching, priors and costs; beam and best-of-N as rules of the core; selections on
hand-built candidate sets; and, with the oracle verifier, search beating greedy decoding."""

from __future__ import annotations

import itertools
import math
import re
import zlib
from collections.abc import Sequence

import numpy as np
import pytest

from reasoning.lm.base import StepSample
from reasoning.searches import (
    BEST_OF_N,
    RULES,
    BestOfN,
    Candidate,
    ReasoningExpander,
    SearchSettings,
    beam_search,
    best_of_n_selection,
    greedy_solutions,
    majority_vote,
    mcts_search,
    pass_at_k,
    sample_solutions,
    select,
    subset_trials,
    weighted_vote,
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


class ConstantVerifier:
    """Scores every prefix ``score``; reads one token per character at 10 FLOPs a token."""

    name = "constant"
    flops_per_token = 10.0

    def __init__(self, score: float):
        self.score = score

    def count_tokens(self, text: str) -> int:
        return len(text)

    def score_prefixes(self, texts):
        return np.full(len(texts), self.score)

    def step_scores(self, texts):
        return [np.full(text.count("\n") - 1, self.score) for text in texts]


class HashVerifier(ConstantVerifier):
    """Scores each prefix by a fixed pseudo-random function of its text: distinct values, so
    that a rule's preferences show (the oracle's 0 / 1 scores tie almost everywhere)."""

    def __init__(self) -> None:
        super().__init__(0.0)

    def score_prefixes(self, texts):
        return np.array([zlib.crc32(text.encode()) / 2**32 for text in texts])


class FixedStepPolicy:
    """Offers the same four next steps everywhere, with known probabilities and a repeat."""

    step_delimiter = "\n"
    num_parameters = 1
    flops_per_token = 2.0
    texts = ("a + b\n", "c + d\n", "a + b\n", "e + f\n")
    probabilities = (0.5, 0.2, 0.5, 0.1)

    def sample_steps(self, prefixes, num_samples, max_tokens, temperature, rng=None):
        return [
            [
                StepSample(text, (math.log(p),) + (0.0,) * (len(text) - 1), False, "delimiter")
                for text, p in zip(self.texts, self.probabilities, strict=True)
            ][:num_samples]
            for _ in prefixes
        ]


def reachable(expander: ReasoningExpander, roots) -> list[int]:
    """Every node id the expander made below (and including) ``roots``."""
    nodes, stack = [], [int(root) for root in roots]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(expander.node(node).children)
    return nodes


def test_expander_on_the_core_batches_samples_and_counts_costs(countdown, oracle):
    policy = LegalStepPolicy()
    settings = SearchSettings(max_steps=5, max_step_tokens=20)
    expander = ReasoningExpander(policy, oracle, (4,), settings)
    prompts = [countdown.prompt(p) for p in countdown.test[:6]]
    roots = expander.add_roots(prompts, range(6))
    result = Search(expander, Puct(), num_simulations=10).run(roots, np.arange(6))
    assert (result.visit_counts.sum(axis=1) == 10).all()
    # one sample_steps call per evaluation round, covering every search at once: the first
    # call samples all six roots, no call has more rows than searches, and every node that got
    # candidates was sampled exactly once (rows = non-terminal nodes)
    assert policy.calls[0] == 6 and max(policy.calls) == 6 and len(policy.calls) <= 1 + 10
    nodes = reachable(expander, roots)
    assert sum(policy.calls) == sum(not expander.node(n).terminal for n in nodes)
    # a node reached again is not sampled again
    before = len(policy.calls)
    expander.evaluate(roots, np.arange(6), Streams(range(6)))
    assert len(policy.calls) == before
    # costs: the policy pays 2000 FLOPs per generated token, the oracle nothing
    for b in range(6):
        tokens = expander.policy_tokens[b]
        assert tokens > 0 and expander.flops(b) == 2000.0 * tokens


def test_priors_are_the_policy_over_distinct_candidates():
    expander = ReasoningExpander(FixedStepPolicy(), None, (4,), SearchSettings(max_steps=3))
    roots = expander.add_roots(["Q: x\n", "Q: y\n"], [0, 1])
    evaluation = expander.evaluate(roots, np.arange(2), Streams(range(2)))
    # exp(log p) normalised over the distinct texts; the repeat in slot 2 is not a choice
    np.testing.assert_array_equal(evaluation.valid, [[True, True, False, True]] * 2)
    np.testing.assert_allclose(evaluation.priors, [[0.625, 0.25, 0.0, 0.125]] * 2, rtol=1e-6)
    np.testing.assert_array_equal(evaluation.values, [0.0, 0.0])  # no verifier: value 0


@pytest.mark.parametrize("score", [0.9, 0.2])
def test_one_agent_values_are_never_sign_flipped(score):
    """Every prefix scores ``score``, so every node is worth 2 * score - 1 to the one agent:
    the searched root value and every visited child's Q equal it (a two-player sign flip would
    make the children's Q its negative)."""
    policy, verifier = LegalStepPolicy(), ConstantVerifier(score)
    task = make_task("countdown", num_numbers=4, target_range=(10, 60), train_size=0, test_size=3)
    expander = ReasoningExpander(policy, verifier, (4,), SearchSettings(max_steps=4))
    roots = expander.add_roots([task.prompt(p) for p in task.test], range(3))
    result = Search(expander, Puct(), num_simulations=12).run(roots, np.arange(3))
    value = 2 * score - 1
    np.testing.assert_allclose(result.root_values, value, rtol=1e-6)
    visited = result.visit_counts > 0
    np.testing.assert_allclose(result.q_values[visited], value, rtol=1e-6)
    # the verifier reads each prompt once, then each new step (its tokens: characters here)
    for b, root in enumerate(roots):
        edges = [
            (expander.node(parent), expander.node(child))
            for parent in reachable(expander, [root])
            for child in expander.node(parent).children
        ]
        read = len(task.prompt(task.test[b])) + sum(
            max(len(child.prefix) - len(parent.prefix), 1) for parent, child in edges
        )
        assert expander.verifier_tokens[b] == read and len(edges) > 3
        assert expander.flops(b) == 2000.0 * expander.policy_tokens[b] + 10.0 * read


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


def test_beam_rule_keeps_the_best_beams_per_level(countdown):
    policy = LegalStepPolicy()
    settings = SearchSettings(max_steps=4)
    expander = ReasoningExpander(policy, HashVerifier(), (6, 3), settings, sample_on="expand")
    prompts = [countdown.prompt(p) for p in countdown.test[:4]]
    roots = expander.add_roots(prompts, range(4))
    Search(expander, Beam(2), num_simulations=6 * 4).run(roots, np.arange(4))
    levels_checked = 0  # levels where the rule had to leave a prefix out
    for root in roots:
        nodes = [expander.node(n) for n in reachable(expander, [root])]
        assert len(expander.node(root).children) == 6  # the root's N = 6 samples
        for depth in range(1, max(node.depth for node in nodes)):
            level = [node for node in nodes if node.depth == depth and not node.terminal]
            kept = [node for node in level if node.children]
            assert 1 <= len(kept) <= 2  # num_beams prefixes expanded per level ...
            # ... the best-valued ones: no prefix of the level left unexpanded scores higher
            skipped = [node.score for node in level if not node.children]
            assert min(node.score for node in kept) >= max(skipped, default=-1.0)
            assert all(len(node.children) == 3 for node in kept)  # M = 3 expansions each
            levels_checked += bool(skipped)
    assert levels_checked >= 8


def test_beam_search_drops_duplicate_prefixes_and_candidates():
    """The policy repeats itself (3-number Countdown has few legal steps): a step sampled twice
    under one parent becomes a duplicate node, terminal, never read by the verifier and never
    kept as a beam, so every tree holds distinct prefixes and every outcome distinct
    candidates."""
    task = make_task("countdown", num_numbers=3, target_range=(10, 40), train_size=0, test_size=8)
    prompts = [task.prompt(p) for p in task.test]
    settings = SearchSettings(max_steps=4)
    expander = ReasoningExpander(
        LegalStepPolicy(), HashVerifier(), (8, 4), settings, sample_on="expand"
    )
    roots = expander.add_roots(prompts, range(8))
    Search(expander, Beam(2), num_simulations=8 * 4).run(roots, np.arange(8))
    duplicates = 0
    for b, root in enumerate(roots):
        nodes = [expander.node(n) for n in reachable(expander, [root])]
        kept = [node for node in nodes if not node.duplicate]
        assert len({node.prefix for node in kept}) == len(kept)
        for node in nodes:
            if node.duplicate:
                assert node.terminal and not node.children and node.score == 0.0
                assert node.prefix in {other.prefix for other in kept}
        duplicates += sum(node.duplicate for node in nodes)
        # the verifier read the prompt and each distinct step, never a duplicate
        edges = [
            (expander.node(parent), expander.node(child))
            for parent in reachable(expander, [root])
            for child in expander.node(parent).children
            if not expander.node(child).duplicate
        ]
        read = len(prompts[b]) + sum(len(c.prefix) - len(p.prefix) for p, c in edges)
        assert expander.verifier_tokens[b] == read
    assert duplicates > 20  # there was something to drop
    for outcome in beam_search(LegalStepPolicy(), HashVerifier(), prompts, 2, 4, settings, 0):
        texts = [candidate.text for candidate in outcome.candidates]
        assert texts and len(set(texts)) == len(texts)


def test_dvts_runs_independent_beams_of_one(countdown, oracle):
    """DVTS with N / M subtrees: subtree 0 is beam search with one beam (same streams), the
    other subtrees add their own candidates, a problem gives the same result alone, and with
    the oracle as value it solves far more than greedy decoding."""
    settings = SearchSettings(max_steps=5)
    prompts = [countdown.prompt(p) for p in countdown.test]
    policy = LegalStepPolicy()
    dvts = beam_search(policy, oracle, prompts, 1, 3, settings, seed=2, subtrees=4)
    single = beam_search(policy, oracle, prompts, 1, 3, settings, seed=2)
    for tree, beam in zip(dvts, single, strict=True):
        first = [candidate.text for candidate in tree.candidates[: len(beam.candidates)]]
        assert first == [candidate.text for candidate in beam.candidates]
        assert tree.policy_tokens > beam.policy_tokens
    alone = beam_search(
        policy, oracle, prompts[5:6], 1, 3, settings, 2, subtrees=4, problem_ids=[5]
    )[0]
    assert alone.text == dvts[5].text and alone.flops == dvts[5].flops
    greedy = solved(countdown, greedy_solutions(policy, prompts, settings)).mean()
    assert solved(countdown, dvts).mean() > greedy + 0.3


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


def test_gumbel_mcts_gets_better_with_budget_on_average(countdown, oracle):
    """Gumbel MCTS keeps strength non-decreasing in the simulation budget on average over
    seeds (DESIGN.md): 5 seeds x 40 problems per budget, no slack."""
    settings = SearchSettings(max_steps=5)
    prompts = [countdown.prompt(p) for p in countdown.test]
    budgets = (2, 4, 8, 16, 32)
    accuracies = [
        np.mean(
            [
                solved(
                    countdown,
                    mcts_search(
                        LegalStepPolicy(), oracle, prompts, Gumbel(max_considered=8), n, 8,
                        settings, seed=seed,
                    ),
                ).mean()
                for seed in range(5)
            ]
        )
        for n in budgets
    ]  # fmt: skip
    assert all(np.diff(accuracies) > 0), dict(zip(budgets, accuracies, strict=True))
    assert accuracies[-1] > accuracies[0] + 0.3


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


def test_subset_trials_choose_as_select_on_each_subset_ties_included():
    """subset_trials and select are one implementation: on subsets smaller than the pool,
    each trial chooses the pool index that select chooses on that subset's candidates (in
    pool order), for every rule, with tied votes and tied scores."""
    answers = ["3", "4", "4", "3", None, "5", "3", "4", "7.0", "7"]
    scores = np.array([0.5, 0.5, 0.25, 0.75, 0.9, 0.5, 0.25, 0.5, 0.75, 0.25])
    correct = np.array([a == "4" for a in answers])
    pool = candidates(answers, scores)
    rng = np.random.default_rng(0)
    for rule in RULES:
        for size in (2, 3, 4, 7):
            result = subset_trials(answers, correct, scores, rule, size, 300, rng)
            assert result.subsets.shape == (300, size)
            expected = [
                subset[select(rule, [pool[i] for i in subset])] for subset in result.subsets
            ]
            np.testing.assert_array_equal(result.chosen, expected, err_msg=f"{rule} @ {size}")
            np.testing.assert_array_equal(result.correct, correct[result.chosen])
            np.testing.assert_array_equal(
                result.covered, [correct[subset].any() for subset in result.subsets]
            )
    # the tie the old pool-order code broke differently: answers 3 and 4 once each in a
    # subset of two go to the one first in the subset, whichever the pool saw first
    tie = ["3", "4", "4", "3"]
    result = subset_trials(tie, np.zeros(4, bool), None, "majority", 2, 200, rng)
    mixed = [subset for subset in result.subsets if tie[subset[0]] != tie[subset[1]]]
    assert len(mixed) > 50
    np.testing.assert_array_equal(
        result.chosen[[tie[s[0]] != tie[s[1]] for s in result.subsets]], [s[0] for s in mixed]
    )


def test_subset_trials_estimate_the_expected_best_of_n():
    answers = ["5", "7", "7", None, "5", "7", "9"]
    scores = np.array([0.9, 0.1, 0.2, 0.99, 0.8, 0.1, 0.95])
    correct = np.array([True, False, False, False, True, False, False])
    rng = np.random.default_rng(0)
    pool = candidates(answers, scores)
    for name in ("majority", "weighted", "argmax"):
        whole = subset_trials(answers, correct, scores, name, 7, 5, rng)
        np.testing.assert_array_equal(whole.chosen, [select(name, pool)] * 5)
    one = subset_trials(answers, correct, scores, "argmax", 1, 4000, rng)
    assert one.correct.mean() == pytest.approx(2 / 7, abs=0.03)  # a random single sample
    # best-of-n with the oracle is coverage: the unbiased pass@k estimate
    for k in (1, 2, 4):
        covered = subset_trials(answers, correct, scores, "argmax", k, 4000, rng).covered.mean()
        assert covered == pytest.approx(pass_at_k(7, 2, k), abs=0.03)
    with pytest.raises(ValueError, match="needs verifier scores"):
        subset_trials(answers, correct, None, "weighted", 2, 5, rng)


def test_first_finished_is_the_baseline_where_answers_cannot_differ():
    pool = candidates([None, "7", "7", "5"], [0.9, 0.1, 0.8, 0.2])
    assert select("first", pool) == 1  # the first candidate with an answer, scores unread
    assert select("first", candidates([None, None], [0.1, 0.9])) == 0
    # on Countdown every finished solution names the target: majority is the first finished
    countdown = candidates([None, "24", "24", "24"], [0.0] * 4)
    assert majority_vote(countdown) == select("first", countdown) == 1
    assert best_of_n_selection("random_finished") == BestOfN("random_finished", None, "first")
    assert best_of_n_selection("majority").needs_distinct_answers
    assert not make_task("countdown", train_size=0, test_size=1).answers_differ
    assert make_task("arithmetic_chain", train_size=0, test_size=1).answers_differ


def test_best_of_n_selections_are_named_records():
    assert list(BEST_OF_N) == [
        "random_finished", "majority",
        "prm_weighted_last", "prm_weighted_min", "prm_weighted_product",
        "prm_argmax_last", "prm_argmax_min", "prm_argmax_product",
        "prm_checker_weighted_last", "prm_checker_weighted_min", "prm_checker_weighted_product",
        "prm_checker_argmax_last", "prm_checker_argmax_min", "prm_checker_argmax_product",
        "orm_weighted", "orm_argmax", "oracle",
    ]  # fmt: skip
    assert best_of_n_selection("prm_argmax_min") == BestOfN(
        "prm_argmax_min", "prm", "argmax", "min"
    )
    assert best_of_n_selection("orm_argmax").aggregation is None
    assert best_of_n_selection("majority").verifier is None
    assert all(selection.rule in RULES for selection in BEST_OF_N.values())
    with pytest.raises(ValueError, match="unknown best-of-N selection 'vote'"):
        best_of_n_selection("vote")


def test_pass_at_k():
    assert pass_at_k(10, 0, 5) == 0.0 and pass_at_k(10, 6, 5) == 1.0
    assert pass_at_k(10, 1, 1) == pytest.approx(0.1)
    assert pass_at_k(4, 2, 2) == pytest.approx(1 - 1 / 6)  # 1 - C(2,2)/C(4,2)
    # unbiased: the mean over every subset of size k of "some sample is correct"
    correct = np.array([1, 0, 0, 1, 0, 1, 0], bool)
    subsets = list(itertools.combinations(range(7), 3))
    assert pass_at_k(7, 3, 3) == pytest.approx(np.mean([correct[list(s)].any() for s in subsets]))


@pytest.mark.parametrize("rule", [Puct(), Gumbel(max_considered=8)], ids=lambda r: r.name)
def test_a_checked_answer_is_a_proven_value_for_the_step_search(countdown, oracle, rule):
    """A finished solution is terminal: with the exact checker's value 1 it is a proven win, so
    the node above it is solved, the search stops walking there, and the step it commits leads
    to that solution."""
    settings = SearchSettings(max_steps=5, max_step_tokens=20)
    expander = ReasoningExpander(LegalStepPolicy(), oracle, (8,), settings)
    prompts = [countdown.prompt(p) for p in countdown.test]
    roots = expander.add_roots(prompts, range(len(prompts)))
    result = Search(expander, rule, num_simulations=64).run(roots, np.arange(len(prompts)))
    assert result.solved.any()
    for b in np.flatnonzero(result.solved):
        assert result.root_values[b] == 1.0  # a correct solution was found below the root
        assert result.proven_values[b, result.chosen[b]] == 1.0  # and the step towards it chosen
    unsolved = np.flatnonzero(~result.solved)
    assert (result.root_values[unsolved] < 1.0).all()


def test_a_learned_verifiers_score_is_never_a_proven_value(countdown):
    """A verifier sure of every prefix (score 1) still only estimates: nothing is solved, so
    the search keeps searching instead of committing to a 'proven' guess."""
    settings = SearchSettings(max_steps=3, max_step_tokens=20)
    expander = ReasoningExpander(LegalStepPolicy(), ConstantVerifier(1.0), (4,), settings)
    prompts = [countdown.prompt(p) for p in countdown.test[:8]]
    roots = expander.add_roots(prompts, range(8))
    result = Search(expander, Puct(), num_simulations=32).run(roots, np.arange(8))
    assert not result.solved.any() and np.isnan(result.proven_values).all()
    assert (result.visit_counts.sum(axis=1) == 32).all()
