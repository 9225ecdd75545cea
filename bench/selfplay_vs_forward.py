"""Self-play with the Connect Four recipe (configs/connect4.yaml: its net, Gumbel search and
games per worker) on one core, against the raw forward of the same net at the same batch size.

The ceiling: a worker can play no faster than its net evaluates, so positions/s <= (raw batched
forward evaluations/s) / (evaluations per position), the raw forward run on batches of the sizes
self-play's forwards had (recorded over about a game's length of moves). The figure is
self-play's positions/s over that ceiling (goal >= 0.8); the share of self-play's time spent
inside the evaluator is reported beside it. Both are measured in alternating rounds in this process.

    python -m bench.selfplay_vs_forward [--quick]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from bench.common import interleaved_rates, parse_arguments, report

RECIPE = Path(__file__).parents[1] / "configs" / "connect4.yaml"
MOVES_RECORDED = 30  # Connect Four games of the recipe last about 28 moves


class _BatchCounter:
    """A PolicyValueFn that passes calls through, counts calls and rows, and records the size
    of each batch while ``sizes`` is a list."""

    def __init__(self, evaluate):  # noqa: ANN001
        self.evaluate, self.calls, self.rows = evaluate, 0, 0
        self.sizes: list[int] | None = None

    def __call__(self, observations: np.ndarray, masks: np.ndarray):  # noqa: ANN204
        self.calls += 1
        self.rows += len(observations)
        if self.sizes is not None:
            self.sizes.append(len(observations))
        return self.evaluate(observations, masks)


def recipe_worker(overrides: tuple[str, ...] = (), seed: int = 0) -> tuple:
    """(config, game, evaluator, batch counter, worker): a self-play worker of the recipe on one
    torch thread, as a training run's worker process builds it, its kernels compiled."""
    import torch

    from experiment.config import load_config
    from selfplay.actors import make_evaluator
    from selfplay.config import TrainConfig
    from selfplay.worker import SelfPlayWorker

    torch.set_num_threads(1)
    config = load_config(TrainConfig, RECIPE, overrides)
    game = config.game.make()
    evaluator = make_evaluator(config, "cpu", threads=1)
    counter = _BatchCounter(evaluator.evaluate)
    worker = SelfPlayWorker(game, counter, config.search, config.selfplay, seed=seed)
    worker.play(1)  # compile the search kernels outside the clock
    return config, game, evaluator, counter, worker


def measure(rounds: int, seconds: float, overrides: tuple[str, ...] = ()) -> dict:
    import torch

    config, game, evaluator, counter, worker = recipe_worker(overrides)

    def selfplay() -> int:
        worker.play(1)
        return len(worker.games)

    # The raw forward: what the same evaluator runs, without search, softmax or copies, on
    # batches of the sizes self-play's forwards had, in their order, recorded over about one
    # game's length of moves (games end and restart at different moves, and terminal leaves need
    # no forward, so most batches hold fewer rows than there are games).
    counter.sizes = []
    for _ in range(MOVES_RECORDED):
        worker.play(1)
    sizes, counter.sizes = counter.sizes, None
    positions = np.stack([worker.games[i % len(worker.games)].state for i in range(max(sizes))])
    inputs = torch.from_numpy(game.observations(positions)).contiguous(
        memory_format=evaluator.memory_format
    )

    def forward() -> int:
        with torch.inference_mode():
            for size in sizes:
                evaluator.forward(inputs[:size])
        return sum(sizes)

    before = worker.stats.moves, worker.stats.seconds, worker.stats.forward_seconds
    calls_before, rows_before = counter.calls, counter.rows
    rates = interleaved_rates({"selfplay": selfplay, "forward": forward}, rounds, seconds)
    moves = worker.stats.moves - before[0]
    evaluations_per_position = (counter.rows - rows_before) / moves
    forward_share = (worker.stats.forward_seconds - before[2]) / (worker.stats.seconds - before[1])
    ceiling = rates["forward"] / evaluations_per_position
    return {
        "positions_per_s": round(rates["selfplay"], 1),
        "forward_evaluations_per_s": round(rates["forward"]),
        "ceiling_positions_per_s": round(ceiling, 1),
        "ratio": round(rates["selfplay"] / ceiling, 3),
        "forward_share_of_selfplay_time": round(forward_share, 3),
        "evaluations_per_position": round(evaluations_per_position, 2),
        "mean_forward_batch": round((counter.rows - rows_before) / (counter.calls - calls_before)),
        "raw_forward_batches": f"{len(sizes)} recorded sizes, mean {np.mean(sizes):.0f}",
        "network": f"{config.network.blocks}x{config.network.channels}",
        "search": f"{config.search.rule}, {config.search.simulations} simulations",
        "games_per_worker": config.selfplay.games_per_worker,
        "channels_last": config.inference.channels_last,
        "compile": config.inference.compile,
    }


def main(argv: list[str] | None = None) -> dict:
    def overrides(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("overrides", nargs="*", help="dotted overrides of the recipe")

    args = parse_arguments(__doc__, argv, overrides)
    rounds, seconds = (2, 1.0) if args.quick else (5, 4.0)
    start = time.perf_counter()
    result = measure(rounds, seconds, tuple(args.overrides))
    result["seconds"] = round(time.perf_counter() - start, 1)
    line = (
        f"{result['positions_per_s']:,.0f} positions/s, forward ceiling "
        f"{result['ceiling_positions_per_s']:,.0f} positions/s, forward "
        f"{result['forward_share_of_selfplay_time']:.0%} of the time, ratio={result['ratio']:.2f}"
    )
    return report("selfplay_vs_forward", result, line)


if __name__ == "__main__":
    main()
