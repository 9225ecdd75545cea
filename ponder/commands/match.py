"""``ponder match A B``: a match between two players, with the score, its interval and Elo.

Players: ``random``; ``mcts:N`` (classic MCTS, UCT with N random-rollout simulations per move);
``PATH`` or ``PATH@N`` (a trained net from a run directory or checkpoint file, PUCT without
noise at N simulations per move, default ``--sims``); each may end in ``,key=value`` changes
of the rules' constants (``mcts:1000,uct.solve=false``, ``runs/c4@200,puct.c_init=2.5``), and
the spec is the player's name. Colours alternate game by game and every game starts after
``--openings`` seeded random moves, so that the games differ.
"""

from __future__ import annotations

import argparse

from ponder.commands import Command, add_player_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_player_arguments(parser, 2)
    parser.add_argument("--games", type=int, default=100, help="games in all (default 100)")
    parser.add_argument("--openings", type=int, default=2, help="random opening moves (2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=20, help="games played in lockstep")
    parser.add_argument("--record", help="append every game to this JSON-lines file")


def run(args: argparse.Namespace) -> int:
    import json

    from experiment import UserError
    from experiment.progress import progress
    from experiment.ratings import rate, results_from_games
    from experiment.stats import score_interval
    from ponder.commands._bots import canonical_specs, make_player, players_and_game
    from search.play import play_games, score_of

    if args.games < 2 or args.batch < 2:
        raise UserError("--games and --batch must be at least 2 (colours alternate)")
    specs, game = players_and_game(args.player, args.game, args.game_parameters)
    bots = [
        make_player(game, spec, args.sims)
        for spec in canonical_specs(specs, args.sims, args.search)
    ]
    if bots[0].name == bots[1].name:
        bots[1].name += " (b)"  # score_of tells the players apart by name
    name = bots[0].name
    print(f"{name} vs {bots[1].name} on {game.display_name}: {args.games} games", flush=True)
    records = []
    with progress(args.games, "match", "game") as bar:
        for first in range(0, args.games, args.batch):
            count = min(args.batch, args.games - first)
            chunk = play_games(
                game, (bots[0], bots[1]), count, seed=args.seed, opening_moves=args.openings,
                first_game=first,
            )  # fmt: skip
            records += chunk
            if args.record:
                with open(args.record, "a", encoding="utf-8") as file:
                    for record in chunk:
                        file.write(json.dumps(record.to_json()) + "\n")
            bar.update(count)
            bar.set_postfix(score="-".join(map(str, score_of(records, name))))
    wins, draws, losses = score_of(records, name)
    score, low, high = score_interval(wins, draws, losses)
    # The Elo gap from the one rating module: Bradley-Terry with the opponent at 0 and the
    # bootstrap over games, as `ponder elo` gives it for the same record.
    results = results_from_games((*r.players, (r.returns[0] + 1) / 2) for r in records)
    (gap,) = [r for r in rate(results, bots[1].name, seed=args.seed) if r.name == name]
    print(
        f"{name}: {wins} wins, {draws} draws, {losses} losses in {len(records)} games; score "
        f"{score:.1%} (95% interval {low:.1%}-{high:.1%}), Elo difference {_elo(gap.elo)} "
        f"({_elo(gap.low)} to {_elo(gap.high)})"
    )
    return 0


def _elo(value: float) -> str:
    """Signed whole Elo; an unbounded one (a match won or lost in every game) as +inf / -inf."""
    return f"{value:+.0f}" if abs(value) < 1e300 else ("+inf" if value > 0 else "-inf")


COMMAND = Command(
    name="match",
    help="play two bots against each other: score, 95%% interval and Elo difference",
    description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    add_arguments=add_arguments,
    run=run,
    order=55,
)
