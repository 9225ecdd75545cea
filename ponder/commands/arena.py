"""``ponder arena AGENT AGENT ...``: a tournament, resumable from its record, and its ratings.

Agents as in ``ponder match`` (``random``, ``mcts:N``, ``solver``, ``RUN@N``, each with optional
``,key=value`` search changes); the spec is the agent's name in the record and the table. Every
selected pair plays ``--games`` games, both colours equally often, from ``--openings`` seeded
random moves; ``--pairs adaptive`` plays rounds of ``--games`` games on the pairs that narrow
the widest intervals until every agent is within +-``--target-interval`` Elo. Each finished game
is appended to ``--record`` at once; rerunning the same command plays only the missing games.
"""

from __future__ import annotations

import argparse

from ponder.commands import Command, add_player_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_player_arguments(parser, "+")
    parser.add_argument("--games", type=int, default=20, help="per pair, even (default 20)")
    parser.add_argument("--record", required=True, help="the JSON-lines record (resumed)")
    parser.add_argument("--openings", type=int, default=2, help="random opening moves (2)")
    parser.add_argument("--pairs", choices=("all", "adjacent", "adaptive"), default="all")
    parser.add_argument("--target-interval", type=float, default=30.0, help="adaptive, Elo (30)")
    parser.add_argument("--address", help="a Ray cluster to join (e.g. auto)")
    parser.add_argument("--workers", type=int, help="Ray actors (default: one per core; 0: none)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=32, help="games in lockstep per chunk (32)")
    parser.add_argument("--bootstrap", type=int, default=1000, help="table resamples (1000)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from experiment import UserError
    from experiment.ratings import default_anchor, rate
    from ponder.commands._bots import canonical_specs, players_and_game
    from ponder.commands.elo import rating_table
    from tradeoff.tournament import (
        TournamentConfig,
        adaptive_summary,
        results_of,
        run_tournament,
    )

    if args.game is None:
        raise UserError("name the game with --game, e.g. --game tic_tac_toe")
    agents, game = players_and_game(args.player, args.game, args.game_parameters)
    agents = canonical_specs(agents, args.sims, args.search)  # names that say it all
    config = TournamentConfig(
        games=args.games, openings=args.openings, pairs=args.pairs,
        target_interval=args.target_interval, seed=args.seed, batch=args.batch,
        workers=args.workers,
    )  # fmt: skip
    if args.bootstrap < 0:
        raise UserError(f"--bootstrap must be >= 0, got {args.bootstrap}")
    print(f"{len(agents)} agents on {game.display_name}, pairs {args.pairs}", flush=True)
    records = run_tournament(game, agents, Path(args.record), config, args.sims, (), args.address)
    ours = [record for record in records if set(record.players) <= set(agents)]
    results = results_of(ours)
    ratings = rate(results, bootstrap=args.bootstrap, seed=args.seed)
    print("\n".join(rating_table(ratings, intervals=args.bootstrap > 0)))
    print(f"anchor: {default_anchor(results)} = 0 Elo; {len(ours)} games in {args.record}")
    if args.pairs == "adaptive":
        summary = adaptive_summary(agents, records)
        print(
            f"adaptive: {summary.games} games; all pairs would need about "
            f"{summary.all_pairs_games} for the same precision (Fisher estimate)"
            + (f"; unbounded: {', '.join(summary.unbounded)}" if summary.unbounded else "")
        )
    return 0


COMMAND = Command(
    name="arena",
    help="a tournament between agents, resumable, with Elo ratings and 95%% intervals",
    description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    add_arguments=add_arguments,
    run=run,
    order=54,
)
