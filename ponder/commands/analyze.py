"""``ponder analyze``: a JSON-lines analysis engine on stdin/stdout, like KataGo's."""

from __future__ import annotations

import argparse

from ponder.commands import Command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input", default="-", help="file of JSON requests, one per line (default: stdin)"
    )


def run(args: argparse.Namespace) -> int:
    import sys

    from experiment import UserError
    from ponder.commands._bots import make_bot
    from search.analysis import serve

    if args.input == "-":
        serve(getattr(sys.stdin, "buffer", sys.stdin), sys.stdout, make_bot)  # bytes if it can
        return 0
    try:
        lines = open(args.input, "rb")  # bytes: a bad byte costs only its own line
    except OSError as error:
        raise UserError(f"cannot read --input '{args.input}': {error.strerror}") from None
    with lines:
        serve(lines, sys.stdout, make_bot)
    return 0


COMMAND = Command(
    name="analyze",
    help="JSON-lines analysis engine: position in, policy/value/best move out",
    description=(
        'Each input line, e.g. {"id": "q1", "game": "connect_four", "moves": "4453", '
        '"bot": "mcts", "sims": 800}\n(Hex adds "board_size"; "checkpoint" selects a trained '
        'net; "bot": "solver" is perfect play for\ntic-tac-toe, Connect Four and Hex 3x3 to 4x4: '
        "an optimal move and the exact value 1 / 0 / -1), gets one output\nline with id, "
        "best_move, policy, "
        'visits and value; a bad line gets {"id": ..., "error": ...} and the\nengine keeps serving.'
    ),
    add_arguments=add_arguments,
    run=run,
    order=51,
)
