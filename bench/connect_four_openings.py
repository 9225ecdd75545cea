"""``python -m bench.connect_four_openings``: the exact value of every Connect Four position after
two plies (7 x 7 openings), by games.solver, for the first player (who is to move there), with the
CPU seconds each solve took. Each position is solved in a fresh process under a CPU-time limit
(``--limit``; past it the position is recorded as unsolved). The left-right mirror of a position
has its value, so by default only the 25 openings whose first move is left of the centre, or in
it with the second move not right of it, are solved and the other 24 are copied from their
mirrors (``--all`` solves all 49). Writes one JSON file (``--out``) and checks the values against
the known 1-ply values (Allis 1988; Tromp): the first player wins after the centre column only,
draws after its neighbours and loses after the other four."""

from __future__ import annotations

import argparse
import json
import resource
import signal
import subprocess
import sys
import time

from games.connect_four import COLUMNS

ONE_PLY_VALUES = (-1, -1, 0, 1, 0, -1, -1)  # for the first player, by the first move's column

CHILD = """
import json, sys, time
from games import make_game
from games.solver import Solver
game = make_game("connect_four")
solver = Solver(game)
solver.value(game.state_from_moves("4444443"))  # compiles (or loads) the search first
state = game.state_from_moves(sys.argv[1])
start = time.process_time()
value = solver.value(state)
print(json.dumps({"value": value, "cpu_s": round(time.process_time() - start, 2),
                  "positions_visited": solver.nodes}))
"""


def solve_in_child(moves: str, limit: float) -> dict:
    """The first player's value after ``moves`` (the player to move there), or an unsolved mark
    when the child's CPU time ran past ``limit`` seconds."""

    def limit_cpu() -> None:
        seconds = int(limit) + 15  # import and compilation come on top of the solve
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 5))

    command = [sys.executable, "-c", CHILD, moves]
    done = subprocess.run(command, capture_output=True, text=True, preexec_fn=limit_cpu)
    if done.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        return {"value": None, "unsolved_after_cpu_s": limit}
    if done.returncode != 0:
        raise RuntimeError(f"solving {moves} failed:\n{done.stderr}")
    return json.loads(done.stdout)


def mirrored(opening: str) -> str:
    return "".join(str(COLUMNS + 1 - int(digit)) for digit in opening)


def inconsistencies(values: dict[str, int | None]) -> list[str]:
    """How the 2-ply values contradict the 1-ply ones, given negamax: a first-player win after
    column c needs every reply to keep it a win; a draw, no reply losing for the first player and
    one drawing; a loss, one reply making it a loss. Unsolved openings are given the benefit of
    the doubt."""
    problems = []
    for first in range(COLUMNS):
        replies = [values[f"{first + 1}{second + 1}"] for second in range(COLUMNS)]
        known = [value for value in replies if value is not None]
        expected = ONE_PLY_VALUES[first]
        unsolved = len(known) < len(replies)
        if expected == 1 and any(value != 1 for value in known):
            problems.append(f"column {first + 1}: a win, but a reply does not lose for player 2")
        if expected == 0 and (any(v == -1 for v in known) or (0 not in known and not unsolved)):
            problems.append(f"column {first + 1}: a draw, but no reply draws or one wins for 2")
        if expected == -1 and -1 not in known and not unsolved:
            problems.append(f"column {first + 1}: a loss, but no reply wins for player 2")
    return problems


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.connect_four_openings", description=__doc__
    )
    parser.add_argument("--limit", type=float, default=180.0, help="CPU seconds per position")
    parser.add_argument("--all", action="store_true", help="solve mirrored openings too")
    parser.add_argument("--budget", type=float, default=None, help="wall seconds for all (none)")
    parser.add_argument(
        "--done", default=None, help="this command's printed lines from an earlier run: reused"
    )
    parser.add_argument("--out", default="docs/results/connect4_2ply_values.json")
    args = parser.parse_args(argv)
    started = time.time()
    done: dict[str, dict] = {}
    if args.done:
        with open(args.done) as file:
            lines = [json.loads(line) for line in file if line.startswith('{"opening"')]
        done = {line.pop("opening"): line for line in lines if "mirror_of" not in line}
    openings: dict[str, dict] = {}
    for first in range(1, COLUMNS + 1):
        for second in range(1, COLUMNS + 1):
            opening = f"{first}{second}"
            if not args.all and mirrored(opening) in openings:
                openings[opening] = {"value": None, "mirror_of": mirrored(opening)}
            elif opening in done:
                openings[opening] = done[opening]
            elif args.budget is not None and time.time() - started > args.budget:
                openings[opening] = {"value": None, "not_attempted": True}
            else:
                openings[opening] = solve_in_child(opening, args.limit)
            print(json.dumps({"opening": opening} | openings[opening]), flush=True)
    for result in openings.values():
        if "mirror_of" in result:
            result["value"] = openings[result["mirror_of"]]["value"]
    values = {opening: result["value"] for opening, result in openings.items()}
    problems = inconsistencies(values)
    for opening, result in openings.items():
        if result["value"] is None and ONE_PLY_VALUES[int(opening[0]) - 1] == 1:
            # Negamax: a first-player win after the first move is a win after every reply.
            result["implied"] = 1
    record = {
        "command": "python -m bench.connect_four_openings " + " ".join(argv or sys.argv[1:]),
        "what": "value for the first player (to move after the two plies): 1 win, 0 draw, "
        "-1 loss, null unsolved (then 'implied' is the value the known 1-ply win implies, where it "
        "implies one); keys are the two moves as move text (columns 1..7); cpu_s "
        "is the solve's CPU time in a fresh process (table empty, compilation excluded)",
        "wall_s": round(time.time() - started, 1),
        "one_ply_check": problems or "consistent",
        "openings": openings,
    }
    with open(args.out, "w") as file:
        json.dump(record, file, indent=1)
        file.write("\n")
    print(json.dumps({"one_ply_check": record["one_ply_check"], "wall_s": record["wall_s"]}))


if __name__ == "__main__":
    main()
