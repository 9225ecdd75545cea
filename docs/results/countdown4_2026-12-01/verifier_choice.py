"""Which verifier to train (issue 15): the recipe's verifiers (a 4 x 128 tiny GPT initialised
from the policy) against the same verifiers trained from scratch, or of another size, all on
the run's own labels and measured on one held-out pool (the pool the run's ``verifiers.json``
is measured on: same problems, same sampling seed), with 95% intervals.

    python docs/results/countdown4_2026-12-01/verifier_choice.py RUN_DIR OUT_DIR VARIANT ...

RUN_DIR: a ``ponder reason configs/countdown4.yaml`` run whose verifiers are trained, by this
code (its policy, labels and verifiers are reused, nothing in it is written; a run whose phases
this code would make again is refused). VARIANT: ``scratch`` (the recipe's model, random
initial weights), ``wide`` (4 x 192 from scratch), ``deep`` (6 x 128 from scratch) or ``long``
(the recipe's, three times the steps: its early stopping keeps the best on held-out labels).
Each variant's verifiers go to OUT_DIR/VARIANT/ (a finished one is reused); the measurement of
all of them, the recipe's first, to OUT_DIR/verifier_choice.json.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

from experiment import UserError
from experiment.config import load_config
from experiment.run import RunDirectory
from experiment.tensorboard import ScalarWriter
from reasoning.pipeline.config import ReasonConfig
from reasoning.pipeline.phases import (
    Context,
    labels_phase,
    measure_held_out,
    measure_problems,
    policy_phase,
    verifiers_phase,
)
from reasoning.tasks.registry import make_task

# variant -> (the verifier model's changes, start from the policy, training steps x)
VARIANTS: dict[str, tuple[dict[str, int], bool, int]] = {
    "scratch": ({}, False, 1),
    "wide": ({"embedding_dim": 192}, False, 1),
    "deep": ({"num_layers": 6}, False, 1),
    "long": ({}, True, 3),
}


def variant_config(config: ReasonConfig, name: str) -> ReasonConfig:
    changes, init_from_policy, longer = VARIANTS[name]
    training = config.verifier.training
    training = dataclasses.replace(
        training,
        model=dataclasses.replace(training.model, **changes),
        init_from_policy=init_from_policy and training.init_from_policy,
        steps=training.steps * longer,
    )
    return dataclasses.replace(
        config, verifier=dataclasses.replace(config.verifier, training=training)
    )


def main() -> None:
    run_path, out = Path(sys.argv[1]), Path(sys.argv[2])
    names = sys.argv[3:]
    unknown = [name for name in names if name not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variant {unknown[0]!r}; the variants are {', '.join(VARIANTS)}")
    out.mkdir(parents=True, exist_ok=True)
    config = load_config(ReasonConfig, run_path / "config.yaml", [])
    task = make_task(config.task.name, **config.task.all_knobs)

    def log(message: str) -> None:
        print(f"[verifier_choice {time.strftime('%H:%M:%S')}] {message}", flush=True)

    with ScalarWriter(out / "tensorboard") as writer:
        # the run's phases as they are, or a one-line refusal (a run made by older code has
        # other fingerprints: its phases would be trained again)
        context = Context(RunDirectory.open(run_path), config, task, writer, log, reuse_only=True)
        policy = policy_phase(context)
        labels = labels_phase(context, policy)
        phases = {"recipe": verifiers_phase(context, policy, labels)}
        for name in names:
            variant = dataclasses.replace(
                context, config=variant_config(config, name), reuse_only=False
            )
            phases[name] = verifiers_phase(variant, policy, labels, out / name)
    indices = measure_problems(context)
    verifiers = {
        f"{name}/{kind}": verifier
        for name, phase in phases.items()
        for kind, verifier in phase.verifiers.items()
    }
    _, measured = measure_held_out(context, policy, verifiers, indices)
    training = {
        name: {kind: phase.record[kind] for kind in phase.verifiers}
        for name, phase in phases.items()
    }
    record = {
        "run": str(run_path),
        "problems": [indices.start, indices.stop],
        "samples_per_problem": config.verifier.measure.samples,
        "variants": {"recipe": "init_from_policy", **{name: VARIANTS[name] for name in names}},
        "training": training,
        "verifiers": {m.name: dataclasses.asdict(m) for m in measured},
    }
    (out / "verifier_choice.json").write_text(json.dumps(record, indent=1) + "\n")
    for m in measured:
        print(f"{m.name}: {m.summary()}")


if __name__ == "__main__":
    try:
        main()
    except UserError as error:
        print(f"verifier_choice: {error}", file=sys.stderr)
        raise SystemExit(2) from None
