"""The policy-value net, the evaluator the search calls, and the batching inference server."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import safetensors.torch
import torch

from experiment.ledger import forward_flops
from games import make_game
from selfplay.inference import Evaluator, InferenceServer
from selfplay.network import (
    NetworkConfig,
    build_network,
    masked_log_softmax,
    masked_softmax,
    resolve_device,
)

SMALL = NetworkConfig(blocks=2, channels=8, policy_channels=2, value_channels=1, value_hidden=16)


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def random_positions(game, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Observations and legal masks of ``count`` positions reached by random play."""
    rng = np.random.default_rng(seed)
    states = []
    while len(states) < count:
        state = game.initial_state()
        for _ in range(rng.integers(0, game.max_game_length)):
            if game.is_terminal(state):
                break
            states.append(state)
            state = game.apply(state, int(rng.choice(game.legal_actions(state))))
    states = np.stack(states[:count])
    return game.observations(states), game.legal_masks(states)


def make_evaluator(game, seed: int = 0, **options) -> Evaluator:
    generator = torch.Generator().manual_seed(seed)
    network = build_network(SMALL, game.observation_shape, game.num_actions, generator)
    return Evaluator(network, "cpu", **options)


@pytest.mark.parametrize(("name", "params"), [("connect_four", {}), ("hex", {"board_size": 5})])
def test_forward_shapes_and_value_range(name, params):
    game = make_game(name, **params)
    net = build_network(SMALL, game.observation_shape, game.num_actions).eval()
    observations, _ = random_positions(game, 6, seed=1)
    logits, values = net(torch.from_numpy(observations))
    assert logits.shape == (6, game.num_actions)
    assert values.shape == (6,)
    assert torch.all(values.abs() < 1)


def test_initial_weights_come_from_the_generator_alone():
    game = make_game("connect_four")

    def initial_weights(seed: int) -> bytes:
        generator = torch.Generator().manual_seed(seed)
        net = build_network(SMALL, game.observation_shape, game.num_actions, generator)
        return safetensors.torch.save(net.state_dict())

    first = initial_weights(3)
    torch.rand(1000)  # move torch's global RNG between the builds: it must not matter
    global_state = torch.get_rng_state()
    assert initial_weights(3) == first  # byte-identical
    assert torch.equal(torch.get_rng_state(), global_state)  # and is neither read nor moved
    assert initial_weights(4) != first


def test_residual_blocks_start_as_the_identity():
    game = make_game("connect_four")
    net = build_network(SMALL, game.observation_shape, game.num_actions).eval()
    generator = torch.Generator().manual_seed(0)
    features = torch.relu(torch.randn(5, SMALL.channels, 6, 7, generator=generator))  # as the stem
    with torch.no_grad():
        torch.testing.assert_close(net.tower(features), features)


def test_masking_gives_illegal_moves_zero_prior():
    logits = torch.tensor([[3.0, 1.0, -2.0, 0.5], [0.0, 0.0, 0.0, 0.0], [1.0, 2.0, 3.0, 4.0]])
    mask = torch.tensor([[True, False, True, True], [False, True, False, True], [False] * 4])
    priors = masked_softmax(logits, mask)
    assert torch.all(priors[~mask] == 0)
    assert torch.allclose(priors[:2].sum(-1), torch.ones(2))
    assert torch.allclose(priors[1], torch.tensor([0.0, 0.5, 0.0, 0.5]))
    assert torch.all(priors[2] == 0)  # no legal move: zeros, not NaN
    log_priors = masked_log_softmax(logits, mask)
    assert torch.all(torch.isneginf(log_priors[~mask]))
    expected = torch.log_softmax(torch.tensor([3.0, -2.0, 0.5]), dim=0)
    assert torch.allclose(log_priors[0, mask[0]], expected)


def test_evaluator_priors_are_a_distribution_over_legal_moves():
    game = make_game("connect_four")
    evaluator = make_evaluator(game)
    observations, masks = random_positions(game, 40, seed=2)
    masks[::3, 3] = False  # also hide some legal moves: the mask, not the board, decides
    priors, values = evaluator.evaluate(observations, masks)
    assert priors.dtype == np.float32 and values.dtype == np.float32
    assert priors.shape == (40, 7) and values.shape == (40,)
    assert np.all(priors[~masks] == 0)
    assert np.all(priors[masks] > 0)
    np.testing.assert_allclose(priors.sum(axis=1), 1.0, rtol=1e-5)
    # Same answer as the net by hand, in eval mode.
    with torch.no_grad():
        logits, expected_values = evaluator.network(torch.from_numpy(observations))
    expected = torch.softmax(logits.masked_fill(~torch.from_numpy(masks), -torch.inf), -1)
    np.testing.assert_allclose(priors, expected.numpy(), atol=1e-6)
    np.testing.assert_allclose(values, expected_values.numpy(), atol=1e-6)


def test_evaluator_batch_equals_one_position_at_a_time():
    game = make_game("tic_tac_toe")
    evaluator = make_evaluator(game)
    observations, masks = random_positions(game, 12, seed=3)
    priors, values = evaluator(observations, masks)
    for i in range(12):
        one_prior, one_value = evaluator(observations[i : i + 1], masks[i : i + 1])
        np.testing.assert_allclose(one_prior[0], priors[i], atol=1e-6)
        np.testing.assert_allclose(one_value[0], values[i], atol=1e-6)


def test_evaluator_counts_flops_as_a_hand_computation():
    game = make_game("connect_four")  # observation (2, 6, 7), 7 actions
    evaluator = make_evaluator(game)
    planes, cells, channels, actions = 2, 42, SMALL.channels, 7
    per_position = (
        2 * 9 * planes * channels * cells  # stem conv3x3
        + SMALL.blocks * 2 * (2 * 9 * channels * channels * cells)  # two conv3x3 per block
        + 2 * channels * SMALL.policy_channels * cells  # policy conv1x1
        + 2 * SMALL.policy_channels * cells * actions  # policy linear
        + 2 * channels * SMALL.value_channels * cells  # value conv1x1
        + 2 * SMALL.value_channels * cells * SMALL.value_hidden  # value hidden linear
        + 2 * SMALL.value_hidden * 1  # value output linear
    )
    assert evaluator.flops_per_evaluation == per_position
    # Every layer is per-sample, so a batch costs exactly its size times one position.
    assert forward_flops(evaluator.network, (5, 2, 6, 7)) == 5 * per_position
    observations, masks = random_positions(game, 9, seed=4)
    evaluator(observations, masks)
    evaluator(observations[:4], masks[:4])
    assert evaluator.evaluations == 13
    assert evaluator.flops == 13 * per_position


def test_load_weights_by_version():
    game = make_game("tic_tac_toe")
    evaluator, other = make_evaluator(game, seed=0), make_evaluator(game, seed=1)
    observations, masks = random_positions(game, 5, seed=5)
    before = evaluator(observations, masks)[1]
    assert evaluator.load_weights(other.network.state_dict(), version=3)
    np.testing.assert_allclose(evaluator(observations, masks)[1], other(observations, masks)[1])
    # The same version again is a no-op, even when handed different tensors.
    assert not evaluator.load_weights(make_evaluator(game, seed=0).network.state_dict(), 3)
    assert not np.allclose(evaluator(observations, masks)[1], before)
    assert evaluator.version == 3


def test_channels_last_and_bfloat16_autocast_agree_with_float32():
    game = make_game("hex", board_size=5)
    observations, masks = random_positions(game, 16, seed=6)
    reference = make_evaluator(game)(observations, masks)
    channels_last = make_evaluator(game, channels_last=True)(observations, masks)
    np.testing.assert_allclose(channels_last[0], reference[0], atol=1e-5)
    np.testing.assert_allclose(channels_last[1], reference[1], atol=1e-5)
    bfloat16 = make_evaluator(game, precision="bfloat16")(observations, masks)
    assert bfloat16[0].dtype == np.float32
    np.testing.assert_allclose(bfloat16[0].sum(1), 1.0, rtol=1e-5)
    assert np.all(bfloat16[0][~masks] == 0)
    np.testing.assert_allclose(bfloat16[0], reference[0], atol=0.03)  # bf16: 8 mantissa bits
    np.testing.assert_allclose(bfloat16[1], reference[1], atol=0.03)


def test_evaluator_rejects_mismatched_inputs_and_unknown_precision():
    game = make_game("tic_tac_toe")
    evaluator = make_evaluator(game)
    observations, masks = random_positions(game, 3, seed=7)
    with pytest.raises(ValueError, match=r"\(L, 2, 3, 3\)"):
        evaluator(observations[:, :1], masks)
    with pytest.raises(ValueError, match=r"\(3, 9\)"):
        evaluator(observations, masks[:, :8])
    with pytest.raises(ValueError, match="precision"):
        make_evaluator(game, precision="float8")
    empty_priors, empty_values = evaluator(observations[:0], masks[:0])
    assert empty_priors.shape == (0, 9) and empty_values.shape == (0,)


def test_resolve_device():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")


class RecordingEvaluator(Evaluator):
    """Records the rows of every forward the server makes."""

    def __init__(self, *arguments, **options):
        super().__init__(*arguments, **options)
        self.batch_rows: list[int] = []

    def evaluate(self, observations, legal_masks):
        self.batch_rows.append(len(observations))
        return super().evaluate(observations, legal_masks)


def recording_evaluator(game) -> RecordingEvaluator:
    net = build_network(SMALL, game.observation_shape, game.num_actions)  # generator seeded 0
    return RecordingEvaluator(net, "cpu")


def test_server_merges_concurrent_requests_with_identical_results():
    game = make_game("connect_four")
    evaluator = recording_evaluator(game)
    requests = [random_positions(game, size, seed=10 + size) for size in (3, 5, 8, 1)]
    expected = [evaluator(*request) for request in requests]
    evaluator.batch_rows.clear()
    server = InferenceServer(evaluator, max_batch=64, max_wait_ms=2000, expected_callers=4)
    answers: list = [None] * len(requests)
    start = threading.Barrier(len(requests))

    def caller(index: int) -> None:
        start.wait()
        answers[index] = server.evaluate(*requests[index])

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    server.close()
    assert evaluator.batch_rows == [17]  # all four callers in one forward
    for (priors, values), (expected_priors, expected_values) in zip(answers, expected, strict=True):
        np.testing.assert_allclose(priors, expected_priors, atol=1e-6)
        np.testing.assert_allclose(values, expected_values, atol=1e-6)
    stats = server.stats()
    assert stats.requests == 4 and stats.batches == 1 and stats.mean_batch == 17


def test_server_respects_max_batch_and_max_wait():
    game = make_game("tic_tac_toe")
    evaluator = recording_evaluator(game)
    observations, masks = random_positions(game, 30, seed=11)
    server = InferenceServer(evaluator, max_batch=10, max_wait_ms=500)
    futures = [server.submit(observations[i : i + 4], masks[i : i + 4]) for i in range(0, 24, 4)]
    big = server.submit(observations, masks)  # larger than max_batch: evaluated alone
    results = [future.result(timeout=60) for future in futures]
    big_priors, _ = big.result(timeout=60)
    assert all(rows <= 10 for rows in evaluator.batch_rows[:-1])
    assert evaluator.batch_rows[-1] == 30
    assert sum(evaluator.batch_rows) == 54
    for index, (priors, _) in enumerate(results):
        np.testing.assert_allclose(priors, big_priors[4 * index : 4 * index + 4], atol=1e-6)
    # One lone request is answered after max_wait_ms, not held forever.
    lone = InferenceServer(recording_evaluator(game), max_batch=1000, max_wait_ms=1)
    assert lone.evaluate(observations[:2], masks[:2])[0].shape == (2, 9)
    lone.close()
    server.close()
    with pytest.raises(RuntimeError, match="closed"):
        server.submit(observations[:1], masks[:1])


def test_server_reports_errors_to_every_caller_and_loads_weights():
    game = make_game("tic_tac_toe")
    evaluator = recording_evaluator(game)
    server = InferenceServer(evaluator, max_batch=100, max_wait_ms=1)
    observations, masks = random_positions(game, 4, seed=12)
    with pytest.raises(ValueError, match="legal_masks"):  # checked in the caller's thread
        server.evaluate(observations, masks[:, :3])
    generator = torch.Generator().manual_seed(5)
    other = RecordingEvaluator(
        build_network(SMALL, game.observation_shape, game.num_actions, generator), "cpu"
    )
    assert server.load_weights(other.network.state_dict(), version=1)
    assert server.version == 1
    np.testing.assert_allclose(server.evaluate(observations, masks)[1],
                               other(observations, masks)[1], atol=1e-6)  # fmt: skip
    server.close()
