"""Comparisons of a reasoning evaluation on hand-built results: paired differences and their
baselines, matched test compute, the families the figure has panels for."""

from __future__ import annotations

import numpy as np
import pytest

from reasoning.pipeline.compare import matched_compute, paired_differences
from reasoning.pipeline.evaluation import MethodResult, distinct_per_row
from reasoning.pipeline.results import result_rows
from reasoning.plots import family, panel


def result(method: str, budget: int, correct, flops: float) -> MethodResult:
    correct = np.asarray(correct, float)
    zeros = np.zeros_like(correct)
    return MethodResult(
        method, budget, "samples", correct, correct, zeros, np.full_like(correct, flops),
        zeros, zeros, 0.0, zeros + 1, zeros + 1,
    )  # fmt: skip


def test_paired_differences_against_greedy_the_random_sample_and_the_orm():
    problems = 40
    greedy = result("greedy", 1, np.zeros(problems), 1.0)
    # the PRM solves problems 0-19, the ORM 0-9, the random finished sample 0-4
    prm = result("best_of_n/prm_argmax_min", 4, np.arange(problems) < 20, 4.0)
    orm = result("best_of_n/orm_argmax", 4, np.arange(problems) < 10, 4.0)
    sample = result("best_of_n/random_finished", 4, np.arange(problems) < 5, 4.0)
    beam = result("beam/prm", 4, np.arange(problems) < 2, 5.0)
    rows = paired_differences(
        [greedy, prm, orm, sample, beam], np.random.default_rng(0), resamples=2000
    )
    found = {(r.method, r.baseline): r for r in rows}
    assert set(found) == {
        ("best_of_n/prm_argmax_min", "greedy"),
        ("best_of_n/prm_argmax_min", "best_of_n/random_finished"),
        ("best_of_n/prm_argmax_min", "best_of_n/orm_argmax"),
        ("best_of_n/orm_argmax", "greedy"),
        ("best_of_n/orm_argmax", "best_of_n/random_finished"),
        ("best_of_n/random_finished", "greedy"),
        ("beam/prm", "greedy"),
    }
    versus_orm = found[("best_of_n/prm_argmax_min", "best_of_n/orm_argmax")]
    assert versus_orm.difference == pytest.approx(0.25) and versus_orm.problems == problems
    # paired: the PRM solves every problem the ORM does, so the interval excludes 0
    assert 0 < versus_orm.interval_low < 0.25 < versus_orm.interval_high
    assert found[("beam/prm", "greedy")].interval_low == 0.0  # 2 of 40 problems: not sure


def test_matched_compute_takes_each_methods_largest_affordable_budget():
    results = [
        result("best_of_n/random_finished", 1, [1, 0], 10.0),
        result("best_of_n/random_finished", 4, [1, 1], 40.0),
        result("beam/prm", 4, [0, 0], 12.0),
        result("beam/prm", 8, [1, 0], 35.0),
        result("beam/prm", 16, [1, 1], 80.0),
    ]
    rows = result_rows(results, np.random.default_rng(0), 100)
    matched = {(r.samples_worth, r.method): r for r in matched_compute(rows)}
    assert (1, "beam/prm") not in matched  # even its smallest budget costs more than 1 sample
    assert matched[(4, "beam/prm")].budget == 8 and matched[(4, "beam/prm")].accuracy == 0.5
    assert matched[(4, "best_of_n/random_finished")].budget == 4


def test_distinct_candidates_per_row_and_families():
    codes = np.array([[0, 0, 1, -1], [2, 2, 2, 2], [-1, -1, -1, -1]])
    np.testing.assert_array_equal(distinct_per_row(codes), [2, 1, 0])
    assert [family(m) for m in ("greedy", "dvts/prm", "mcts_gumbel/oracle")] == [
        "greedy", "dvts", "mcts_gumbel",
    ]  # fmt: skip


def test_best_of_n_panels_go_by_verifier():
    assert panel("best_of_n/prm_checker_argmax_min") == "best_of_n: prm_checker"
    assert panel("best_of_n/prm_weighted_last") == "best_of_n: prm"
    assert panel("best_of_n/orm_argmax") == "best_of_n: orm"
    # the baselines and the oracle ceiling are drawn in every best-of-N panel
    assert panel("best_of_n/random_finished") == panel("best_of_n/oracle") == "best_of_n"
    assert panel("beam/prm") == "beam"
