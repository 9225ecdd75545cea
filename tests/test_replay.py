"""Replay buffer: the window, its persistence across a restart, and symmetry augmentation."""

from __future__ import annotations

import numpy as np
import pytest

from experiment.checkpoint import CheckpointError
from games import apply_symmetry, make_game
from selfplay.replay import GameRecord, ReplayBuffer, list_shards, read_games

SHAPE, ACTIONS = (2, 3, 3), 9


def fake_game(length: int, first_id: int, worker_id: int = 0) -> GameRecord:
    """A game whose positions are numbered: value = id / 1000 identifies each position."""
    ids = np.arange(first_id, first_id + length)
    observations = np.zeros((length, *SHAPE), np.float32)
    observations.reshape(length, -1)[np.arange(length), ids % 18] = 1.0
    policies = np.zeros((length, ACTIONS), np.float32)
    policies[np.arange(length), ids % ACTIONS] = 1.0
    return GameRecord(
        observations=observations,
        policies=policies,
        values=(ids / 1000).astype(np.float32),
        policy_mask=ids % 2 == 0,
        moves=tuple(int(i % ACTIONS) for i in ids),
        worker_id=worker_id,
    )


def games(lengths, first_id: int = 0) -> list[GameRecord]:
    records, next_id = [], first_id
    for index, length in enumerate(lengths):
        records.append(fake_game(length, next_id, worker_id=index % 3))
        next_id += length
    return records


def test_window_keeps_the_newest_capacity_positions_in_order():
    buffer = ReplayBuffer(10, SHAPE, ACTIONS)
    buffer.add_games(games([4, 3, 5]))  # 12 positions, ids 0..11
    assert len(buffer) == 10
    assert buffer.state_dict() == {"games": 3, "positions": 12, "window": 10, "selfplay_flops": 0}
    np.testing.assert_allclose(buffer.contents().values, np.arange(2, 12) / 1000, rtol=1e-6)
    buffer.add_game(fake_game(25, first_id=12))  # longer than the window: its last 10 stay
    np.testing.assert_allclose(buffer.contents().values, np.arange(27, 37) / 1000, rtol=1e-6)
    assert buffer.positions_added == 37


def test_persistence_round_trip_restores_window_counters_and_games(tmp_path):
    records = games([3, 4, 2, 5, 1])
    buffer = ReplayBuffer(9, SHAPE, ACTIONS, directory=tmp_path, games_per_shard=2)
    buffer.add_games(records[:3], selfplay_flops=300)
    buffer.add_game(records[3])
    buffer.add_games([records[4]], selfplay_flops=50)
    assert [path.name for path in list_shards(tmp_path)] == [
        "shard_000000.npz", "shard_000001.npz", "shard_000002.npz"
    ]  # fmt: skip
    restored = ReplayBuffer.load(tmp_path, capacity=9)
    assert restored.state_dict() == buffer.state_dict()
    for name in ("observations", "policies", "values", "policy_mask"):
        np.testing.assert_array_equal(getattr(restored.contents(), name),
                                      getattr(buffer.contents(), name))  # fmt: skip
    stored = list(read_games(tmp_path))
    assert [game.moves for game in stored] == [game.moves for game in records]
    assert [game.worker_id for game in stored] == [game.worker_id for game in records]
    np.testing.assert_array_equal(stored[3].policies, records[3].policies)
    # After the restart new games go to a new shard, and a second restart sees them all.
    restored.add_games([fake_game(2, first_id=15)], selfplay_flops=7)
    assert len(list_shards(tmp_path)) == 4
    again = ReplayBuffer.load(tmp_path, capacity=100)
    assert again.state_dict() == {"games": 6, "positions": 17, "window": 17, "selfplay_flops": 357}
    np.testing.assert_allclose(again.contents().values, np.arange(17) / 1000, rtol=1e-6)


def test_every_added_game_is_on_disk_at_once(tmp_path):
    buffer = ReplayBuffer(100, SHAPE, ACTIONS, directory=tmp_path, games_per_shard=64)
    for count in range(1, 4):
        buffer.add_game(fake_game(2, first_id=2 * count))
        # A crash now (no close, no flush call) loses nothing: the open shard was rewritten.
        assert len(list(read_games(tmp_path))) == count
    assert not list(tmp_path.glob("*.tmp"))


def test_pruning_deletes_only_shards_wholly_outside_the_window(tmp_path):
    buffer = ReplayBuffer(4, SHAPE, ACTIONS, directory=tmp_path, games_per_shard=1,
                          prune_shards=True)  # fmt: skip
    buffer.add_games(games([3, 3, 3]))  # window: ids 5..8, inside games 2 and 3
    assert [path.name for path in list_shards(tmp_path)] == [
        "shard_000001.npz", "shard_000002.npz"
    ]  # fmt: skip
    restored = ReplayBuffer.load(tmp_path, capacity=4, prune_shards=True)
    assert restored.state_dict() == {"games": 3, "positions": 9, "window": 4, "selfplay_flops": 0}


def test_corrupt_shard_is_named(tmp_path):
    buffer = ReplayBuffer(100, SHAPE, ACTIONS, directory=tmp_path)
    buffer.add_games(games([3, 3]))
    path = list_shards(tmp_path)[0]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="shard_000000.npz"):
        ReplayBuffer.load(tmp_path, capacity=100)


def test_load_checks_shapes_and_needs_them_for_an_empty_directory(tmp_path):
    with pytest.raises(CheckpointError, match="observation_shape"):
        ReplayBuffer.load(tmp_path, capacity=10)
    empty = ReplayBuffer.load(tmp_path, capacity=10, observation_shape=SHAPE, num_actions=9)
    assert len(empty) == 0
    empty.add_game(fake_game(2, 0))
    with pytest.raises(ValueError, match="shard_000000.npz.*actions"):
        ReplayBuffer.load(tmp_path, capacity=10, observation_shape=SHAPE, num_actions=7)


def test_uint8_storage_refuses_observations_it_cannot_hold():
    buffer = ReplayBuffer(10, SHAPE, ACTIONS)
    record = fake_game(2, 0)
    halves = GameRecord(record.observations * 0.5, record.policies, record.values,
                        record.policy_mask)  # fmt: skip
    with pytest.raises(ValueError, match="observation_dtype='float32'"):
        buffer.add_game(halves)
    exact = ReplayBuffer(10, SHAPE, ACTIONS, observation_dtype="float32")
    exact.add_game(halves)
    np.testing.assert_array_equal(exact.contents().observations, halves.observations)


def test_game_record_checks_its_arrays():
    record = fake_game(3, 0)
    with pytest.raises(ValueError, match="policies"):
        GameRecord(record.observations, record.policies[:2], record.values, record.policy_mask)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        GameRecord(record.observations, record.policies, record.values + 2, record.policy_mask)


def test_sampling_is_uniform_and_reproducible():
    buffer = ReplayBuffer(50, SHAPE, ACTIONS)
    buffer.add_games(games([10] * 5))
    first = buffer.sample(4000, np.random.default_rng(7))
    second = buffer.sample(4000, np.random.default_rng(7))
    np.testing.assert_array_equal(first.values, second.values)
    counts = np.bincount(np.rint(first.values * 1000).astype(int), minlength=50)
    assert counts.min() > 40 and counts.max() < 130  # about 80 each
    with pytest.raises(ValueError, match="empty"):
        ReplayBuffer(5, SHAPE, ACTIONS).sample(1, np.random.default_rng(0))


@pytest.mark.parametrize(("name", "params"), [("tic_tac_toe", {}), ("connect_four", {})])
def test_each_sample_gets_one_symmetry_applied_to_observation_and_policy(name, params):
    game = make_game(name, **params)
    rng = np.random.default_rng(0)
    records = []
    for index in range(6):  # asymmetric positions from random play, uniform policies over legal
        state = game.initial_state()
        for _ in range(2 + index % 3):
            state = game.apply(state, int(rng.choice(game.legal_actions(state))))
        legal = game.legal_mask(state)
        policy = (legal / legal.sum() * np.linspace(1, 2, game.num_actions)).astype(np.float32)
        value = np.array([index / 10], np.float32)  # identifies the position in a sample
        records.append(
            GameRecord(game.observation(state)[None], policy[None], value, np.array([True]))
        )
    buffer = ReplayBuffer(100, game.observation_shape, game.num_actions, game.symmetries)
    buffer.add_games(records)
    batch = buffer.sample(400, np.random.default_rng(1))
    used = set()
    for observation, policy, value in zip(
        batch.observations, batch.policies, batch.values, strict=True
    ):
        original = records[int(round(value * 10))]
        matches = []
        for k, symmetry in enumerate(game.symmetries):
            observations, policies = apply_symmetry(
                original.observations, original.policies, symmetry
            )
            if np.array_equal(observations[0], observation) and np.array_equal(policies[0], policy):
                matches.append(k)
        assert matches, "a sample is no symmetry of its position (observation and policy)"
        used.update(matches)
    assert used == set(range(len(game.symmetries)))
