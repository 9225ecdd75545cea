"""Paired differences on the solver-valued positions of ``tactics_solved.txt`` (issue 13): the
same 200 positions (``ponder tactics ... --solved 200 --solved-plies 12``, seed 1) scored per
position for each player, then the difference in the share of moves that keep the value between
pairs of players, with a 95% bootstrap interval over positions.

    python docs/results/connect4_60min_s3_2026-12-01/solved_paired.py RUN

RUN: the 60-minute run (runs/c4_60min_s3). Prints one line per pair.
"""

from __future__ import annotations

import sys

import numpy as np

from experiment.stats import bootstrap_interval
from games import make_game
from ponder.commands._bots import make_player
from search.play import move_seeds
from tradeoff.tactics import solved_positions


def main() -> None:
    run = sys.argv[1]
    game = make_game("connect_four")
    tactics = solved_positions(game, 200, seed=1, min_plies=12)
    states = np.stack([game.state_from_moves(t.moves) for t in tactics])
    # The seeds ponder tactics gave these positions: they follow its 200 one-move tactics.
    indices = list(range(200, 200 + len(tactics)))
    seeds = move_seeds(1, indices, [len(t.moves) for t in tactics])
    specs = [f"{run}@200", f"{run}@800", f"{run}@200:puct", "mcts:200", "mcts:800", "mcts:1000"]
    right = {}
    for spec in specs:
        moves = make_player(game, spec, 200).choose(states, seeds)
        right[spec] = np.array([int(m) in t.answers for m, t in zip(moves, tactics, strict=True)])
        print(f"{spec}: {right[spec].mean():.1%} of {len(tactics)} keep the value", flush=True)
    pairs = [(specs[0], "mcts:200"), (specs[1], "mcts:800"), (specs[0], "mcts:1000"),
             (specs[0], specs[2]), (specs[1], specs[0])]  # fmt: skip
    rng = np.random.default_rng(0)
    for first, second in pairs:
        difference = right[first].astype(float) - right[second]
        low, high = bootstrap_interval(difference, rng, resamples=2000)
        print(
            f"{first} - {second}: {difference.mean():+.1%} (95% {low:+.1%} to {high:+.1%}); "
            f"only the first right {int((difference > 0).sum())}, only the second "
            f"{int((difference < 0).sum())}"
        )


if __name__ == "__main__":
    main()
