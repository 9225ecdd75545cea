"""``ponder reason``: train the policy -> Monte-Carlo step labels -> PRMs (Monte-Carlo and exact
checker labels) and ORM, measured on held-out problems -> every search x budget on the test
split -> figures, tables, TensorBoard scalars and the compute ledger.

Outputs in ``runs/<name>/``::

    policy/                   the tiny GPT (safetensors + JSON) and phase.json
    labels/chunk-*.jsonl      labelled solutions (one file per finished chunk of problems)
    verifiers/prm, prm_checker, orm/  the verifiers (safetensors + JSON)
    verifiers.json            the verifiers measured on held-out problems (step AUC, top-1)
    evaluation/*.json         per method and budget, per-problem results; pool.jsonl
    results.csv               accuracy [95% interval], test FLOPs and tokens per method x budget
    differences.csv           paired differences against greedy, the random finished sample and
                              the ORM, with 95% intervals (reasoning.pipeline.compare)
    matched_compute.csv       every method at N samples' worth of test FLOPs
    coverage.csv              pass@k from the pool (unbiased estimator)
    verifier_errors.csv       P(chosen wrong | a correct candidate was there)
    accuracy_vs_compute.png   accuracy vs test FLOPs, a panel per search family, with intervals
                              and the oracle ceiling
    coverage.png              coverage and best-of-N selections vs N
    ledger.json               train (SFT, labels) and test FLOPs
    expert_iteration/round-*/ each round's policy, evaluation and ledger.json (train FLOPs so
                              far, the search that made its data included); results.csv has
                              its rows (greedy and the round's search) with ``round`` = r
    tensorboard/              reason/... and compute/... scalars, a custom-scalars layout (accuracy
                              vs test FLOPs of the task), the figures as images

Each phase is resumable: run the same command again and finished phases (and finished label
chunks and method x budget evaluations) are reused.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from experiment import UserError
from experiment.config import save_config
from experiment.ledger import ComputeLedger
from experiment.run import RunDirectory
from experiment.seeds import stream_seed
from experiment.tensorboard import ScalarWriter
from reasoning.pipeline.compare import matched_compute, paired_differences
from reasoning.pipeline.config import ReasonConfig
from reasoning.pipeline.evaluation import EvaluationPhase, MethodResult
from reasoning.pipeline.expert_iteration import Round, expert_iteration
from reasoning.pipeline.phases import (
    Context,
    labels_phase,
    measure_phase,
    policy_phase,
    verifiers_phase,
)
from reasoning.pipeline.results import (
    ResultRow,
    format_table,
    result_rows,
    write_csv,
    write_tables,
)
from reasoning.tasks.base import Task
from reasoning.tasks.registry import make_task

__all__ = ["ReasonConfig", "ResultRow", "run_pipeline"]


def _print(message: str) -> None:
    print(f"[reason {time.strftime('%H:%M:%S')}] {message}", flush=True)


def open_run(
    config: ReasonConfig, overwrite: bool = False, command_line: Sequence[str] | None = None
) -> RunDirectory:
    """A new run directory, or the existing one to resume (its phases check their configs)."""
    path = Path(config.run.root) / config.run.name
    if path.exists() and not overwrite:
        run = RunDirectory.open(path)
        run.record_resume(command_line)
        save_config(config, run.config_path)
        return run
    return RunDirectory.create(
        config.run.root, config.run.name, config, overwrite=overwrite, command_line=command_line
    )


def _task(config: ReasonConfig) -> Task:
    """The configured task; an unknown name or knob, a missing or malformed problem file is the
    user's to fix (one line naming it), not a traceback."""
    try:
        return make_task(config.task.name, **config.task.all_knobs)
    except (ValueError, OSError) as error:  # JsonlFormatError, FileNotFoundError among them
        raise UserError(f"task {config.task.name!r}: {error}") from None


def run_pipeline(
    config: ReasonConfig,
    *,
    overwrite: bool = False,
    command_line: Sequence[str] | None = None,
    log: Callable[[str], None] = _print,
) -> tuple[Path, list[ResultRow]]:
    """Run (or resume) every phase; returns the run directory and the result rows."""
    task = _task(config)  # before the run directory exists: a bad task file costs nothing
    run = open_run(config, overwrite, command_line if command_line is not None else sys.argv)
    log(f"run directory {run.path}")
    with ScalarWriter(run.tensorboard) as writer:
        context = Context(run, config, task, writer, log)
        policy = policy_phase(context)
        labels = labels_phase(context, policy)
        verifiers = verifiers_phase(context, policy, labels)
        measure_phase(context, policy, verifiers)
        evaluation = EvaluationPhase(context, policy.policy, verifiers.verifiers, verifiers.key)
        results = evaluation.run()
        trained = ComputeLedger().add(
            sft_flops=policy.flops + verifiers.flops, label_flops=labels.flops
        )
        rounds = expert_iteration(context, policy, verifiers, trained)
        ledger = trained.add(test_flops=evaluation.spent(results))
        rows = write_outputs(run, results, config, writer, ledger, rounds)
    log(
        "results (accuracy [95% bootstrap interval]):\n"
        + format_table([row for row in rows if row.round == 0])
    )
    log(f"wrote {run.path / 'results.csv'} and {run.path / 'accuracy_vs_compute.png'}")
    return run.path, rows


def write_outputs(
    run: RunDirectory,
    results: Sequence[MethodResult],
    config: ReasonConfig,
    writer: ScalarWriter,
    ledger: ComputeLedger,
    rounds: Sequence[Round] = (),
) -> list[ResultRow]:
    """Tables, figures, TensorBoard scalars and the ledger of a finished evaluation (and of the
    expert iteration rounds: rows with their ``round`` and train FLOPs)."""
    from reasoning.plots import plot_accuracy_vs_compute, plot_coverage

    rng = np.random.default_rng(stream_seed(config.seed, "result_bootstrap"))
    rows = [
        dataclasses.replace(row, train_flops=float(ledger.train_flops))
        for row in result_rows(results, rng, config.evaluation.bootstrap)
    ]
    round_rows = []
    for step in rounds:
        train_flops = float(step.ledger.train_flops)
        for row in result_rows(step.results, rng, config.evaluation.bootstrap):
            round_rows.append(dataclasses.replace(row, round=step.number, train_flops=train_flops))
            writer.scalars(
                {f"reason/expert_iteration/{row.method}/accuracy": row.accuracy}, step.number
            )
        writer.scalars({"reason/expert_iteration/train_flops": train_flops}, step.number)
    write_tables(run.path, rows + round_rows)
    title = (
        f"{config.task.name}: accuracy vs test compute "
        f"({rows[0].problems if rows else 0} test problems; bands: 95% bootstrap)"
    )
    figures = {
        "accuracy_vs_compute": plot_accuracy_vs_compute(
            rows, run.path / "accuracy_vs_compute.png", title
        ),
        "coverage": plot_coverage(rows, run.path / "coverage.png"),
    }
    paired = paired_differences(
        results, np.random.default_rng(stream_seed(config.seed, "paired_bootstrap")),
        config.evaluation.bootstrap,
    )  # fmt: skip
    write_csv(run.path / "differences.csv", paired)
    write_csv(run.path / "matched_compute.csv", matched_compute(rows))
    task = config.task.name
    for row in rows:
        writer.scalars(
            {
                f"reason/{row.method}/accuracy": row.accuracy,
                f"reason/{row.method}/test_flops": row.test_flops,
            },
            row.budget,
        )
        # the same accuracy with test FLOPs (per problem) as the step: one chart per task
        writer.scalars(
            {f"reason/{task}/accuracy_vs_flops/{row.method}": row.accuracy}, round(row.test_flops)
        )
    writer.custom_scalars(
        {
            "reason": {
                f"{task}: accuracy vs test FLOPs per problem (step)": [
                    f"reason/{task}/accuracy_vs_flops/.*"
                ],
                f"{task}: expert iteration, accuracy per round": ["reason/expert_iteration/.*"],
            }
        }
    )
    for name, figure in figures.items():
        writer.image(f"reason/{name}", figure)
    writer.scalars(ledger.scalars(), 0)
    (run.path / "ledger.json").write_text(json.dumps(ledger.to_dict(), indent=2) + "\n")
    return rows + round_rows
