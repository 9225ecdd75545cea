"""Elo per doubling of simulations: ponder's ``mcts:N`` ladders against OpenSpiel's MCTSBot ladder.

The same algorithm (UCT c = 2, one random rollout per leaf, proven values: OpenSpiel's
``solve=True``) at N = 8, 16, ..., 128 simulations, three ladders played under the same arena
settings (adjacent rungs, ``--games`` games per pair, colours alternating, the same seeded
random openings as ``search.play.play_games`` draws them):

- ``ponder``: ``mcts:N`` as shipped, which searches as OpenSpiel's MCTSBot does (no lookahead:
  proofs from terminal nodes only);
- ``ponder_lookahead``: ``mcts:N,uct.root_lookahead=2,uct.node_lookahead=1``, the rules'
  lookahead on (2 plies at the root, 1 below), the stronger variant;
- ``openspiel``: ``pyspiel.MCTSBot`` (C++), a fresh bot seeded per game and colour.

Each ladder's Elo (Bradley-Terry, ``experiment.ratings.fit_elo``) is fitted against log2(N) by
least squares; the slope is its Elo per doubling, with a 95% percentile-bootstrap interval
(games resampled within each pairing, the whole fit repeated). The ladders agree when their
intervals overlap.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from bench.common import machine

RESULTS = Path(__file__).parent / "results"
LOOKAHEAD = ",uct.root_lookahead=2,uct.node_lookahead=1"


def openspiel_games(
    name: str, pair: tuple[int, int], games: int, seed: int, openings: int
) -> list[tuple[str, str, float]]:
    """``games`` games of OpenSpiel's MCTSBot at ``pair`` simulations: (first, second, score)."""
    import pyspiel

    game = pyspiel.load_game(name)
    results = []
    for index in range(games):
        state = game.new_initial_state()
        # as play_games draws it: games 2k and 2k + 1 share their opening (paired openings)
        opening_rng = np.random.default_rng([seed, index // 2, 0x0FE])
        for _ in range(openings):
            if state.is_terminal():
                break
            state.apply_action(int(opening_rng.choice(state.legal_actions())))
        simulations = pair if index % 2 == 0 else pair[::-1]
        bots = [
            pyspiel.MCTSBot(
                game, pyspiel.RandomRolloutEvaluator(1, seed * 10**6 + index * 2 + colour),
                2.0, count, 10**6, True, seed * 10**6 + index * 2 + colour, False,
            )
            for colour, count in enumerate(simulations)
        ]  # fmt: skip
        while not state.is_terminal():
            state.apply_action(bots[state.current_player()].step(state))
        score = (state.returns()[0] + 1) / 2
        results.append((f"mcts:{simulations[0]}", f"mcts:{simulations[1]}", score))
    return results


def ponder_games(
    name: str, budgets: list[int], suffix: str, games: int, seed: int, openings: int, record: Path
) -> list[tuple[str, str, float]]:
    """The ponder ladder's adjacent pairs through ``ponder arena``'s tournament, in-process."""
    from games import make_game
    from tradeoff.tournament import TournamentConfig, run_tournament

    config = TournamentConfig(
        games=games, openings=openings, pairs="adjacent", seed=seed, batch=games, workers=0
    )
    agents = [f"mcts:{n}{suffix}" for n in budgets]
    records = run_tournament(make_game(name), agents, record, config, 0, show_progress=False)
    return [
        (r.players[0].split(",")[0], r.players[1].split(",")[0], r.score)
        for r in records
        if set(r.players) <= set(agents)
    ]


def elo_per_doubling(
    games: list[tuple[str, str, float]], budgets: list[int], bootstrap: int, seed: int
) -> dict:
    """The least-squares slope of Elo on log2(simulations), with its 95% bootstrap interval."""
    from experiment.ratings import fit_elo, results_from_games

    results = results_from_games(games)
    names = [f"mcts:{n}" for n in budgets]
    order = [results.players.index(name) for name in names]
    anchor = order[0]
    doublings = np.log2(budgets)

    def slope(points: np.ndarray | None) -> float:
        elo = fit_elo(results, anchor, 0.0, points)[order]
        if not np.all(np.isfinite(elo)):
            return float("nan")
        return float(np.polyfit(doublings, elo, 1)[0])

    rng = np.random.default_rng(seed)
    counts = np.stack([results.wins, results.draws, results.losses], 1)
    probabilities = counts / results.games[:, None]
    samples = []
    for _ in range(bootstrap):
        drawn = rng.multinomial(results.games, probabilities)  # (M, 3)
        points = np.stack([drawn[:, 0] + drawn[:, 1] / 2, drawn[:, 2] + drawn[:, 1] / 2], 1)
        samples.append(slope(points))
    finite = np.array([s for s in samples if np.isfinite(s)])
    elo = fit_elo(results, anchor, 0.0)[order]
    return {
        "elo_per_doubling": slope(None),
        "low": float(np.quantile(finite, 0.025)) if len(finite) else float("nan"),
        "high": float(np.quantile(finite, 0.975)) if len(finite) else float("nan"),
        "unbounded_resamples": len(samples) - len(finite),
        "elo": {name: float(value) for name, value in zip(names, elo, strict=True)},
        "score_of_stronger": float(
            np.mean([score if a > b else 1 - score for a, b, score in _by_budget(games)])
        ),
    }


def _by_budget(games: list[tuple[str, str, float]]) -> list[tuple[int, int, float]]:
    return [(int(a.split(":")[1]), int(b.split(":")[1]), score) for a, b, score in games]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--game", default="connect_four", choices=("connect_four", "tic_tac_toe"))
    parser.add_argument("--games", type=int, default=100, help="per adjacent pair (even)")
    parser.add_argument("--budgets", default="8,16,32,64,128")
    parser.add_argument("--openings", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--record-dir", default=None, help="keep ponder's records here")
    parser.add_argument("--quick", action="store_true", help="20 games per pair, N up to 32")
    args = parser.parse_args(argv)
    if args.quick:
        args.games, args.budgets = 20, "8,16,32"
    budgets = [int(n) for n in args.budgets.split(",")]
    directory = Path(args.record_dir) if args.record_dir else RESULTS / "ladder_records"
    directory.mkdir(parents=True, exist_ok=True)
    ladders = {}
    for label, suffix in (("ponder", ""), ("ponder_lookahead", LOOKAHEAD)):
        start = time.perf_counter()
        record = directory / f"{args.game}_{label}_{args.games}_seed{args.seed}.jsonl"
        games = ponder_games(
            args.game, budgets, suffix, args.games, args.seed, args.openings, record
        )
        ladders[label] = elo_per_doubling(games, budgets, args.bootstrap, args.seed)
        ladders[label]["seconds"] = round(time.perf_counter() - start, 1)
    start = time.perf_counter()
    games = []
    for low, high in zip(budgets, budgets[1:], strict=False):
        games += openspiel_games(args.game, (low, high), args.games, args.seed, args.openings)
    ladders["openspiel"] = elo_per_doubling(games, budgets, args.bootstrap, args.seed)
    ladders["openspiel"]["seconds"] = round(time.perf_counter() - start, 1)
    reference = ladders["openspiel"]
    for label, ladder in ladders.items():
        agrees = ladder["low"] <= reference["high"] and reference["low"] <= ladder["high"]
        ladder["overlaps_openspiel"] = bool(agrees)
        print(
            f"ladder_{args.game}_{label}: {ladder['elo_per_doubling']:+.0f} Elo per doubling "
            f"(95% {ladder['low']:+.0f} .. {ladder['high']:+.0f}), stronger rung scores "
            f"{ladder['score_of_stronger']:.1%}, {ladder['seconds']:.0f} s"
            + ("" if label == "openspiel" else f", overlaps OpenSpiel's: {agrees}"),
            flush=True,
        )
    ours, theirs = ladders["ponder"]["elo_per_doubling"], reference["elo_per_doubling"]
    ratio = ours / theirs if theirs else float("nan")
    print(
        f"ladder_{args.game}: Elo per doubling of the budget, ponder {ours:+.0f}, openspiel "
        f"{theirs:+.0f}, ratio={ratio:.2f}",
        flush=True,
    )
    result = {
        "benchmark": f"ladder_{args.game}",
        "ratio": round(ratio, 3),
        "games_per_pair": args.games,
        "budgets": budgets,
        "openings": args.openings,
        "seed": args.seed,
        "ladders": ladders,
    }
    result["machine"] = machine()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"ladder_{args.game}.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
