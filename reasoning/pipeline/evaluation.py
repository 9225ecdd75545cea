"""The evaluation phase of ``ponder reason``: every search x budget on the test problems.

- greedy decoding (the baseline);
- best-of-N from one pool of ``pool_size`` samples per problem: for each N and selection,
  ``subset_trials`` random subsets of size N are drawn and their results averaged (Lightman et
  al. 2023); the oracle selection is coverage, computed exactly with the unbiased pass@k;
- beam search, DVTS and MCTS (PUCT, Gumbel) with the PRM (or ORM) as value, and with the
  oracle.

A majority vote is run only on tasks whose answers can differ (``Task.answers_differ``): on
Countdown every finished solution names the target, so the vote is the first finished sample,
which ``best_of_n/random_finished`` reports under its own name on every task.

Each (method, budget) is saved as ``evaluation/<method>@<budget>.json`` with per-problem
arrays; a saved one with the same fingerprint is reused. Costs per problem are test FLOPs
(2 x parameters per token for the policy and the verifier, see ``ReasoningExpander``); a
verifier's tokens are counted by its own tokenizer (``Verifier.count_tokens``).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from experiment.progress import Progress, progress
from experiment.seeds import stream_seed
from reasoning.pipeline.phases import Context, begin, fingerprint, problems_digest
from reasoning.searches import (
    SearchOutcome,
    beam_search,
    best_of_n_selection,
    greedy_solutions,
    mcts_search,
    pass_at_k,
    sample_solutions,
    subset_trials,
)
from reasoning.searches.selection import PROCESS_VERIFIERS
from reasoning.verifiers.base import Verifier, aggregate
from reasoning.verifiers.oracle import OracleVerifier

POOL_FILE = "pool.jsonl"
# bumped when a saved result's meaning or fields change, so that older ones are recomputed
RESULT_VERSION = 2


# the per-problem (P,) arrays of a MethodResult
ARRAY_FIELDS = (
    "correct", "covered", "missed", "flops", "policy_tokens", "verifier_tokens", "candidates",
    "distinct",
)  # fmt: skip


@dataclass(frozen=True)
class MethodResult:
    """One method at one budget, per test problem (P,): ``correct`` and ``covered`` in [0, 1]
    (averages over subsets for best-of-N), ``missed`` the fraction where a correct candidate was
    there but a wrong one was chosen; ``candidates`` and ``distinct`` the finished candidates it
    chose among and how many distinct texts they were (means over subsets for best-of-N); mean
    costs per problem; ``spent`` the FLOPs this run actually spent on it (a best-of-N subset
    reuses the pool, so it spends nothing new)."""

    method: str
    budget: int
    unit: str  # "samples" (best-of-N, beam) or "simulations" (MCTS, per step)
    correct: np.ndarray
    covered: np.ndarray
    missed: np.ndarray
    flops: np.ndarray
    policy_tokens: np.ndarray
    verifier_tokens: np.ndarray
    spent: float
    candidates: np.ndarray
    distinct: np.ndarray
    seeds: int = 1  # searches averaged per problem (evaluation.tree_seeds; 1 otherwise)

    def to_json(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        return {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in data.items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MethodResult:
        fields: dict[str, Any] = {
            k: np.asarray(v, np.float64) if k in ARRAY_FIELDS else v for k, v in data.items()
        }
        return cls(**fields)


def _from_outcomes(
    method: str, budget: int, unit: str, task, problems, outcomes: Sequence[SearchOutcome]
) -> MethodResult:
    correct = np.array(
        [task.check_answer(p, o.text) for p, o in zip(problems, outcomes, strict=True)], float
    )
    covered = np.array(
        [
            any(task.check_answer(p, c.text) for c in o.candidates)
            for p, o in zip(problems, outcomes, strict=True)
        ],
        float,
    )
    flops = np.array([o.flops for o in outcomes])
    # a wrong pick among candidates only exists where there was a choice (not greedy, MCTS)
    chooses = any(len(o.candidates) > 1 for o in outcomes)
    missed = covered * (1 - correct) if chooses else np.full(len(outcomes), np.nan)
    finished = [[c.text for c in o.candidates if c.finished] for o in outcomes]
    return MethodResult(
        method, budget, unit, correct, covered, missed, flops,
        np.array([o.policy_tokens for o in outcomes], float),
        np.array([o.verifier_tokens for o in outcomes], float),
        float(flops.sum()),
        np.array([len(texts) for texts in finished], float),
        np.array([len(set(texts)) for texts in finished], float),
    )  # fmt: skip


def distinct_per_row(codes: np.ndarray) -> np.ndarray:
    """Distinct non-negative values in each row of ``codes`` (T, n) int: (T,)."""
    ordered = np.sort(codes, axis=1)
    new = np.ones(ordered.shape, bool)
    new[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    return (new & (ordered >= 0)).sum(axis=1)


class EvaluationPhase:
    """Runs (or reloads) every configured method on the first test problems."""

    def __init__(
        self,
        context: Context,
        policy,
        verifiers: Mapping[str, Verifier],
        key: str,
        *,
        directory: Path | None = None,
    ):
        """``verifiers``: the learned ones by name (``prm``, ``prm_checker``, ``orm``); the
        oracle is added here. ``directory``: where results are saved (default: the run's
        evaluation/)."""
        config = context.config
        section = config.evaluation
        test = context.task.test
        count = len(test) if section.problems is None else min(section.problems, len(test))
        self.context, self.policy, self.section = context, policy, section
        self.problems = test[:count]
        self.prompts = [context.task.prompt(p) for p in self.problems]
        self.verifiers = {**verifiers, "oracle": OracleVerifier(context.task, self.problems)}
        self.process_verifiers = [name for name in PROCESS_VERIFIERS if name in verifiers]
        self.key = fingerprint(
            key, problems_digest(self.problems), section.search, section.seed, RESULT_VERSION
        )
        self.directory = directory or context.run.path / "evaluation"
        begin(self.directory, self.key, "evaluation", context.log)
        self.pool_spent = 0.0
        self._reads: dict[str, list[tuple[int, np.ndarray]]] = {}

    # --- caching -------------------------------------------------------------------------------
    def _cached(self, method: str, budget: int, params: tuple, compute) -> MethodResult:
        """The saved result of ``method`` at ``budget`` made with these ``params``, else
        ``compute()`` saved."""
        path = self.directory / f"{method.replace('/', '__')}@{budget}.json"
        key = fingerprint(self.key, params)
        if path.exists():
            data = json.loads(path.read_text())
            if data.pop("fingerprint") == key:
                return MethodResult.from_json(data)
        start = time.perf_counter()
        result = compute()
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"fingerprint": key, **result.to_json()}) + "\n")
        temporary.replace(path)
        self.context.log(
            f"evaluation: {method} @ {budget} {result.unit}: accuracy {result.correct.mean():.3f}, "
            f"{result.flops.mean():.3g} FLOPs per problem ({time.perf_counter() - start:.0f} s)"
        )
        return result

    def run(self) -> list[MethodResult]:
        """Every method at every budget, each computed once and then reloaded."""
        results = [self._cached("greedy", 1, (), self._greedy)]
        results += self._best_of_n()
        jobs = self._searches()
        bar = progress(jobs, "evaluation: searches", "method", enabled=self.context.config.progress)
        results += [self._cached(*job) for job in bar]
        return results

    def _searches(self) -> list[tuple[str, int, tuple, Any]]:
        """(method, budget, params, compute) of every beam search, DVTS and MCTS to run."""
        section = self.section
        beam, mcts = section.beam, section.mcts
        jobs: list[tuple[str, int, tuple, Any]] = []
        tree_verifiers = [section.tree_verifier] + (["oracle"] if section.oracle_searches else [])
        for family in ("beam", "dvts")[: 1 + section.dvts]:
            for name in tree_verifiers:
                jobs += [self._job(f"{family}/{name}", budget) for budget in beam.budgets]
        runs: list[tuple[str, str]] = [(rule, section.tree_verifier) for rule in mcts.rules]
        if section.oracle_searches:
            runs += [(rule, "oracle") for rule in mcts.oracle_rules]
        for rule, name in runs:
            jobs += [self._job(f"mcts_{rule}/{name}", sims) for sims in mcts.simulations]
        return jobs

    def _job(self, method: str, budget: int) -> tuple[str, int, tuple, Any]:
        """(method, budget, params, compute) of one search (``family/verifier``)."""
        family, _, verifier = method.partition("/")
        if verifier not in self.verifiers:
            known = list(self.verifiers)
            raise ValueError(f"{method}: unknown verifier {verifier!r}; the verifiers are {known}")
        count = self.section.tree_seeds
        if family in ("beam", "dvts"):
            beam = self.section.beam
            compute = functools.partial(self._beam, family, verifier, budget)
            params: tuple = (beam.expansions, beam.selection, count)
        elif family in ("mcts_puct", "mcts_gumbel"):
            rule, mcts = family.removeprefix("mcts_"), self.section.mcts
            compute = functools.partial(self._mcts, rule, verifier, budget)
            params = (mcts.candidates, mcts.rule(rule), count)
        else:
            raise ValueError(f"{method}: not a search (beam, dvts, mcts_puct, mcts_gumbel)")
        return method, budget, params, functools.partial(self._over_seeds, compute)

    def search(self, method: str, budget: int) -> MethodResult:
        """One search (``family/verifier`` as ``results.csv`` names it, or ``greedy``) at
        ``budget``, computed once and then reloaded: expert iteration's per-round rows."""
        if method == "greedy":
            return self._cached("greedy", 1, (), self._greedy)
        return self._cached(*self._job(method, budget))

    def tree_seeds(self) -> list[int]:
        """The seeds every tree search runs with (``evaluation.tree_seeds`` of them): the first
        is ``evaluation.seed`` itself, so that one seed gives what a single run gave."""
        section = self.section
        return [section.seed] + [
            stream_seed(section.seed, "tree_search", k) for k in range(1, section.tree_seeds)
        ]

    def _over_seeds(self, compute: Any) -> MethodResult:
        """``compute(seed)`` for every tree seed; per problem, the mean over seeds (so that the
        intervals over problems include the search's own randomness), costs the mean too, and
        ``spent`` the total."""
        runs = [compute(seed) for seed in self.tree_seeds()]
        if len(runs) == 1:
            return runs[0]
        arrays = {
            name: np.mean([getattr(run, name) for run in runs], axis=0) for name in ARRAY_FIELDS
        }
        spent = sum(run.spent for run in runs)
        return dataclasses.replace(runs[0], **arrays, spent=spent, seeds=len(runs))

    def _greedy(self) -> MethodResult:
        outcomes = greedy_solutions(self.policy, self.prompts, self.section.search)
        return _from_outcomes("greedy", 1, "samples", self.context.task, self.problems, outcomes)

    def _beam(self, family: str, verifier: str, budget: int, seed: int) -> MethodResult:
        """Beam search with N / M beams, or DVTS with N / M subtrees (``family``), at N =
        ``budget`` samples per level."""
        beam = self.section.beam
        trees = budget // beam.expansions  # N / M beams of one tree, or subtrees of one beam
        outcomes = beam_search(
            self.policy, self.verifiers[verifier], self.prompts,
            trees if family == "beam" else 1, beam.expansions, self.section.search, seed,
            selection=beam.selection, subtrees=1 if family == "beam" else trees,
        )  # fmt: skip
        method = f"{family}/{verifier}"
        return _from_outcomes(method, budget, "samples", self.context.task, self.problems, outcomes)

    def _mcts(self, rule: str, verifier: str, simulations: int, seed: int) -> MethodResult:
        outcomes = mcts_search(
            self.policy, self.verifiers[verifier], self.prompts, self.section.mcts.rule(rule),
            simulations, self.section.mcts.candidates, self.section.search, seed,
        )  # fmt: skip
        method, task = f"mcts_{rule}/{verifier}", self.context.task
        return _from_outcomes(method, simulations, "simulations", task, self.problems, outcomes)

    def spent(self, results: Sequence[MethodResult]) -> float:
        """Test FLOPs this evaluation spent (or, reloaded, had spent): searches plus the pool."""
        return float(sum(result.spent for result in results) + self.pool_spent)

    # --- best-of-N from one pool -----------------------------------------------------------------
    def _pool(self) -> tuple[list[list[dict[str, Any]]], float]:
        """Per problem, ``pool_size`` scored samples; and the FLOPs spent making and scoring
        them."""
        path = self.directory / POOL_FILE
        marker = self.directory / "pool.json"
        key = fingerprint(self.key, self.section.pool_size)
        if marker.exists() and json.loads(marker.read_text())["fingerprint"] == key:
            rows = [json.loads(line) for line in path.read_text().splitlines()]
            pool: list[list[dict[str, Any]]] = [[] for _ in self.problems]
            for row in rows:
                pool[row["problem"]].append(row)
            return pool, json.loads(marker.read_text())["spent"]
        start = time.perf_counter()
        pool, rows, spent = [[] for _ in self.problems], [], 0.0
        # chunks of problems that fill the policy's batches, so that progress can be shown;
        # each problem's samples are seeded by its own id, so chunking changes no sample
        size = max(1, -(-self.section.search.max_batch_rows // self.section.pool_size))
        chunks = [range(p, min(p + size, len(self.problems))) for p in range(0, len(pool), size)]
        bar: Progress[int] = progress(
            len(self.problems), "evaluation: pool", "problem", enabled=self.context.config.progress
        )
        with bar:
            for chunk in chunks:
                chunk_rows, chunk_spent = self._pool_chunk(chunk)
                for row in chunk_rows:
                    pool[row["problem"]].append(row)
                rows += chunk_rows
                spent += chunk_spent
                bar.update(len(chunk))
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
        marker.write_text(json.dumps({"fingerprint": key, "spent": spent}) + "\n")
        self.context.log(
            f"evaluation: pool of {self.section.pool_size} samples x {len(self.problems)} problems "
            f"({time.perf_counter() - start:.0f} s)"
        )
        return pool, spent

    def _pool_chunk(self, problems: range) -> tuple[list[dict[str, Any]], float]:
        """Pool rows of ``problems`` (indices into the test problems) and their FLOPs."""
        prompts = [self.prompts[p] for p in problems]
        outcomes = sample_solutions(
            self.policy, prompts, self.section.pool_size, self.section.search, self.section.seed,
            problem_ids=problems,
        )  # fmt: skip
        texts = [
            prompt + c.text
            for prompt, o in zip(prompts, outcomes, strict=True)
            for c in o.candidates
        ]
        process = {name: self.verifiers[name] for name in self.process_verifiers}
        steps = {name: verifier.step_scores(texts) for name, verifier in process.items()}
        orm = self.verifiers["orm"]
        orm_scores = orm.score_prefixes(texts)
        rows, index, task = [], 0, self.context.task
        for p, outcome in zip(problems, outcomes, strict=True):
            for sample, candidate in enumerate(outcome.candidates):
                rows.append({
                    "problem": p, "sample": sample, "text": candidate.text,
                    "answer": candidate.answer, "finished": candidate.finished,
                    "tokens": candidate.num_tokens,
                    **{f"{name}_steps": steps[name][index].tolist() for name in steps},
                    "orm": float(orm_scores[index]),
                    "correct": bool(task.check_answer(self.problems[p], candidate.text)),
                })  # fmt: skip
                index += 1
        verifier_flops = sum(
            verifier.count_tokens(text) * verifier.flops_per_token
            for verifier in (*process.values(), orm)
            for text in texts
        )
        return rows, sum(o.flops for o in outcomes) + verifier_flops

    def selections(self) -> list[str]:
        """The configured best-of-N selections this task can give meaning to (a vote needs
        answers that can differ)."""
        names = [
            name
            for name in self.section.selections
            if best_of_n_selection(name).verifier in (None, *self.verifiers)
        ]
        if not self.context.task.answers_differ:
            names = [n for n in names if not best_of_n_selection(n).needs_distinct_answers]
        return names

    def _best_of_n(self) -> list[MethodResult]:
        pool, self.pool_spent = self._pool()  # the test compute best-of-N really spent
        params = (self.section.pool_size, self.section.subset_trials)
        dropped = sorted(set(self.section.selections) - set(self.selections()))
        if dropped:
            self.context.log(
                f"evaluation: {dropped} left out: every finished {self.context.task.name} "
                f"solution names the same answer (best_of_n/random_finished is that baseline)"
            )
        return [
            self._cached(
                f"best_of_n/{selection}", size, params,
                functools.partial(self._subsets, pool, selection, size),
            )
            for selection in self.selections()
            for size in self.section.best_of_n
        ]  # fmt: skip

    def _verifier_reads(
        self, name: str, pool: list[list[dict[str, Any]]]
    ) -> list[tuple[int, np.ndarray]]:
        """Per problem, the verifier ``name``'s tokens of the prompt and of each sample (P,)."""
        if name not in self._reads:
            verifier = self.verifiers[name]
            self._reads[name] = [
                (
                    verifier.count_tokens(prompt),
                    np.array([verifier.count_tokens(s["text"]) for s in samples], float),
                )
                for prompt, samples in zip(self.prompts, pool, strict=True)
            ]
        return self._reads[name]

    def _subsets(self, pool: list[list[dict[str, Any]]], name: str, size: int) -> MethodResult:
        """Best-of-``size`` by the selection ``name`` over random subsets of every problem's
        pool."""
        selection = best_of_n_selection(name)
        policy_rate = self.policy.flops_per_token
        # Every selection sees the same subsets (common random numbers), so differences between
        # selections are not differences between subsets.
        rng = np.random.default_rng(stream_seed(self.section.seed, "subsets", size))
        verifier = self.verifiers[selection.verifier] if selection.verifier else None
        rate = verifier.flops_per_token if verifier is not None else 0.0
        columns: dict[str, list[Any]] = {
            column: []
            for column in (
                "correct", "covered", "missed", "flops", "policy", "verifier", "candidates",
                "distinct",
            )
        }  # fmt: skip
        reads = None
        if selection.verifier is not None and selection.verifier != "oracle":
            reads = self._verifier_reads(selection.verifier, pool)
        for problem, samples in enumerate(pool):
            correct = np.array([s["correct"] for s in samples])
            tokens = np.array([s["tokens"] for s in samples], float)
            texts: dict[str, int] = {}
            codes = np.array(
                [texts.setdefault(s["text"], len(texts)) if s["finished"] else -1 for s in samples]
            )
            if selection.verifier == "oracle":  # picks a correct sample if any: exactly pass@k
                value = pass_at_k(len(samples), int(correct.sum()), size)
                columns["correct"].append(value)
                columns["covered"].append(value)
                columns["missed"].append(0.0)
                policy_tokens, verifier_tokens = size * tokens.mean(), 0.0
                finished = float((codes >= 0).mean())
                columns["candidates"].append(size * finished)
                columns["distinct"].append(np.nan)  # exact pass@k draws no subsets to count in
            else:
                scores = None
                if selection.aggregation is not None:
                    key = f"{selection.verifier}_steps"
                    scores = np.array(
                        [
                            aggregate(selection.aggregation, s[key]) if s[key] else 0.0
                            for s in samples
                        ]
                    )
                elif selection.verifier == "orm":
                    scores = np.array([s["orm"] for s in samples])
                trials = 1 if size == len(samples) else self.section.subset_trials
                trial = subset_trials(
                    [s["answer"] for s in samples], correct, scores, selection.rule, size,
                    trials, rng,
                )  # fmt: skip
                columns["correct"].append(trial.correct.mean())
                columns["covered"].append(trial.covered.mean())
                columns["missed"].append((trial.covered & ~trial.correct).mean())
                columns["candidates"].append((codes[trial.subsets] >= 0).sum(axis=1).mean())
                columns["distinct"].append(distinct_per_row(codes[trial.subsets]).mean())
                policy_tokens = tokens[trial.subsets].sum(axis=1).mean()
                verifier_tokens = 0.0
                if reads is not None:  # the prompt once, then each sample's steps
                    prompt_tokens, sample_tokens = reads[problem]
                    verifier_tokens = (
                        prompt_tokens + sample_tokens[trial.subsets].sum(axis=1).mean()
                    )
            columns["policy"].append(policy_tokens)
            columns["verifier"].append(verifier_tokens)
            columns["flops"].append(policy_tokens * policy_rate + verifier_tokens * rate)
        arrays = {k: np.asarray(v, float) for k, v in columns.items()}
        return MethodResult(
            f"best_of_n/{name}", size, "samples", arrays["correct"], arrays["covered"],
            arrays["missed"], arrays["flops"], arrays["policy"], arrays["verifier"], 0.0,
            arrays["candidates"], arrays["distinct"],
        )  # fmt: skip
