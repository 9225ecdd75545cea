"""Does the countdown4 policy learn its arithmetic faster with every number written least
significant digit first? (issue 15; Lee et al. 2023, "Teaching Arithmetic to Small Transformers":
reversed outputs make addition learnable from far fewer examples.)

    python docs/results/countdown4_2026-12-01/digit_order.py RUN_DIR ORDER [STEPS]

RUN_DIR: a ``ponder reason configs/countdown4.yaml`` run (only its config.yaml is read). ORDER:
``plain`` or ``reversed``. Trains a fresh policy for STEPS steps (default: the recipe's, 3000)
with the recipe's training settings on the recipe's training texts, the same texts for both
orders (same seed), in ``reversed`` with the digits of every number in the text reversed
(question, steps and answer: ``47 + 38 = 85`` becomes ``74 + 83 = 58``), then measures as
``arithmetic_curve.py`` does: the share of reference steps (test problems 0-499) whose result
the policy writes right, greedy, teacher-forced on the steps before, by operation. Writes
``digit_order_ORDER.json`` beside this script. A text transform only: nothing in ponder reads
reversed numbers yet, so this decides whether a format knob is worth building.
"""

from __future__ import annotations

import dataclasses
import json
import re
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

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from arithmetic_curve import accuracy, probes, recipe_texts  # noqa: E402

DIGITS = re.compile(r"\d+")


def reversed_digits(text: str) -> str:
    """Every run of digits in ``text`` written backwards (``"8/13"`` -> ``"8/31"``)."""
    return DIGITS.sub(lambda match: match[0][::-1], text)


def main() -> None:
    run, order = Path(sys.argv[1]), sys.argv[2]
    if order not in ("plain", "reversed"):
        raise SystemExit(f"ORDER must be plain or reversed, got {order!r}")
    transform = reversed_digits if order == "reversed" else (lambda text: text)
    torch.set_num_threads(1)
    config = load_config(ReasonConfig, run / "config.yaml", [])
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else config.policy.training.steps
    task = make_task(config.task.name, **config.task.all_knobs)
    rng = np.random.default_rng([config.seed, 0xD161])  # the same stream for both orders
    texts = recipe_texts(task, config, rng)
    texts = [transform(text) for text in texts]
    cases = [
        (transform(prefix), transform(result), operation)
        for prefix, result, operation in probes(task, task.test[:500])
    ]
    start = time.perf_counter()
    training = dataclasses.replace(config.policy.training, steps=steps)
    tokenizer = CharTokenizer()
    model = train_tiny_gpt(training, texts, rng, tokenizer=tokenizer, progress=False).model.eval()
    measured = {
        "order": order,
        "steps": steps,
        "training_seconds": round(time.perf_counter() - start, 1),
        "example": texts[0],
        **accuracy(model, tokenizer, cases),
    }
    print(json.dumps(measured), flush=True)
    HERE.joinpath(f"digit_order_{order}.json").write_text(json.dumps(measured, indent=1) + "\n")


if __name__ == "__main__":
    main()
