"""Random streams of a run: each derived from the run's seed in one place, so ``seed:`` decides
the initial net and every stream, and different roles or indices never share one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch

from experiment.config import ConfigError, load_config
from experiment.seeds import ROLES, stream_seed
from selfplay.actors import ReplayProcess, initial_network
from selfplay.config import TrainConfig
from selfplay.replay import GameRecord

SMOKE = Path(__file__).parent.parent / "configs" / "tictactoe-smoke.yaml"


def test_stream_seeds_are_fixed_and_distinct_per_role_and_index():
    seeds = [
        stream_seed(7, role, *indices) for role in ROLES for indices in [(), (0,), (1,), (0, 1)]
    ]
    assert len(set(seeds)) == len(seeds)
    assert all(0 <= seed < 2**63 for seed in seeds)
    assert stream_seed(7, "worker", 1, 0) == stream_seed(7, "worker", 1, 0)
    assert stream_seed(7, "worker", 1, 0) != stream_seed(8, "worker", 1, 0)
    # The derivation is part of what reproduces a recorded run: it must never change.
    assert stream_seed(0, "network") == 2918264622725855778
    assert stream_seed(0, "worker", 0, 0) == 8123687754607692694
    with pytest.raises(ValueError, match="unknown random stream 'learnr'; the roles are network"):
        stream_seed(0, "learnr")
    with pytest.raises(ValueError, match="non-negative"):
        stream_seed(-1, "worker", 0)


def weights(config: TrainConfig) -> bytes:
    return safetensors.torch.save(initial_network(config).state_dict())


def test_the_run_seed_decides_the_initial_net():
    config = load_config(TrainConfig, SMOKE)
    first = weights(config)
    torch.manual_seed(12345)  # torch's global RNG plays no part
    torch.rand(10)
    assert weights(config) == first
    assert weights(load_config(TrainConfig, SMOKE, ["seed=1"])) != first
    with pytest.raises(ConfigError, match="'seed' must be at least 0"):
        load_config(TrainConfig, SMOKE, ["seed=-3"])


def fake_games(game, count: int) -> list[GameRecord]:
    length = 3
    return [
        GameRecord(
            observations=np.zeros((length, *game.observation_shape), np.float32),
            policies=np.full((length, game.num_actions), 1 / game.num_actions, np.float32),
            values=np.linspace(-1, 1, length).astype(np.float32) * (index % 2),
            policy_mask=np.ones(length, np.bool_),
            moves=(0, 1, 2),
        )
        for index in range(count)
    ]


def test_replay_sampling_follows_the_run_seed_and_the_session(tmp_path):
    config = load_config(TrainConfig, SMOKE)
    game = config.game.make()

    def first_batch(directory: str, session: int, seed: int = 0) -> np.ndarray:
        replay = ReplayProcess(load_config(TrainConfig, SMOKE, [f"seed={seed}"]), directory,
                               resume=False, session=session)  # fmt: skip
        replay.add_games(fake_games(game, 20))
        return replay.sample(64).values

    same = first_batch(str(tmp_path / "a"), 0)
    np.testing.assert_array_equal(first_batch(str(tmp_path / "b"), 0), same)
    assert not np.array_equal(first_batch(str(tmp_path / "c"), 1), same)  # a resumed session
    assert not np.array_equal(first_batch(str(tmp_path / "d"), 0, seed=1), same)
