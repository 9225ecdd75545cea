"""``ponder reason``: train a policy and verifiers, then measure accuracy vs test compute for
every search over reasoning steps (see ``reasoning.pipeline``)."""

from __future__ import annotations

import argparse

from ponder.commands import Command, add_config_arguments, config_from_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="start the run afresh, deleting runs/<run.name> (default: resume it)",
    )
    add_config_arguments(parser, example="evaluation.problems=50 policy.training.steps=2000")


def run(args: argparse.Namespace) -> int:
    import torch

    from reasoning.pipeline import ReasonConfig, run_pipeline

    config = config_from_arguments(ReasonConfig, args)
    # This process owns its threads: one is fastest on a small shared machine.
    torch.set_num_threads(config.threads)
    run_pipeline(config, overwrite=args.overwrite)
    return 0


COMMAND = Command(
    name="reason",
    help="train a policy LM and step verifiers, then accuracy vs test compute per search",
    description=(
        "Train the tiny GPT policy, label steps by Monte-Carlo rollouts, train a PRM and an ORM,\n"
        "then evaluate greedy, best-of-N (majority, ORM/PRM-weighted, argmax, oracle), beam\n"
        "search and MCTS (PUCT, Gumbel) at every budget on the test split. Writes results.csv,\n"
        "accuracy_vs_compute.png, coverage and verifier-error tables into runs/<run.name>/.\n"
        "Running the same command again resumes: finished phases are reused. The recipe is a\n"
        "name (countdown, countdown-smoke) or a YAML file; policy.spec=http://HOST:PORT/v1 uses\n"
        "an OpenAI-compatible server (`ponder serve-lm`) as the policy instead of training one."
    ),
    add_arguments=add_arguments,
    run=run,
    order=40,
    recipe_schema="reasoning.pipeline.config:ReasonConfig",
)
