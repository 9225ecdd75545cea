"""``ponder resume runs/<name>``: continue a training run where its last checkpoint left it."""

from __future__ import annotations

import argparse

from ponder.commands import Command, add_print_config_argument, print_config_if_asked


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN_DIR", help="the run directory, e.g. runs/connect4")
    parser.add_argument(
        "overrides", nargs="*", metavar="key=value", help="changes, e.g. budget.minutes=60"
    )
    parser.add_argument("--address", help="join a Ray cluster: 'auto' or ray://host:port")
    add_print_config_argument(parser)


def run(args: argparse.Namespace) -> int:
    import logging
    import sys

    from experiment.run import RunDirectory
    from selfplay.train import exit_status, resume_config, train

    run_directory = RunDirectory.open(args.run)
    overrides = [*args.overrides, *([f"ray.address={args.address}"] if args.address else [])]
    config = resume_config(run_directory, overrides)
    print_config_if_asked(config, args)
    run_directory.record_resume(sys.argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    progress = train(config, run_directory, resume=True)
    print(f"done: {progress.step} learner steps, {progress.games} games")
    return exit_status(progress)


COMMAND = Command(
    name="resume",
    help="continue a training run from its latest checkpoint and replay shards",
    add_arguments=add_arguments,
    run=run,
    order=11,
)
