"""``ponder elo`` speed: 100k games, 1000 bootstrap resamples (issue 14 asks for under 10 s).

The games are simulated from known ratings (Bradley-Terry, a fifth of the close games drawn)
between ``--players`` players, each against its ``--neighbours`` nearest in strength, and written
as one JSON line per game, as the arena writes them. Timed: reading the file and rating it, as
``ponder elo FILE`` does. The peer, in the same run: the same resamples fitted one at a time
(the fit before the batched one), on fewer resamples and scaled up.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def write_games(path: Path, players: int, neighbours: int, games: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = np.sort(rng.uniform(0, 2000, players))
    pairs = [(i, j) for i in range(players) for j in range(i + 1, min(players, i + 1 + neighbours))]
    names = ["random", *(f"p{i}" for i in range(1, players))]
    with open(path, "w", encoding="utf-8") as file:
        for k in range(games):
            i, j = pairs[k % len(pairs)]
            expected = 1 / (1 + 10 ** ((truth[j] - truth[i]) / 400))
            draw = 0.4 * min(expected, 1 - expected)
            u = rng.random()
            score = 1.0 if u < expected - draw / 2 else 0.5 if u < expected + draw / 2 else 0.0
            first, second = (i, j) if k % 2 else (j, i)
            score = score if first == i else 1.0 - score
            file.write(json.dumps({"a": names[first], "b": names[second], "score": score}) + "\n")


def main(argv: list[str] | None = None) -> None:
    from experiment.ratings import bootstrap_elo, fit_elo, rate, read_results

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--games", type=int, default=100_000)
    parser.add_argument("--players", type=int, default=40)
    parser.add_argument("--neighbours", type=int, default=4)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--peer-resamples", type=int, default=50)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "games.jsonl"
        write_games(path, args.players, args.neighbours, args.games, seed=0)
        start = time.perf_counter()
        results = read_results([path])
        read_seconds = time.perf_counter() - start
        rate(results, bootstrap=args.bootstrap)
        total = time.perf_counter() - start
    anchor = results.players.index("random")
    elo, _ = bootstrap_elo(results, bootstrap=0)
    rng = np.random.default_rng(0)
    shares = np.stack([results.wins, results.draws, results.losses], 1) / results.games[:, None]
    counts = rng.multinomial(results.games, shares, size=(args.peer_resamples, len(shares)))
    start = time.perf_counter()
    for count in counts:  # the peer: one Newton fit per resample, from scratch
        points = np.stack([count[:, 0] + count[:, 1] / 2, count[:, 2] + count[:, 1] / 2], 1)
        fit_elo(results, anchor, 0.0, points)
    peer = (time.perf_counter() - start) * args.bootstrap / args.peer_resamples
    fit_seconds = total - read_seconds
    print(
        f"ponder elo: {args.games} games, {args.players} players, {len(results.pairs)} pairings, "
        f"{args.bootstrap} resamples: {total:.2f} s ({read_seconds:.2f} s reading, "
        f"{fit_seconds:.2f} s rating); one fit per resample would take {peer:.2f} s "
        f"(batched {peer / fit_seconds:.1f}x faster); {len(elo)} ratings"
    )


if __name__ == "__main__":
    main()
