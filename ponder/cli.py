"""``ponder``: parse the command line, then run one registered command (``ponder/commands/``).

A user's mistake (an ``experiment.UserError``, e.g. a bad config key) prints one line,
``ponder: error: <message>``, and exits with status 2, as argparse does for bad arguments; a run
that a failed part stopped (``experiment.RunFailure``) prints its one-line cause and exits with
status 1; any other exception is a bug and keeps its traceback. ``--print-config`` ends a
command with status 0 once the config is printed.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Sequence

import ponder
from experiment import RunFailure, UserError
from ponder.commands import REGISTRY, ConfigPrinted, Registry

EXIT_RUN_FAILED = 1
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports `ponder analyze | head`
_SIGNALS = {"SIGINT", "SIGTERM"}

DESCRIPTION = (
    "Measure how trading train compute for test compute changes strength: self-play training,\n"
    "search over games and reasoning steps, arenas and compute trade-off sweeps."
)
EPILOG = (
    "Run `ponder <command> --help` for a command's options. `ponder configs` lists the shipped\n"
    "recipes; a command runs one by name (`ponder train connect4`) or a YAML file by its path.\n"
    "Dotted key=value arguments after the recipe change its values (each command's --help has\n"
    "examples), and --print-config prints the resolved config and exits."
)


class _VersionAction(argparse.Action):
    """``--version``: the package version and the code commit (asked of git only when used)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object):
        super().__init__(option_strings, dest, nargs=0, help="print the version and code commit")

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from experiment.run import code_version

        print(f"ponder {ponder.__version__} ({code_version().describe()})")
        parser.exit(0)


def build_parser(
    registry: Registry = REGISTRY,
) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser and one parser per registered command, keyed by command name."""
    parser = argparse.ArgumentParser(
        prog="ponder",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_VersionAction)
    subparsers = parser.add_subparsers(
        dest="command", metavar="<command>", title="commands", required=True
    )
    command_parsers = {}
    for command in registry.commands():
        command_parser = subparsers.add_parser(
            command.name,
            help=command.help,
            description=command.description or command.help,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.add_arguments(command_parser)
        command_parsers[command.name] = command_parser
    return parser, command_parsers


def main(argv: Sequence[str] | None = None, registry: Registry = REGISTRY) -> int:
    """Run ``ponder`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    registry_commands = {command.name: command for command in registry.commands()}
    parser, command_parsers = build_parser(registry)
    try:
        position = next((i for i, a in enumerate(arguments) if not a.startswith("-")), None)
        if position != 0 or arguments[0] not in command_parsers:
            # --help, --version, no command or an unknown one: argparse answers and exits.
            parser.parse_args(arguments)
            return EXIT_USER_ERROR
        name = arguments[0]
        args = _parse_intermixed(command_parsers[name], arguments[1:])
        args.command = name
    except SystemExit as exit_request:  # argparse's --help (0) and usage errors (2)
        return exit_request.code if isinstance(exit_request.code, int) else EXIT_USER_ERROR
    return _run(registry_commands[name].run, args)


def _parse_intermixed(parser: argparse.ArgumentParser, arguments: list[str]) -> argparse.Namespace:
    # Intermixed, so `ponder train c4.yaml --seed 3 learner.lr=1e-3` gives every override to the
    # overrides list instead of rejecting the ones after an option.
    try:
        return parser.parse_intermixed_args(arguments)
    except TypeError:  # argparse cannot intermix this parser (e.g. an argparse.REMAINDER)
        return parser.parse_args(arguments)


def _run(run: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    try:
        status = run(args)
    except ConfigPrinted:
        return 0
    except UserError as error:
        print(f"ponder: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except RunFailure as error:
        print(f"ponder: error: {error}", file=sys.stderr)
        return EXIT_RUN_FAILED
    except KeyboardInterrupt as stop:  # Ctrl-C, or a signal a long job turned into one
        print("ponder: interrupted", file=sys.stderr)
        return 128 + int(signal.Signals[str(stop)]) if str(stop) in _SIGNALS else EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader closed the pipe; point stdout at devnull so the exit flush stays quiet.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):  # stdout is not a real file (a test's capture)
            pass
        return EXIT_BROKEN_PIPE
    return 0 if status is None else int(status)
