"""``ponder tradeoff RECIPE``: the train x test compute sweep for games, resumable.

Trains the runs the recipe lists (net sizes x seeds; or takes existing run directories),
chooses snapshots log-spaced in train FLOPs, plays every snapshot at every test budget against
each other and the anchors (random, the solver where the game has one, classic MCTS) in one
adaptive tournament, and fits Elo against train and test compute, the iso-Elo frontier and the
exchange rate, each number with a 95% bootstrap interval. Writes results.csv, fit.json,
elo_vs_train.png, elo_vs_test.png, frontier.png, report.md and TensorBoard events into the
recipe's output folder. Stopped at any point, the same command resumes it: nothing finished is
played or trained again.
"""

from __future__ import annotations

import argparse

from ponder.commands import Command, add_config_arguments, config_from_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, example="output=runs/sweep budgets=[1,4,16] tournament.games=10")
    parser.add_argument("--address", help="join a Ray cluster: 'auto' or ray://host:port")


def run(args: argparse.Namespace) -> int:
    import logging
    import time

    from experiment.config import config_to_yaml
    from ponder import recipes
    from tradeoff.sweep import TradeoffConfig, run_sweep

    config = config_from_arguments(TradeoffConfig, args)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    start = time.perf_counter()
    output = run_sweep(
        config, recipes.resolve(config.train.recipe), config_to_yaml(config), args.address
    )
    minutes = (time.perf_counter() - start) / 60
    print(f"done in {minutes:.1f} min: {output / 'report.md'}; "
          f"watch it: tensorboard --logdir {output}")  # fmt: skip
    return 0


COMMAND = Command(
    name="tradeoff",
    help="sweep train x test compute: train, rate snapshots x budgets, fit the exchange rate",
    description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    add_arguments=add_arguments,
    run=run,
    order=60,
    recipe_schema="tradeoff.sweep:TradeoffConfig",
)
