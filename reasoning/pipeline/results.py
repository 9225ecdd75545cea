"""Tables of a reasoning evaluation: ``results.csv`` (accuracy with a bootstrap interval, test
FLOPs and tokens per method and budget), ``coverage.csv`` (pass@k) and ``verifier_errors.csv``
(how often a selection picks a wrong answer when a correct candidate was there)."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from experiment.stats import bootstrap_interval
from reasoning.pipeline.evaluation import MethodResult


@dataclass(frozen=True)
class ResultRow:
    """One method at one budget, over P test problems; costs are means per problem."""

    method: str  # e.g. best_of_n/prm_argmax_min, beam/prm, dvts/prm, mcts_gumbel/prm, greedy
    budget: int
    unit: str  # samples or simulations (per step)
    accuracy: float
    interval_low: float  # 95% percentile bootstrap over problems
    interval_high: float
    test_flops: float  # per problem
    policy_tokens: float
    verifier_tokens: float
    coverage: float  # a correct candidate was among those the method produced
    verifier_error: float  # P(chosen wrong | a correct candidate was there); NaN if never covered
    problems: int
    candidates: float  # finished candidates chosen among, per problem
    distinct_candidates: float  # of those, distinct texts (NaN where not counted: pass@k)
    seeds: int = 1  # tree searches: seeds averaged per problem
    round: int = 0  # expert iteration round of the policy (0: the policy trained on references)
    train_flops: float = math.nan  # the ledger's train FLOPs of that policy and its verifiers


def result_rows(
    results: Sequence[MethodResult], rng: np.random.Generator, resamples: int = 1000
) -> list[ResultRow]:
    rows = []
    for result in results:
        low, high = bootstrap_interval(result.correct, rng, resamples)
        covered = float(result.covered.sum())
        rows.append(
            ResultRow(
                method=result.method,
                budget=int(result.budget),
                unit=result.unit,
                accuracy=float(result.correct.mean()),
                interval_low=low,
                interval_high=high,
                test_flops=float(result.flops.mean()),
                policy_tokens=float(result.policy_tokens.mean()),
                verifier_tokens=float(result.verifier_tokens.mean()),
                coverage=float(result.covered.mean()),
                verifier_error=(
                    float(result.missed.sum() / covered)
                    if covered > 0 and not np.isnan(result.missed).any()
                    else math.nan
                ),
                problems=len(result.correct),
                candidates=float(result.candidates.mean()),
                distinct_candidates=float(result.distinct.mean()),
                seeds=int(result.seeds),
            )
        )
    return rows


def write_csv(path: Path, rows: Sequence[Any], columns: Sequence[str] | None = None) -> Path:
    """Rows (dataclasses) as CSV with a header; floats with 6 significant digits."""
    columns = list(columns or [f.name for f in fields(rows[0])]) if rows else list(columns or [])
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            values = asdict(row)
            writer.writerow(
                f"{values[c]:.6g}" if isinstance(values[c], float) else values[c] for c in columns
            )
    return path


def write_tables(directory: Path, rows: Sequence[ResultRow]) -> dict[str, Path]:
    """results.csv, coverage.csv (the oracle best-of-N rows: pass@k) and verifier_errors.csv."""
    paths = {"results": write_csv(directory / "results.csv", rows)}
    rows = [row for row in rows if row.round == 0]  # not expert iteration's later policies
    coverage = [row for row in rows if row.method == "best_of_n/oracle"]
    paths["coverage"] = write_csv(
        directory / "coverage.csv",
        coverage,
        ["budget", "accuracy", "interval_low", "interval_high", "problems"],
    )
    # The methods that choose among several candidates by a learned verifier or a vote (greedy
    # and MCTS return one candidate; the oracle never picks wrong).
    errors = [
        row
        for row in rows
        if row.method.startswith(("best_of_n/", "beam/", "dvts/"))
        and not row.method.endswith("/oracle")
    ]
    paths["verifier_errors"] = write_csv(
        directory / "verifier_errors.csv",
        errors,
        ["method", "budget", "coverage", "accuracy", "verifier_error", "distinct_candidates"],
    )
    return paths


def format_table(rows: Sequence[ResultRow], budgets: int = 3) -> str:
    """A compact text table: accuracy at each method's smallest, middle and largest budgets."""
    by_method: dict[str, list[ResultRow]] = {}
    for row in rows:
        by_method.setdefault(row.method, []).append(row)
    header = ("method", "budget", "accuracy", "FLOPs/problem", "wrong pick|covered")
    width = max([len(header[0]), *(len(row.method) for row in rows)])
    lines = [f"{header[0]:{width}s} " + "{:>7s} {:>17s} {:>13s} {:>18s}".format(*header[1:])]
    for method, method_rows in by_method.items():
        method_rows = sorted(method_rows, key=lambda r: r.budget)
        picks = sorted({0, len(method_rows) // 2, len(method_rows) - 1})[:budgets]
        for index in picks:
            row = method_rows[index]
            interval = f"[{row.interval_low:.2f}, {row.interval_high:.2f}]"
            error = "" if math.isnan(row.verifier_error) else f"{row.verifier_error:.2f}"
            lines.append(
                f"{method:{width}s} {row.budget:7d} {row.accuracy:5.3f} {interval:>11s} "
                f"{row.test_flops:13.3g} {error:>18s}"
            )
    return "\n".join(lines)
