"""Random playouts: ponder's rules against OpenSpiel's, for agreement and for speed.

Agreement: N random games per game, the moves drawn by ponder's compiled kernels and replayed in
pyspiel; at every ply the legal actions, the terminal flag, the player to move and (at the end)
the returns must agree. A game counts as agreeing only if every ply did.

Speed, both on one core in this run: ponder's ``rollout`` kernel (a compiled loop over playouts
from the initial position) against OpenSpiel's C++ ``RandomRolloutEvaluator`` (N rollouts from
the root inside one ``MCTSBot.mcts_search`` with one simulation), the evaluator OpenSpiel's
``MCTSBot`` uses. Both report the first player's mean outcome as a check.

    python -m bench.playouts_vs_openspiel [--playouts 100000]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numba
import numpy as np

from bench.common import machine
from games import make_game
from games.base import KernelGame
from games.random import GOLDEN_GAMMA, bounded, mix, seed_states

RESULTS = Path(__file__).parent / "results"
GAMES = [
    ("tic_tac_toe", {}),
    ("connect_four", {}),
    ("hex", {"board_size": 5}),
    ("hex", {"board_size": 7}),
    ("hex", {"board_size": 9}),
    ("hex", {"board_size": 11}),
]
CHUNK = 1000  # games recorded per compiled call (bounds the (games, plies, actions) mask array)


# Not cached: specialised on the game's kernels, passed as first-class functions.
@numba.njit
def record_random_games(apply_into, legal_into, status, initial, rng_state, masks, moves, values):  # noqa: ANN001
    """Play ``len(moves)`` uniformly random games; record per ply the legal mask (games, plies,
    actions), the move (-1 once over) and the status value at the end (games,). Returns the
    number of plies per game."""
    games, plies = moves.shape
    lengths = np.zeros(games, np.int64)
    state = initial.copy()
    child = initial.copy()
    for g in range(games):
        state[:] = initial
        for ply in range(plies):
            count = legal_into(state, masks[g, ply])
            if count == 0:
                values[g] = status(state)[1]
                lengths[g] = ply
                break
            counter = rng_state[0] + GOLDEN_GAMMA
            rng_state[0] = counter
            pick = bounded(mix(counter), count)
            for action in range(masks.shape[2]):
                if masks[g, ply, action]:
                    if pick == 0:
                        moves[g, ply] = action
                        break
                    pick -= 1
            apply_into(state, moves[g, ply], child)
            state[:] = child
    return lengths


def differential(game: KernelGame, params: dict, playouts: int, seed: int = 0) -> dict:
    """Replay ``playouts`` random games of ours in pyspiel; count the games that agree fully."""
    import pyspiel

    reference = pyspiel.load_game(game.name, params)
    rng_state = seed_states([seed])
    plies = game.max_game_length + 1
    agreed = total_plies = 0
    kernels = game.kernels
    start = time.perf_counter()
    for first in range(0, playouts, CHUNK):
        count = min(CHUNK, playouts - first)
        masks = np.zeros((count, plies, game.num_actions), np.bool_)
        moves = np.full((count, plies), -1, np.int64)
        values = np.zeros(count)
        lengths = record_random_games(
            kernels.apply_into, kernels.legal_into, kernels.status,
            game.initial_state(), rng_state, masks, moves, values,
        )  # fmt: skip
        for g in range(count):
            state, ok = reference.new_initial_state(), True
            for ply in range(lengths[g]):
                if (
                    state.is_terminal()
                    or state.current_player() != ply % 2
                    or state.legal_actions() != np.flatnonzero(masks[g, ply]).tolist()
                ):
                    ok = False
                    break
                state.apply_action(int(moves[g, ply]))
            if ok:
                # At the end: terminal, no legal moves, and the returns (value for the mover).
                mover = lengths[g] % 2
                expected = [0.0, 0.0]
                if values[g] != 0.0:
                    expected[mover], expected[1 - mover] = float(values[g]), -float(values[g])
                ok = state.is_terminal() and state.returns() == expected
            agreed += ok
            total_plies += lengths[g]
    return {
        "agreed": agreed,
        "playouts": playouts,
        "plies": int(total_plies),
        "seconds": time.perf_counter() - start,
    }


def ponder_rollouts_per_second(game: KernelGame, rollouts: int) -> tuple[float, float]:
    """Rollouts per second of ``game.kernels.rollout`` from the initial position, and the first
    player's mean outcome."""

    rollout = game.kernels.rollout

    @numba.njit
    def many(state, rng_state, count):  # noqa: ANN001
        total = 0.0
        for _ in range(count):
            total += rollout(state, rng_state, 0)
        return total

    state, rng_state = game.initial_state(), seed_states([1])
    many(state, rng_state, 10)  # compile outside the clock
    start = time.perf_counter()
    total = many(state, rng_state, rollouts)
    return rollouts / (time.perf_counter() - start), total / rollouts


def openspiel_rollouts_per_second(name: str, params: dict, rollouts: int) -> tuple[float, float]:
    """The same for OpenSpiel's C++ RandomRolloutEvaluator (one search, one simulation)."""
    import pyspiel

    game = pyspiel.load_game(name, params)
    evaluator = pyspiel.RandomRolloutEvaluator(rollouts, 1)
    bot = pyspiel.MCTSBot(game, evaluator, 2.0, 1, 10**6, False, 1, False)
    start = time.perf_counter()
    root = bot.mcts_search(game.new_initial_state())
    elapsed = time.perf_counter() - start
    # The evaluator averages its rollouts, so the root's single visit holds the mean outcome
    # for player 0 (the root's value is seen by the player who moved into the first child).
    return rollouts / elapsed, root.total_reward / root.explore_count


def run(name: str, params: dict, playouts: int, rollouts: int) -> dict:
    label = name if not params else f"{name}{params['board_size']}"
    game = make_game(name, **params)
    assert isinstance(game, KernelGame), f"{name} has no numba kernels to time"
    check = differential(game, params, playouts)
    ours, our_mean = ponder_rollouts_per_second(game, rollouts)
    theirs, their_mean = openspiel_rollouts_per_second(name, params, max(rollouts // 20, 1000))
    result = {
        "benchmark": f"playouts_{label}",
        "agreed": check["agreed"],
        "playouts": playouts,
        "plies_checked": check["plies"],
        "ponder_rollouts_per_s": round(ours),
        "openspiel_rollouts_per_s": round(theirs),
        "ratio": round(ours / theirs, 2),
        "ponder_first_player_mean": round(our_mean, 4),
        "openspiel_first_player_mean": round(their_mean, 4),
    }
    print(
        f"playouts_{label}: {check['agreed']}/{playouts} random games agree with OpenSpiel "
        f"({check['plies']:,} plies, {check['seconds']:.0f} s); rollouts/s ponder {ours:,.0f}, "
        f"openspiel C++ {theirs:,.0f}, ratio={ours / theirs:.1f}; first-player mean "
        f"{our_mean:+.3f} vs {their_mean:+.3f}",
        flush=True,
    )
    result["machine"] = machine()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"playouts_{label}.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--playouts", type=int, default=100_000, help="differential games per game")
    parser.add_argument(
        "--rollouts", type=int, default=1_000_000, help="rollouts timed per game (ours)"
    )
    args = parser.parse_args(argv)
    failures = 0
    for name, params in GAMES:
        result = run(name, params, args.playouts, args.rollouts)
        failures += result["playouts"] - result["agreed"]
    if failures:
        raise SystemExit(f"{failures} random games disagreed with OpenSpiel")


if __name__ == "__main__":
    main()
