"""The GPU path in one process (the GPU machine has no Ray and no network): Connect Four
self-play with the worker and inference-server classes, a 6-block 64-channel residual net,
Gumbel with 200 simulations, CUDA + bf16 autocast, large batches; beside it, in the same call,
the peer ``shared/anchors/gpu_mctx_pgx.py`` (mctx + pgx, all on the GPU; run when jax, mctx and
pgx are importable) and the raw forward ceiling of the same net; and a check that the AMP learner
step runs and its loss matches fp32 within tolerance.

Overlap: ``--threads`` SelfPlayWorkers, each with its own games, share one InferenceServer. The
search kernels release the GIL (numba ``nogil``) and so does a CUDA forward, so while one worker
waits for the GPU the others search on the CPU. Figures: positions/s over mctx + pgx's (goal
>= 1.0) and evaluations/s over the raw forward's (goal >= 0.5).

    python -m bench.gpu                  # on the GPU machine
    python -m bench.gpu --tiny           # seconds on a CPU: every part runs, at toy sizes
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.common import report
from bench.selfplay_vs_forward import RECIPE

ROOT = Path(__file__).resolve().parents[1]
ANCHOR_PLACES = (ROOT / "shared" / "anchors", ROOT.parent / "shared" / "anchors")


@dataclass(frozen=True)
class Sizes:
    blocks: int = 6
    channels: int = 64
    simulations: int = 200
    games_per_thread: int = 1024
    threads: int = 4
    moves: int = 8  # moves of every game, after one move of warm-up
    ceiling_batch: int = 16384
    learner_batch: int = 1024
    anchor_seconds: float = 240.0
    ceiling_seconds: float = 2.0
    precision: str = "bfloat16"  # self-play's autocast (on a CPU, bf16 convolutions crawl)


TINY = Sizes(
    blocks=1, channels=8, simulations=8, games_per_thread=4, threads=2, moves=2,
    ceiling_batch=64, learner_batch=32, anchor_seconds=0.0, ceiling_seconds=0.2,
    precision="float32",
)  # fmt: skip


def recipe(sizes: Sizes, device: str, precision: str):  # noqa: ANN201
    """The Connect Four recipe at the GPU script's sizes (a TrainConfig)."""
    from experiment.config import load_config
    from selfplay.config import TrainConfig

    overrides = [
        f"network.blocks={sizes.blocks}", f"network.channels={sizes.channels}",
        "search.rule=gumbel", f"search.simulations={sizes.simulations}",
        f"selfplay.games_per_worker={sizes.games_per_thread}",
        f"inference.device={device}", f"inference.precision={precision}",
        "inference.channels_last=true", f"learner.device={device}",
    ]  # fmt: skip
    return load_config(TrainConfig, RECIPE, overrides)


def selfplay(config, sizes: Sizes, device: str) -> dict:  # noqa: ANN001
    """Positions/s and evaluations/s of ``sizes.threads`` workers sharing one server."""
    from selfplay.actors import make_evaluator
    from selfplay.inference import InferenceServer
    from selfplay.worker import SelfPlayWorker

    evaluator = make_evaluator(config, device, threads=None)
    server = InferenceServer(
        evaluator, max_batch=sizes.games_per_thread * sizes.threads, max_wait_ms=5.0,
        expected_callers=sizes.threads,
    )  # fmt: skip
    game = config.game.make()
    workers = [
        SelfPlayWorker(game, server, config.search, config.selfplay, seed=0, worker_id=index)
        for index in range(sizes.threads)
    ]

    def play(moves: int) -> float:
        threads = [threading.Thread(target=w.play, args=(moves,)) for w in workers]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - start

    play(1)  # compile kernels, warm CUDA up
    before = server.stats()
    seconds = play(sizes.moves)
    after = server.stats()
    server.close()
    positions = sizes.moves * sizes.games_per_thread * sizes.threads
    evaluations = after.evaluations - before.evaluations
    return {
        "positions": positions,
        "evaluations": evaluations,
        "positions_per_s": round(positions / seconds, 1),
        "evaluations_per_s": round(evaluations / seconds),
        "mean_forward_batch": round(evaluations / max(1, after.batches - before.batches)),
        "gpu_busy_share": round((after.forward_seconds - before.forward_seconds) / seconds, 3),
        "seconds": round(seconds, 2),
    }


def forward_ceiling(config, sizes: Sizes, device: str) -> float:  # noqa: ANN001
    """Raw forward evaluations/s of the same net at ``ceiling_batch`` (autocast as self-play's,
    channels_last), no search and no copies back."""
    import torch

    from selfplay.actors import make_evaluator
    from selfplay.network import autocast

    evaluator = make_evaluator(config, device, threads=None)
    inputs = torch.zeros(
        sizes.ceiling_batch, *evaluator.observation_shape, device=evaluator.device
    ).contiguous(memory_format=evaluator.memory_format)
    synchronize = torch.cuda.synchronize if evaluator.device.type == "cuda" else (lambda: None)
    with torch.inference_mode(), autocast(evaluator.device, evaluator.precision):
        for _ in range(3):
            evaluator.forward(inputs)
        synchronize()
        count, start = 0, time.perf_counter()
        while count < 5 or time.perf_counter() - start < sizes.ceiling_seconds:
            evaluator.forward(inputs)
            count += 1
        synchronize()
    return count * sizes.ceiling_batch / (time.perf_counter() - start)


def amp_learner_check(config, sizes: Sizes, precision: str) -> dict:  # noqa: ANN001
    """One learner step in fp32 and one under autocast from the same weights and batch: both
    run, and the losses (measured before the update) agree within tolerance."""
    import dataclasses

    import torch

    from selfplay.actors import initial_network
    from selfplay.learner import Learner
    from selfplay.replay import Batch

    game = config.game.make()
    rng = np.random.default_rng(0)
    count = sizes.learner_batch
    observations = (rng.random((count, *game.observation_shape)) < 0.3).astype(np.float32)
    policies = rng.dirichlet(np.ones(game.num_actions), count).astype(np.float32)
    values = rng.uniform(-1, 1, count).astype(np.float32)
    batch = Batch(observations, policies, values, np.ones(count, np.bool_))
    losses = {}
    for name in ("float32", precision):
        learner_config = dataclasses.replace(config.learner, precision=name, channels_last=True)
        learner = Learner(initial_network(config), learner_config)
        losses[name] = learner.train_step(batch)["loss/total"]
        assert all(torch.isfinite(p).all() for p in learner.network.parameters()), name
    difference = abs(losses[precision] - losses["float32"]) / abs(losses["float32"])
    return {
        "fp32_loss": losses["float32"],
        "amp_loss": losses[precision],
        "relative_difference": difference,
        "tolerance": 0.02,
        "matches": bool(difference <= 0.02),
    }


def anchor(seconds: float) -> dict | None:
    """The mctx + pgx peer's figures, or None where jax, mctx or pgx is missing."""
    needed = ("jax", "mctx", "pgx", "flax")
    if seconds <= 0 or any(importlib.util.find_spec(name) is None for name in needed):
        return None
    script = next((p / "gpu_mctx_pgx.py" for p in ANCHOR_PLACES if p.exists()), None)
    if script is None:
        return None
    with tempfile.TemporaryDirectory() as directory:
        environment = {**os.environ, "OUT": directory}
        completed = subprocess.run(
            [sys.executable, str(script), str(seconds)], env=environment,
            capture_output=True, text=True, timeout=seconds + 300, check=False,
        )  # fmt: skip
        result = Path(directory) / "gpu_anchor.json"
        if completed.returncode or not result.exists():
            return {"error": completed.stderr[-2000:]}
        return json.loads(result.read_text())


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="toy sizes, CPU, seconds")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--games", type=int, default=None, help="games per thread")
    args = parser.parse_args(argv)
    import torch

    sizes = TINY if args.tiny else Sizes()
    if args.threads or args.games:
        sizes = Sizes(**{
            **sizes.__dict__,
            "threads": args.threads or sizes.threads,
            "games_per_thread": args.games or sizes.games_per_thread,
        })  # fmt: skip
    device = "cuda" if torch.cuda.is_available() and not args.tiny else "cpu"
    config = recipe(sizes, device, sizes.precision)
    result: dict = {"device": device, "sizes": sizes.__dict__}
    result["selfplay"] = selfplay(config, sizes, device)
    result["forward_ceiling_evaluations_per_s"] = round(forward_ceiling(config, sizes, device))
    result["amp_learner"] = amp_learner_check(config, sizes, "bfloat16")
    peer = anchor(sizes.anchor_seconds)
    result["mctx_pgx"] = peer
    ours = result["selfplay"]
    result["evaluations_ratio"] = round(
        ours["evaluations_per_s"] / result["forward_ceiling_evaluations_per_s"], 3
    )
    key = f"mctx_pgx_sims{sizes.simulations}_bs4096_positions_per_s"
    theirs = (peer or {}).get(key)
    result["ratio"] = round(ours["positions_per_s"] / theirs, 3) if theirs else None
    line = (
        f"{device}: {ours['positions_per_s']:,.0f} positions/s, "
        f"{ours['evaluations_per_s']:,.0f} evaluations/s = {result['evaluations_ratio']:.2f} of "
        f"the raw forward, AMP loss matches fp32: {result['amp_learner']['matches']}, mctx+pgx "
        f"{theirs if theirs else 'not run'}, ratio={result['ratio']}"
    )
    record = report("gpu", result, line)
    if os.environ.get("OUT"):  # the device machine sends back what is under $OUT
        Path(os.environ["OUT"], "gpu.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


if __name__ == "__main__":
    main()
