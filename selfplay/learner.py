"""The learner: SGD on (observation, search policy, outcome) with the AlphaZero loss.

REFERENCES.md, AlphaZero (Silver et al. 2018): ``l = (z - v)^2 - pi . log p + c * ||theta||^2``
with ``c = 1e-4``. The policy term counts only positions that carry a policy target (KataGo's
playout cap randomisation records fast-search moves for the value alone); the L2 term is left to
the optimizer (see :class:`LearnerConfig`). Weights are published by version: ``get_weights``
bumps the version only when training changed them, so workers pull only when needed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from experiment.checkpoint import Checkpoint, CheckpointInfo, save_checkpoint
from experiment.ledger import ComputeLedger, forward_flops, learner_flops
from experiment.schedules import Schedule, decay_groups, learning_rate
from selfplay.network import (
    PolicyValueNet,
    Precision,
    autocast,
    autocast_dtype,
    numpy_to_tensor,
    resolve_device,
    set_torch_threads,
)
from selfplay.replay import Batch


@dataclass(frozen=True)
class LearnerConfig:
    """Optimisation. ``weight_decay`` is ``c`` of the AlphaZero loss for ``sgd`` (applied as the
    L2 gradient ``2 c theta``, exactly the formula), and AdamW's decoupled coefficient for
    ``adamw`` (Loshchilov & Hutter 2019: theta -= lr * weight_decay * theta; typical 0.01-0.1).
    Either way it applies to weight matrices and convolution kernels only, never to biases or
    batch-norm parameters (``experiment.schedules.decay_groups``, as every training loop)."""

    batch_size: int = 256
    optimizer: Literal["sgd", "adamw"] = "sgd"
    lr: float = 0.02
    momentum: float = 0.9  # sgd (Nesterov off, as AlphaZero)
    weight_decay: float = 1e-4
    schedule: Literal["constant", "cosine", "step"] = "constant"
    warmup_steps: int = 0  # linear warm-up from 0, before any schedule
    total_steps: int = 10_000  # cosine: steps until lr reaches lr * min_lr_fraction
    min_lr_fraction: float = 0.1
    step_every: int = 5_000  # step: multiply lr by step_factor every step_every steps
    step_factor: float = 0.1
    value_weight: float = 1.0  # weight of (z - v)^2 against the policy cross-entropy
    max_grad_norm: float = 0.0  # clip the gradient's global norm; 0 = no clipping
    samples_per_position: float = 4.0  # target: training samples per generated position
    device: str = "auto"
    precision: Precision = "float32"  # autocast on CUDA: "bfloat16", or "float16" + GradScaler
    channels_last: bool = False

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.lr <= 0 or self.samples_per_position <= 0:
            raise ValueError(
                "learner.batch_size, learner.lr and learner.samples_per_position must be "
                f"positive, got {self.batch_size}, {self.lr}, {self.samples_per_position}"
            )
        autocast_dtype(self.precision)

    def lr_schedule(self) -> Schedule:
        """The learning rate by learner step: warm-up, then ``schedule``."""
        return Schedule(
            self.lr, self.warmup_steps, self.schedule, decay_steps=max(1, self.total_steps),
            floor=self.lr * self.min_lr_fraction, step_every=self.step_every,
            step_factor=self.step_factor,
        )  # fmt: skip


class Learner:
    """Holds the net, its optimizer and the counters a resume needs.

    ``step``: updates done; ``version``: the published weights version; ``samples_trained``:
    positions consumed by updates (with repetition); ``flops``: learner FLOPs so far."""

    def __init__(
        self, network: PolicyValueNet, config: LearnerConfig, num_threads: int | None = None
    ):
        set_torch_threads(num_threads)
        self.config = config
        self.device = resolve_device(config.device)
        self.memory_format = (
            torch.channels_last if config.channels_last else torch.contiguous_format
        )
        # Module.to takes memory_format at run time; torch's type stubs leave it out.
        network.to(self.device, memory_format=self.memory_format)  # type: ignore[call-overload]
        self.network = network.train()
        self.schedule = config.lr_schedule()
        self.optimizer = _make_optimizer(self.network, config)
        # GradScaler keeps float16 gradients from underflowing; bfloat16 has float32's range.
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=config.precision == "float16")
        self.step = 0
        self.version = 0
        self.samples_trained = 0
        self.flops = 0
        self._published: tuple[int, dict[str, torch.Tensor]] | None = None
        self._published_step = 0
        self._flops_per_sample: int | None = None

    @property
    def flops_per_sample(self) -> int:
        """Training FLOPs of one sample: 3 x one forward (REFERENCES.md, compute accounting)."""
        if self._flops_per_sample is None:
            forward = forward_flops(self.network, (1, *self.network.observation_shape))
            self._flops_per_sample = learner_flops(forward, 1)
        return self._flops_per_sample

    @property
    def ledger(self) -> ComputeLedger:
        return ComputeLedger(learner_flops=self.flops)

    def train_step(self, batch: Batch) -> dict[str, float]:
        """One update on ``batch``; returns TensorBoard scalars ``loss/policy``, ``loss/value``,
        ``loss/total`` and ``learner/lr`` (losses measured before the update)."""
        observations = numpy_to_tensor(batch.observations, self.device, np.float32).contiguous(
            memory_format=self.memory_format
        )  # (B, C, H, W)
        target_policies = numpy_to_tensor(batch.policies, self.device, np.float32)  # (B, A)
        target_values = numpy_to_tensor(batch.values, self.device, np.float32)  # (B,)
        policy_mask = numpy_to_tensor(batch.policy_mask, self.device, np.float32)  # (B,)
        lr = learning_rate(self.schedule, self.step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr

        with autocast(self.device, self.config.precision):
            logits, values = self.network(observations)  # (B, A), (B,)
        # Losses in float32 whatever autocast chose: log-softmax and squares lose bits in 16.
        log_priors = torch.log_softmax(logits.float(), dim=-1)  # (B, A)
        cross_entropy = -(target_policies * log_priors).sum(dim=-1)  # (B,)
        policy_loss = (cross_entropy * policy_mask).sum() / policy_mask.sum().clamp(min=1.0)
        value_loss = ((target_values - values.float()) ** 2).mean()
        total = policy_loss + self.config.value_weight * value_loss

        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        if self.config.max_grad_norm > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.network.parameters(), self.config.max_grad_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()

        self.step += 1
        self.samples_trained += len(batch)
        self.flops += len(batch) * self.flops_per_sample
        policy, value, total_value = torch.stack([policy_loss, value_loss, total]).tolist()
        return {"loss/policy": policy, "loss/value": value, "loss/total": total_value,
                "learner/lr": lr}  # fmt: skip

    def get_weights(self) -> tuple[int, dict[str, torch.Tensor]]:
        """(version, CPU state dict) of the current weights. The version grows by one whenever
        training changed the weights since the last call, so equal versions mean equal weights."""
        if self._published_step != self.step:
            self.version += 1
            self._published_step, self._published = self.step, None
        if self._published is None:
            state = {name: t.detach().to("cpu", copy=True).contiguous()
                     for name, t in self.network.state_dict().items()}  # fmt: skip
            self._published = (self.version, state)
        return self._published

    def steps_owed(self, positions_generated: int) -> int:
        """Updates to run now so that training keeps ``samples_per_position`` samples per
        generated position: ``floor((positions * ratio - samples_trained) / batch_size)``."""
        target = positions_generated * self.config.samples_per_position
        return max(0, int((target - self.samples_trained) // self.config.batch_size))

    def samples_per_position(self, positions_generated: int) -> float:
        """The ratio achieved so far (TensorBoard ``learner/samples_per_position``)."""
        return self.samples_trained / max(1, positions_generated)

    def state_dict(self) -> dict[str, Any]:
        """Everything a resume needs: weights, optimizer, gradient scaler and counters."""
        return {
            "model": self.network.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "step": self.step,
            "version": self.version,
            "samples_trained": self.samples_trained,
            "flops": self.flops,
            "published_step": self._published_step,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        missing = {"model", "optimizer", "step", "version"} - set(state)
        if missing:
            raise KeyError(f"learner state lacks {sorted(missing)}; it was not saved by Learner")
        self.network.load_state_dict(state["model"])
        self.optimizer.load_state_dict(_regrouped(state["optimizer"], self.optimizer, self.network))
        if state.get("scaler") and self.scaler.is_enabled():  # empty unless float16 was used
            self.scaler.load_state_dict(state["scaler"])
        self.step = int(state["step"])
        self.version = int(state["version"])
        self.samples_trained = int(state.get("samples_trained", 0))
        self.flops = int(state.get("flops", 0))
        # Weights trained past the last publish get a new version at the next get_weights.
        self._published, self._published_step = None, int(state.get("published_step", self.step))

    def save_checkpoint(self, directory: str | Path, info: CheckpointInfo) -> Path:
        """Save weights (safetensors) and the rest of ``state_dict`` (``torch.save``) with
        ``info``, whose step and version are set from the learner."""
        state = self.state_dict()
        model_state = state.pop("model")
        info = dataclasses.replace(info, step=self.step, version=self.version)
        return save_checkpoint(directory, info, model_state, state)

    def restore(self, checkpoint: Checkpoint) -> None:
        """Resume from a checkpoint saved by :meth:`save_checkpoint`."""
        if checkpoint.optimizer_state is None:
            raise KeyError(f"checkpoint '{checkpoint.path}' holds no optimizer state to resume")
        self.load_state_dict({"model": checkpoint.model_state, **checkpoint.optimizer_state})


def _make_optimizer(network: torch.nn.Module, config: LearnerConfig) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        # torch's weight_decay w adds w * theta to the gradient: the gradient of
        # (w / 2) ||theta||^2. The AlphaZero term c ||theta||^2 therefore needs w = 2c.
        groups = decay_groups(network, 2 * config.weight_decay)
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(decay_groups(network, config.weight_decay), lr=config.lr)
    raise ValueError(f"learner.optimizer must be sgd or adamw, got {config.optimizer!r}")


def _regrouped(
    saved: dict[str, Any], optimizer: torch.optim.Optimizer, network: torch.nn.Module
) -> dict[str, Any]:
    """``saved`` optimizer state in ``optimizer``'s parameter groups. States saved before the
    weight-decay groups existed hold one group over ``network.parameters()`` in order; their
    per-parameter state (momentum, Adam moments) moves to each parameter's new index."""
    if len(saved["param_groups"]) == len(optimizer.param_groups):
        return saved
    if len(saved["param_groups"]) != 1:
        raise ValueError(
            f"learner optimizer state has {len(saved['param_groups'])} parameter groups; "
            f"expected {len(optimizer.param_groups)}, or 1 from before the weight-decay groups"
        )
    old_index = {id(parameter): index for index, parameter in enumerate(network.parameters())}
    settings = {k: v for k, v in saved["param_groups"][0].items() if k != "params"}
    state, groups, new_index = {}, [], 0
    for group in optimizer.param_groups:
        indices = []
        for parameter in group["params"]:
            if old_index[id(parameter)] in saved["state"]:
                state[new_index] = saved["state"][old_index[id(parameter)]]
            indices.append(new_index)
            new_index += 1
        groups.append({**settings, "weight_decay": group["weight_decay"], "params": indices})
    return {"state": state, "param_groups": groups}
