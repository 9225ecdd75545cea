"""``ponder train``: AlphaZero self-play training on Ray from a YAML recipe."""

from __future__ import annotations

import argparse

from ponder.commands import Command, add_config_arguments, config_from_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, example="learner.lr=1e-3 budget.minutes=30")
    parser.add_argument("--address", help="join a Ray cluster: 'auto' or ray://host:port")
    parser.add_argument(
        "--name", help="run name, runs/<name> (default: the recipe's name; none: a timestamp)"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an earlier run of the same name (default: refuse; `ponder resume` it)",
    )


def run(args: argparse.Namespace) -> int:
    import logging
    import sys

    from selfplay.config import TrainConfig
    from selfplay.train import exit_status, start_run, train

    extra = [f"ray.address={args.address}"] if args.address else []
    extra += [f"name={args.name}"] if args.name else []
    args.overrides = [*args.overrides, *extra]
    config = config_from_arguments(TrainConfig, args)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    run_directory = start_run(config, command_line=sys.argv, overwrite=args.overwrite)
    print(f"training {config.game.make().display_name} by self-play")
    print(f"run directory: {run_directory.path}")
    print(f"watch it:      tensorboard --logdir {run_directory.path.parent}", flush=True)
    progress = train(config, run_directory)
    print(f"done: {progress.step} learner steps, {progress.games} games; resume with "
          f"`ponder resume {run_directory.path}`")  # fmt: skip
    return exit_status(progress)


COMMAND = Command(
    name="train",
    help="train an AlphaZero agent by self-play on Ray",
    description="Train from a recipe (a name such as connect4, `ponder configs` lists them, or a "
    "YAML file) with dotted overrides (learner.lr=1e-3). Writes runs/<name>/: config, code "
    "version, TensorBoard events, checkpoints, replay shards, arena results. Ctrl-C writes a "
    "checkpoint and exits.",
    add_arguments=add_arguments,
    run=run,
    order=10,
    recipe_schema="selfplay.config:TrainConfig",
)
