"""Self-play with the Connect Four recipe (configs/connect4.yaml: its net, Gumbel search and
games per worker) on one core, against the raw forward of the same net at the same batch size.

The ceiling: a worker can play no faster than its net evaluates, so positions/s <= (raw batched
forward evaluations/s) / (evaluations per position). The figure is self-play's positions/s over
that ceiling (goal >= 0.8); the share of self-play's time spent inside the evaluator is
reported beside it. Both are measured in alternating rounds in this process.

    python -m bench.selfplay_vs_forward [--quick]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from bench.common import interleaved_rates, parse_arguments, report

RECIPE = Path(__file__).parents[1] / "configs" / "connect4.yaml"


class _BatchCounter:
    """A PolicyValueFn that passes calls through and counts calls and rows."""

    def __init__(self, evaluate):  # noqa: ANN001
        self.evaluate, self.calls, self.rows = evaluate, 0, 0

    def __call__(self, observations: np.ndarray, masks: np.ndarray):  # noqa: ANN204
        self.calls += 1
        self.rows += len(observations)
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

    # The raw forward: what the same evaluator runs, on positions of the self-play batch's size,
    # without search, softmax or copies.
    batch = max(1, round(counter.rows / counter.calls))
    positions = np.stack([worker.games[i % len(worker.games)].state for i in range(batch)])
    inputs = torch.from_numpy(game.observations(positions)).contiguous(
        memory_format=evaluator.memory_format
    )

    def forward() -> int:
        with torch.inference_mode():
            evaluator.forward(inputs)
        return batch

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
        "forward_batch_measured": batch,
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
