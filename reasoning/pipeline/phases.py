"""The training phases of ``ponder reason``: policy -> step labels -> PRM and ORM.

Each phase writes into its own folder of the run directory and ends by writing ``phase.json``
(its config fingerprint and what it measured). A phase whose ``phase.json`` is there with the
same fingerprint is not run again; its outputs are loaded. A folder started or finished under a
different config is moved aside and the phase redone, never mixed with the new config's work
(label chunks of an old config, say).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from experiment import UserError
from experiment.config import config_to_dict
from experiment.run import RunDirectory
from experiment.seeds import stream_seed
from experiment.tensorboard import ScalarWriter
from reasoning.labels import (
    LabeledSolution,
    checker_examples,
    checker_label_examples,
    generate_labels,
    orm_examples,
    prm_examples,
    read_labels,
)
from reasoning.lm.base import StepPolicy
from reasoning.pipeline.config import MeasureSection, ReasonConfig
from reasoning.tasks.base import Problem, Task
from reasoning.verifiers.base import Verifier
from reasoning.verifiers.reward_model import LearnedVerifier, VerifierKind

if TYPE_CHECKING:
    from reasoning.verifiers.measure import VerifierMeasurement

PHASE_FILE = "phase.json"
STARTED_FILE = "phase-started.json"


def fingerprint(*parts: Any) -> str:
    """A short hash of config sections (dataclasses) and plain values."""
    plain = [config_to_dict(p) if dataclasses.is_dataclass(p) else p for p in parts]
    return hashlib.sha256(json.dumps(plain, sort_keys=True, default=str).encode()).hexdigest()[:16]


def begin(
    directory: Path,
    key: str,
    phase: str,
    log: Callable[[str], None],
    reuse_only: bool = False,
) -> dict[str, Any] | None:
    """The record of a finished phase with this fingerprint, or None after marking it started.

    A folder started or finished under another config is moved aside (to
    ``<folder>.stale-<its fingerprint>``, replacing an older one of that name) and the phase
    starts afresh, so the phases after it follow; nothing is deleted that a typo could cost.
    With ``reuse_only`` a phase that is not finished under this config is refused in one line,
    before anything is moved or started (a measurement on an existing run must not retrain it).
    """
    if reuse_only:
        finished = directory / PHASE_FILE
        record = json.loads(finished.read_text()) if finished.exists() else {}
        if record.get("fingerprint") != key:
            raise UserError(
                f"{phase}: {directory} is not finished under this config (fingerprint {key}, "
                f"found {record.get('fingerprint')}); it would be made again"
            )
        return dict(record)
    for name in (PHASE_FILE, STARTED_FILE):
        path = directory / name
        if not path.exists():
            continue
        record = json.loads(path.read_text())
        if record.get("fingerprint") == key:
            if name == PHASE_FILE:
                return record
            break  # started with this config: keep what it finished (label chunks)
        stale = directory.with_name(f"{directory.name}.stale-{record.get('fingerprint')}")
        if stale.exists():
            shutil.rmtree(stale)
        directory.rename(stale)
        log(f"{phase}: the config changed since {directory} was made; redoing it (old: {stale})")
        break
    directory.mkdir(parents=True, exist_ok=True)
    (directory / STARTED_FILE).write_text(json.dumps({"fingerprint": key}) + "\n")
    return None


def finish(directory: Path, key: str, record: dict[str, Any]) -> dict[str, Any]:
    record = {"fingerprint": key, **record}
    temporary = directory / (PHASE_FILE + ".tmp")
    temporary.write_text(json.dumps(record, indent=2) + "\n")
    temporary.replace(directory / PHASE_FILE)
    return record


def problems_digest(problems: Sequence[Problem]) -> str:
    """A short hash of problems (their questions and answers), for fingerprints."""
    text = json.dumps([[problem.question, problem.answer] for problem in problems])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Context:
    """What every phase gets: the run, its config and task, the scalar writer, a logger."""

    run: RunDirectory
    config: ReasonConfig
    task: Task
    writer: ScalarWriter
    log: Callable[[str], None]
    reuse_only: bool = False  # refuse to train a phase that is not finished (begin)


def _curve(writer: ScalarWriter, tag: str, losses: Any, every: int = 10) -> None:
    for step in range(0, len(losses), every):
        writer.scalars({tag: float(np.mean(losses[step : step + every]))}, step)


@dataclass(frozen=True)
class PolicyPhase:
    policy: StepPolicy
    spec: str  # how a Ray actor loads the same policy
    model: Any  # the tiny GPT (for a verifier that starts from it); None for other backends
    flops: float  # train FLOPs spent on it here (0 for a policy given by spec)
    key: str


def policy_phase(context: Context) -> PolicyPhase:
    """Train the tiny GPT on sampled solutions (or load ``policy.spec``)."""
    from reasoning.lm.backends import load_policy

    section, config = context.config.policy, context.config
    # the train problems themselves, not the task section: a test file that leaves them as
    # they were (no overlap) keeps every trained phase
    key = fingerprint(config.task.name, problems_digest(context.task.train), section, config.seed)
    if section.spec is not None:
        context.log(f"policy: using {section.spec}")
        return PolicyPhase(load_policy(section.spec), section.spec, None, 0.0, key)
    from reasoning.lm.checkpoint import save_tiny_gpt
    from reasoning.lm.sampling import TinyGPTPolicy
    from reasoning.lm.tokenizer import CharTokenizer
    from reasoning.lm.train import train_tiny_gpt
    from reasoning.tasks.solutions import arithmetic_drills, training_texts

    directory = context.run.path / "policy"
    record = begin(directory, key, "policy", context.log, context.reuse_only)
    if record is None:
        rng = np.random.default_rng(stream_seed(config.seed, "policy_data"))
        texts = training_texts(
            context.task, context.task.train[: section.problems], rng,
            samples_per_problem=section.samples_per_problem, error_rate=section.error_rate,
        )  # fmt: skip
        drills = []
        if section.drills:
            own = {problem.key for problem in (*context.task.train, *context.task.test)}
            drills = arithmetic_drills(
                context.task, round(section.drills * len(texts)),
                np.random.default_rng(stream_seed(config.seed, "policy_drills")), own,
            )  # fmt: skip
        context.log(
            f"policy: training the tiny GPT on {len(texts)} solutions and {len(drills)} drills"
        )
        result = train_tiny_gpt(section.training, texts + drills, rng, progress=config.progress)
        save_tiny_gpt(directory, result.model, CharTokenizer())
        _curve(context.writer, "reason/policy/loss", result.losses)
        record = finish(
            directory,
            key,
            {
                "flops": result.flops,
                "seconds": result.seconds,
                "texts": len(texts),
                "drills": len(drills),
                "final_loss": float(np.mean(result.losses[-20:])),
                "parameters": result.model.num_parameters,
            },
        )
    else:
        context.log(f"policy: reusing {directory}")
    policy = TinyGPTPolicy.from_directory(directory)
    return PolicyPhase(policy, f"tiny:{directory.resolve()}", policy.model, record["flops"], key)


def label_problems_range(context: Context) -> range:
    """The train problems labelled for the verifiers: those after the policy's own (see
    ``policy.problems``), ``labels.problems`` of them (None: all that are left)."""
    config, train = context.config, context.task.train
    first = config.policy.problems or 0  # the problems the policy did not train on come next
    available = max(0, len(train) - first)
    count = available if config.labels.problems is None else min(config.labels.problems, available)
    if count == 0:
        raise UserError(
            f"no train problems left to label: the train split has {len(train)} and the policy "
            f"trains on the first {first} (policy.problems); raise task.knobs.train_size"
        )
    return range(first, first + count)


@dataclass(frozen=True)
class LabelsPhase:
    labels: list[LabeledSolution]
    flops: float
    key: str


def labels_phase(
    context: Context, policy: PolicyPhase, directory: Path | None = None
) -> LabelsPhase:
    """Monte-Carlo step labels of sampled solutions of train problems (those after the
    policy's own, see ``policy.problems``), in ``directory`` (default: the run's labels/)."""
    config = context.config
    key = fingerprint(policy.key, config.labels)
    directory = directory or context.run.path / "labels"
    record = begin(directory, key, "labels", context.log, context.reuse_only)
    if record is not None:
        context.log(f"labels: reusing {directory}")
        return LabelsPhase(read_labels(directory), record["flops"], key)
    indices = label_problems_range(context)
    where = f"{config.labels.workers} Ray actors" if config.labels.use_ray else "this process"
    context.log(
        f"labels: {len(indices)} problems x {config.labels.solutions_per_problem} solutions, "
        f"{config.labels.completions} completions per step, on {where}"
    )
    labels = generate_labels(
        policy.spec, config.task.name, config.task.all_knobs, indices,
        config.labels,
        directory, policy=policy.policy, task=context.task, log=context.log,
        show_progress=config.progress,
    )  # fmt: skip
    tokens = sum(record.policy_tokens for record in labels)
    flops = tokens * policy.policy.flops_per_token  # 2 x parameters per generated token
    step_labels = [value for record in labels for value in record.soft[:-1]]
    stats = {
        "flops": flops,
        "tokens": tokens,
        "solutions": len(labels),
        "solution_accuracy": float(np.mean([record.correct for record in labels])),
        "mean_soft_label": float(np.mean(step_labels)) if step_labels else float("nan"),
        "mean_hard_label": float(
            np.mean([value for record in labels for value in record.hard[:-1]] or [np.nan])
        ),
    }
    context.writer.scalars(
        {
            f"reason/labels/{name}": stats[name]
            for name in ("solution_accuracy", "mean_soft_label", "mean_hard_label")
        },
        0,
    )
    finish(directory, key, stats)
    return LabelsPhase(labels, flops, key)


@dataclass(frozen=True)
class VerifiersPhase:
    verifiers: dict[str, LearnedVerifier]  # by name: prm, orm (and prm_checker)
    flops: float
    key: str
    record: dict[str, Any]


def verifiers_phase(
    context: Context, policy: PolicyPhase, labels: LabelsPhase, directory: Path | None = None
) -> VerifiersPhase:
    """Train the PRM on Monte-Carlo step labels, the checker PRM (``verifier.checker_prm``) on
    the exact checker's labels of the same solutions and rollouts, and the ORM on their final
    outcomes."""
    from reasoning.verifiers.training import train_verifier

    config = context.config
    # what the verifiers are trained with: their measurement (verifier.measure) is not part of it
    training = dataclasses.replace(config.verifier, measure=MeasureSection())
    key = fingerprint(labels.key, training)
    directory = directory or context.run.path / "verifiers"
    record = begin(directory, key, "verifiers", context.log, context.reuse_only)
    section = config.verifier
    checker_prm = section.checker_prm and context.task.has_step_checker
    kinds: tuple[VerifierKind, ...] = ("prm", "prm_checker", "orm")
    if not checker_prm:
        kinds = ("prm", "orm")
    if record is None:
        rng = np.random.default_rng(stream_seed(config.seed, "verifier_training"))
        results: dict[str, dict[str, Any]] = {}
        datasets = [
            prm_examples(labels.labels, config.labels.kind, config.verifier.prm_rollouts),
            orm_examples(labels.labels, config.verifier.orm_rollouts),
        ]
        if section.checker_solutions:
            train = context.task.train
            checked = checker_examples(
                context.task, train, range(len(train)), section.checker_solutions,
                section.checker_error_rate,
                np.random.default_rng(stream_seed(config.seed, "checker_solutions")),
            )  # fmt: skip
            context.log(
                f"verifiers: {len(checked[0])} generated solutions labelled by the step checker"
            )
            datasets = [datasets[0] + checked[0], datasets[1] + checked[1]]
        if checker_prm:
            datasets.insert(1, checker_label_examples(context.task, labels.labels))
        for kind, examples in zip(kinds, datasets, strict=True):
            context.log(f"verifiers: training the {kind.upper()} on {len(examples)} solutions")
            result = train_verifier(
                kind, examples, config.verifier.training, rng,
                policy_model=policy.model, progress=config.progress,
            )  # fmt: skip
            result.verifier.save(directory / kind)
            if directory == context.run.path / "verifiers":  # not a retrained round's
                _curve(context.writer, f"reason/{kind}/loss", result.losses)
            if result.validation_loss is not None and result.validation_ranking is not None:
                context.writer.scalars(
                    {
                        f"reason/{kind}/validation_loss": result.validation_loss,
                        f"reason/{kind}/validation_ranking": result.validation_ranking,
                    },
                    0,
                )
            context.log(
                f"verifiers: {kind.upper()} ({result.examples} distinct texts) kept step "
                f"{result.best_step} of "
                f"{len(result.losses)}: held-out loss {result.validation_loss:.4f}, accuracy "
                f"{result.validation_accuracy:.3f}, ranking {result.validation_ranking:.3f} "
                f"({result.seconds:.0f} s)"
                if result.validation_loss is not None
                else f"verifiers: {kind.upper()} trained ({result.seconds:.0f} s, no held-out)"
            )
            results[kind] = {
                "flops": result.flops,
                "seconds": result.seconds,
                "examples": len(examples),
                "distinct_examples": result.examples,
                "final_loss": float(np.mean(result.losses[-20:])),
                "validation_loss": result.validation_loss,
                "validation_accuracy": result.validation_accuracy,
                "validation_ranking": result.validation_ranking,
                "best_step": result.best_step,
            }
        record = finish(
            directory, key, {"flops": sum(r["flops"] for r in results.values()), **results}
        )
    else:
        context.log(f"verifiers: reusing {directory}")
    return VerifiersPhase(
        {kind: LearnedVerifier.load(directory / kind) for kind in kinds},
        record["flops"],
        key,
        record,
    )


MEASURE_FILE = "verifiers.json"
MEASURE_FORMAT = 2  # 2: with intervals; a file in an older format is measured again


def measure_problems(context: Context) -> range:
    """The held-out train problems the verifiers are measured on (``verifier.measure``: those
    after the label problems); a train split too small for them is the user's to fix."""
    section, train = context.config.verifier.measure, context.task.train
    start = label_problems_range(context).stop
    if start + section.problems > len(train):
        raise UserError(
            f"verifier.measure.problems={section.problems} needs train problems after the "
            f"{start} the policy and the labels use, but the train split has {len(train)}; "
            f"raise task.knobs.train_size or lower verifier.measure.problems"
        )
    return range(start, start + section.problems)


def measure_held_out(
    context: Context, policy: PolicyPhase, verifiers: Mapping[str, Verifier], indices: range
) -> tuple[float, list[VerifierMeasurement]]:
    """The policy's FLOPs and each verifier's measurement on its solutions to the train
    problems ``indices`` (``verifier.measure.samples`` each, sampled as the searches sample),
    with intervals from the run's bootstrap stream."""
    from reasoning.searches import sample_solutions
    from reasoning.verifiers.measure import measure_verifiers

    config, task = context.config, context.task
    problems = [task.train[i] for i in indices]
    outcomes = sample_solutions(
        policy.policy, [task.prompt(p) for p in problems], config.verifier.measure.samples,
        config.evaluation.search, stream_seed(config.seed, "verifier_measure"),
        problem_ids=indices,
    )  # fmt: skip
    solutions = [[candidate.text for candidate in outcome.candidates] for outcome in outcomes]
    measured = measure_verifiers(
        task, problems, solutions, verifiers,
        rng=np.random.default_rng(stream_seed(config.seed, "verifier_measure_bootstrap")),
        resamples=config.evaluation.bootstrap,
    )  # fmt: skip
    return float(sum(outcome.flops for outcome in outcomes)), measured


def measure_phase(
    context: Context, policy: PolicyPhase, verifiers: VerifiersPhase
) -> dict[str, Any] | None:
    """The verifiers measured on the policy's solutions to held-out train problems (those after
    the label problems; ``verifier.measure``): step AUC against the exact checker and
    top-1 selection (``reasoning.verifiers.measure``), in ``verifiers.json`` and under
    ``reason/verifiers/``. Its sampling is a diagnostic: in the file, not in the ledger."""
    config, section = context.config, context.config.verifier.measure
    if not section.problems or not context.task.has_step_checker:
        return None
    indices = measure_problems(context)
    key = fingerprint(verifiers.key, section, config.evaluation.search, MEASURE_FORMAT)
    path = context.run.path / MEASURE_FILE
    if path.exists() and json.loads(path.read_text()).get("fingerprint") == key:
        context.log(f"verifiers: reusing the measurement in {path}")
        record: dict[str, Any] = json.loads(path.read_text())
        return record
    policy_flops, measured = measure_held_out(context, policy, verifiers.verifiers, indices)
    record = {
        "fingerprint": key,
        "problems": [indices.start, indices.stop],
        "samples_per_problem": section.samples,
        "policy_flops": policy_flops,
        "verifiers": {m.name: dataclasses.asdict(m) for m in measured},
    }
    path.write_text(json.dumps(record, indent=2) + "\n")
    for m in measured:
        context.writer.scalars(
            {
                f"reason/verifiers/{m.name}/step_auc": m.step_auc,
                **{f"reason/verifiers/{m.name}/top1_{a}": v for a, v in m.top1.items()},
            },
            0,
        )
        context.log(f"verifiers: {m.name} on {len(indices)} held-out problems: {m.summary()}")
    return record
