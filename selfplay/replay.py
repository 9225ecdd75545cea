"""The replay buffer: a bounded window of self-play positions, persisted game by game.

Positions live in preallocated ring arrays of ``capacity`` rows. Sampling is uniform over the
window with an explicit ``numpy.random.Generator``, and each sampled position goes through a
random symmetry of the game here, in one place (DESIGN.md, "Self-play training").

Persistence: every added batch of games rewrites the current shard ``shard_000007.npz`` in the
replay directory atomically (temporary file, then rename), so a crash loses no game that was
added; a shard is closed after ``games_per_shard`` games and the next one begins.
:meth:`ReplayBuffer.load` rebuilds the window and the counters from the newest shards.

Shard arrays (N positions of G games): ``observations`` (N, C, H, W), ``policies`` (N, A)
float32, ``values`` (N,) float32, ``policy_mask`` (N,) bool, ``game_lengths`` / ``worker_ids`` /
``move_counts`` (G,) int64, ``moves`` (sum of move_counts,) int64, and the run-wide indices
``first_game`` / ``first_position`` of the shard's first game and position.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from experiment.checkpoint import CheckpointError, write_atomic
from games.base import Symmetry, apply_symmetry

_SHARD = re.compile(r"^shard_(\d+)\.npz$")


@dataclass(frozen=True, eq=False)
class GameRecord:
    """One finished self-play game, T positions, each from the view of the player to move."""

    observations: np.ndarray  # (T, C, H, W) float32 or uint8
    policies: np.ndarray  # (T, A) float32: the search's policy target
    values: np.ndarray  # (T,) float32: the outcome z for the player to move, in [-1, 1]
    policy_mask: np.ndarray  # (T,) bool: a full search made this policy a target (KataGo PCR)
    moves: tuple[int, ...] = ()  # the whole game's actions, random opening moves included
    worker_id: int = 0

    def __post_init__(self) -> None:
        length = len(self.observations)
        if self.observations.ndim != 4 or length == 0:
            raise ValueError(
                f"GameRecord.observations must be (T, C, H, W) with T >= 1, "
                f"got {self.observations.shape}"
            )
        for name, ndim in (("policies", 2), ("values", 1), ("policy_mask", 1)):
            array = getattr(self, name)
            if array.ndim != ndim or len(array) != length:
                raise ValueError(
                    f"GameRecord.{name} must have {ndim} dimension(s) and {length} rows (one "
                    f"per observation), got shape {array.shape}"
                )
        if np.any(np.abs(self.values) > 1):
            raise ValueError(f"GameRecord.values must lie in [-1, 1], got {self.values}")

    @property
    def length(self) -> int:
        """Positions recorded (T)."""
        return len(self.observations)


@dataclass(frozen=True, eq=False)
class Batch:
    """Training positions: observations (B, C, H, W) float32, policies (B, A) float32, values
    (B,) float32, policy_mask (B,) bool."""

    observations: np.ndarray
    policies: np.ndarray
    values: np.ndarray
    policy_mask: np.ndarray

    def __len__(self) -> int:
        return len(self.values)


class ReplayBuffer:
    """The newest ``capacity`` positions, sampled uniformly and augmented by symmetries.

    ``symmetries``: the game's (``game.symmetries``), identity first; none means no augmentation.
    ``directory``: where shards are written (None keeps everything in memory only).
    ``observation_dtype``: how observations are stored; "uint8" (4x smaller) holds the 0/1
    planes the games produce, and adding anything it cannot hold exactly is an error.
    ``prune_shards``: delete closed shards once all their positions have left the window
    (off by default: the shards are the run's record of every game)."""

    def __init__(
        self,
        capacity: int,
        observation_shape: tuple[int, int, int],
        num_actions: int,
        symmetries: Sequence[Symmetry] = (),
        directory: str | Path | None = None,
        games_per_shard: int = 64,
        observation_dtype: str = "uint8",
        prune_shards: bool = False,
    ):
        if capacity < 1 or games_per_shard < 1:
            raise ValueError(
                f"capacity and games_per_shard must be >= 1, got {capacity}, {games_per_shard}"
            )
        self.capacity = capacity
        self.observation_shape = tuple(int(size) for size in observation_shape)
        self.num_actions = int(num_actions)
        self.symmetries = tuple(symmetries)
        self.directory = Path(directory) if directory is not None else None
        self.games_per_shard = games_per_shard
        self.prune_shards = prune_shards
        self.observation_dtype = np.dtype(observation_dtype)
        self.observations = np.zeros((capacity, *self.observation_shape), self.observation_dtype)
        self.policies = np.zeros((capacity, self.num_actions), np.float32)
        self.values = np.zeros(capacity, np.float32)
        self.policy_mask = np.zeros(capacity, np.bool_)
        self.games_added = 0  # run-wide totals, restored by load()
        self.positions_added = 0
        # Run-wide self-play FLOPs of the games persisted so far (what it cost to make them),
        # written with every shard so that a resume after a crash counts exactly what is on disk.
        self.selfplay_flops = 0
        self._shard_index = 0
        self._shard_games: list[GameRecord] = []
        self._shard_start = (0, 0)  # (first_game, first_position) of the open shard
        self._closed_shards: list[tuple[Path, int]] = []  # (path, end position) for pruning
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)

    def __len__(self) -> int:
        """Positions in the window."""
        return min(self.positions_added, self.capacity)

    def add_game(self, record: GameRecord) -> None:
        self.add_games([record])

    def add_games(self, records: Iterable[GameRecord], selfplay_flops: int = 0) -> None:
        """Add finished games to the window, then persist them (one shard write per call);
        ``selfplay_flops``: what the self-play since the last call cost (recorded with them)."""
        records = list(records)
        for record in records:
            self._check(record)
        self.selfplay_flops += int(selfplay_flops)
        for record in records:
            self._insert(record)
            if self.directory is not None:
                self._shard_games.append(record)
                if len(self._shard_games) == self.games_per_shard:
                    self._write_shard()
                    self._close_shard()
        if self.directory is not None and self._shard_games:
            self._write_shard()
        if self.prune_shards:
            self._prune()

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        """``batch_size`` positions drawn uniformly (with replacement) from the window, each
        transformed by a symmetry drawn uniformly from the game's."""
        if len(self) == 0:
            raise ValueError("cannot sample from an empty replay buffer; add games first")
        rows = rng.integers(0, len(self), size=batch_size)
        observations = self.observations[rows].astype(np.float32)  # (B, C, H, W)
        policies = self.policies[rows]  # (B, A), a copy (fancy indexing)
        if len(self.symmetries) > 1:
            choice = rng.integers(0, len(self.symmetries), size=batch_size)
            for index, symmetry in enumerate(self.symmetries):
                chosen = choice == index
                if index and chosen.any():  # index 0 is the identity
                    observations[chosen], policies[chosen] = apply_symmetry(
                        observations[chosen], policies[chosen], symmetry
                    )
        return Batch(observations, policies, self.values[rows], self.policy_mask[rows])

    def contents(self) -> Batch:
        """The whole window, oldest position first, without augmentation."""
        order = (self.positions_added - len(self) + np.arange(len(self))) % self.capacity
        return Batch(
            self.observations[order].astype(np.float32),
            self.policies[order],
            self.values[order],
            self.policy_mask[order],
        )

    def state_dict(self) -> dict[str, int]:
        """Counters for checkpoint metadata: run-wide games and positions, and the window."""
        return {
            "games": self.games_added, "positions": self.positions_added, "window": len(self),
            "selfplay_flops": self.selfplay_flops,
        }  # fmt: skip

    @classmethod
    def load(
        cls,
        directory: str | Path,
        capacity: int,
        observation_shape: tuple[int, int, int] | None = None,
        num_actions: int | None = None,
        **options,
    ) -> ReplayBuffer:
        """The buffer a run had: the newest ``capacity`` positions from the shards in
        ``directory`` and the run-wide counters (``selfplay_flops`` -1 when the shards predate
        it); new games go to a new shard. Shapes are read
        from the shards when not given (and checked against them when given). ``options`` are
        the constructor's (symmetries, games_per_shard, observation_dtype, prune_shards)."""
        directory = Path(directory)
        shards = list_shards(directory)
        if observation_shape is None or num_actions is None:
            if not shards:
                raise CheckpointError(
                    f"no replay shards in '{directory}' to read shapes from; pass "
                    "observation_shape and num_actions to start an empty buffer there"
                )
            with _open_shard(shards[-1]) as data:
                observation_shape = observation_shape or tuple(data["observations"].shape[1:])
                num_actions = num_actions or int(data["policies"].shape[1])
        buffer = cls(capacity, observation_shape, num_actions, directory=directory, **options)
        needed, chosen = capacity, []
        for path in reversed(shards):  # newest first, until the window is full
            if needed <= 0:
                break
            games = read_shard(path)
            chosen.append((path, games))
            needed -= sum(game.length for game in games)
        for path, games in reversed(chosen):
            for game in games:
                try:
                    buffer._check(game)
                except ValueError as error:
                    raise ValueError(f"replay shard '{path}': {error}") from None
                buffer._insert(game)
        if shards:
            buffer.selfplay_flops = -1  # unknown, unless the shard says (older ones do not)
            with _open_shard(shards[-1]) as data:
                buffer.games_added = int(data["first_game"]) + len(data["game_lengths"])
                buffer.positions_added = int(data["first_position"]) + len(data["values"])
                if "selfplay_flops" in data.files:
                    buffer.selfplay_flops = int(data["selfplay_flops"])
            buffer._shard_index = _shard_number(shards[-1]) + 1
            if buffer.prune_shards:
                for path in shards:
                    with _open_shard(path) as data:
                        end = int(data["first_position"]) + len(data["values"])
                    buffer._closed_shards.append((path, end))
        buffer._shard_start = (buffer.games_added, buffer.positions_added)
        return buffer

    def _check(self, record: GameRecord) -> None:
        expected = self.observation_shape
        if tuple(record.observations.shape[1:]) != expected:
            raise ValueError(f"game observations are {record.observations.shape[1:]} per "
                             f"position; this buffer holds {expected}")  # fmt: skip
        if record.policies.shape[1] != self.num_actions:
            raise ValueError(f"game policies have {record.policies.shape[1]} actions; this "
                             f"buffer holds {self.num_actions}")  # fmt: skip
        if self.observation_dtype != record.observations.dtype:
            stored = record.observations.astype(self.observation_dtype)
            if not np.array_equal(stored, record.observations):
                raise ValueError(
                    f"observations of dtype {record.observations.dtype} do not fit "
                    f"{self.observation_dtype} exactly; use observation_dtype='float32'"
                )

    def _insert(self, record: GameRecord) -> None:
        """Write a game's positions at the ring's cursor (only the newest ``capacity`` fit)."""
        keep = min(record.length, self.capacity)
        start = self.positions_added + record.length - keep
        rows = (start + np.arange(keep)) % self.capacity
        self.observations[rows] = record.observations[-keep:]
        self.policies[rows] = record.policies[-keep:]
        self.values[rows] = record.values[-keep:]
        self.policy_mask[rows] = record.policy_mask[-keep:]
        self.games_added += 1
        self.positions_added += record.length

    def _shard_path(self, index: int) -> Path:
        assert self.directory is not None
        return self.directory / f"shard_{index:06d}.npz"

    def _write_shard(self) -> None:
        games = self._shard_games
        first_game, first_position = self._shard_start
        arrays: dict[str, Any] = {
            "observations": np.concatenate([g.observations for g in games]).astype(
                self.observation_dtype
            ),
            "policies": np.concatenate([g.policies for g in games]).astype(np.float32),
            "values": np.concatenate([g.values for g in games]).astype(np.float32),
            "policy_mask": np.concatenate([g.policy_mask for g in games]).astype(np.bool_),
            "game_lengths": np.array([g.length for g in games], np.int64),
            "worker_ids": np.array([g.worker_id for g in games], np.int64),
            "move_counts": np.array([len(g.moves) for g in games], np.int64),
            "moves": np.array([m for g in games for m in g.moves], np.int64),
            "first_game": np.int64(first_game),
            "first_position": np.int64(first_position),
            "selfplay_flops": np.int64(self.selfplay_flops),  # run-wide, as of this write
        }
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        write_atomic(self._shard_path(self._shard_index), buffer.getvalue())

    def _close_shard(self) -> None:
        end = self._shard_start[1] + sum(g.length for g in self._shard_games)
        self._closed_shards.append((self._shard_path(self._shard_index), end))
        self._shard_start = (self._shard_start[0] + len(self._shard_games), end)
        self._shard_index += 1
        self._shard_games = []

    def _prune(self) -> None:
        window_start = self.positions_added - len(self)
        while self._closed_shards and self._closed_shards[0][1] <= window_start:
            path, _ = self._closed_shards.pop(0)
            path.unlink(missing_ok=True)


def list_shards(directory: str | Path) -> list[Path]:
    """The replay shards in ``directory``, oldest first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return sorted((p for p in directory.iterdir() if _SHARD.match(p.name)), key=_shard_number)


def read_shard(path: str | Path) -> list[GameRecord]:
    """The games stored in one shard, in the order they were added."""
    path = Path(path)
    with _open_shard(path) as data:
        try:
            lengths, move_counts = data["game_lengths"], data["move_counts"]
            observations, policies = data["observations"], data["policies"]
            values, masks, moves = data["values"], data["policy_mask"], data["moves"]
            worker_ids = data["worker_ids"]
        except Exception as error:  # a member missing, truncated or failing its CRC check
            raise CheckpointError(f"replay shard '{path}' is corrupt: {error}") from None
    if lengths.sum() != len(values) or move_counts.sum() != len(moves):
        raise CheckpointError(f"replay shard '{path}' is corrupt: its game lengths do not add "
                              "up to its positions")  # fmt: skip
    starts = np.concatenate([[0], np.cumsum(lengths)])
    move_starts = np.concatenate([[0], np.cumsum(move_counts)])
    return [
        GameRecord(
            observations=observations[starts[i] : starts[i + 1]],
            policies=policies[starts[i] : starts[i + 1]],
            values=values[starts[i] : starts[i + 1]],
            policy_mask=masks[starts[i] : starts[i + 1]],
            moves=tuple(int(m) for m in moves[move_starts[i] : move_starts[i + 1]]),
            worker_id=int(worker_ids[i]),
        )
        for i in range(len(lengths))
    ]


def read_games(directory: str | Path) -> Iterator[GameRecord]:
    """Every game in a replay directory's shards, oldest first (for analysis and tests)."""
    for path in list_shards(directory):
        yield from read_shard(path)


def _shard_number(path: Path) -> int:
    match = _SHARD.match(path.name)
    assert match is not None
    return int(match.group(1))


def _open_shard(path: Path) -> np.lib.npyio.NpzFile:
    try:
        return np.load(path, allow_pickle=False)
    except Exception as error:  # not a zip archive, truncated, unreadable
        raise CheckpointError(f"cannot read replay shard '{path}': {error}") from None
