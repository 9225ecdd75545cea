"""Classic MCTS throughput: ponder's batched search against OpenSpiel's C++ ``MCTSBot``.

Like with like: UCT with c = 2, one uniformly random rollout per new leaf, 800 simulations per
move, self-play from the initial position, both on one core in the same run. ponder plays many
games in lockstep (one compiled call per simulation step for the whole batch); OpenSpiel plays
its games one after the other. The two alternate in rounds (bench.common), so that a shared
machine's load falls on both. A first line per game reports ponder on two processes (2-core
scaling), which is not part of the ratio.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.common import interleaved_rates, machine

RESULTS = Path(__file__).parent / "results"
SIMULATIONS = 800


def openspiel_games(name: str, params: dict, seed: int = 0) -> Callable[[], int]:
    """A self-play game of OpenSpiel's MCTSBot (the anchor's configuration) per call; returns
    the simulations it ran."""
    import pyspiel

    game = pyspiel.load_game(name, params)
    bot = pyspiel.MCTSBot(
        game, pyspiel.RandomRolloutEvaluator(1, seed), 2.0, SIMULATIONS, 10**6, False, seed, False
    )

    def play() -> int:
        moves, state = 0, game.new_initial_state()
        while not state.is_terminal():
            state.apply_action(bot.step(state))
            moves += 1
        return moves * SIMULATIONS

    return play


def ponder_moves(name: str, params: dict, batch: int, seed: int = 0) -> Callable[[], int]:
    """One move of ``batch`` self-play games in lockstep per call (each finished game replaced
    by a new one), by ponder's classic MCTS; returns the simulations it ran. Compiled before
    it returns."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from games import make_game
    from search.core import Search
    from search.expanders import GameExpander
    from search.rules import Uct

    game = make_game(name, **params)
    # No proven values: the anchor runs MCTSBot with solve=False, and a solved root would stop
    # spending the simulations this counts.
    search = Search(GameExpander(game, "rollout"), Uct(2.0, solve=False), SIMULATIONS)
    states = np.stack([game.initial_state()] * batch)
    search.run(states[:2], [seed, seed + 1])  # compile outside the clock
    steps = iter(range(10**9))

    def play() -> int:
        step = next(steps)
        result = search.run(states, seed * 10**9 + step * batch + np.arange(batch))
        for i, action in enumerate(result.chosen):
            states[i] = game.apply(states[i], int(action))
            if game.is_terminal(states[i]):
                states[i] = game.initial_state()
        return batch * SIMULATIONS

    return play


def ponder_rate(name: str, params: dict, batch: int, moves: int, seed: int = 0) -> float:
    """Simulations per second of ponder's classic MCTS over ``moves`` moves (``ponder_moves``)."""
    play = ponder_moves(name, params, batch, seed)
    simulations, start = 0, time.perf_counter()
    while simulations < moves * SIMULATIONS:
        simulations += play()
    return simulations / (time.perf_counter() - start)


def _ponder_worker(args: tuple[str, dict, int, int, int]) -> float:
    return ponder_rate(*args)


def run(name: str, params: dict, batch: int, moves: int, rounds: int, seconds: float) -> dict:
    """Both sides in ``rounds`` alternating rounds of ``seconds`` each (the ratio of the medians:
    the load of a shared machine falls on both), then ponder alone on two processes."""
    label = name if not params else f"{name}{params['board_size']}"
    works = {
        "ponder": ponder_moves(name, params, batch),
        "openspiel": openspiel_games(name, params),
    }
    rates = interleaved_rates(works, rounds, seconds)
    ours, theirs = rates["ponder"], rates["openspiel"]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        jobs = [(name, params, batch, moves, seed) for seed in (1, 2)]
        two_cores = sum(pool.map(_ponder_worker, jobs))
    result = {
        "benchmark": f"mcts_{label}",
        "ponder_sims_per_s": round(ours),
        "openspiel_sims_per_s": round(theirs),
        "ratio": round(ours / theirs, 2),
        "ponder_2_processes_sims_per_s": round(two_cores),
        "two_core_scaling": round(two_cores / ours, 2),
        "simulations_per_move": SIMULATIONS,
        "ponder_batch": batch,
        "rounds": rounds,
        "seconds_per_round": seconds,
    }
    print(
        f"mcts_{label}_2cores: ponder on 2 processes {two_cores:,.0f} sims/s, "
        f"scaling={two_cores / ours:.2f}x over one",
        flush=True,
    )
    print(
        f"mcts_{label}: ponder {ours:,.0f} sims/s, openspiel {theirs:,.0f} sims/s, "
        f"ratio={ours / theirs:.2f}",
        flush=True,
    )
    result["machine"] = machine()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"mcts_{label}.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    scale = 4 if args.quick else 1
    rounds, seconds = (2, 1.5) if args.quick else (5, 4.0)
    run("connect_four", {}, 128, 2048 // scale, rounds, seconds)
    run("hex", {"board_size": 9}, 64, 1024 // scale, rounds, seconds)


if __name__ == "__main__":
    main()
