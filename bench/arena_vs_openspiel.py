"""Tournaments: ``ponder arena``'s games per second for ``mcts:N`` pairs against OpenSpiel's C++
``MCTSBot`` playing the same matches one after another.

ponder: ``tradeoff.tournament.run_tournament`` on Connect Four, every pair of the agents
playing both colours from seeded random openings, in this process and on two Ray workers (the
Ray figure includes starting Ray, as a user of ``ponder arena --workers 2`` waits for it).
OpenSpiel: for every game ponder played, the same opening and the same two budgets, two
``MCTSBot`` (UCT c = 2, one random rollout, solver on as ``mcts:N`` has it) on one core. The
figure is ponder in-process over OpenSpiel (goal >= 4x).

    python -m bench.arena_vs_openspiel [--quick]
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from bench.common import parse_arguments, report


def ponder_games(agents: list[str], games: int, workers: int, seed: int) -> tuple[list, float]:
    """(match records, wall seconds) of one ``run_tournament`` over all pairs of ``agents``."""
    from games import make_game
    from tradeoff.tournament import TournamentConfig, run_tournament

    game = make_game("connect_four")
    config = TournamentConfig(games=games, openings=2, seed=seed, workers=workers)
    with tempfile.TemporaryDirectory() as directory:
        start = time.perf_counter()
        records = run_tournament(
            game, agents, Path(directory) / "record.jsonl", config, 100, show_progress=False
        )
        return records, time.perf_counter() - start


def openspiel_games(records: list, seed: int = 0) -> float:
    """Wall seconds for OpenSpiel's MCTSBot to play the games of ``records`` from their openings
    with the same budgets, one after another."""
    import pyspiel

    game = pyspiel.load_game("connect_four")
    bots = {}

    def bot(spec: str):  # noqa: ANN202
        if spec not in bots:
            simulations = int(spec.removeprefix("mcts:"))
            evaluator = pyspiel.RandomRolloutEvaluator(1, seed)
            bots[spec] = pyspiel.MCTSBot(
                game, evaluator, 2.0, simulations, 10**6, True, seed, False
            )
        return bots[spec]

    start = time.perf_counter()
    for record in records:
        state = game.new_initial_state()
        for action in record.opening:
            state.apply_action(action)
        while not state.is_terminal():
            state.apply_action(bot(record.players[state.current_player()]).step(state))
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict:
    args = parse_arguments(__doc__, argv)
    agents = ["mcts:50", "mcts:200"] if args.quick else ["mcts:50", "mcts:200", "mcts:800"]
    games = 8 if args.quick else 32
    ponder_games(agents[:2], 2, 1, seed=99)  # compile the kernels outside the clock
    # Alternating rounds, the median of each side: a shared machine's load falls on both.
    ponder_seconds, openspiel_seconds = [], []
    for _ in range(1 if args.quick else 3):
        records, seconds = ponder_games(agents, games, 1, seed=0)
        ponder_seconds.append(seconds)
        openspiel_seconds.append(openspiel_games(records))
    ours, theirs = statistics.median(ponder_seconds), statistics.median(openspiel_seconds)
    _, ray_seconds = ponder_games(agents, games, 2, seed=0)
    count = len(records)
    result = {
        "agents": agents,
        "games": count,
        "ponder_games_per_s": round(count / ours, 3),
        "ponder_ray_2_workers_games_per_s": round(count / ray_seconds, 3),
        "openspiel_games_per_s": round(count / theirs, 3),
        "ratio": round(theirs / ours, 2),
        "ray_ratio": round(theirs / ray_seconds, 2),
    }
    line = (
        f"ponder {count / ours:.2f} games/s in-process, {count / ray_seconds:.2f} on 2 Ray "
        f"workers, openspiel {count / theirs:.2f} games/s, ratio={theirs / ours:.2f}"
    )
    return report("arena_vs_openspiel", result, line)


if __name__ == "__main__":
    main()
