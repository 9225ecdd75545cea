"""Verifiers and their labels: aggregations by name, the oracle on hand-written solutions,
Monte-Carlo step labels against analytic values on a toy policy, a PRM whose loss falls on toy
labels, batched scoring consistent with per-prefix scoring, save / load."""

from __future__ import annotations

import numpy as np
import pytest

from reasoning.labels import (
    LabelConfig,
    checker_examples,
    checker_label_examples,
    generate_labels,
    label_problems,
    orm_examples,
    prm_examples,
    read_labels,
)
from reasoning.lm.base import StepSample
from reasoning.lm.decoding import complete_solutions
from reasoning.tasks import make_task
from reasoning.verifiers import (
    AGGREGATIONS,
    OracleVerifier,
    aggregate,
    score_solutions,
    step_end_positions,
)


class ReferencePolicy:
    """Follows each problem's reference solution: every step is right with probability ``p``,
    else a slip; after a slip it answers wrongly at once. From a prefix that is right so far
    with m steps left (answer line included), a completion succeeds with probability p^m."""

    step_delimiter = "\n"
    num_parameters = 10
    flops_per_token = 20.0

    def __init__(self, task, problems, p: float):
        self.p = p
        self.references = {
            task.prompt(problem): [step + "\n" for step in task.reference_solution(problem)]
            for problem in problems
        }

    def sample_steps(self, prefixes, num_samples, max_tokens, temperature, rng=None):
        rows = []
        for prefix, generator in zip(prefixes, rng, strict=True):
            prompt_end = prefix.index("\n") + 1
            reference = self.references[prefix[:prompt_end]]
            steps = prefix[prompt_end:].splitlines(keepends=True)
            on_track = steps == reference[: len(steps)]
            row = []
            for _ in range(num_samples):
                if on_track and generator.random() < self.p:
                    text = reference[len(steps)]
                elif on_track and len(steps) < len(reference) - 1:
                    text = "1 + 1 = 3\n"
                else:
                    text = "Answer: 0\n"
                row.append(
                    StepSample(text, (-0.1,) * len(text), text.startswith("Answer"), "delimiter")
                )
            rows.append(row)
        return rows


def countdown_task():
    return make_task(
        "countdown", num_numbers=4, target_range=(10, 60), min_steps=2, train_size=80, test_size=10
    )


@pytest.fixture(scope="module")
def countdown():
    return countdown_task()


def test_aggregations_by_name():
    scores = np.array([0.9, 0.5, 0.8])
    assert sorted(AGGREGATIONS) == ["last", "min", "product"]
    assert aggregate("last", scores) == 0.8
    assert aggregate("min", scores) == 0.5
    assert aggregate("product", scores) == pytest.approx(0.36)
    with pytest.raises(ValueError, match="unknown aggregation 'mean'"):
        aggregate("mean", scores)
    with pytest.raises(ValueError, match="non-empty"):
        aggregate("min", [])


def test_oracle_scores_hand_written_solutions(countdown):
    problem = countdown.test[0]
    prompt = countdown.prompt(problem)
    right = prompt + countdown.solution_text(countdown.reference_solution(problem))
    first = countdown.reference_solution(problem)[0]
    slip = prompt + "1 + 1 = 3\n" + "Answer: 3\n"
    oracle = OracleVerifier(countdown, countdown.test)
    steps = right[len(prompt) :].count("\n")
    np.testing.assert_array_equal(oracle.step_scores([right])[0], np.ones(steps))
    np.testing.assert_array_equal(oracle.step_scores([slip])[0], [0.0, 0.0])
    np.testing.assert_array_equal(
        oracle.score_prefixes([prompt, prompt + first + "\n", slip]), [1.0, 1.0, 0.0]
    )
    for name in AGGREGATIONS:
        np.testing.assert_array_equal(score_solutions(oracle, [right, slip], name), [1.0, 0.0])
    assert oracle.flops_per_token == 0.0
    with pytest.raises(KeyError, match="does not know the problem"):
        oracle.score_prefixes(["Q: Use 1 2 to make 3.\n"])


def test_monte_carlo_labels_match_analytic_values(countdown):
    p, completions = 0.7, 8
    problems = countdown.train[:60]
    policy = ReferencePolicy(countdown, problems, p)
    config = LabelConfig(
        solutions_per_problem=4, completions=completions, max_steps=8, use_ray=False
    )
    labels = label_problems(policy, countdown, problems, range(60), config)
    assert len(labels) == 240
    soft_by_remaining: dict[int, list[float]] = {}
    hard_by_remaining: dict[int, list[float]] = {}
    for record in labels:
        reference = policy.references[record.prompt]
        assert record.soft[-1] == record.hard[-1] == float(record.correct)
        assert record.correct == (list(record.steps) == reference)
        for k in range(1, len(record.steps)):
            if list(record.steps[:k]) != reference[:k]:
                assert record.soft[k - 1] == record.hard[k - 1] == 0.0  # no way back after a slip
                continue
            remaining = len(reference) - k
            soft_by_remaining.setdefault(remaining, []).append(record.soft[k - 1])
            hard_by_remaining.setdefault(remaining, []).append(record.hard[k - 1])
    for remaining, values in soft_by_remaining.items():
        success = p**remaining
        # soft label = fraction of N completions that succeed: mean p^m (binomial / N noise)
        standard_error = np.sqrt(success * (1 - success) / completions / len(values))
        assert np.mean(values) == pytest.approx(success, abs=4 * standard_error + 1e-9), remaining
        # hard label = any of N succeeds: probability 1 - (1 - p^m)^N
        hard = 1 - (1 - success) ** completions
        hard_error = np.sqrt(hard * (1 - hard) / len(hard_by_remaining[remaining]))
        assert np.mean(hard_by_remaining[remaining]) == pytest.approx(
            hard, abs=4 * hard_error + 1e-9
        )
    assert len(soft_by_remaining) >= 2 and sum(map(len, soft_by_remaining.values())) > 150
    # the prompt's label is the fraction of the problem's sampled solutions that are correct
    first = labels[:4]
    assert first[0].prompt_soft == pytest.approx(np.mean([r.correct for r in first]))
    # PRM data: one target per step end (prompt included); ORM data: the outcome at the end only
    example = prm_examples(labels[:1], "hard")[0]
    assert len(example.targets) == len(step_end_positions(example.text)) == len(labels[0].steps) + 1
    # with the rollouts, each completion's own steps are labelled by its outcome
    record = next(r for r in labels if len(r.steps) == 3 and r.rollouts)
    with_rollouts = prm_examples([record], "soft", include_rollouts=True)
    new = [r for r in record.rollouts if r.steps != record.steps[: len(r.steps)]]  # repeats: no
    assert len(with_rollouts) == 1 + len(new)
    for rollout, example in zip(new, with_rollouts[1:], strict=True):
        labelled = [t for t in example.targets if not np.isnan(t)]
        assert np.isnan(example.targets[0]) and labelled  # the prompt keeps its N-sample label
        assert set(labelled) == {float(rollout.correct)}
        assert example.text == record.prompt + "".join(rollout.steps)
    orm = orm_examples(labels[:1])
    assert len(orm) == 1 + len(labels[0].rollouts)
    assert all(np.isnan(e.targets[:-1]).all() and e.targets[-1] in (0.0, 1.0) for e in orm)


def test_labels_are_resumable_and_independent_of_chunking(countdown, tmp_path):
    problems = countdown.train[:6]
    policy = ReferencePolicy(countdown, problems, 0.6)
    base = LabelConfig(solutions_per_problem=2, completions=3, use_ray=False, chunk_size=2)
    messages = []
    first = generate_labels(
        "unused",
        "countdown",
        {},
        range(6),
        base,
        tmp_path / "a",
        policy=policy,
        task=countdown,
        log=messages.append,
    )
    assert len(list((tmp_path / "a").glob("chunk-*.jsonl"))) == 3
    (tmp_path / "a" / "chunk-00001.jsonl").unlink()  # as if killed during chunk 1
    again = generate_labels(
        "unused",
        "countdown",
        {},
        range(6),
        base,
        tmp_path / "a",
        policy=policy,
        task=countdown,
        log=messages.append,
    )
    assert any("reusing 2 finished chunks of 3" in m for m in messages)
    assert again == first == read_labels(tmp_path / "a")
    whole = label_problems(policy, countdown, problems, range(6), base)
    assert whole == first


def test_checker_labels_grade_the_policys_own_samples_step_by_step(countdown):
    """The PRM of exact step labels learns from the solutions the policy wrote (the sampled
    ones and every label completion): 1 at each step end while the steps are valid and the
    target still reachable, 0 from the first that is not, the answer line by correctness."""
    problems = countdown.train[:6]
    policy = ReferencePolicy(countdown, problems, 0.6)
    config = LabelConfig(solutions_per_problem=2, completions=3, use_ray=False)
    labels = label_problems(policy, countdown, problems, range(6), config)
    examples = checker_label_examples(countdown, labels)
    texts = {record.text for record in labels} | {
        record.prompt + "".join(rollout.steps) for record in labels for rollout in record.rollouts
    }
    assert {example.text for example in examples} == texts  # each solution once
    oracle = OracleVerifier(countdown, problems)
    for example in examples:
        assert np.isnan(example.targets[0])  # the prompt is not a step
        oks = np.minimum.accumulate(oracle.step_scores([example.text])[0])
        assert list(example.targets[1:]) == list(oks)
        problem = problems[example.group]
        solution = example.text[len(countdown.prompt(problem)) :]
        assert example.targets[-1] == float(countdown.check_answer(problem, solution))
    # a slip ("1 + 1 = 3") is labelled wrong where Monte-Carlo labels can still say "maybe"
    slipped = [e for e in examples if "1 + 1 = 3" in e.text]
    assert slipped and all(e.targets[-1] == 0.0 and min(e.targets[1:]) == 0.0 for e in slipped)
    assert len(checker_label_examples(countdown, labels, include_rollouts=False)) == len(labels)


torch = pytest.importorskip("torch")


def test_class_weighting_lifts_rare_positives(countdown, one_thread):
    """With positives rare (about one in six labels), the balanced loss weighs a positive by
    (1 - p) / p: the trained verifier's mean score rises from the base rate towards one half
    (more than doubles), while the unweighted one learns the base rate."""
    from reasoning.lm import TinyGPTConfig
    from reasoning.verifiers import VerifierExample, VerifierTrainingConfig, train_verifier
    from reasoning.verifiers.training import positive_weight

    assert positive_weight(torch.tensor([1.0, 0.0, 0.0, 0.0, float("nan")])) == 3.0
    assert positive_weight(torch.tensor([0.0, 0.0])) == 1.0  # one class: nothing to balance
    examples = [
        VerifierExample(
            countdown.prompt(problem) + "Answer: 1\n", (float("nan"), float(i % 6 == 0)), i
        )
        for i, problem in enumerate(countdown.train)
    ]
    means = {}
    for balance in (False, True):
        config = VerifierTrainingConfig(
            model=TinyGPTConfig(block_size=64, num_layers=1, num_heads=2, embedding_dim=16),
            steps=100, batch_size=32, learning_rate=3e-3, warmup_steps=5,
            validation_fraction=0.0, balance_classes=balance,
        )  # fmt: skip
        result = train_verifier("orm", examples, config, np.random.default_rng(0), progress=False)
        means[balance] = result.verifier.score_prefixes([e.text for e in examples]).mean()
    base_rate = np.mean([e.targets[-1] for e in examples])
    assert abs(means[False] - base_rate) < 0.05 and means[True] > 2 * means[False], means


def toy_prm_examples(task, count: int, seed: int):
    """Sampled solutions with deliberate mistakes, each step labelled by the oracle (ok or not)."""
    from reasoning.verifiers import VerifierExample

    rng = np.random.default_rng(seed)
    oracle = OracleVerifier(task, task.train)
    examples = []
    for index, problem in enumerate(task.train[:count]):
        steps = task.sample_solution(problem, rng, error_rate=0.35)
        text = task.prompt(problem) + task.solution_text(steps)
        targets = (1.0, *oracle.step_scores([text])[0])
        examples.append(VerifierExample(text, targets, index))
    return examples


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the test machine's cores are shared; one thread is fastest there
    yield
    torch.set_num_threads(threads)


def test_prm_loss_falls_and_scoring_is_consistent(countdown, tmp_path, one_thread):
    from reasoning.lm import CharTokenizer, TinyGPTConfig
    from reasoning.verifiers import LearnedVerifier, VerifierTrainingConfig, train_verifier
    from reasoning.verifiers.training import _evaluate, merge_duplicates, ranking_accuracy

    examples = toy_prm_examples(countdown, 80, seed=0)
    config = VerifierTrainingConfig(
        model=TinyGPTConfig(block_size=128, num_layers=1, num_heads=2, embedding_dim=32),
        steps=150, batch_size=32, learning_rate=3e-3, warmup_steps=10, validation_fraction=0.2,
    )  # fmt: skip
    result = train_verifier("prm", examples, config, np.random.default_rng(0), progress=False)
    losses = np.array(result.losses)
    assert losses[-20:].mean() < 0.85 * losses[:10].mean()
    assert result.flops > 0
    # early stopping: held-out problems are measured every 50 steps, and the weights kept are
    # those of the best measurement (ranking, then loss); here the held-out loss rises after
    # step 49, so keeping the last weights instead would show
    steps = [step for step, _ in result.validations]
    assert steps == [49, 99, 149]
    best_step, best = max(result.validations, key=lambda r: (r[1].ranking, -r[1].loss))
    assert result.best_step == best_step and result.validation_loss == best.loss
    assert best.loss < result.validations[-1][1].loss
    held_out = [e for e in merge_duplicates(examples) if e.group in result.validation_groups]
    assert len(result.validation_groups) == 16  # 20% of 80 problems
    measured = _evaluate(result.verifier.model, held_out, CharTokenizer())
    assert measured.loss == pytest.approx(best.loss, rel=1e-6)
    verifier = result.verifier
    # it learned to tell valid steps from mistakes, on problems it never trained on too
    for rows, least in ((examples, 0.8), (held_out, 0.65)):
        scores = np.concatenate(verifier.step_scores([e.text for e in rows]))
        targets = np.concatenate([e.targets[1:] for e in rows])
        assert ranking_accuracy(scores, targets, np.zeros(len(scores))) > least
    texts = [e.text for e in examples[:5]]
    # one forward per solution gives every prefix's score, equal to scoring prefixes one by one
    for text, scores in zip(texts, verifier.step_scores(texts), strict=True):
        ends = step_end_positions(text)[1:]
        np.testing.assert_allclose(
            scores, verifier.score_prefixes([text[: e + 1] for e in ends]), atol=1e-5
        )
    assert verifier.flops_per_token == 2.0 * verifier.num_parameters
    assert verifier.count_tokens(texts[0]) == len(texts[0])  # a character tokenizer
    verifier.save(tmp_path / "prm")
    loaded = LearnedVerifier.load(tmp_path / "prm")
    assert loaded.name == "prm" and not list(tmp_path.glob("prm/*.pt"))  # no pickle
    np.testing.assert_allclose(
        loaded.score_prefixes(texts), verifier.score_prefixes(texts), atol=1e-6
    )


def test_verifier_training_decays_matrices_only(monkeypatch, one_thread):
    """The verifier loop is the tiny GPT's: no weight decay on LayerNorms, biases or embeddings."""
    from reasoning.lm import TinyGPTConfig
    from reasoning.verifiers import VerifierTrainingConfig, train_verifier

    groups = []
    original = torch.optim.AdamW

    def recording(params, **options):
        groups.extend(params)
        return original(params, **options)

    monkeypatch.setattr(torch.optim, "AdamW", recording)
    config = VerifierTrainingConfig(
        model=TinyGPTConfig(block_size=128, num_layers=1, num_heads=2, embedding_dim=32),
        steps=2, batch_size=4, weight_decay=0.1,
    )  # fmt: skip
    result = train_verifier(
        "orm", toy_prm_examples(countdown_task(), 8, seed=1), config, np.random.default_rng(0),
        progress=False,
    )  # fmt: skip
    names = {id(p): name for name, p in result.verifier.model.named_parameters()}
    decayed = {names[id(p)] for g in groups if g["weight_decay"] > 0 for p in g["params"]}
    plain = {names[id(p)] for g in groups if g["weight_decay"] == 0 for p in g["params"]}
    assert decayed and all(name.endswith("weight") and "norm" not in name for name in decayed)
    assert not any("embedding" in name for name in decayed)
    assert {"trunk.token_embedding.weight", "trunk.final_norm.weight", "value_head.bias"} <= plain
    assert "value_head.weight" in decayed and "trunk.blocks.0.mlp.0.weight" in decayed


def test_duplicates_merge_into_mean_labels_and_ranking_counts_pairs_within_problems():
    from reasoning.verifiers import VerifierExample
    from reasoning.verifiers.training import merge_duplicates, ranking_accuracy

    nan = float("nan")
    text = "Q: Use 1 2 3 to make 6.\n1 + 2 = 3\n3 + 3 = 6\nAnswer: 6\n"
    examples = [
        VerifierExample(text, (nan, nan, 1.0, 1.0), 0),
        VerifierExample(text, (nan, nan, nan, 0.0), 0),
        VerifierExample(text, (nan, nan, nan, 1.0), 1),  # another problem's copy stays apart
        VerifierExample(text, (1.0, nan, 0.0, 1.0), 0),
    ]
    merged = merge_duplicates(examples)
    assert len(merged) == 2
    np.testing.assert_allclose(merged[0].targets, (1.0, nan, 0.5, 2 / 3))
    assert merged[1].group == 1 and merged[1].targets[-1] == 1.0
    # problem 0: targets 1 > 0 ordered right once, wrong once; problem 1: a tie counts half;
    # pairs never span problems (problem 2's lone text has no pair)
    scores = np.array([0.9, 0.2, 0.5, 0.1, 0.4, 0.4, 0.7])
    targets = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    groups = np.array([0, 0, 0, 0, 1, 1, 2])
    # problem 0 pairs (i above j): (0,1) yes, (0,2) yes, (3,1) no, (3,2) no; problem 1: tie
    assert ranking_accuracy(scores, targets, groups) == pytest.approx((2 + 0.5) / 5)
    assert ranking_accuracy(scores[:1], targets[:1], groups[:1]) == 0.5


def test_checker_examples_label_up_to_the_first_wrong_step(countdown):
    rng = np.random.default_rng(0)
    problems = countdown.train[:20]
    prm, orm = checker_examples(countdown, problems, range(20), 3, 0.4, rng)
    assert len(prm) == len(orm) == 60
    oracle = OracleVerifier(countdown, problems)
    for p, o in zip(prm, orm, strict=True):
        oks = oracle.step_scores([p.text])[0]
        assert p.targets[0] == 1.0 and len(p.targets) == len(oks) + 1
        assert list(p.targets[1:]) == list(np.minimum.accumulate(oks))  # 1s, then 0s
        problem = problems[p.group]
        correct = countdown.check_answer(problem, p.text[len(countdown.prompt(problem)) :])
        assert o.targets[-1] == float(correct) and np.isnan(o.targets[:-1]).all()
    finals = [o.targets[-1] for o in orm]
    assert 0 < sum(finals) < len(finals)  # both right and wrong solutions


def test_roc_auc_counts_ordered_pairs_ties_half():
    from reasoning.verifiers.measure import roc_auc

    assert roc_auc(np.array([0.9, 0.8, 0.1, 0.2]), np.array([1, 1, 0, 0])) == 1.0
    assert roc_auc(np.array([0.1, 0.2, 0.9, 0.8]), np.array([1, 1, 0, 0])) == 0.0
    # one positive (0.5) against negatives 0.1, 0.5, 0.7: one pair ordered, one tied, one not
    assert roc_auc(np.array([0.5, 0.1, 0.5, 0.7]), np.array([1, 0, 0, 0])) == 0.5
    assert np.isnan(roc_auc(np.array([0.3, 0.4]), np.array([1, 1])))


def test_clustered_auc_interval_covers_the_true_auc():
    """Simulated verifier scores: each problem shifts all its steps' scores alike (its
    difficulty, sd 1), a right step scores 1 higher, noise sd 1. Over 200 simulated pools of 30
    problems x 20 steps the 95% interval from resampling problems covers the population AUC,
    Phi(1 / sqrt(2 (1 + 1))) = 0.691, 90-99% of the time."""
    from statistics import NormalDist

    from reasoning.verifiers.measure import clustered_auc_interval, roc_auc

    truth = NormalDist().cdf(1 / np.sqrt(2 * (1 + 1)))
    rng = np.random.default_rng(7)
    covered, trials, problems, steps = 0, 200, 30, 20
    for _ in range(trials):
        owners = np.repeat(np.arange(problems), steps)
        labels = rng.random(problems * steps) < 0.3
        scores = rng.normal(0, 1, problems)[owners] + labels + rng.normal(0, 1, owners.size)
        low, high = clustered_auc_interval(scores, labels, owners, rng, resamples=200)
        covered += low <= truth <= high
        assert low <= roc_auc(scores, labels) <= high
    assert 0.90 <= covered / trials <= 0.99


def test_verifier_measurements_rank_the_checker_first(countdown):
    """On the policy's solutions the exact checker separates right steps from wrong ones
    perfectly and always picks a correct solution where one exists; a verifier that scores
    every prefix alike is at chance (AUC 0.5)."""
    from reasoning.verifiers.measure import measure_verifiers

    problems = countdown.test[:8]
    policy = ReferencePolicy(countdown, problems, 0.6)
    rng = [np.random.default_rng(i) for i in range(8)]
    solutions = [
        [
            completion.text
            for completion in complete_solutions(
                policy, [countdown.prompt(problem)] * 6, temperature=1.0,
                rng=[rng[index]] * 6, max_steps=6, max_step_tokens=24,
            )
        ]
        for index, problem in enumerate(problems)
    ]  # fmt: skip

    class Constant:
        name, flops_per_token = "constant", 0.0

        def step_scores(self, texts):
            return [np.full(len(OracleVerifier(countdown, problems).step_scores([t])[0]), 0.5)
                    for t in texts]  # fmt: skip

    oracle = OracleVerifier(countdown, problems)
    measured = {
        m.name: m
        for m in measure_verifiers(
            countdown, problems, solutions, {"oracle": oracle, "constant": Constant()}
        )
    }
    exact = measured["oracle"]
    assert exact.step_auc == 1.0 and set(exact.top1.values()) == {1.0}
    assert exact.step_auc_interval == (1.0, 1.0)
    low, high = measured["constant"].top1_interval["last"]
    assert low <= measured["constant"].top1["last"] < high  # Wilson: never a point
    assert 0 < exact.problems <= 8 and 0 < exact.positive_steps < 1
    assert measured["constant"].step_auc == 0.5
    assert measured["constant"].top1["last"] < 1.0  # the first finished, right or not
