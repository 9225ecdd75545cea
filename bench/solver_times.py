"""``python -m bench.solver_times``: how long games.solver takes to solve each game from the empty
board in a fresh process (numba compilation included, as a user's first call pays it), next to
OpenSpiel's MinimaxSolver (a full table in Python) on the games it solves in seconds, and whether
Hex 5x5 solves within a time limit. Prints one JSON line per game."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

# Runs in a child process, so compilation and an empty table are part of what it measures.
CHILD = """
import json, sys, time
start = time.perf_counter()
from games import make_game
import games.solver
from games.solver import Solver
name, size = sys.argv[1], int(sys.argv[2])
games.solver.HEX_SIZES = (3, 4, 5)  # lets Hex 5x5 be tried
game = make_game(name, **({"board_size": size} if name == "hex" else {}))
solver = Solver(game)
warm = game.state_from_moves(game.parse_moves(sys.argv[3])) if sys.argv[3] else None
if warm is not None:
    solver.value(warm)  # compiles negamax on a position that solves at once
compiled = time.perf_counter()
value = solver.value(game.initial_state())
solved = time.perf_counter()
optimal = solver.optimal_moves(game.initial_state())
print(json.dumps({
    "import_and_compile_s": round(compiled - start, 2), "value_s": round(solved - compiled, 3),
    "move_values_s": round(time.perf_counter() - solved, 3), "value": value,
    "optimal": [game.action_to_text(a) for a in optimal], "positions_visited": solver.nodes,
    "table_entries": solver.used,
}))
"""


def near_end_moves(name: str, size: int) -> str:
    """A position a move from the end, to compile the search on before the timed solve."""
    if name == "tic_tac_toe":
        return "1425"
    # Player 0 one move short of joining top and bottom down column a.
    return " ".join(f"a{row + 1} b{row + 1}" for row in range(size - 1))


def solve_in_child(name: str, size: int, limit: float) -> dict:
    command = [sys.executable, "-c", CHILD, name, str(size), near_end_moves(name, size)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=limit, check=True)
    except subprocess.TimeoutExpired:
        return {"unsolved_after_s": limit}
    return json.loads(done.stdout)


def openspiel_seconds(spiel_name: str) -> float:
    from open_spiel.python.algorithms.minimax_solver import MinimaxSolver

    start = time.perf_counter()
    MinimaxSolver(spiel_name).solve()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.solver_times", description=__doc__)
    parser.add_argument("--limit", type=float, default=300.0, help="seconds per game (300)")
    parser.add_argument("--hex5", action="store_true", help="also try Hex 5x5 (up to --limit)")
    args = parser.parse_args(argv)
    cases = [("tic_tac_toe", 3, "tic_tac_toe"), ("hex", 3, "hex(board_size=3)"), ("hex", 4, None)]
    if args.hex5:
        cases.append(("hex", 5, None))
    for name, size, spiel_name in cases:
        line: dict = {"game": name if name != "hex" else f"hex {size}x{size}"}
        line |= solve_in_child(name, size, args.limit)
        if spiel_name is not None:
            line["openspiel_minimax_solver_s"] = round(openspiel_seconds(spiel_name), 3)
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
