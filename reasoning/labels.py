"""Monte-Carlo step labels for a process reward model (Math-Shepherd, Wang et al. 2024).

For every train problem the policy samples a few solutions. From each step prefix of a sampled
solution it samples N completions (N = 8 by default); the prefix's **soft** label is the fraction
of completions that reach a correct answer, its **hard** label is 1 when any does (REFERENCES.md,
"Reasoning search and verifiers"). The last step needs no completions: its label is whether the
solution is correct. The prompt itself (step 0) is labelled by the problem's sampled solutions
(the same estimate, with the solutions as the completions). Every completion is a full solution
with a known outcome, so the same rollouts also train the ORM.

Work is split into chunks of problems; each chunk is written to ``<directory>/chunk-XXXXX.jsonl``
when it finishes, so a killed run redoes only unfinished chunks. Chunks run on Ray actors
(:class:`LabelWorker`, a plain class wrapped with ``ray.remote`` at launch, fed by a
``ray.util.ActorPool``; Ray started by ``experiment.cluster.start_ray``) or in this process.
Every solution and completion draws from its own stream, seeded by (seed, problem, solution,
step, completion), so labels do not depend on chunking, worker count or batch composition.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from experiment.cluster import start_ray
from experiment.progress import Progress, progress
from reasoning.lm.base import StepPolicy
from reasoning.lm.decoding import Completion, complete_solutions
from reasoning.tasks.base import Problem, Task
from reasoning.verifiers.base import step_end_positions
from reasoning.verifiers.training import VerifierExample

LabelKind = Literal["soft", "hard"]
CHUNK_PATTERN = "chunk-{:05d}.jsonl"


@dataclass(frozen=True)
class LabelConfig:
    problems: int | None = 400  # train problems to label (the first ones); None: all
    solutions_per_problem: int = 4
    completions: int = 8  # N, Math-Shepherd's default
    kind: LabelKind = "soft"  # which label trains the PRM (both are stored)
    temperature: float = 1.0
    max_steps: int = 8  # steps per solution, completions included
    max_step_tokens: int = 32
    chunk_size: int = 20  # problems per unit of work (and per file)
    use_ray: bool = True
    workers: int = 2
    max_batch_rows: int = 512  # prefixes decoded together (bounds the KV cache's memory)
    seed: int = 0


@dataclass(frozen=True)
class Rollout:
    """A complete solution (steps after the prompt) and whether it is correct."""

    steps: tuple[str, ...]
    correct: bool


@dataclass(frozen=True)
class LabeledSolution:
    """One sampled solution with a label per step (each step ends with its delimiter, except a
    last step cut by the token limit)."""

    problem_index: int
    prompt: str
    steps: tuple[str, ...]
    soft: tuple[float, ...]  # (T,) fraction of completions correct; last step: the outcome
    hard: tuple[float, ...]  # (T,) 1.0 where any completion was correct
    prompt_soft: float  # fraction of the problem's sampled solutions that are correct
    prompt_hard: float
    correct: bool
    finished: bool
    rollouts: tuple[Rollout, ...]  # the completions, prefix included, for ORM training
    policy_tokens: int  # tokens generated for the solution and its completions

    @property
    def text(self) -> str:
        return self.prompt + "".join(self.steps)

    def to_json(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["rollouts"] = [[list(r.steps), r.correct] for r in self.rollouts]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LabeledSolution:
        fields = dict(data)
        fields["steps"] = tuple(fields["steps"])
        fields["soft"] = tuple(fields["soft"])
        fields["hard"] = tuple(fields["hard"])
        fields["rollouts"] = tuple(Rollout(tuple(s), bool(c)) for s, c in fields["rollouts"])
        return cls(**fields)


def _stream(*key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(part) for part in key]))


def _complete(
    policy: StepPolicy,
    prefixes: Sequence[str],
    streams: Sequence[np.random.Generator],
    max_steps: Sequence[int],
    config: LabelConfig,
) -> list[Completion]:
    """Completions of every prefix, in batches of ``max_batch_rows`` grouped by step budget."""
    results: list[Completion | None] = [None] * len(prefixes)
    for budget in sorted(set(max_steps)):
        rows = [i for i, steps in enumerate(max_steps) if steps == budget]
        for start in range(0, len(rows), config.max_batch_rows):
            batch = rows[start : start + config.max_batch_rows]
            completions = complete_solutions(
                policy,
                [prefixes[i] for i in batch],
                temperature=config.temperature,
                rng=[streams[i] for i in batch],
                max_steps=budget,
                max_step_tokens=config.max_step_tokens,
            )
            for i, completion in zip(batch, completions, strict=True):
                results[i] = completion
    return [completion for completion in results if completion is not None]


def label_problems(
    policy: StepPolicy,
    task: Task,
    problems: Sequence[Problem],
    indices: Sequence[int],
    config: LabelConfig,
) -> list[LabeledSolution]:
    """Sample ``solutions_per_problem`` solutions of each problem and label every step with
    ``completions`` Monte-Carlo completions. ``indices`` name the problems (they seed the
    streams); ``problems[i]`` is problem ``indices[i]``."""
    if config.completions < 1 or config.solutions_per_problem < 1:
        raise ValueError(
            f"labels need completions >= 1 and solutions_per_problem >= 1, got "
            f"{config.completions} and {config.solutions_per_problem}"
        )
    count = config.solutions_per_problem
    prompts = [task.prompt(problem) for problem in problems for _ in range(count)]
    owners = [(p, s) for p in range(len(problems)) for s in range(count)]
    streams = [_stream(config.seed, indices[p], s) for p, s in owners]
    solutions = _complete(policy, prompts, streams, [config.max_steps] * len(prompts), config)

    # every non-final step prefix of every solution, N times
    prefixes, prefix_streams, budgets, keys = [], [], [], []
    for row, ((p, s), solution) in enumerate(zip(owners, solutions, strict=True)):
        for k in range(1, len(solution.steps)):
            for n in range(config.completions):
                prefixes.append(prompts[row] + "".join(solution.steps[:k]))
                prefix_streams.append(_stream(config.seed, indices[p], s, k, n))
                budgets.append(max(1, config.max_steps - k))
                keys.append((row, k))
    completions = _complete(policy, prefixes, prefix_streams, budgets, config)

    outcomes: dict[tuple[int, int], list[bool]] = {}
    rollouts: dict[int, list[Rollout]] = {}
    tokens = [solution.num_tokens for solution in solutions]
    for (row, k), completion in zip(keys, completions, strict=True):
        tokens[row] += completion.num_tokens
        problem = problems[owners[row][0]]
        steps = solutions[row].steps[:k] + completion.steps
        correct = task.check_answer(problem, "".join(steps))
        outcomes.setdefault((row, k), []).append(correct)
        rollouts.setdefault(row, []).append(Rollout(tuple(steps), correct))

    solved = [
        task.check_answer(problems[p], solutions[row].text) for row, (p, _) in enumerate(owners)
    ]
    labelled = []
    for row, ((p, _), solution) in enumerate(zip(owners, solutions, strict=True)):
        steps = solution.steps
        soft = [float(np.mean(outcomes[(row, k)])) for k in range(1, len(steps))]
        hard = [float(any(outcomes[(row, k)])) for k in range(1, len(steps))]
        soft.append(float(solved[row]))
        hard.append(float(solved[row]))
        siblings = solved[p * count : (p + 1) * count]
        labelled.append(
            LabeledSolution(
                problem_index=int(indices[p]),
                prompt=prompts[row],
                steps=tuple(steps),
                soft=tuple(soft),
                hard=tuple(hard),
                prompt_soft=float(np.mean(siblings)),
                prompt_hard=float(any(siblings)),
                correct=bool(solved[row]),
                finished=solution.finished,
                rollouts=tuple(rollouts.get(row, ())),
                policy_tokens=tokens[row],
            )
        )
    return labelled


class LabelWorker:
    """Labels chunks of train problems with its own copy of the policy (a Ray actor when
    wrapped with ``ray.remote``; used directly in one process). ``threads`` sets torch's thread
    count in this process (1 per actor on a small machine); None leaves it alone."""

    def __init__(
        self,
        policy_spec: str,
        task_name: str,
        task_knobs: dict[str, Any],
        config: LabelConfig,
        threads: int | None = None,
    ):
        from reasoning.lm.backends import load_policy
        from reasoning.tasks.registry import make_task

        if threads is not None:
            import torch

            torch.set_num_threads(threads)
        self.policy = load_policy(policy_spec)
        self.task = make_task(task_name, **task_knobs)
        self.config = config

    def label(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        """Labelled solutions of train problems ``indices``, as JSON-ready dicts."""
        train = self.task.train
        records = label_problems(
            self.policy, self.task, [train[i] for i in indices], indices, self.config
        )
        return [record.to_json() for record in records]

    def label_chunk(self, chunk: int, indices: Sequence[int]) -> tuple[int, list[dict[str, Any]]]:
        """(``chunk``, :meth:`label` of ``indices``): the chunk's name travels with its records,
        so that chunks can be written in whatever order they finish."""
        return chunk, self.label(indices)


def _write_chunk(path: Path, records: Sequence[dict[str, Any]]) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text("".join(json.dumps(record) + "\n" for record in records))
    temporary.replace(path)  # a chunk file exists only when complete


def read_labels(directory: str | Path) -> list[LabeledSolution]:
    """Every labelled solution in ``directory``'s chunk files, in chunk order."""
    records = []
    for path in sorted(Path(directory).glob("chunk-*.jsonl")):
        for line_number, line in enumerate(path.read_text().splitlines(), start=1):
            try:
                records.append(LabeledSolution.from_json(json.loads(line)))
            except (json.JSONDecodeError, KeyError, TypeError) as error:
                raise ValueError(
                    f"{path}:{line_number}: not a labelled solution ({error})"
                ) from None
    return records


def generate_labels(
    policy_spec: str,
    task_name: str,
    task_knobs: dict[str, Any],
    indices: Sequence[int],
    config: LabelConfig,
    directory: str | Path,
    *,
    policy: StepPolicy | None = None,
    task: Task | None = None,
    log: Callable[[str], None] = print,
    show_progress: bool = True,
) -> list[LabeledSolution]:
    """Label train problems ``indices`` into ``directory`` (one file per chunk), skipping chunks
    already there. With ``config.use_ray`` the chunks run on ``config.workers`` Ray actors that
    load the policy from ``policy_spec``; otherwise in this process, on ``policy`` (or the
    spec's). ``show_progress``: chunks done, on stderr (``experiment.progress``)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    chunks = [
        list(indices[start : start + config.chunk_size])
        for start in range(0, len(indices), config.chunk_size)
    ]
    todo = [c for c in range(len(chunks)) if not (directory / CHUNK_PATTERN.format(c)).exists()]
    if len(todo) < len(chunks):
        log(f"labels: reusing {len(chunks) - len(todo)} finished chunks of {len(chunks)}")
    if todo and config.use_ray:
        _label_on_ray(
            policy_spec, task_name, task_knobs, config, chunks, todo, directory, show_progress
        )
    elif todo:
        if policy is None:
            from reasoning.lm.backends import load_policy

            policy = load_policy(policy_spec)
        if task is None:
            from reasoning.tasks.registry import make_task

            task = make_task(task_name, **task_knobs)
        train = task.train
        for c in progress(todo, "labels", "chunk", enabled=show_progress, every_seconds=10.0):
            records = label_problems(policy, task, [train[i] for i in chunks[c]], chunks[c], config)
            _write_chunk(directory / CHUNK_PATTERN.format(c), [r.to_json() for r in records])
    return read_labels(directory)


# the object store of a local Ray started for labels: chunks are small JSON records
LABEL_OBJECT_STORE_BYTES = 500_000_000


def _label_on_ray(
    policy_spec: str,
    task_name: str,
    task_knobs: dict[str, Any],
    config: LabelConfig,
    chunks: Sequence[Sequence[int]],
    todo: Sequence[int],
    directory: Path,
    show_progress: bool,
) -> None:
    started = start_ray(max(1, config.workers), LABEL_OBJECT_STORE_BYTES)
    import ray
    from ray.util import ActorPool

    worker_class = ray.remote(num_cpus=1, max_restarts=2, max_task_retries=2)(LabelWorker)
    actors: list[Any] = [  # Ray actor handles; Ray's stubs lack .remote on methods
        worker_class.remote(policy_spec, task_name, task_knobs, config, 1)
        for _ in range(max(1, min(config.workers, len(todo))))
    ]
    try:
        finished = ActorPool(actors).map_unordered(
            lambda actor, c: actor.label_chunk.remote(c, chunks[c]), list(todo)
        )
        bar: Progress[int] = progress(
            len(todo), "labels", "chunk", enabled=show_progress, every_seconds=10.0
        )
        with bar:
            for c, records in finished:
                _write_chunk(directory / CHUNK_PATTERN.format(c), records)
                bar.update()
    finally:
        for actor in actors:
            ray.kill(actor)
        if started:
            ray.shutdown()


def prm_examples(
    labels: Sequence[LabeledSolution], kind: LabelKind, include_rollouts: bool = False
) -> list[VerifierExample]:
    """PRM training data: every sampled solution with its ``kind`` label at every step end
    (the prompt's end included).

    With ``include_rollouts`` every completion also counts: each step it wrote after leaving
    the sampled solution is labelled by the completion's own outcome, a one-sample Monte-Carlo
    estimate of that prefix's value (unbiased, noisier than the N-sample labels, and free:
    the rollouts were made for the labels anyway); the steps it shares with the sampled
    solution already have their N-sample labels.
    """
    if kind not in ("soft", "hard"):
        raise ValueError(f"label kind must be 'soft' or 'hard', got {kind!r}")
    examples = []
    for record in labels:
        step_labels = record.soft if kind == "soft" else record.hard
        prompt_label = record.prompt_soft if kind == "soft" else record.prompt_hard
        targets = (prompt_label, *step_labels)
        if len(step_end_positions(record.text)) != len(targets):
            continue  # an empty step (end of text at once) has no position to label
        examples.append(VerifierExample(record.text, targets, record.problem_index))
        if not include_rollouts:
            continue
        for rollout in record.rollouts:
            text = record.prompt + "".join(rollout.steps)
            if len(step_end_positions(text)) != len(rollout.steps) + 1:
                continue
            shared = 0
            while shared < min(len(rollout.steps), len(record.steps)) and (
                rollout.steps[shared] == record.steps[shared]
            ):
                shared += 1
            if shared == len(rollout.steps):
                continue  # it repeated the sampled solution: nothing new to label
            outcome = float(rollout.correct)
            rollout_targets = [math.nan] * (shared + 1) + [outcome] * (len(rollout.steps) - shared)
            examples.append(VerifierExample(text, tuple(rollout_targets), record.problem_index))
    return examples


def orm_examples(
    labels: Sequence[LabeledSolution], include_rollouts: bool = True
) -> list[VerifierExample]:
    """ORM training data: finished solutions labelled by their final correctness at their last
    step end only; with ``include_rollouts`` the label completions count as solutions too."""
    examples = []
    for record in labels:
        solutions = [Rollout(record.steps, record.correct)]
        if include_rollouts:
            solutions.extend(record.rollouts)
        for solution in solutions:
            text = record.prompt + "".join(solution.steps)
            count = len(step_end_positions(text))
            targets = (float("nan"),) * (count - 1) + (float(solution.correct),)
            examples.append(VerifierExample(text, targets, record.problem_index))
    return examples


def _checker_targets(oracle: Any, text: str) -> tuple[float, ...] | None:
    """The exact checker's label at every step end of ``text`` (prompt + steps): 1 while every
    step so far is valid and the goal still reachable, 0 from the first step that is not (the
    answer line: the solution is correct); None when a step has no position (an empty step)."""
    oks = np.minimum.accumulate(oracle.step_scores([text])[0])
    if len(step_end_positions(text)) != len(oks) + 1:
        return None
    return tuple(float(ok) for ok in oks)


def checker_label_examples(
    task: Task, labels: Sequence[LabeledSolution], include_rollouts: bool = True
) -> list[VerifierExample]:
    """PRM training data labelled by the task's exact step checker instead of rollouts: the
    policy's own sampled solutions (and with ``include_rollouts`` every label completion, each
    a full solution of the policy) with the checker's label at each step end (see
    :func:`_checker_targets`; the prompt's end unlabelled), as PRM800K labelled the policy's
    samples by people (Lightman et al. 2023). Costs no policy call beyond the rollouts made."""
    from reasoning.verifiers.oracle import OracleVerifier

    if not task.has_step_checker:
        raise ValueError(
            "checker labels need a task with a step checker; this task's steps are free text"
        )
    train = task.train
    oracle = OracleVerifier(task, [train[i] for i in sorted({r.problem_index for r in labels})])
    examples = []
    for record in labels:
        texts = [record.text]
        if include_rollouts:
            texts += [record.prompt + "".join(rollout.steps) for rollout in record.rollouts]
        for text in dict.fromkeys(texts):  # a rollout may repeat its solution
            targets = _checker_targets(oracle, text)
            if targets is not None:
                examples.append(VerifierExample(text, (math.nan, *targets), record.problem_index))
    return examples


def checker_examples(
    task: Task,
    problems: Sequence[Problem],
    indices: Sequence[int],
    per_problem: int,
    error_rate: float,
    rng: np.random.Generator,
) -> tuple[list[VerifierExample], list[VerifierExample]]:
    """(PRM, ORM) examples from generated solutions labelled by the task's exact step checker
    instead of by rollouts, as PRM800K's steps were labelled by people (Lightman et al. 2023).

    ``per_problem`` solutions per problem from ``task.sample_solution`` with ``error_rate``
    mistakes per step (wrong results, dead ends, roundabout steps); PRM targets 1 up to the
    first step the checker rejects and 0 from it on, the ORM target the final correctness.
    They cost no policy call and show a small verifier directly what makes a step wrong.
    """
    from reasoning.verifiers.oracle import OracleVerifier

    if not task.has_step_checker:
        raise ValueError(
            "checker labels need a task with a step checker; this task's steps are free text"
        )
    oracle = OracleVerifier(task, problems)
    prm, orm = [], []
    for index, problem in zip(indices, problems, strict=True):
        for _ in range(per_problem):
            text = task.prompt(problem) + task.solution_text(
                task.sample_solution(problem, rng, error_rate)
            )
            oks = _checker_targets(oracle, text)
            if oks is None:
                continue  # an empty step has no position to label
            correct = float(task.check_answer(problem, text[len(task.prompt(problem)) :]))
            prm.append(VerifierExample(text, (1.0, *oks), int(index)))
            orm.append(VerifierExample(text, (math.nan,) * len(oks) + (correct,), int(index)))
    return prm, orm
