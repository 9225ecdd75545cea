"""The learner: it learns, it resumes exactly, it publishes by version, and AMP paths run."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from experiment.checkpoint import CheckpointInfo, load_checkpoint
from experiment.ledger import ComputeLedger, forward_flops
from experiment.schedules import learning_rate
from selfplay.learner import Learner, LearnerConfig
from selfplay.network import NetworkConfig, build_network
from selfplay.replay import Batch

SHAPE, ACTIONS = (2, 3, 3), 9
NET = NetworkConfig(blocks=1, channels=8, value_hidden=16)


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def fixed_batch(size: int = 32, seed: int = 0) -> Batch:
    rng = np.random.default_rng(seed)
    policies = rng.random((size, ACTIONS)).astype(np.float32) ** 4
    return Batch(
        observations=(rng.random((size, *SHAPE)) < 0.3).astype(np.float32),
        policies=policies / policies.sum(1, keepdims=True),
        values=rng.choice([-1.0, 0.0, 1.0], size).astype(np.float32),
        policy_mask=rng.random(size) < 0.7,
    )


def make_learner(seed: int = 0, **config) -> Learner:
    options = {"device": "cpu", "batch_size": 32, **config}
    network = build_network(NET, SHAPE, ACTIONS, torch.Generator().manual_seed(seed))
    return Learner(network, LearnerConfig(**options))


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_loss_decreases_on_a_fixed_batch(optimizer):
    learner = make_learner(optimizer=optimizer, lr=0.05 if optimizer == "sgd" else 0.01)
    batch = fixed_batch()
    first = learner.train_step(batch)
    for _ in range(40):
        last = learner.train_step(batch)
    assert last["loss/total"] < 0.6 * first["loss/total"]
    assert last["loss/value"] < 0.5 * first["loss/value"]
    assert last["loss/policy"] < first["loss/policy"]
    assert set(first) == {"loss/policy", "loss/value", "loss/total", "learner/lr"}


def test_losses_follow_the_alphazero_formula_and_the_policy_flags():
    learner = make_learner()
    batch = fixed_batch(16)
    learner.network.train()
    with torch.no_grad():
        logits, values = learner.network(torch.from_numpy(batch.observations))
    cross_entropy = -(torch.from_numpy(batch.policies) * torch.log_softmax(logits, -1)).sum(-1)
    flagged = torch.from_numpy(batch.policy_mask)
    expected_policy = cross_entropy[flagged].mean().item()
    expected_value = ((torch.from_numpy(batch.values) - values) ** 2).mean().item()
    losses = learner.train_step(batch)
    assert losses["loss/policy"] == pytest.approx(expected_policy, rel=1e-5)
    assert losses["loss/value"] == pytest.approx(expected_value, rel=1e-5)
    assert losses["loss/total"] == pytest.approx(expected_policy + expected_value, rel=1e-5)
    unflagged = dataclasses.replace(batch, policy_mask=np.zeros(16, bool))
    assert learner.train_step(unflagged)["loss/policy"] == 0.0


def test_resume_restores_optimizer_state_and_counters_exactly(tmp_path):
    original = make_learner(seed=0)
    for seed in range(3):
        original.train_step(fixed_batch(seed=seed))
    version, _ = original.get_weights()
    original.train_step(fixed_batch(seed=3))  # trained past the last publish
    info = CheckpointInfo(step=0, games_played=12, positions_seen=345,
                          ledger=original.ledger + ComputeLedger(selfplay_flops=99))  # fmt: skip
    original.save_checkpoint(tmp_path / "checkpoints", info)

    resumed = make_learner(seed=1)  # different initial weights, fresh optimizer
    checkpoint = load_checkpoint(tmp_path)
    resumed.restore(checkpoint)
    assert checkpoint.info.step == 4 and checkpoint.info.version == version
    assert checkpoint.info.ledger.learner_flops == original.flops
    assert (resumed.step, resumed.version, resumed.samples_trained, resumed.flops) == (
        original.step, original.version, original.samples_trained, original.flops
    )  # fmt: skip
    for name, tensor in original.network.state_dict().items():
        assert torch.equal(resumed.network.state_dict()[name], tensor), name
    for before, after in zip(
        original.network.parameters(), resumed.network.parameters(), strict=True
    ):
        state_before, state_after = original.optimizer.state[before], resumed.optimizer.state[after]
        assert torch.equal(state_before["momentum_buffer"], state_after["momentum_buffer"])
    # Both continue identically, and the weights trained after the last publish get a new version.
    assert original.get_weights()[0] == resumed.get_weights()[0] == version + 1
    original.train_step(fixed_batch(seed=9))
    resumed.train_step(fixed_batch(seed=9))
    for name, tensor in original.network.state_dict().items():
        assert torch.equal(resumed.network.state_dict()[name], tensor), name


def test_weights_are_published_by_version():
    learner = make_learner()
    version, weights = learner.get_weights()
    assert version == 0 and all(t.device.type == "cpu" for t in weights.values())
    assert learner.get_weights()[0] == 0  # nothing trained: same version
    learner.train_step(fixed_batch())
    new_version, new_weights = learner.get_weights()
    assert new_version == 1
    assert not torch.equal(new_weights["stem.0.weight"], weights["stem.0.weight"])
    new_weights["stem.0.weight"].zero_()  # a copy: the learner's own weights are untouched
    assert learner.network.stem[0].weight.abs().sum() > 0


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_autocast_on_cpu_gives_finite_losses_that_fall(precision):
    learner = make_learner(precision=precision, optimizer="adamw", lr=0.01, max_grad_norm=5.0)
    batch = fixed_batch()
    first = learner.train_step(batch)
    for _ in range(15):
        last = learner.train_step(batch)
    assert all(np.isfinite(value) for value in last.values())
    assert last["loss/total"] < first["loss/total"]
    assert learner.scaler.is_enabled() == (precision == "float16")


def test_ledger_counts_three_forwards_per_sample():
    learner = make_learner()
    forward = forward_flops(learner.network, (1, *SHAPE))
    for _ in range(2):
        learner.train_step(fixed_batch(32))
    assert learner.flops == 2 * 32 * 3 * forward
    assert learner.ledger.train_flops == learner.flops


def test_steps_owed_keeps_the_sample_to_position_ratio():
    learner = make_learner(samples_per_position=4.0)
    assert learner.steps_owed(1000) == 4000 // 32
    for _ in range(3):
        learner.train_step(fixed_batch(32))
    assert learner.steps_owed(1000) == (4000 - 96) // 32
    assert learner.steps_owed(10) == 0
    assert learner.samples_per_position(48) == 2.0


def _learning_rate_before_issue_12(config: LearnerConfig, step: int) -> float:
    """The learner's own schedule code as it was before experiment.schedules (a reference)."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    step -= config.warmup_steps
    if config.schedule == "constant":
        return config.lr
    if config.schedule == "step":
        return config.lr * config.step_factor ** (step // config.step_every)
    progress = min(1.0, step / max(1, config.total_steps))
    floor = config.min_lr_fraction
    return config.lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


SELFPLAY_RECIPES = sorted(
    path for path in (Path(__file__).parents[1] / "configs").glob("*.yaml")
    if not path.name.startswith(("countdown", "tradeoff"))  # training recipes only
)  # fmt: skip


@pytest.mark.parametrize("recipe", SELFPLAY_RECIPES, ids=lambda path: path.stem)
def test_every_recipe_keeps_its_learning_rates(recipe):
    from experiment.config import load_config
    from selfplay.config import TrainConfig

    config = load_config(TrainConfig, recipe).learner
    schedule = config.lr_schedule()
    steps = sorted({0, 1, config.warmup_steps, config.total_steps, 2 * config.total_steps}
                   | set(range(0, 3 * config.total_steps, 97)))  # fmt: skip
    for step in steps:
        expected = _learning_rate_before_issue_12(config, step)
        assert learning_rate(schedule, step) == pytest.approx(expected, rel=1e-12, abs=0), step


def test_learning_rate_schedules():
    def rates(steps, **options):
        schedule = LearnerConfig(lr=0.1, **options).lr_schedule()
        return [learning_rate(schedule, step) for step in steps]

    assert rates((0, 3, 4, 1000), warmup_steps=4) == pytest.approx([0.025, 0.1, 0.1, 0.1])
    assert rates((0, 9, 10, 25), schedule="step", step_every=10, step_factor=0.5) == (
        pytest.approx([0.1, 0.1, 0.05, 0.025])
    )
    cosine = {"schedule": "cosine", "total_steps": 100, "min_lr_fraction": 0.1}
    assert rates((0, 50, 100, 500), **cosine) == pytest.approx([0.1, 0.055, 0.01, 0.01])
    # the cosine starts after the warm-up: its midpoint moves by warmup_steps
    assert rates((9, 60), warmup_steps=10, **cosine) == pytest.approx([0.1, 0.055])
    learner = make_learner(lr=0.1, warmup_steps=2)
    assert learner.train_step(fixed_batch())["learner/lr"] == pytest.approx(0.05)
    assert [group["lr"] for group in learner.optimizer.param_groups] == pytest.approx([0.05] * 2)


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_weight_decay_skips_biases_and_batch_norm(optimizer):
    learner = make_learner(optimizer=optimizer, weight_decay=0.01)
    decayed, plain = learner.optimizer.param_groups
    expected = 2 * 0.01 if optimizer == "sgd" else 0.01  # sgd: the L2 gradient of c ||theta||^2
    assert decayed["weight_decay"] == pytest.approx(expected) and plain["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decayed["params"]) and decayed["params"]
    assert all(p.dim() == 1 for p in plain["params"]) and plain["params"]
    norms = [m for m in learner.network.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    norm_parameters = {id(p) for m in norms for p in m.parameters()}
    assert norm_parameters and norm_parameters <= {id(p) for p in plain["params"]}


def test_optimizer_state_from_before_the_decay_groups_resumes():
    """A checkpoint whose optimizer had one group over all parameters still resumes: each
    parameter's momentum follows it into its new group."""
    old = make_learner(seed=1, optimizer="sgd")
    single = torch.optim.SGD(old.network.parameters(), lr=0.02, momentum=0.9, weight_decay=2e-4)
    old.optimizer = single
    old.train_step(fixed_batch())
    state = old.state_dict()
    assert len(state["optimizer"]["param_groups"]) == 1
    resumed = make_learner(seed=2, optimizer="sgd")
    resumed.load_state_dict(state)
    for parameter_old, parameter_new in zip(
        old.network.parameters(), resumed.network.parameters(), strict=True
    ):
        assert torch.equal(
            single.state[parameter_old]["momentum_buffer"],
            resumed.optimizer.state[parameter_new]["momentum_buffer"],
        )
    assert resumed.train_step(fixed_batch())["loss/total"] > 0


def test_config_rejects_nonsense():
    with pytest.raises(ValueError, match="precision"):
        LearnerConfig(precision="half")
    with pytest.raises(ValueError, match="samples_per_position"):
        LearnerConfig(samples_per_position=0)


def test_channels_last_trains_like_the_default_layout():
    batch = fixed_batch()
    default, channels_last = make_learner(seed=3), make_learner(seed=3, channels_last=True)
    for _ in range(3):
        expected, losses = default.train_step(batch), channels_last.train_step(batch)
        assert losses["loss/total"] == pytest.approx(expected["loss/total"], rel=1e-4)
    version, weights = channels_last.get_weights()
    assert all(tensor.is_contiguous() for tensor in weights.values())


def test_gpu_shares_reserve_what_the_learner_and_server_will_use():
    from experiment.config import load_config
    from selfplay.config import TrainConfig
    from selfplay.train import gpu_shares

    def shares(cluster_gpus: float, *overrides: str) -> tuple[float, float]:
        return gpu_shares(load_config(TrainConfig, overrides=list(overrides)), cluster_gpus)

    assert shares(0) == (0.0, 0.0)  # a CPU cluster: "auto" runs on the CPU, nothing reserved
    assert shares(1) == (1.0, 0.0)  # local inference: the learner takes the GPU
    assert shares(1, "inference.mode=server") == (0.5, 0.5)  # both share the only one
    assert shares(4, "inference.mode=server") == (1.0, 1.0)
    assert shares(1, "inference.mode=server", "learner.device=cpu") == (0.0, 1.0)
    assert shares(2, "inference.mode=server", "ray.server_gpus=0.25") == (1.0, 0.25)
    assert shares(0, "learner.device=cuda") == (1.0, 0.0)  # asked for: the resource check fails
    assert shares(1, "ray.server_gpus=1") == (1.0, 0.0)  # no server without inference.mode
