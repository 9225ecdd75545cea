"""`python -m bench` (what `make bench` runs): every CPU benchmark, one line each ending in its
ratio, JSON with the machine's description in results/. The GPU script (``bench.gpu``) runs apart,
on a GPU machine."""

from __future__ import annotations

import argparse

from bench import (
    arena_vs_openspiel,
    forward_cpu,
    ladder_vs_openspiel,
    mcts_vs_openspiel,
    memory,
    playouts_vs_openspiel,
    ray_scaling,
    reasoning_search,
    selfplay_vs_forward,
)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer games, for a smoke check")
    args = parser.parse_args()
    quick = ["--quick"] if args.quick else []
    mcts_vs_openspiel.main(quick)
    playouts_vs_openspiel.main(["--playouts", "2000"] if args.quick else [])
    ladder_vs_openspiel.main(quick)
    for benchmark in (
        forward_cpu, selfplay_vs_forward, ray_scaling, arena_vs_openspiel, reasoning_search,
        memory,
    ):  # fmt: skip
        benchmark.main(quick)


if __name__ == "__main__":
    main()
