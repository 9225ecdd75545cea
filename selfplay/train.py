"""AlphaZero self-play training on Ray: workers, replay, learner, arena, and the driver loop.

The driver only schedules: workers send finished games straight to the replay actor; the
learner pulls batches from it and runs the updates owed by ``learner.samples_per_position``;
new weights go to a worker with its next call only when their version changed. The driver
writes TensorBoard scalars, a progress line with the time left to the budget, checkpoints (the
initial net as step 0, then every ``checkpoint_every_steps`` and at every doubling of train
FLOPs) and, on Ctrl-C, a last checkpoint before it exits. Every random stream is seeded from
the run's ``seed`` by :func:`experiment.seeds.stream_seed`.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import logging
import math
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from experiment import RunFailure
from experiment.checkpoint import (
    CheckpointInfo,
    checkpoint_stem,
    latest_checkpoint,
    list_checkpoints,
    read_info,
)
from experiment.ledger import ComputeLedger, log_milestone
from experiment.run import RunDirectory
from experiment.seeds import stream_seed
from experiment.tensorboard import ScalarWriter
from selfplay.actors import (
    ArenaProcess,
    ArenaReport,
    LearnerProcess,
    LearnerState,
    PlayReport,
    ReplayProcess,
    ReplayState,
    ServerProcess,
    ServerReport,
    TrainReport,
    WorkerProcess,
    rss_gb,
)
from selfplay.arena import ROUNDS_FILE
from selfplay.config import BudgetConfig, TrainConfig

log = logging.getLogger("ponder.train")
# Would-be resignations (check games where a player fell below the threshold) behind
# selfplay/resign_false_positive_rate_recent: the rate the thresholds give now, not since the start
RECENT_CHECKS = 200
MAX_STEPS_PER_CALL = 50  # learner updates per call, so the driver logs and checkpoints often


@dataclass
class Progress:
    """Run-wide counters, restored from the latest checkpoint on resume."""

    step: int = 0
    games: int = 0
    positions: int = 0
    selfplay_flops: int = 0
    learner_flops: int = 0
    seconds: float = 0.0  # wall time of earlier sessions of this run
    flops_milestone: int = -1
    arena: dict[str, float] = field(default_factory=dict)
    stopped_by: str = ""  # the signal that ended this session early (SIGINT, SIGTERM), if any

    def ledger(self) -> ComputeLedger:
        return ComputeLedger(selfplay_flops=self.selfplay_flops, learner_flops=self.learner_flops)


@dataclass
class _Window:
    """Counters since the last log line."""

    start: float = field(default_factory=time.perf_counter)
    games: int = 0
    positions: int = 0
    moves: int = 0
    evaluations: int = 0
    worker_seconds: float = 0.0
    forward_seconds: float = 0.0
    game_lengths: list[int] = field(default_factory=list)
    losses: dict[str, list[float]] = field(default_factory=dict)


def init_ray(config: TrainConfig) -> bool:
    """Connect to the configured cluster, or start a local one; True if we started it."""
    from experiment.cluster import start_ray

    settings = config.ray
    return start_ray(
        settings.num_cpus, settings.object_store_mb * 1024 * 1024,
        address=settings.address, ship_code=settings.ship_code,
    )  # fmt: skip


def train(config: TrainConfig, run: RunDirectory, resume: bool = False) -> Progress:
    """Train until the budget is spent or Ctrl-C; returns the final counters."""
    import ray

    progress = _restore_progress(run) if resume else Progress()
    started_ray = init_ray(config)
    writer = ScalarWriter(run.tensorboard)
    actors: list[Any] = []
    handlers = _interrupt_on_signals()
    try:
        trainer = _Trainer(config, run, progress, resume, writer, actors)
        trainer.loop()
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
        writer.close()
        for actor in actors:
            ray.kill(actor)
        if started_ray:
            ray.shutdown()
    return progress


def exit_status(progress: Progress) -> int:
    """0 for a run that spent its budget; 128 + the signal's number (130 for Ctrl-C, 143 for
    SIGTERM) for one stopped early, after its checkpoint, so a scheduler can tell them apart."""
    if not progress.stopped_by:
        return 0
    return 128 + int(signal.Signals[progress.stopped_by])


class _RunFailure(Exception):
    """Inside the loop: an actor the run needs is gone (the message says which)."""


def _cause(error: BaseException) -> str:
    """The first line of a Ray error: which actor, and why, without the traceback."""
    text = str(error).strip().splitlines()
    return next((line.strip() for line in text if line.strip()), type(error).__name__)[:300]


def _interrupt_on_signals() -> dict[int, Any]:
    """SIGINT and SIGTERM (a scheduler stopping the job) both end training with a checkpoint,
    even where the shell started us with SIGINT ignored. Returns the handlers to restore."""

    def interrupt(number: int, frame: Any) -> None:
        raise KeyboardInterrupt(signal.Signals(number).name)

    if threading.current_thread() is not threading.main_thread():
        return {}
    return {number: signal.signal(number, interrupt) for number in (signal.SIGINT, signal.SIGTERM)}


def _restore_progress(run: RunDirectory) -> Progress:
    if not list_checkpoints(run.checkpoints):
        return Progress()
    info = read_info(run.path)
    counters = info.counters
    return Progress(
        step=info.step,
        games=info.games_played,
        positions=info.positions_seen,
        selfplay_flops=info.ledger.selfplay_flops,
        learner_flops=info.ledger.learner_flops,
        seconds=float(counters.get("seconds", 0.0)),
        flops_milestone=int(counters.get("flops_milestone", -1)),
    )


class _Trainer:
    def __init__(
        self,
        config: TrainConfig,
        run: RunDirectory,
        progress: Progress,
        resume: bool,
        writer: ScalarWriter,
        actors: list[Any],
    ):
        import ray

        self.config, self.run, self.progress, self.writer = config, run, progress, writer
        settings = config.ray
        _check_resources(config)
        checkpoint = None
        if resume and list_checkpoints(run.checkpoints):
            checkpoint = str(latest_checkpoint(run.path))
        sessions = len(run.read_meta().get("resumes", []))
        has_replay = resume and any(Path(run.replay).glob("shard_*.npz"))
        self.replay: Any = (  # Ray actor handles are typed Any: Ray's stubs lack .remote
            ray.remote(ReplayProcess)
            .options(num_cpus=0)
            .remote(config, str(run.replay), has_replay, sessions, progress.selfplay_flops)
        )
        self.has_replay = has_replay
        learner_gpus, server_gpus = gpu_shares(config, ray.cluster_resources().get("GPU", 0))
        self.learner: Any = (
            ray.remote(LearnerProcess)
            .options(num_cpus=settings.learner_cpus, num_gpus=learner_gpus)
            .remote(config, max(1, int(settings.learner_cpus)), checkpoint)
        )
        self.server: Any = None
        if config.inference.mode == "server":
            self.server = (
                ray.remote(ServerProcess)
                .options(
                    num_cpus=settings.server_cpus,
                    num_gpus=server_gpus,
                    max_concurrency=settings.num_workers + 4,
                )
                .remote(config, settings.num_workers)
            )
        self.workers: list[Any] = [
            ray.remote(WorkerProcess)
            .options(num_cpus=settings.worker_cpus, max_restarts=settings.actor_restarts)
            .remote(
                config, i, stream_seed(config.seed, "worker", i, sessions), self.replay,
                self.server,
            )
            for i in range(settings.num_workers)
        ]  # fmt: skip
        self.arena: Any = None
        if config.arena.every_steps > 0:
            self.arena = (
                ray.remote(ArenaProcess)
                .options(num_cpus=settings.arena_cpus, max_restarts=settings.actor_restarts)
                .remote(config, str(run.arena), progress.step if resume else None)
            )
        actors.extend(a for a in [self.replay, self.learner, self.server, self.arena] if a)
        actors.extend(self.workers)
        self.worker_rss: float | None = None
        self.resign_checks = self.resign_false_positives = 0  # this session's check games
        self.resign_thresholds: dict[int, float] = {}  # each worker's latest
        # (checks, false positives) of the latest reports: the rate the threshold gives now
        self.resign_recent: collections.deque[tuple[int, int]] = collections.deque()
        self.learner_state: LearnerState | None = None
        self.session_start = time.perf_counter()
        self.session_step, self.session_games = progress.step, progress.games  # for the ETA
        self.last_checkpoint_step, self.last_checkpoint_kept = progress.step, False
        self.last_arena_step = progress.step if resume else -1
        self.arena_started: dict[str, float] = {}  # where the run stood when the round began
        self.worker_deaths = [0] * len(self.workers)
        self.worker_down = [False] * len(self.workers)  # dead, and not yet back from a restart

    # ----------------------------------------------------------------------------------------

    def _reconcile(self, replay: ReplayState) -> None:
        """On resume, count what the shards hold: games finished after the last checkpoint (a
        killed driver saved none) are neither lost from the count nor counted twice."""
        progress = self.progress
        if replay.games != progress.games:
            print(
                f"resume: the replay holds {replay.games} games, the checkpoint counted "
                f"{progress.games}; counting the shards' games, positions and FLOPs", flush=True
            )  # fmt: skip
        self._count_replay(replay)  # the shards hold at least what the checkpoint counted

    def elapsed(self) -> float:
        return self.progress.seconds + time.perf_counter() - self.session_start

    def budget_spent(self) -> bool:
        budget, progress = self.config.budget, self.progress
        return bool(
            (budget.minutes and self.elapsed() >= budget.minutes * 60)
            or (budget.learner_steps and progress.step >= budget.learner_steps)
            or (budget.games and progress.games >= budget.games)
        )

    def loop(self) -> None:
        import ray

        if self.has_replay:
            self._reconcile(ray.get(self.replay.state.remote()))
        if not list_checkpoints(self.run.checkpoints):
            self.save_checkpoint(keep=True)  # step 0: the initial net, zero train compute
        weights_ref = self.learner.get_weights.remote()
        version = -1  # workers start from random nets: give them the learner's first weights
        worker_versions = [-2] * len(self.workers)
        if self.server is not None:
            ray.get(self.server.load_weights.remote(weights_ref))
        pending: dict[Any, int] = {}
        for i, worker in enumerate(self.workers):
            pending[worker.play.remote(self.config.moves_per_call, weights_ref)] = i
            worker_versions[i] = version
        train_ref: Any = None
        arena_ref: Any = None
        # positions generated when the learner last owed no update: it is not asked again until
        # more have come (else the driver and the learner spin, taking CPU from self-play)
        idle_at = train_positions = -1
        window = _Window()
        interrupted: str | None = None
        failure: str | None = None
        try:
            while not self.budget_spent():
                if not pending:
                    raise _RunFailure("every self-play worker died more often than Ray restarts")
                waiting = [*pending, *(r for r in (train_ref, arena_ref) if r is not None)]
                ready, _ = ray.wait(waiting, num_returns=1, timeout=1.0)
                for ref in ready:
                    if ref in pending:
                        i = pending.pop(ref)
                        if not self._play_result(i, ref, window):
                            worker_versions[i] = -2  # a restarted worker needs the weights
                            if self.worker_deaths[i] > self.config.ray.actor_restarts:
                                continue  # Ray gave up on it: play on without it
                        send = weights_ref if worker_versions[i] != version else None
                        worker_versions[i] = version
                        call = self.workers[i].play.remote(self.config.moves_per_call, send)
                        pending[call] = i
                    elif ref is train_ref:
                        train_ref = None
                        result = self._essential(ref)
                        if not result.steps:
                            idle_at = train_positions
                        if self._count_training(result, window):
                            weights_ref = self.learner.get_weights.remote()
                            version = self._essential(weights_ref)[0]
                            if self.server is not None:
                                self.server.load_weights.remote(weights_ref)
                            self._maybe_checkpoint()
                            if arena_ref is None and self._arena_due():
                                arena_ref = self._start_arena(weights_ref)
                    elif ref is arena_ref:
                        arena_ref = None
                        self._arena_result(ref)
                if (
                    train_ref is None
                    and self.progress.positions >= self.config.replay.min_positions
                    and self.progress.positions > idle_at
                ):
                    train_positions = self.progress.positions
                    train_ref = self.learner.train.remote(
                        self.replay, self.progress.positions, MAX_STEPS_PER_CALL
                    )
                if time.perf_counter() - window.start >= self.config.log_every_seconds:
                    self._log(window)
                    window = _Window()
        except KeyboardInterrupt as stop:
            interrupted = self.progress.stopped_by = str(stop) or "SIGINT"
            print(f"interrupted ({interrupted}): writing a checkpoint before exiting", flush=True)
        except _RunFailure as error:
            failure = str(error)
            print(f"failed: {failure}; writing a checkpoint before exiting", flush=True)
        # Games finished by calls in flight are persisted when the call returns: count them.
        done, _ = ray.wait(list(pending), num_returns=len(pending), timeout=60)
        for ref in done:
            try:
                self._play_result(pending[ref], ref, window)
            except (_RunFailure, ray.exceptions.RayError):
                if not failure:
                    raise
                # the run is already failing: what those calls persisted is on disk
        if not (interrupted or failure):
            if train_ref is not None:
                self._count_training(self._essential(train_ref), window)
            if arena_ref is not None:
                self._arena_result(arena_ref)
            if self.arena is not None and self.last_arena_step != self.progress.step:
                # The final net is scored too: a run's last point is the net it hands over.
                self._arena_result(self._start_arena(self.learner.get_weights.remote()))
        if not failure:
            self._log(window)
        try:
            path = self.save_checkpoint()
        except ray.exceptions.RayError as error:  # the learner, and its optimizer state, died
            last = (
                latest_checkpoint(self.run.path) if list_checkpoints(self.run.checkpoints) else None
            )
            raise RunFailure(
                f"{failure or 'the run'}; no final checkpoint: the learner's process is gone "
                f"({_cause(error)}); resume from the last one, {last}"
            ) from None
        if failure:
            raise RunFailure(f"{failure}; final checkpoint {path}; resume with `ponder resume`")

    # ----------------------------------------------------------------------------------------

    def _play_result(self, worker: int, ref: Any, window: _Window) -> bool:
        """Count a worker's call; False when its process died (Ray restarts it up to
        ``ray.actor_restarts`` times): its unfinished games are lost, every game it finished
        was persisted with its cost and stays counted (the replay's totals are the count)."""
        import ray

        try:
            result = ray.get(ref)
        except ray.exceptions.RayActorError as error:
            restarting = isinstance(error, ray.exceptions.ActorUnavailableError)
            if restarting and self.worker_down[worker]:
                time.sleep(0.5)  # the same death: Ray is still restarting the process
                return False
            self.worker_down[worker] = True
            self.worker_deaths[worker] += 1
            deaths, limit = self.worker_deaths[worker], self.config.ray.actor_restarts
            fate = (
                "Ray restarts it" if deaths <= limit else "no restarts left: playing on without it"
            )
            print(f"self-play worker {worker} died ({_cause(error)}); {fate}", flush=True)
            self._count_replay(self._essential(self.replay.state.remote()))
            return False
        except ray.exceptions.RayTaskError:
            self._essential(self.replay.state.remote())  # a dead replay is the run's failure
            raise
        self.worker_down[worker] = False
        self._count_play(result, window)
        return True

    def _arena_result(self, ref: Any) -> None:
        """Log an arena round; a dead arena process loses only that round (Ray restarts it,
        and it reads its earlier games back from ``arena/matches.jsonl``)."""
        import ray

        try:
            self._log_arena(ray.get(ref))
        except ray.exceptions.RayActorError as error:
            print(f"the arena died ({_cause(error)}); its round is skipped", flush=True)

    def _essential(self, ref: Any) -> Any:
        """``ray.get`` of a call the run cannot go on without (learner, replay): the death of
        either ends the run with one line naming it, after a checkpoint where one can be made."""
        import ray

        try:
            return ray.get(ref)
        except ray.exceptions.RayError as error:
            for name, actor in (("learner", self.learner), ("replay buffer", self.replay)):
                try:
                    ray.get(actor.__ray_ready__.remote(), timeout=30)
                except ray.exceptions.RayError:
                    raise _RunFailure(f"the {name}'s process died ({_cause(error)})") from None
            raise

    def _count_play(self, result: PlayReport, window: _Window) -> None:
        self._count_replay(result.replay)
        window.games += result.games
        window.positions += result.positions
        window.moves += result.moves
        window.evaluations += result.evaluations
        window.worker_seconds += result.seconds
        window.forward_seconds += result.forward_seconds
        window.game_lengths.extend(result.game_lengths)
        self.resign_checks += result.resign_checks
        self.resign_false_positives += result.resign_false_positives
        self.resign_thresholds[result.worker_id] = result.resign_threshold
        if result.resign_checks:
            self.resign_recent.append((result.resign_checks, result.resign_false_positives))
            while sum(c for c, _ in self.resign_recent) - self.resign_recent[0][0] >= RECENT_CHECKS:
                self.resign_recent.popleft()
        self.worker_rss = result.rss_gb

    def _count_replay(self, replay: ReplayState) -> None:
        """The run's games, positions and self-play FLOPs are the replay's: what is persisted.
        Reports arrive out of order, and a killed worker's last games may be persisted without
        a report, so the counters take the newest totals rather than adding up reports."""
        progress = self.progress
        progress.games = max(progress.games, replay.games)
        progress.positions = max(progress.positions, replay.positions)
        progress.selfplay_flops = max(progress.selfplay_flops, replay.selfplay_flops)

    def _count_training(self, result: TrainReport, window: _Window) -> bool:
        """Record a training call; True if it changed the weights."""
        self.progress.step = result.state.step
        self.progress.learner_flops = result.state.learner_flops
        self.learner_state = result.state
        for key, value in result.scalars.items():
            window.losses.setdefault(key, []).append(value)
        milestone = log_milestone(self.progress.ledger().train_flops)
        # A doubling is only used up by a snapshot of weights that training changed.
        if milestone > self.progress.flops_milestone and result.steps:
            self.progress.flops_milestone = milestone
            self.save_checkpoint(keep=True)
        return result.steps > 0

    def _maybe_checkpoint(self) -> None:
        every, step = self.config.checkpoint_every_steps, self.progress.step
        # (a snapshot kept at a FLOPs doubling may already hold this step: never overwrite it)
        if (
            every
            and step != self.last_checkpoint_step
            and step // every > self.last_checkpoint_step // every
        ):
            self.save_checkpoint()

    def _arena_due(self) -> bool:
        every = self.config.arena.every_steps
        if self.arena is None or not every:
            return False
        return (
            self.last_arena_step < 0 or self.progress.step // every > self.last_arena_step // every
        )

    def save_checkpoint(self, keep: bool = False) -> str:
        import ray

        progress = self.progress
        step_zero = checkpoint_stem(self.run.checkpoints, 0)
        if progress.step == 0 and step_zero.with_name(step_zero.name + ".json").is_file():
            # Step 0 is the zero-train-compute point of the run: a run stopped (or resumed and
            # stopped again) before its first update never rewrites it with later counters.
            return str(step_zero)
        # Saving a step again (e.g. at the end) must not unmark a snapshot kept at a doubling.
        keep = keep or (progress.step == self.last_checkpoint_step and self.last_checkpoint_kept)
        info = CheckpointInfo(
            step=progress.step,
            games_played=progress.games,
            positions_seen=progress.positions,
            ledger=progress.ledger(),
            counters={
                "seconds": self.elapsed(),
                "flops_milestone": progress.flops_milestone,
                **progress.arena,
            },  # fmt: skip
            keep=keep,
        )
        path = ray.get(self.learner.save.remote(str(self.run.checkpoints), info))
        self.last_checkpoint_step, self.last_checkpoint_kept = progress.step, keep
        log.info("checkpoint %s", path)
        return path

    def _start_arena(self, weights_ref: Any) -> Any:
        """Send the net of the current step to the arena; remember where the run stood, so that
        its round is logged against exact seconds, games and train FLOPs of that net."""
        progress = self.progress
        self.last_arena_step = step = progress.step
        self.arena_started = {
            "step": step, "seconds": self.elapsed(), "selfplay_games": progress.games,
            "train_flops": progress.ledger().train_flops,
            "games_per_opponent": self.config.arena.games,
        }  # fmt: skip
        seed = stream_seed(self.config.seed, "arena", step)
        return self.arena.round.remote(step, weights_ref, seed)

    def _log_arena(self, result: ArenaReport) -> None:
        """TensorBoard scalars, one log line, and a line of ``arena/rounds.jsonl``: the round's
        scores with the run's exact state when its net was taken (read by ``ponder curve``)."""
        step, scalars = result.step, result.scalars
        with open(self.run.arena / ROUNDS_FILE, "a", encoding="utf-8") as rounds:
            rounds.write(json.dumps({**self.arena_started, "scalars": dict(scalars)}) + "\n")
        self.progress.arena = {k: v for k, v in scalars.items() if k.startswith("arena/")}
        self.writer.scalars(scalars, step)
        shown = ", ".join(
            f"{k.removeprefix('arena/')} {v:.2f}" for k, v in self.progress.arena.items()
        )
        print(f"[arena, net of step {step}] {shown}", flush=True)

    def _log(self, window: _Window) -> None:
        import ray

        seconds = max(time.perf_counter() - window.start, 1e-9)
        progress = self.progress
        scalars = {
            "selfplay/games_per_hour": window.games * 3600 / seconds,
            "selfplay/positions_per_s": window.moves / seconds,
            "selfplay/evals_per_s": window.evaluations / seconds,
            "selfplay/forward_share": window.forward_seconds / max(window.worker_seconds, 1e-9),
            "selfplay/games": progress.games,
            "system/rss_gb_driver": rss_gb(),
            **progress.ledger().scalars(),
        }
        if window.game_lengths:
            scalars["selfplay/game_length"] = sum(window.game_lengths) / len(window.game_lengths)
        if self.resign_checks:  # over this session: wrong resignations are rare events
            rate = self.resign_false_positives / self.resign_checks
            scalars["selfplay/resign_false_positive_rate"] = rate
        recent_checks = sum(checks for checks, _ in self.resign_recent)
        if recent_checks >= RECENT_CHECKS:
            wrong = sum(false_positives for _, false_positives in self.resign_recent)
            scalars["selfplay/resign_false_positive_rate_recent"] = wrong / recent_checks
        if self.resign_thresholds:
            thresholds = list(self.resign_thresholds.values())
            scalars["selfplay/resign_threshold"] = sum(thresholds) / len(thresholds)
        for key, values in window.losses.items():
            scalars[key] = sum(values) / len(values)
        if self.worker_rss is not None:
            scalars["system/rss_gb_worker"] = self.worker_rss
        if self.learner_state is not None:
            scalars["learner/samples_per_position"] = self.learner_state.samples_per_position
            scalars["system/rss_gb_learner"] = self.learner_state.rss_gb
        replay: ReplayState = ray.get(self.replay.state.remote())
        scalars["system/rss_gb_replay"] = replay.rss_gb
        store = "object_store_memory"  # Ray counts the bytes its objects hold against it
        used = ray.cluster_resources().get(store, 0.0) - ray.available_resources().get(store, 0.0)
        scalars["system/object_store_gb"] = used / 1e9
        if self.server is not None:
            server: ServerReport = ray.get(self.server.stats.remote())
            scalars["selfplay/server_mean_batch"] = server.stats.mean_batch
            scalars["system/rss_gb_server"] = server.rss_gb
        self.writer.scalars(scalars, progress.step)
        self.writer.flush()
        session = max(time.perf_counter() - self.session_start, 1e-9)
        eta = budget_eta(
            self.config.budget,
            self.elapsed(),
            progress,
            steps_per_second=(progress.step - self.session_step) / session,
            games_per_second=(progress.games - self.session_games) / session,
        )
        print(progress_line(self.elapsed(), progress, scalars, eta), flush=True)


def budget_eta(
    budget: BudgetConfig,
    elapsed: float,
    progress: Progress,
    steps_per_second: float,
    games_per_second: float,
) -> tuple[float, str] | None:
    """(seconds left, the limit's name) for the limit of ``budget`` that the run reaches first
    at the given rates; None when the budget sets no limit. A step or game limit without a rate
    yet (nothing done this session) is infinitely far: ``math.inf``."""
    left: list[tuple[float, str]] = []
    if budget.minutes:
        left.append((max(0.0, budget.minutes * 60 - elapsed), "budget.minutes"))
    for limit, done, rate, name in (
        (budget.learner_steps, progress.step, steps_per_second, "budget.learner_steps"),
        (budget.games, progress.games, games_per_second, "budget.games"),
    ):
        if limit:
            left.append((max(0, limit - done) / rate if rate > 0 else math.inf, name))
    return min(left) if left else None


def progress_line(
    elapsed: float, progress: Progress, scalars: dict[str, float], eta: tuple[float, str] | None
) -> str:
    """The driver's periodic log line: one line per call, no carriage returns (log files stay
    readable), with the ETA of :func:`budget_eta` when the budget sets a limit."""
    loss = scalars.get("loss/total")
    line = (
        f"[{_clock(elapsed)}] step {progress.step} | games {progress.games} "
        f"({scalars['selfplay/games_per_hour']:,.0f}/h) | positions/s "
        f"{scalars['selfplay/positions_per_s']:,.1f} | evals/s "
        f"{scalars['selfplay/evals_per_s']:,.0f} | loss "
        f"{'-' if loss is None else f'{loss:.3f}'} | train FLOPs "
        f"{progress.ledger().train_flops:.2e}"
    )
    if eta is not None:
        seconds, limit = eta
        line += f" | ETA {'unknown' if math.isinf(seconds) else _clock(seconds)} ({limit})"
    return line


def gpu_shares(config: TrainConfig, cluster_gpus: float) -> tuple[float, float]:
    """GPUs (learner, inference server) to reserve: ``ray.learner_gpus`` / ``ray.server_gpus``
    when set; else a share for each role whose device is ``cuda...`` or is ``auto`` on a cluster
    with GPUs (one each, or half of the only one when both want it)."""

    def wants(device: str) -> bool:
        return device.startswith("cuda") or (device == "auto" and cluster_gpus > 0)

    settings = config.ray
    server = config.inference.mode == "server"
    roles = [
        (settings.learner_gpus, wants(config.learner.device)),
        (settings.server_gpus if server else 0.0, server and wants(config.inference.device)),
    ]
    automatic = sum(1 for setting, wanted in roles if setting is None and wanted)
    share = 1.0 if automatic < 2 or cluster_gpus >= 2 else 0.5
    learner, server_gpus = (
        (share if wanted else 0.0) if setting is None else setting for setting, wanted in roles
    )
    return learner, server_gpus


def _check_resources(config: TrainConfig) -> None:
    """Fail at once, naming the settings, when the actors cannot all be placed (Ray would
    otherwise wait for resources forever)."""
    import ray

    from experiment import UserError

    settings = config.ray
    server = config.inference.mode == "server"
    cpus = (
        settings.learner_cpus + settings.num_workers * settings.worker_cpus
        + (settings.arena_cpus if config.arena.every_steps > 0 else 0)
        + (settings.server_cpus if server else 0)
    )  # fmt: skip
    available = ray.cluster_resources()
    gpus = sum(gpu_shares(config, available.get("GPU", 0)))
    if cpus > available.get("CPU", 0) + 1e-9 or gpus > available.get("GPU", 0) + 1e-9:
        raise UserError(
            f"the run's actors need {cpus:g} CPUs and {gpus:g} GPUs (ray.learner_cpus "
            f"{settings.learner_cpus:g} + ray.num_workers {settings.num_workers} x "
            f"ray.worker_cpus {settings.worker_cpus:g} + ray.arena_cpus + ray.server_cpus with an "
            f"inference server; ray.learner_gpus + ray.server_gpus) but the cluster has "
            f"{available.get('CPU', 0):g} CPUs and "
            f"{available.get('GPU', 0):g} GPUs; lower those settings or raise ray.num_cpus"
        )


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}"


def start_run(
    config: TrainConfig, command_line: Sequence[str] | None = None, *, overwrite: bool = False
) -> RunDirectory:
    """A new run directory for ``config`` (resolved config and code version recorded);
    ``overwrite`` replaces an earlier run of the same name."""
    root = Path(config.runs_root).resolve()
    return RunDirectory.create(
        root, config.name, config, overwrite=overwrite, command_line=command_line
    )


def check_resumable(config: TrainConfig, run: RunDirectory) -> None:
    """Everything a resume needs, checked before any process starts or anything is written
    (raises ``UserError`` naming the problem): writable folders, and a latest checkpoint whose
    files match their record, whose weights fit the run's network and that holds the optimizer
    state, and a readable newest replay shard."""
    import os

    from experiment import UserError
    from experiment.checkpoint import CheckpointError, load_checkpoint
    from selfplay.network import build_network
    from selfplay.replay import list_shards, read_shard

    for folder in (run.path, run.checkpoints, run.replay, run.arena, run.tensorboard):
        if Path(folder).exists() and not os.access(folder, os.W_OK | os.X_OK):
            raise UserError(f"cannot write to '{folder}': the run's folders must be writable")
    if list_checkpoints(run.checkpoints):
        checkpoint = load_checkpoint(run.path)
        if checkpoint.optimizer_state is None:
            raise CheckpointError(f"checkpoint '{checkpoint.path}' holds no optimizer state")
        game = config.game.make()
        network = build_network(config.network, game.observation_shape, game.num_actions)
        try:
            network.load_state_dict(checkpoint.model_state)
        except (RuntimeError, KeyError) as error:
            first = str(error).strip().splitlines()
            raise CheckpointError(
                f"the weights of checkpoint '{checkpoint.path}' do not fit the run's network "
                f"({config.network}): {first[1].strip() if len(first) > 1 else first[0]}"
            ) from None
    shards = list_shards(run.replay)
    if shards:
        read_shard(shards[-1])


def resume_config(run: RunDirectory, overrides: Sequence[str] = ()) -> TrainConfig:
    config = run.load_config(TrainConfig, overrides)
    return dataclasses.replace(config, runs_root=str(run.path.parent), name=run.name)
