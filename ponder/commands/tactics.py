"""``ponder tactics PLAYER ...``: the share of positions with exact answers where each player
plays a right move, with 95% intervals.

The positions are generated from the rules with ``--seed`` (never used in training): one-move
tactics (a win in one; the only move that does not lose at once) and proven positions (late-game
positions classic MCTS with proven values solved move by move, where some move throws the
game-theoretic value away and that are no one-move tactic: rarer, and slower to find, about one
per 64 random Connect Four games at 24 plies), and with ``--solved N`` positions from any stage
of a game whose every move the game's exact solver valued (tic-tac-toe, Connect Four, Hex up to
4x4), where some move throws the value away and that are no one-move tactic. Players as in
``ponder match``.
"""

from __future__ import annotations

import argparse

from ponder.commands import Command, add_player_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_player_arguments(parser, "+")
    parser.add_argument("--positions", type=int, default=200, help="one-move tactics (200)")
    parser.add_argument("--proven", type=int, default=50, help="proven positions (default 50)")
    parser.add_argument("--min-plies", type=int, default=24, help="of proven positions (24)")
    parser.add_argument(
        "--solved", type=int, default=0, help="positions valued by the exact solver (default 0)"
    )
    parser.add_argument(
        "--solved-plies",
        type=int,
        default=12,
        help="of solved positions (12; Connect Four positions in the opening take the solver "
        "minutes each)",
    )
    parser.add_argument("--seed", type=int, default=1, help="of the positions (default 1)")
    parser.add_argument("--json", help="append one JSON line per player and kind to this file")


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import json
    import time

    from experiment import UserError
    from ponder.commands._bots import canonical_specs, make_player, players_and_game
    from tradeoff.tactics import score_tactics, tactic_set

    if args.positions < 2 or args.proven < 0 or args.solved < 0:
        raise UserError(
            "--positions must be at least 2 (half wins, half blocks), --proven and --solved >= 0"
        )
    specs, game = players_and_game(args.player, args.game, args.game_parameters)
    specs = canonical_specs(specs, args.sims, args.search)
    players = [make_player(game, spec, args.sims) for spec in specs]
    start = time.perf_counter()
    tactics = tactic_set(
        game, args.positions, args.proven, args.seed, args.min_plies, args.solved,
        args.solved_plies,
    )  # fmt: skip
    print(
        f"{len(tactics)} positions of {game.display_name} (seed {args.seed}) in "
        f"{time.perf_counter() - start:.0f} s",
        flush=True,
    )
    for spec, player in zip(specs, players, strict=True):
        for score in score_tactics(game, player, tactics, seed=args.seed):
            print(
                f"{spec:>32} {score.kind:>6}: {score.correct}/{score.positions} right, "
                f"{score.share:.1%} (95% interval {score.low:.1%}-{score.high:.1%})",
                flush=True,
            )
            if args.json:
                row = {**dataclasses.asdict(score), "agent": spec, "search": args.search}
                with open(args.json, "a", encoding="utf-8") as file:
                    file.write(json.dumps(row) + "\n")
    return 0


COMMAND = Command(
    name="tactics",
    help="score players on generated positions with exact answers (95%% intervals)",
    description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    add_arguments=add_arguments,
    run=run,
    order=56,
)
