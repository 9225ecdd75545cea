"""``ponder curve runs/<name>``: the run's arena scores, with their 95% intervals, against time,
games and FLOPs (PNG)."""

from __future__ import annotations

import argparse

from ponder.commands import Command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN_DIR", help="a training run directory")
    parser.add_argument("--output", help="PNG path (default RUN_DIR/strength.png)")


def run(args: argparse.Namespace) -> int:
    from experiment import UserError
    from experiment.run import RunDirectory
    from selfplay.config import TrainConfig
    from tradeoff.curves import plot_training_curve

    run_directory = RunDirectory.open(args.run)
    games = run_directory.load_config(TrainConfig).arena.games
    try:
        path = plot_training_curve(run_directory.path, args.output, games)
    except ValueError as error:
        raise UserError(str(error)) from None
    print(path)
    return 0


COMMAND = Command(
    name="curve",
    help="plot a run's arena win rates against wall time, games and train FLOPs",
    add_arguments=add_arguments,
    run=run,
    order=12,
)
