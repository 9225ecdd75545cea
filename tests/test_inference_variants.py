"""The forward's variants (channels_last, torch.compile) answer as eager fp32 does."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from games import make_game
from selfplay.inference import Evaluator, InferenceConfig
from selfplay.network import NetworkConfig, build_network


def _network(seed: int = 0) -> torch.nn.Module:
    """A small Connect Four net whose batch norms are not the identity (trained statistics and
    scales drawn at random), so that folding them changes every convolution."""
    game = make_game("connect_four")
    generator = torch.Generator().manual_seed(seed)
    network = build_network(
        NetworkConfig(blocks=2, channels=8), game.observation_shape, game.num_actions, generator
    )
    with torch.no_grad():
        for module in network.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                ranges = (
                    (module.running_mean, -1, 1), (module.running_var, 0.2, 3),
                    (module.weight, -2, 2), (module.bias, -1, 1),
                )  # fmt: skip
                for tensor, low, high in ranges:
                    tensor.copy_(low + (high - low) * torch.rand(tensor.shape, generator=generator))
    return network


def _evaluator(**options: bool) -> Evaluator:
    """The plain eager float32 forward unless ``options`` say otherwise."""
    options = {"channels_last": False, "fold_batchnorm": False, **options}
    return Evaluator(_network(), "cpu", num_threads=1, **options)


def _batch(count: int) -> tuple[np.ndarray, np.ndarray]:
    game = make_game("connect_four")
    rng = np.random.default_rng(0)
    observations = (rng.random((count, *game.observation_shape)) < 0.3).astype(np.float32)
    masks = rng.random((count, game.num_actions)) < 0.8
    masks[:, 0] = True
    return observations, masks


def test_self_play_defaults_to_channels_last_and_folded_norms_without_compiling():
    config = InferenceConfig()
    assert config.channels_last and config.fold_batchnorm and not config.compile


def test_folded_forward_follows_loaded_weights():
    """load_weights refreshes the folded convolutions, the compiled form included: the folded
    evaluator then answers as an unfolded one built with the loaded weights, not as before."""
    observations, masks = _batch(9)
    before = _evaluator().evaluate(observations, masks)[1]
    expected = Evaluator(_network(seed=1), "cpu", channels_last=False, fold_batchnorm=False)
    expected_priors, expected_values = expected.evaluate(observations, masks)
    assert not np.allclose(before, expected_values, atol=1e-3)
    for compile in (False, True):
        folded = Evaluator(_network(seed=0), "cpu", num_threads=1, compile=compile)
        np.testing.assert_allclose(folded.evaluate(observations, masks)[1], before, atol=1e-5)
        assert folded.load_weights(_network(seed=1).state_dict(), version=1)
        priors, values = folded.evaluate(observations, masks)
        np.testing.assert_allclose(priors, expected_priors, atol=1e-5)
        np.testing.assert_allclose(values, expected_values, atol=1e-5)


@pytest.mark.parametrize(
    "options",
    [{"channels_last": True}, {"compile": True}, {"fold_batchnorm": True},
     {"fold_batchnorm": True, "channels_last": True, "compile": True}],
)  # fmt: skip
def test_variant_gives_eager_outputs(options):
    eager, variant = _evaluator(), _evaluator(**options)
    for count in (5, 17):  # a second batch shape: compile must not reuse the first shape's code
        observations, masks = _batch(count)
        expected_priors, expected_values = eager.evaluate(observations, masks)
        priors, values = variant.evaluate(observations, masks)
        np.testing.assert_allclose(priors, expected_priors, atol=1e-5)
        np.testing.assert_allclose(values, expected_values, atol=1e-5)
        assert np.all(priors[~masks] == 0)
