"""The training recipe: one frozen dataclass tree, loaded from YAML with dotted overrides."""

from __future__ import annotations

from dataclasses import dataclass, field

from experiment.config import NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt
from games.config import GameConfig
from search.config import SearchConfig
from selfplay.arena import ArenaConfig
from selfplay.inference import InferenceConfig
from selfplay.learner import LearnerConfig
from selfplay.network import NetworkConfig
from selfplay.worker import SelfPlayConfig


@dataclass(frozen=True)
class RayConfig:
    """Where the actors run. ``address`` None starts a local Ray with ``num_cpus`` and a small
    object store; ``auto`` or ``ray://host:port`` joins an existing cluster (the code is shipped
    with the job's runtime environment)."""

    address: str | None = None
    num_cpus: PositiveInt = 2
    object_store_mb: PositiveInt = 1000
    num_workers: PositiveInt = 1
    worker_cpus: PositiveFloat = 1.0
    learner_cpus: PositiveFloat = 1.0
    arena_cpus: NonNegativeFloat = 0.5
    server_cpus: PositiveFloat = 1.0  # the InferenceServer actor (inference.mode: server)
    # GPUs Ray reserves for the learner and the server. None: automatic, when the cluster has
    # GPUs and the role's device is auto or cuda: a whole GPU each, or half of one each when
    # both want one and there is only one. An actor with no GPU reserved runs "auto" on the CPU.
    learner_gpus: NonNegativeFloat | None = None
    server_gpus: NonNegativeFloat | None = None
    ship_code: bool = True  # with an address: send ponder's packages in the runtime env
    # How often Ray restarts a self-play worker or the arena whose process died; the run goes
    # on meanwhile. (The learner and the replay hold state no restart brings back.)
    actor_restarts: NonNegativeInt = 5


@dataclass(frozen=True)
class ReplayConfig:
    capacity: PositiveInt = 100_000  # positions in the window
    min_positions: NonNegativeInt = 1_000  # before the learner starts
    shard_games: PositiveInt = 64  # games per shard file on disk
    # Delete a shard once all its positions have left the window (saves disk on long runs).
    # Off by default: the shards are the run's record of every game, for later analysis.
    prune_shards: bool = False


@dataclass(frozen=True)
class BudgetConfig:
    """When training stops (the first limit reached); 0 means no limit."""

    minutes: NonNegativeFloat = 0.0
    learner_steps: NonNegativeInt = 0
    games: NonNegativeInt = 0


@dataclass(frozen=True)
class TrainConfig:
    name: str | None = None  # run directory name under ``runs_root``; None = a timestamp
    runs_root: str = "runs"
    seed: NonNegativeInt = 0
    game: GameConfig = field(default_factory=GameConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    selfplay: SelfPlayConfig = field(default_factory=SelfPlayConfig)
    learner: LearnerConfig = field(default_factory=LearnerConfig)
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    arena: ArenaConfig = field(default_factory=ArenaConfig)
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    ray: RayConfig = field(default_factory=RayConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    moves_per_call: PositiveInt = 4  # moves each worker plays per call before it reports back
    checkpoint_every_steps: NonNegativeInt = 500
    # Regular checkpoints kept on disk, newest first; 0 keeps them all. Step 0 (the initial net)
    # and the snapshots at each doubling of train FLOPs are always kept: the train x test
    # compute study reads them.
    checkpoint_keep_last: NonNegativeInt = 0
    log_every_seconds: PositiveFloat = 10.0
