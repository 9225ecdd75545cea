"""``ponder curve RUN [RUN ...]``: runs' arena scores and the net's Elo, with their 95% intervals,
against training time, self-play games and train FLOPs, overlaid (PNG). Points are placed by the
run's exact state when the arena took each net (``arena/rounds.jsonl``)."""

from __future__ import annotations

import argparse

from ponder.commands import Command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="training run directories")
    parser.add_argument(
        "--output", help="PNG path (default RUN_DIR/strength.png; required for several runs)"
    )


def run(args: argparse.Namespace) -> int:
    from experiment import UserError
    from experiment.run import RunDirectory
    from selfplay.config import TrainConfig
    from tradeoff.curves import plot_training_curves

    if len(args.runs) > 1 and not args.output:
        raise UserError("several runs are drawn into one file: name it with --output FILE.png")
    directories = [RunDirectory.open(path) for path in args.runs]
    arenas = [directory.load_config(TrainConfig).arena for directory in directories]
    output = args.output or directories[0].path / "strength.png"
    try:
        path = plot_training_curves(
            [directory.path for directory in directories], output,
            [arena.games for arena in arenas],
            [f"mcts:{arena.mcts_simulations[0]}" if arena.mcts_simulations else None
             for arena in arenas],
        )  # fmt: skip
    except ValueError as error:
        raise UserError(str(error)) from None
    print(path)
    return 0


COMMAND = Command(
    name="curve",
    help="plot runs' arena scores and Elo against training time, games and train FLOPs",
    add_arguments=add_arguments,
    run=run,
    order=12,
)
