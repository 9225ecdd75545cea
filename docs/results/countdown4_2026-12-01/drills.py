"""Does more arithmetic per training step teach the countdown4 policy its arithmetic? (issue 15)

    python docs/results/countdown4_2026-12-01/drills.py RUN_DIR [STEPS]

RUN_DIR: a ``ponder reason configs/countdown4.yaml`` run (only its config.yaml is read). Trains a
fresh policy for STEPS steps (default: the recipe's, 3000) with the recipe's training settings
on the recipe's training texts plus as many drill texts: a line ``Q: Arithmetic.`` (context, as
a question is) and then 8 arithmetic steps of reference solutions to other Countdown problems,
freshly drawn from their own stream (no train or test problem of the run). Batches then hold
about three times the arithmetic lines of the recipe's, at the same steps and batch size. Then
measures as ``arithmetic_curve.py`` and ``digit_order.py`` do (the share of reference steps of
test problems 0-499 whose result the policy writes right, greedy, teacher-forced, by operation)
and writes ``drills.json`` beside this script; ``digit_order_plain.json`` is the same training
without drills (same seed).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from experiment.config import load_config
from reasoning.lm.tokenizer import CharTokenizer
from reasoning.lm.train import train_tiny_gpt
from reasoning.pipeline.config import ReasonConfig
from reasoning.tasks.registry import make_task
from reasoning.tasks.solutions import arithmetic_drills

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from arithmetic_curve import accuracy, probes, recipe_texts  # noqa: E402


def main() -> None:
    run = Path(sys.argv[1])
    torch.set_num_threads(1)
    config = load_config(ReasonConfig, run / "config.yaml", [])
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else config.policy.training.steps
    task = make_task(config.task.name, **config.task.all_knobs)
    rng = np.random.default_rng([config.seed, 0xD161])  # digit_order.py's stream
    texts = recipe_texts(task, config, rng)
    exclude = {problem.key for problem in (*task.train, *task.test)}
    extra = arithmetic_drills(
        task, len(texts), np.random.default_rng([config.seed, 0xD811]), exclude
    )
    cases = probes(task, task.test[:500])
    start = time.perf_counter()
    training = dataclasses.replace(config.policy.training, steps=steps)
    tokenizer = CharTokenizer()
    model = train_tiny_gpt(
        training, texts + extra, rng, tokenizer=tokenizer, progress=False
    ).model.eval()
    measured = {
        "steps": steps,
        "solution_texts": len(texts),
        "drill_texts": len(extra),
        "training_seconds": round(time.perf_counter() - start, 1),
        "example_drill": extra[0],
        **accuracy(model, tokenizer, cases),
    }
    print(json.dumps(measured), flush=True)
    HERE.joinpath("drills.json").write_text(json.dumps(measured, indent=1) + "\n")


if __name__ == "__main__":
    main()
