"""Ray scaling of self-play on this machine: two self-play worker actors against one.

Each actor is the Connect Four recipe's worker (configs/connect4.yaml, one torch thread, one
CPU reserved), as a training run starts it. In alternating rounds one actor plays alone for a
while, then both play at once; the figure is the median over rounds of the positions/s of both
over one's (goal >= 1.7x on two cores). Each actor times its own play, so Ray's start-up and
calls are outside the clock.

Beside it, in the same rounds, the same two actors run only the raw forward of the recipe's net
(a batch of the recipe's games, no search): what two of this machine's cores give work that
shares no data and takes no lock (memory bandwidth, caches and the virtual CPUs' clock are
shared), the ceiling for self-play's scaling here.

    python -m bench.ray_scaling [--quick]
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

from bench.common import parse_arguments, report


class Player:
    """A recipe worker that plays for a given time and says how many positions it played."""

    def __init__(self, seed: int):
        import torch

        from bench.selfplay_vs_forward import recipe_worker

        _, game, evaluator, _, self.worker = recipe_worker(seed=seed)
        positions = np.stack([played.state for played in self.worker.games])
        self.inputs = torch.from_numpy(game.observations(positions)).contiguous(
            memory_format=evaluator.memory_format
        )
        self.evaluator = evaluator

    def play_for(self, seconds: float) -> tuple[int, float]:
        """(positions played, seconds taken): whole moves of all games until ``seconds``."""
        positions, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            self.worker.play(1)
            positions += len(self.worker.games)
        return positions, time.perf_counter() - start

    def forward_for(self, seconds: float) -> tuple[int, float]:
        """(evaluations, seconds taken): raw forwards of the games' batch until ``seconds``."""
        import torch

        evaluations, start = 0, time.perf_counter()
        with torch.inference_mode():
            while time.perf_counter() - start < seconds:
                self.evaluator.forward(self.inputs)
                evaluations += len(self.inputs)
        return evaluations, time.perf_counter() - start


def _scaling(players: list, method: str, seconds: float) -> tuple[float, float]:
    """(rate of the first player alone, summed rate of both at once) of one round of
    ``method``."""
    import ray

    count, elapsed = ray.get(getattr(players[0], method).remote(seconds))
    both = ray.get([getattr(player, method).remote(seconds) for player in players])
    return count / elapsed, sum(count / elapsed for count, elapsed in both)


def measure(rounds: int, seconds: float) -> dict:
    import ray

    from experiment.cluster import start_ray

    started = start_ray(2, 200 * 1024 * 1024)
    try:
        actor: Any = ray.remote(num_cpus=1)(Player)  # Ray's stubs lack .remote
        players: list[Any] = [actor.remote(seed) for seed in (1, 2)]
        ray.get([player.play_for.remote(0.0) for player in players])  # built and compiled
        rounds_of: dict[str, list[tuple[float, float]]] = {"play_for": [], "forward_for": []}
        for _ in range(rounds):
            for method, results in rounds_of.items():
                results.append(_scaling(players, method, seconds))
    finally:
        if started:
            ray.shutdown()
    # Each round's ratio pairs the two rates measured seconds apart; the figure is their median,
    # which a change in the machine's speed between rounds (other tenants) moves less.
    (one, two, scaling), (forward_one, forward_two, forward_scaling) = (
        (
            statistics.median(alone for alone, _ in results),
            statistics.median(both for _, both in results),
            [both / alone for alone, both in results],
        )
        for results in rounds_of.values()
    )
    ratio, forward_ratio = statistics.median(scaling), statistics.median(forward_scaling)
    return {
        "one_worker_positions_per_s": round(one, 1),
        "two_workers_positions_per_s": round(two, 1),
        "ratio": round(ratio, 3),
        "ratio_per_round": [round(x, 3) for x in scaling],
        "raw_forward_one_per_s": round(forward_one),
        "raw_forward_two_per_s": round(forward_two),
        "raw_forward_scaling": round(forward_ratio, 3),
        "raw_forward_scaling_per_round": [round(x, 3) for x in forward_scaling],
        "share_of_the_forward_scaling": round(ratio / forward_ratio, 3),
        "rounds": rounds,
        "seconds_per_round": seconds,
    }


def main(argv: list[str] | None = None) -> dict:
    args = parse_arguments(__doc__, argv)
    rounds, seconds = (2, 2.0) if args.quick else (5, 6.0)
    result = measure(rounds, seconds)
    line = (
        f"1 worker {result['one_worker_positions_per_s']:,.0f} positions/s, 2 workers "
        f"{result['two_workers_positions_per_s']:,.0f} positions/s (the raw forward scales "
        f"{result['raw_forward_scaling']:.2f}x on the same cores), ratio={result['ratio']:.2f}"
    )
    return report("ray_scaling", result, line)


if __name__ == "__main__":
    main()
