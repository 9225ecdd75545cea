"""Ray scaling of self-play on this machine: two self-play worker actors against one.

Each actor is the Connect Four recipe's worker (configs/connect4.yaml, one torch thread, one
CPU reserved), as a training run starts it. In alternating rounds one actor plays alone for a
while, then both play at once; the figure is the positions/s of both over one's (goal >= 1.7x on
two cores). Each actor times its own play, so Ray's start-up and calls are outside the clock.

    python -m bench.ray_scaling [--quick]
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from bench.common import parse_arguments, report


class Player:
    """A recipe worker that plays for a given time and says how many positions it played."""

    def __init__(self, seed: int):
        from bench.selfplay_vs_forward import recipe_worker

        self.worker = recipe_worker(seed=seed)[-1]

    def play_for(self, seconds: float) -> tuple[int, float]:
        """(positions played, seconds taken): whole moves of all games until ``seconds``."""
        positions, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            self.worker.play(1)
            positions += len(self.worker.games)
        return positions, time.perf_counter() - start


def measure(rounds: int, seconds: float) -> dict:
    import ray

    from experiment.cluster import start_ray

    started = start_ray(2, 200 * 1024 * 1024)
    try:
        actor: Any = ray.remote(num_cpus=1)(Player)  # Ray's stubs lack .remote
        players: list[Any] = [actor.remote(seed) for seed in (1, 2)]
        ray.get([player.play_for.remote(0.0) for player in players])  # built and compiled
        one, two = [], []
        for _ in range(rounds):
            positions, elapsed = ray.get(players[0].play_for.remote(seconds))
            one.append(positions / elapsed)
            both = ray.get([player.play_for.remote(seconds) for player in players])
            two.append(sum(positions / elapsed for positions, elapsed in both))
    finally:
        if started:
            ray.shutdown()
    one_rate, two_rate = statistics.median(one), statistics.median(two)
    return {
        "one_worker_positions_per_s": round(one_rate, 1),
        "two_workers_positions_per_s": round(two_rate, 1),
        "ratio": round(two_rate / one_rate, 3),
        "rounds": rounds,
        "seconds_per_round": seconds,
    }


def main(argv: list[str] | None = None) -> dict:
    args = parse_arguments(__doc__, argv)
    rounds, seconds = (2, 2.0) if args.quick else (5, 6.0)
    result = measure(rounds, seconds)
    line = (
        f"1 worker {result['one_worker_positions_per_s']:,.0f} positions/s, 2 workers "
        f"{result['two_workers_positions_per_s']:,.0f} positions/s, ratio={result['ratio']:.2f}"
    )
    return report("ray_scaling", result, line)


if __name__ == "__main__":
    main()
