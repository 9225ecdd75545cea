"""ScalarWriter: what it writes, TensorBoard's own reader reads back, under the contract's tags."""

from __future__ import annotations

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from experiment.ledger import ComputeLedger
from experiment.tensorboard import ScalarWriter


def test_scalars_read_back_with_event_accumulator(tmp_path):
    with ScalarWriter(tmp_path) as writer:
        writer.scalars({"loss/policy": 2.0, "loss/value": 0.5}, step=1)
        writer.scalars({"loss/policy": 1.5, "loss/value": 0.25}, step=2)
        writer.scalars(ComputeLedger(selfplay_flops=10, learner_flops=6).scalars(), step=2)
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"loss/policy", "loss/value", "compute/train_flops", "compute/selfplay_flops"} <= tags
    policy = [(event.step, event.value) for event in events.Scalars("loss/policy")]
    assert policy == [(1, 2.0), (2, 1.5)]
    assert events.Scalars("compute/train_flops")[0].value == 16.0


@pytest.mark.parametrize("tag", ["policy_loss", "losses/policy", "loss/", "Loss/policy"])
def test_tags_outside_the_contract_prefixes_are_rejected(tmp_path, tag):
    with ScalarWriter(tmp_path) as writer, pytest.raises(ValueError, match="loss/"):
        writer.scalars({tag: 1.0}, step=0)
