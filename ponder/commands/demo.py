"""``ponder demo``: the main jobs end to end on the CPU in a few minutes (what `make demo` runs)."""

from __future__ import annotations

import argparse

from ponder.commands import Command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sims", type=int, default=1000, help="simulations per move of the bots")
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    import json
    import time

    from games import make_game
    from search.analysis import analyze
    from search.play import mcts_bot, play_games

    game = make_game("connect_four")
    strong, weak = mcts_bot(game, args.sims), mcts_bot(game, max(args.sims // 20, 2))
    print(f"== 1. Connect Four: classic MCTS with {args.sims} simulations vs {weak.name} ==")
    start = time.perf_counter()
    record = play_games(game, (strong, weak), num_games=1, seed=args.seed)[0]
    state = game.initial_state()
    for move in record.moves:
        state = game.apply(state, move)
    print(game.render(state))
    moves = "".join(game.action_to_text(move) for move in record.moves)
    winner = {1.0: record.players[0], -1.0: record.players[1]}.get(record.returns[0], "nobody")
    print(f"moves {moves}: {winner} wins ({time.perf_counter() - start:.1f} s)\n")

    request = {"id": "demo", "game": "connect_four", "moves": moves[:6], "sims": 4 * args.sims}
    print(f"== 2. ponder analyze: {json.dumps(request)} ==")
    print(json.dumps(analyze(request)))
    return 0


COMMAND = Command(
    name="demo",
    help="show the main jobs end to end on the CPU in a few minutes",
    add_arguments=add_arguments,
    run=run,
    order=90,
)
