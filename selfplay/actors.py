"""The processes of a training run, one role each, as plain classes.

:func:`selfplay.train.train` wraps them with ``ray.remote`` at launch; each builds its own net
(nets are not shipped, only state dicts) and limits torch to the threads it was given. What a
call reports back to the driver is a frozen record (:class:`PlayReport`, :class:`TrainReport`,
...), so the driver reads named fields, not dictionary keys.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import torch

from experiment.checkpoint import CheckpointInfo, load_checkpoint, prune_checkpoints
from experiment.seeds import stream_seed
from search.expanders import PolicyValueFn
from selfplay.arena import Arena
from selfplay.config import TrainConfig
from selfplay.inference import Evaluator, InferenceServer, ServerStats
from selfplay.learner import Learner
from selfplay.network import PolicyValueNet, build_network, set_torch_threads
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


def initial_network(config: TrainConfig) -> PolicyValueNet:
    """The run's net before any update (checkpoint step 0): its weights are drawn from the run
    seed's ``network`` stream, so runs with the same seed start from byte-identical weights."""
    game = config.game.make()
    generator = torch.Generator().manual_seed(stream_seed(config.seed, "network"))
    return build_network(config.network, game.observation_shape, game.num_actions, generator)


def make_evaluator(
    config: TrainConfig,
    device: str = "cpu",
    threads: int | None = 1,
    *,
    full_precision: bool = False,
) -> Evaluator:
    """An evaluator of the run's net; ``full_precision`` ignores ``inference.precision`` and
    ``channels_last`` (the arena measures the net in float32, whatever self-play uses)."""
    network = initial_network(config)
    inference = config.inference
    if full_precision:
        return Evaluator(network, device, "float32", False, threads)
    return Evaluator(
        network, device, inference.precision, inference.channels_last, threads, inference.compile,
        inference.fold_batchnorm,
    )  # fmt: skip


@dataclass(frozen=True)
class ReplayState:
    """The replay actor's counters: run-wide games and positions, the window's positions."""

    games: int
    positions: int
    window: int
    selfplay_flops: int  # of the games persisted; -1: unknown (shards of an older version)
    rss_gb: float


class ReplayProcess:
    """The replay buffer of a run: every game added is persisted to the run's shards.
    ``session`` (0 for a new run, 1 after the first resume, ...) picks the sampling stream;
    ``selfplay_flops``: the checkpoint's count, for shards too old to record their own."""

    def __init__(
        self,
        config: TrainConfig,
        directory: str,
        resume: bool,
        session: int = 0,
        selfplay_flops: int = 0,
    ):
        game = config.game.make()
        options: dict[str, Any] = {
            "symmetries": game.symmetries,
            "games_per_shard": config.replay.shard_games,
            "prune_shards": config.replay.prune_shards,
        }
        if resume:
            self.buffer = ReplayBuffer.load(
                directory, config.replay.capacity, game.observation_shape, game.num_actions,
                **options,
            )  # fmt: skip
            if self.buffer.selfplay_flops < 0:
                self.buffer.selfplay_flops = selfplay_flops
        else:
            self.buffer = ReplayBuffer(
                config.replay.capacity, game.observation_shape, game.num_actions,
                directory=directory, **options,
            )  # fmt: skip
        self.rng = np.random.default_rng(stream_seed(config.seed, "replay", session))

    def add_games(self, records: list[GameRecord], selfplay_flops: int = 0) -> ReplayState:
        """Persist games and what they cost; the run-wide counters after them."""
        self.buffer.add_games(records, selfplay_flops)
        return self.state()

    def sample(self, batch_size: int):  # noqa: ANN201 - a selfplay.replay.Batch
        return self.buffer.sample(batch_size, self.rng)

    def state(self) -> ReplayState:
        counters = self.buffer.state_dict()
        return ReplayState(
            games=counters["games"],
            positions=counters["positions"],
            window=counters["window"],
            selfplay_flops=counters["selfplay_flops"],
            rss_gb=rss_gb(),
        )


@dataclass(frozen=True)
class LearnerState:
    """The learner's counters, as the driver logs and checkpoints them."""

    step: int  # updates done
    learner_flops: int
    samples_per_position: float  # training samples per generated position so far
    rss_gb: float


@dataclass(frozen=True)
class TrainReport:
    """What one :meth:`LearnerProcess.train` call did: ``steps`` updates (0 when none were
    owed), the mean of each TensorBoard scalar over them (``loss/...``, ``learner/lr``; empty
    without updates), and the learner's counters after them."""

    steps: int
    scalars: Mapping[str, float]
    state: LearnerState


class LearnerProcess:
    """The learner: trains on replay samples, publishes versioned weights, saves checkpoints."""

    def __init__(self, config: TrainConfig, threads: int, checkpoint: str | None):
        set_torch_threads(threads)
        network = initial_network(config)  # what a new run trains from and saves as step 0
        learner_config = dataclasses.replace(
            config.learner, device=actor_device(config.learner.device)
        )
        self.learner = Learner(network, learner_config)
        self.keep_last = config.checkpoint_keep_last
        if checkpoint is not None:
            self.learner.restore(load_checkpoint(checkpoint, map_location=self.learner.device))

    def train(self, replay: Any, positions_generated: int, max_steps: int) -> TrainReport:
        """Run the updates owed for ``positions_generated`` (at most ``max_steps``)."""
        import ray

        steps = min(self.learner.steps_owed(positions_generated), max_steps)
        totals: dict[str, float] = {}
        for _ in range(steps):
            batch = ray.get(replay.sample.remote(self.learner.config.batch_size))
            for key, value in self.learner.train_step(batch).items():
                totals[key] = totals.get(key, 0.0) + value
        scalars = {key: value / max(steps, 1) for key, value in totals.items()}
        return TrainReport(steps, scalars, self.state(positions_generated))

    def state(self, positions_generated: int = 0) -> LearnerState:
        return LearnerState(
            step=self.learner.step,
            learner_flops=self.learner.flops,
            samples_per_position=self.learner.samples_per_position(positions_generated),
            rss_gb=rss_gb(),
        )

    def get_weights(self) -> Weights:
        return self.learner.get_weights()

    def save(self, directory: str, info: CheckpointInfo) -> str:
        """Save a checkpoint; then, with ``checkpoint_keep_last`` set, delete the regular
        checkpoints older than the newest that many (step 0 and snapshots marked ``keep``
        stay). Runs where the files are written, so it needs no file system shared with the
        driver."""
        stem = self.learner.save_checkpoint(directory, info)
        if self.keep_last:
            prune_checkpoints(directory, self.keep_last)
        return str(stem)


@dataclass(frozen=True)
class ServerReport:
    """The inference server's counters and its process's resident memory."""

    stats: ServerStats
    rss_gb: float


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

    def stats(self) -> ServerReport:
        return ServerReport(self.server.stats(), rss_gb())


@dataclass(frozen=True)
class PlayReport:
    """What one :meth:`WorkerProcess.play` call did."""

    worker_id: int
    games: int  # games finished (and persisted to the replay buffer)
    positions: int  # positions those games recorded
    game_lengths: tuple[int, ...]  # moves of each finished game, random openings included
    moves: int  # moves played in all games
    evaluations: int  # net evaluations (rows)
    selfplay_flops: int  # their forward FLOPs
    seconds: float
    forward_seconds: float  # of ``seconds``, the time spent in the net
    resign_checks: int  # finished resignation-check games where a player would have resigned
    resign_false_positives: int  # of those, games the would-be resigner did not lose
    resign_threshold: float  # the worker's threshold now (-1: never resigns)
    rss_gb: float
    replay: ReplayState  # the run-wide counters once this call's games were persisted


class WorkerProcess:
    """A SelfPlayWorker with its own CPU net, or a client of the inference server."""

    def __init__(self, config: TrainConfig, worker_id: int, seed: int, replay: Any, server: Any):
        set_torch_threads(1)
        if _restarted():  # a new stream, or the restarted worker would replay its first games
            seed = stream_seed(seed, "worker", os.getpid())
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

    def play(self, num_moves: int, weights: Weights | None) -> PlayReport:
        """Play ``num_moves`` moves of every game (after loading ``weights`` if given); send the
        finished games to the replay buffer before returning."""
        import ray

        if weights is not None and self.evaluator is not None:
            self.evaluator.load_weights(weights[1], weights[0])
        before = dataclasses.replace(self.worker.stats)
        records, stats = self.worker.play(num_moves)
        evaluations = stats.evaluations - before.evaluations
        # Persisted, with their cost, before this call returns: a stopped run loses no finished
        # game, and the replay's totals are the run's count even when this process is killed.
        replay = ray.get(
            self.replay.add_games.remote(records, evaluations * self.flops_per_evaluation)
        )
        return PlayReport(
            worker_id=self.worker.worker_id,
            games=len(records),
            positions=sum(record.length for record in records),
            game_lengths=tuple(len(record.moves) for record in records),
            moves=num_moves * len(self.worker.games),
            evaluations=evaluations,
            selfplay_flops=evaluations * self.flops_per_evaluation,
            seconds=stats.seconds - before.seconds,
            forward_seconds=stats.forward_seconds - before.forward_seconds,
            resign_checks=stats.resign_checks - before.resign_checks,
            resign_false_positives=stats.resign_false_positives - before.resign_false_positives,
            resign_threshold=stats.resign_threshold,
            rss_gb=rss_gb(),
            replay=replay,
        )


def _restarted() -> bool:
    """Whether this actor is Ray's restart of one whose process died."""
    import ray

    return ray.is_initialized() and ray.get_runtime_context().was_current_actor_reconstructed


def _remote_evaluate(server: Any) -> PolicyValueFn:
    import ray

    def evaluate(observations: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return ray.get(server.evaluate.remote(observations, masks))

    return evaluate


@dataclass(frozen=True)
class ArenaReport:
    """One arena round of the net of learner step ``step``: TensorBoard scalars
    (``arena/winrate_vs_<opponent>``, ``arena/elo``, ``system/rss_gb_arena``)."""

    step: int
    scalars: Mapping[str, float]


class ArenaProcess:
    """Arena rounds off the critical path: current weights against references and snapshots."""

    def __init__(self, config: TrainConfig, directory: str, resume_step: int | None = None):
        set_torch_threads(1)

        def evaluator_for(weights: dict) -> Callable:
            evaluator = make_evaluator(config, "cpu", threads=1, full_precision=True)
            evaluator.load_weights(weights, version=-1)
            return evaluator.evaluate

        self.arena = Arena(
            config.game.make(), config.arena, evaluator_for, Path(directory),
            search=config.search.without_exploration(),
            flops_per_evaluation=make_evaluator(config, "cpu").flops_per_evaluation,
            # (a restart after this process died keeps what this session's rounds wrote)
            resume_step=None if _restarted() else resume_step,
        )  # fmt: skip

    def round(self, step: int, weights: Weights, seed: int) -> ArenaReport:
        scalars = self.arena.round(step, weights[1], seed)
        return ArenaReport(step, {**scalars, "system/rss_gb_arena": rss_gb()})
