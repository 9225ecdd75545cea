"""The compute ledger: FLOP counts against hand computations, and the ledger record itself."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from experiment.ledger import (
    ComputeLedger,
    forward_flops,
    learner_flops,
    log_milestone,
    transformer_train_flops,
)


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def small_conv_net() -> nn.Module:
    # (B, 3, 6, 7) -> conv3x3 pad 1 -> (B, 8, 6, 7) -> BN, ReLU -> (B, 336) -> linear -> (B, 10)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8 * 6 * 7, 10),
    )


def test_forward_flops_matches_hand_computation_for_a_small_conv_net():
    batch = 2
    conv = 2 * 3 * 3 * 3 * 8 * 6 * 7  # 2 * k_h * k_w * C_in * C_out * H_out * W_out
    linear = 2 * (8 * 6 * 7) * 10  # 2 * in * out
    assert forward_flops(small_conv_net(), (batch, 3, 6, 7)) == batch * (conv + linear)


def test_forward_flops_counts_strided_convolutions_by_output_size():
    net = nn.Sequential(nn.Conv2d(4, 6, 3, stride=2), nn.Flatten(), nn.Linear(6 * 4 * 4, 5))
    # 9x9 input, 3x3 kernel, stride 2, no padding -> 4x4 output
    expected = 2 * 3 * 3 * 4 * 6 * 4 * 4 + 2 * 96 * 5
    assert forward_flops(net, torch.zeros(1, 4, 9, 9)) == expected


def test_forward_flops_is_cached_per_architecture_and_shape():
    net = small_conv_net()
    calls = []
    net.register_forward_hook(lambda *arguments: calls.append(1))
    first = forward_flops(net, (4, 3, 6, 7))
    assert forward_flops(net, (4, 3, 6, 7)) == first
    assert len(calls) == 1
    forward_flops(net, (5, 3, 6, 7))  # another shape is counted again
    assert len(calls) == 2
    # Another instance of the same architecture shares the cached count.
    twin = small_conv_net()
    twin.register_forward_hook(lambda *arguments: calls.append(1))
    assert forward_flops(twin, (4, 3, 6, 7)) == first
    assert len(calls) == 2


def test_forward_flops_leaves_training_state_and_batch_norm_statistics_alone():
    net = nn.Sequential(nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3), nn.Flatten(), nn.Linear(12, 1))
    net.train()
    before = net[1].running_mean.clone()
    forward_flops(net, torch.randn(8, 2, 2, 2) + 5.0)
    assert net.training
    assert torch.equal(net[1].running_mean, before)


def test_ledger_splits_train_and_test_compute_and_merges():
    ledger = ComputeLedger().add(selfplay_flops=100, learner_flops=30)
    ledger = ledger.add(test_flops=7, label_flops=2, sft_flops=1)
    assert ledger.train_flops == 133
    assert ledger.test_flops == 7
    merged = ledger + ComputeLedger(learner_flops=5)
    assert merged.learner_flops == 35 and ledger.learner_flops == 30  # records never change
    assert ComputeLedger.from_dict(merged.to_dict()) == merged
    scalars = merged.scalars()
    assert scalars["compute/train_flops"] == 138
    assert scalars["compute/selfplay_flops"] == 100
    assert scalars["compute/learner_flops"] == 35


def test_ledger_rejects_unknown_fields_and_negative_flops():
    with pytest.raises(KeyError, match="learner_flops"):
        ComputeLedger().add(learner_flop=1)
    with pytest.raises(KeyError, match="valid fields"):
        ComputeLedger.from_dict({"train": 1})
    with pytest.raises(ValueError, match="cannot decrease"):
        ComputeLedger().add(test_flops=-1)


def test_learner_flops_are_three_forwards_per_sample():
    assert learner_flops(1000, 256) == 3 * 1000 * 256
    assert transformer_train_flops(10, 20) == 6 * 10 * 20


@pytest.mark.parametrize(
    ("flops", "index"), [(0, -1), (1, 0), (2, 1), (3, 1), (8, 3), (2**50 - 1, 49), (2**50, 50)]
)
def test_log_milestone_moves_at_every_doubling(flops, index):
    assert log_milestone(flops) == index
