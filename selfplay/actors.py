"""The processes of a training run, one role each, as plain classes.

:func:`selfplay.train.train` wraps them with ``ray.remote`` at launch; each builds its own net
(nets are not shipped, only state dicts) and limits torch to the threads it was given.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from experiment.checkpoint import CheckpointInfo, load_checkpoint
from search.expanders import PolicyValueFn
from selfplay.arena import Arena
from selfplay.config import TrainConfig
from selfplay.inference import Evaluator, InferenceServer
from selfplay.learner import Learner
from selfplay.network import build_network, set_torch_threads
from selfplay.replay import GameRecord, ReplayBuffer
from selfplay.worker import SelfPlayWorker

Weights = tuple[int, dict]  # (version, state dict)


def rss_gb() -> float:
    """Resident memory of this process in GB (TensorBoard ``system/rss_gb_<kind>``)."""
    return psutil.Process(os.getpid()).memory_info().rss / 1e9


def actor_device(device: str) -> str:
    """A role's device inside its Ray actor. ``auto``: CUDA only when Ray reserved a GPU for it
    (Ray leaves CUDA_VISIBLE_DEVICES alone for an actor without one, so torch would see every
    GPU and take one nobody reserved). ``cuda:N`` with a reserved GPU: that GPU, which is the
    only one the actor sees (``cuda``). Other devices are kept."""
    import ray

    reserved = ray.is_initialized() and bool(ray.get_gpu_ids())
    if device == "auto":
        return "cuda" if reserved else "cpu"
    return "cuda" if reserved and device.startswith("cuda") else device


def make_evaluator(
    config: TrainConfig,
    device: str = "cpu",
    threads: int | None = 1,
    *,
    full_precision: bool = False,
) -> Evaluator:
    """An evaluator of the run's net; ``full_precision`` ignores ``inference.precision`` and
    ``channels_last`` (the arena measures the net in float32, whatever self-play uses)."""
    game = config.game.make()
    network = build_network(config.network, game.observation_shape, game.num_actions)
    inference = config.inference
    if full_precision:
        return Evaluator(network, device, "float32", False, threads)
    return Evaluator(network, device, inference.precision, inference.channels_last, threads)


class ReplayProcess:
    """The replay buffer of a run: every game added is persisted to the run's shards."""

    def __init__(self, config: TrainConfig, directory: str, resume: bool):
        game = config.game.make()
        options: dict[str, Any] = {
            "symmetries": game.symmetries,
            "games_per_shard": config.replay.shard_games,
        }
        if resume:
            self.buffer = ReplayBuffer.load(
                directory, config.replay.capacity, game.observation_shape, game.num_actions,
                **options,
            )  # fmt: skip
        else:
            self.buffer = ReplayBuffer(
                config.replay.capacity, game.observation_shape, game.num_actions,
                directory=directory, **options,
            )  # fmt: skip
        self.rng = np.random.default_rng([config.seed, 0x5EB])

    def add_games(self, records: list[GameRecord]) -> dict[str, int]:
        self.buffer.add_games(records)
        return self.buffer.state_dict()

    def sample(self, batch_size: int):  # noqa: ANN201 - a selfplay.replay.Batch
        return self.buffer.sample(batch_size, self.rng)

    def state(self) -> dict[str, Any]:
        return {**self.buffer.state_dict(), "rss_gb": rss_gb()}


class LearnerProcess:
    """The learner: trains on replay samples, publishes versioned weights, saves checkpoints."""

    def __init__(self, config: TrainConfig, threads: int, checkpoint: str | None):
        set_torch_threads(threads)
        game = config.game.make()
        network = build_network(config.network, game.observation_shape, game.num_actions)
        learner_config = dataclasses.replace(
            config.learner, device=actor_device(config.learner.device)
        )
        self.learner = Learner(network, learner_config)
        if checkpoint is not None:
            self.learner.restore(load_checkpoint(checkpoint, map_location=self.learner.device))

    def train(self, replay: Any, positions_generated: int, max_steps: int) -> dict[str, Any]:
        """Run the updates owed for ``positions_generated`` (at most ``max_steps``); return
        mean losses and the counters the driver logs."""
        import ray

        steps = min(self.learner.steps_owed(positions_generated), max_steps)
        totals: dict[str, float] = {}
        for _ in range(steps):
            batch = ray.get(replay.sample.remote(self.learner.config.batch_size))
            for key, value in self.learner.train_step(batch).items():
                totals[key] = totals.get(key, 0.0) + value
        return {
            "steps": steps,
            "scalars": {key: value / max(steps, 1) for key, value in totals.items()},
            **self.state(positions_generated),
        }

    def state(self, positions_generated: int = 0) -> dict[str, Any]:
        return {
            "step": self.learner.step,
            "learner_flops": self.learner.flops,
            "samples_per_position": self.learner.samples_per_position(positions_generated),
            "rss_gb": rss_gb(),
        }

    def get_weights(self) -> Weights:
        return self.learner.get_weights()

    def save(self, directory: str, info: CheckpointInfo) -> str:
        return str(self.learner.save_checkpoint(directory, info))


class ServerProcess:
    """One net for all workers (on the GPU when there is one), batching their requests."""

    def __init__(self, config: TrainConfig, expected_callers: int):
        device = actor_device(config.inference.device)
        evaluator = make_evaluator(config, device, threads=max(1, int(config.ray.server_cpus)))
        self.server = InferenceServer(
            evaluator, config.inference.max_batch, config.inference.max_wait_ms, expected_callers
        )

    def evaluate(
        self, observations: np.ndarray, masks: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.server.evaluate(observations, masks)

    def load_weights(self, weights: Weights) -> bool:
        return self.server.load_weights(weights[1], weights[0])

    def stats(self) -> dict[str, float]:
        return {**self.server.stats(), "rss_gb": rss_gb()}


class WorkerProcess:
    """A SelfPlayWorker with its own CPU net, or a client of the inference server."""

    def __init__(self, config: TrainConfig, worker_id: int, seed: int, replay: Any, server: Any):
        set_torch_threads(1)
        game = config.game.make()
        self.replay = replay
        self.evaluator: Evaluator | None = None
        evaluate: PolicyValueFn
        if server is None:
            self.evaluator = make_evaluator(config, "cpu", threads=1)
            evaluate = self.evaluator.evaluate
        else:
            evaluate = _remote_evaluate(server)
        self.worker = SelfPlayWorker(
            game, evaluate, config.search, config.selfplay, seed=seed, worker_id=worker_id
        )
        self.flops_per_evaluation = make_evaluator(config, "cpu").flops_per_evaluation

    def play(self, num_moves: int, weights: Weights | None) -> dict[str, Any]:
        """Play ``num_moves`` moves of every game (after loading ``weights`` if given); send the
        finished games to the replay buffer; return this call's counters."""
        import ray

        if weights is not None and self.evaluator is not None:
            self.evaluator.load_weights(weights[1], weights[0])
        before = self.worker.stats.evaluations, self.worker.stats.seconds
        forward_before = self.worker.stats.forward_seconds
        records, stats = self.worker.play(num_moves)
        if records:  # persisted before this call returns: a stopped run loses no finished game
            ray.get(self.replay.add_games.remote(records))
        evaluations = stats.evaluations - before[0]
        return {
            "games": len(records),
            "positions": sum(record.length for record in records),
            "game_lengths": [len(record.moves) for record in records],
            "moves": num_moves * len(self.worker.games),
            "evaluations": evaluations,
            "selfplay_flops": evaluations * self.flops_per_evaluation,
            "seconds": stats.seconds - before[1],
            "forward_seconds": stats.forward_seconds - forward_before,
            "rss_gb": rss_gb(),
        }


def _remote_evaluate(server: Any) -> PolicyValueFn:
    import ray

    def evaluate(observations: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return ray.get(server.evaluate.remote(observations, masks))

    return evaluate


class ArenaProcess:
    """Arena rounds off the critical path: current weights against references and snapshots."""

    def __init__(self, config: TrainConfig, directory: str):
        set_torch_threads(1)

        def evaluator_for(weights: dict) -> Callable:
            evaluator = make_evaluator(config, "cpu", threads=1, full_precision=True)
            evaluator.load_weights(weights, version=-1)
            return evaluator.evaluate

        self.arena = Arena(config.game.make(), config.arena, evaluator_for, Path(directory))

    def round(self, step: int, weights: Weights, seed: int) -> tuple[int, dict[str, float]]:
        scalars = self.arena.round(step, weights[1], seed)
        scalars["system/rss_gb_arena"] = rss_gb()
        return step, scalars
