"""`python -m bench` (what `make bench` runs): every benchmark, one line each, JSON in results/."""

from __future__ import annotations

import argparse

from bench import ladder_vs_openspiel, mcts_vs_openspiel, playouts_vs_openspiel


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer games, for a smoke check")
    args = parser.parse_args()
    mcts_vs_openspiel.main(["--quick"] if args.quick else [])
    playouts_vs_openspiel.main(["--playouts", "2000"] if args.quick else [])
    ladder_vs_openspiel.main(["--quick"] if args.quick else [])


if __name__ == "__main__":
    main()
