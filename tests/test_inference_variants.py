"""The forward's variants (channels_last, torch.compile) answer as eager fp32 does."""

from __future__ import annotations

import numpy as np
import pytest

from games import make_game
from selfplay.inference import Evaluator, InferenceConfig
from selfplay.network import NetworkConfig, build_network


def _evaluator(**options: bool) -> Evaluator:
    game = make_game("connect_four")
    network = build_network(
        NetworkConfig(blocks=1, channels=8), game.observation_shape, game.num_actions
    )
    return Evaluator(network, "cpu", num_threads=1, **options)


def _batch(count: int) -> tuple[np.ndarray, np.ndarray]:
    game = make_game("connect_four")
    rng = np.random.default_rng(0)
    observations = (rng.random((count, *game.observation_shape)) < 0.3).astype(np.float32)
    masks = rng.random((count, game.num_actions)) < 0.8
    masks[:, 0] = True
    return observations, masks


def test_self_play_defaults_to_channels_last_without_compiling():
    config = InferenceConfig()
    assert config.channels_last and not config.compile


@pytest.mark.parametrize("options", [{"channels_last": True}, {"compile": True}])
def test_variant_gives_eager_outputs(options):
    eager, variant = _evaluator(), _evaluator(**options)
    for count in (5, 17):  # a second batch shape: compile must not reuse the first shape's code
        observations, masks = _batch(count)
        expected_priors, expected_values = eager.evaluate(observations, masks)
        priors, values = variant.evaluate(observations, masks)
        np.testing.assert_allclose(priors, expected_priors, atol=1e-5)
        np.testing.assert_allclose(values, expected_values, atol=1e-5)
        assert np.all(priors[~masks] == 0)
