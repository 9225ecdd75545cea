"""How fast the countdown4 policy learns its arithmetic (issue 15): the share of reference steps
whose result the policy writes right (greedy, teacher-forced on the steps before), by operation,
for the recipe's policy and after each further round of training on the recipe's solutions.

    python docs/results/countdown4_2026-12-01/arithmetic_curve.py RUN_DIR [ROUNDS] [STEPS]

RUN_DIR: a finished ``ponder reason configs/countdown4.yaml`` run (its policy/ and config.yaml).
Each round continues the policy for STEPS steps with the recipe's training settings (a fresh
warm-up and cosine schedule each round). Prints one line per round and writes
arithmetic_curve.json beside this script.
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
from reasoning.lm.checkpoint import load_tiny_gpt
from reasoning.lm.train import train_tiny_gpt
from reasoning.pipeline.config import ReasonConfig
from reasoning.tasks.registry import make_task
from reasoning.tasks.solutions import training_texts

STEP = re.compile(r"(\d+) ([-+*/]) (\d+) = (\d+)")


def probes(task, problems):  # noqa: ANN001, ANN201
    """(prefix text, result text, operation) of every arithmetic step of reference solutions."""
    out = []
    for problem in problems:
        steps = task.reference_solution(problem)
        text = task.prompt(problem)
        for step in steps:
            match = STEP.fullmatch(step.strip())
            if match:
                cut = step.index("=") + 2
                out.append((text + step[:cut], step[cut:].strip() + "\n", match[2]))
            text += step + "\n"
    return out


@torch.no_grad()
def accuracy(model, tokenizer, cases) -> dict:  # noqa: ANN001
    right: dict[str, list[bool]] = {}
    for prefix, result, operation in cases:
        ids = tokenizer.encode(prefix + result)
        logits = model(torch.tensor([ids[:-1]]))[0]  # (T - 1, V)
        start = len(tokenizer.encode(prefix)) - 1
        predicted = logits[start : start + len(result)].argmax(-1).tolist()
        wanted = ids[start + 1 : start + 1 + len(result)]
        right.setdefault(operation, []).append(predicted == wanted)
    every = [x for values in right.values() for x in values]
    return {
        "all": float(np.mean(every)),
        "probes": len(every),
        **{op: float(np.mean(v)) for op, v in sorted(right.items())},
    }


def recipe_texts(task, config, rng: np.random.Generator) -> list[str]:  # noqa: ANN001
    """The policy's training texts as the recipe makes them (``config.policy``), drawn from
    ``rng``."""
    return training_texts(
        task,
        task.train[: config.policy.problems],
        rng,
        samples_per_problem=config.policy.samples_per_problem,
        error_rate=config.policy.error_rate,
    )


def main() -> None:
    run = Path(sys.argv[1])
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 1500
    torch.set_num_threads(1)
    config = load_config(ReasonConfig, run / "config.yaml", [])
    task = make_task(config.task.name, **config.task.all_knobs)
    model, tokenizer = load_tiny_gpt(run / "policy")
    cases = probes(task, task.test[:500])
    rng = np.random.default_rng([config.seed, 0xA417])  # its own stream, outside the pipeline's
    texts = recipe_texts(task, config, rng)
    training = dataclasses.replace(config.policy.training, steps=steps)
    done = config.policy.training.steps
    curve = [{"steps": done, "seconds": 0.0, **accuracy(model, tokenizer, cases)}]
    print(json.dumps(curve[-1]), flush=True)
    out = Path(__file__).with_name("arithmetic_curve.json")
    for _ in range(rounds):
        start = time.perf_counter()
        model = train_tiny_gpt(
            training, texts, rng, tokenizer=tokenizer, model=model.train(), progress=False
        ).model.eval()
        done += steps
        curve.append(
            {
                "steps": done,
                "seconds": time.perf_counter() - start,
                **accuracy(model, tokenizer, cases),
            }
        )
        print(json.dumps(curve[-1]), flush=True)
        out.write_text(json.dumps(curve, indent=1) + "\n")


if __name__ == "__main__":
    main()
