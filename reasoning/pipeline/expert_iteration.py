"""Expert iteration (``expert_iteration.rounds: R``): train compute bought with test compute.

Each round r = 1..R, with the policy of round r - 1 (round 0: the policy trained on reference
solutions) and the verifiers of that round:

1. search ``problems`` train problems of the policy's own range (a new slice each round) with
   ``search`` at ``budget`` valued by ``verifier`` (the oracle, or a learned verifier);
2. keep the verified finished candidates: correct by the checker (oracle), or scored at least
   ``min_score`` by the learned verifier; at most ``keep_per_problem`` distinct ones a problem;
3. fine-tune the policy on them (``training``, continuing its weights);
4. optionally (``relabel``) label new Monte-Carlo step labels with the new policy and retrain
   the verifiers on them;
5. evaluate greedy decoding and ``search`` at ``budget`` on the test problems.

Each round is a checkpoint in ``expert_iteration/round-<r>/`` (the policy, its verifiers when
retrained, its evaluation, ``phase.json`` with the round's ledger: train FLOPs so far, the
search that made the data included, under ``data_search_flops``), and is reused when run again.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from experiment import UserError
from experiment.ledger import ComputeLedger
from experiment.seeds import stream_seed
from reasoning.pipeline.evaluation import EvaluationPhase, MethodResult
from reasoning.pipeline.phases import (
    Context,
    PolicyPhase,
    VerifiersPhase,
    begin,
    fingerprint,
    finish,
    labels_phase,
    verifiers_phase,
)
from reasoning.searches import beam_search, sample_solutions
from reasoning.searches.methods import SearchOutcome


@dataclass(frozen=True)
class Round:
    """One finished round: its policy, verifiers, ledger (train FLOPs so far) and its test
    results (greedy, and the round's search at its budget)."""

    number: int
    policy: PolicyPhase
    verifiers: VerifiersPhase
    ledger: ComputeLedger
    results: list[MethodResult]
    kept: int  # solutions the policy was fine-tuned on this round


def _search(
    context: Context, policy: PolicyPhase, verifiers: VerifiersPhase, prompts: list[str],
    ids: range, seed: int,
) -> list[SearchOutcome]:  # fmt: skip
    """The round's search on train problems ``ids``."""
    from reasoning.verifiers.oracle import OracleVerifier

    section, settings = context.config.expert_iteration, context.config.evaluation.search
    train = context.task.train
    verifier = (
        OracleVerifier(context.task, [train[i] for i in ids])
        if section.verifier == "oracle"
        else verifiers.verifiers[section.verifier]
    )
    if section.search == "best_of_n":
        return sample_solutions(
            policy.policy, prompts, section.budget, settings, seed, verifier=verifier,
            selection="argmax", problem_ids=ids,
        )  # fmt: skip
    expansions = context.config.evaluation.beam.expansions
    trees = max(1, section.budget // expansions)  # beams, or DVTS's subtrees
    dvts = section.search == "dvts"
    return beam_search(
        policy.policy, verifier, prompts, 1 if dvts else trees, expansions, settings, seed,
        subtrees=trees if dvts else 1, problem_ids=ids,
    )  # fmt: skip


def kept_solutions(context: Context, ids: range, outcomes: list[SearchOutcome]) -> list[str]:
    """Training texts (prompt + solution) of the verified distinct finished candidates."""
    section, task, train = context.config.expert_iteration, context.task, context.task.train
    texts = []
    for index, outcome in zip(ids, outcomes, strict=True):
        problem, kept = train[index], []
        for candidate in outcome.candidates:
            if not candidate.finished or candidate.text in kept:
                continue
            if section.verifier == "oracle":
                verified = task.check_answer(problem, candidate.text)
            else:
                verified = bool(candidate.score >= section.min_score)
            if verified:
                kept.append(candidate.text)
            if len(kept) == section.keep_per_problem:
                break
        texts += [outcome.prompt + text for text in kept]
    return texts


def _improve(
    context: Context,
    policy: PolicyPhase,
    verifiers: VerifiersPhase,
    ledger: ComputeLedger,
    number: int,
    directory: Path,
) -> dict[str, Any]:
    """Steps 1-3 of round ``number`` (see the module docstring): the new policy saved in
    ``directory/policy``; returns the round's record (its ledger, solutions kept)."""
    from reasoning.lm.checkpoint import load_tiny_gpt, save_tiny_gpt
    from reasoning.lm.train import train_tiny_gpt

    config, section = context.config, context.config.expert_iteration
    ids = range((number - 1) * section.problems, number * section.problems)
    prompts = [context.task.prompt(context.task.train[i]) for i in ids]
    search_seed = stream_seed(config.seed, "expert_iteration", number, 0)
    outcomes = _search(context, policy, verifiers, prompts, ids, search_seed)
    texts = kept_solutions(context, ids, outcomes)
    if not texts:
        raise UserError(
            f"expert iteration round {number}: no verified solution among {len(ids)} "
            f"problems; raise expert_iteration.budget or problems"
        )
    context.log(
        f"expert iteration round {number}: {len(texts)} verified solutions of {len(ids)} "
        f"problems; fine-tuning the policy"
    )
    # a copy of the round's starting weights, so that the policy in memory stays as it was
    model, tokenizer = load_tiny_gpt(policy.spec.removeprefix("tiny:"))
    rng = np.random.default_rng(stream_seed(config.seed, "expert_iteration", number, 1))
    result = train_tiny_gpt(
        section.training, texts, rng, tokenizer=tokenizer, model=model, progress=config.progress
    )
    save_tiny_gpt(directory / "policy", result.model, tokenizer)
    ledger = ledger.add(sft_flops=result.flops, data_search_flops=sum(o.flops for o in outcomes))
    return {"ledger": ledger.to_dict(), "kept": len(texts), "seconds": result.seconds}


def expert_iteration(
    context: Context,
    policy: PolicyPhase,
    verifiers: VerifiersPhase,
    ledger: ComputeLedger,
) -> list[Round]:
    """Run (or reload) every round; ``ledger``: the train FLOPs of round 0 (the test FLOPs of
    the main evaluation are not carried into the rounds' ledgers)."""
    from reasoning.lm.sampling import TinyGPTPolicy

    config, section = context.config, context.config.expert_iteration
    if section.rounds and policy.model is None:
        raise UserError("expert_iteration needs the tiny GPT trained here (policy.spec unset)")
    available = config.policy.problems or len(context.task.train)
    if section.rounds * section.problems > available:
        raise UserError(
            f"expert_iteration: {section.rounds} rounds x {section.problems} problems need "
            f"{section.rounds * section.problems} of the policy's train problems, which are "
            f"{available} (policy.problems); lower expert_iteration.problems"
        )
    rounds: list[Round] = []
    recipe = dataclasses.replace(section, rounds=0)  # more rounds later keep these ones
    for number in range(1, section.rounds + 1):
        directory = context.run.path / "expert_iteration" / f"round-{number}"
        key = fingerprint(verifiers.key, policy.key, recipe, config.evaluation.search, number)
        record = begin(
            directory, key, f"expert iteration round {number}", context.log, context.reuse_only
        )
        if record is None:
            record = _improve(context, policy, verifiers, ledger, number, directory)
        else:
            context.log(f"expert iteration round {number}: reusing {directory}")
        loaded = TinyGPTPolicy.from_directory(directory / "policy")
        policy = PolicyPhase(
            loaded, f"tiny:{(directory / 'policy').resolve()}", loaded.model,
            policy.flops, f"{key}-policy",
        )  # fmt: skip
        ledger = ComputeLedger.from_dict(record["ledger"])
        if section.relabel:
            labels = labels_phase(context, policy, directory / "labels")
            verifiers = verifiers_phase(context, policy, labels, directory / "verifiers")
            if "relabelled" not in record:
                ledger = ledger.add(label_flops=labels.flops, sft_flops=verifiers.flops)
                record = {**record, "ledger": ledger.to_dict(), "relabelled": True}
        finish(directory, key, record)
        evaluation = EvaluationPhase(
            context, policy.policy, verifiers.verifiers, f"{key}-evaluation",
            directory=directory / "evaluation",
        )  # fmt: skip
        method = f"{section.search}/{section.verifier}"
        results = [evaluation.search("greedy", 1)]
        if section.search != "best_of_n":
            results.append(evaluation.search(method, section.budget))
        (directory / "ledger.json").write_text(json.dumps(ledger.to_dict(), indent=2) + "\n")
        rounds.append(Round(number, policy, verifiers, ledger, results, record["kept"]))
        accuracies = ", ".join(f"{r.method} {r.correct.mean():.3f}" for r in results)
        context.log(
            f"expert iteration round {number}: {accuracies}; train FLOPs {ledger.train_flops:.3g}"
        )
    return rounds
