"""The compute ledger: FLOPs a run spent, split into train and test compute.

Train compute buys a better model (self-play inference, learner updates, label rollouts for a
verifier, supervised fine-tuning); test compute is search at evaluation. The ledger is a frozen
record: every update returns a new one, so a copy saved in a checkpoint never changes under it.

FLOPs of a net's forward pass are counted, not estimated: :func:`forward_flops` runs one real
forward under ``torch.utils.flop_counter.FlopCounterMode`` per (architecture, input shape) and
caches the answer (REFERENCES.md, "Compute accounting"). Language models are costed by formula
instead (:func:`transformer_forward_flops`, :func:`transformer_train_flops`), the one place
every backend, sampler and training loop takes its per-token FLOPs from.

Importing this module does not import torch (:func:`forward_flops` does, when called), so
torch-free code such as the HTTP policy backend can cost its tokens here.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch import nn

# REFERENCES.md, "Compute accounting": a training step (forward + backward) costs about 3x a
# forward pass, per sample.
TRAIN_STEP_FORWARD_MULTIPLE = 3


@dataclass(frozen=True)
class ComputeLedger:
    """FLOPs spent so far, by where they went. All fields are FLOPs (plain ints, exact)."""

    selfplay_flops: int = 0  # train: net evaluations inside self-play searches
    learner_flops: int = 0  # train: learner updates (3 x forward per sample)
    label_flops: int = 0  # train: Monte-Carlo rollouts that label verifier data
    sft_flops: int = 0  # train: supervised fine-tuning of language models
    # train: searches run on train problems to make training data (expert iteration's)
    data_search_flops: int = 0
    test_flops: int = 0  # test: search at evaluation time

    @property
    def train_flops(self) -> int:
        """Everything spent to make the model: the x axis of a train-compute study."""
        return (
            self.selfplay_flops
            + self.learner_flops
            + self.label_flops
            + self.sft_flops
            + self.data_search_flops
        )

    def add(self, **flops: int | float) -> ComputeLedger:
        """A new ledger with FLOPs added by field name, e.g. ``ledger.add(learner_flops=3e9)``."""
        valid = _field_names()
        unknown = sorted(set(flops) - set(valid))
        if unknown:
            raise KeyError(f"unknown ledger field(s) {unknown}; valid fields: {', '.join(valid)}")
        for name, value in flops.items():
            if value < 0:
                raise ValueError(f"ledger field {name} cannot decrease, got {value}")
        changes = {name: getattr(self, name) + int(value) for name, value in flops.items()}
        return dataclasses.replace(self, **changes)

    def __add__(self, other: ComputeLedger) -> ComputeLedger:
        """Merge two ledgers (e.g. the learner's and the self-play workers')."""
        if not isinstance(other, ComputeLedger):
            return NotImplemented
        return self.add(**other.to_dict())

    def to_dict(self) -> dict[str, int]:
        """Plain JSON-ready data for checkpoint metadata."""
        return {name: getattr(self, name) for name in _field_names()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ComputeLedger:
        """Inverse of :meth:`to_dict`; missing fields are 0, unknown ones are an error."""
        valid = _field_names()
        unknown = sorted(set(data) - set(valid))
        if unknown:
            raise KeyError(f"unknown ledger field(s) {unknown}; valid fields: {', '.join(valid)}")
        return cls(**{name: int(value) for name, value in data.items()})

    def scalars(self) -> dict[str, float]:
        """TensorBoard scalars under ``compute/`` (the tags named in issue 4, and the rest)."""
        values = {f"compute/{name}": float(value) for name, value in self.to_dict().items()}
        values["compute/train_flops"] = float(self.train_flops)
        return values


def _field_names() -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(ComputeLedger))


_cache: dict[tuple[Any, ...], int] = {}
_cache_lock = threading.Lock()


def forward_flops(model: nn.Module, example: torch.Tensor | Sequence[int]) -> int:
    """FLOPs of one forward pass of ``model`` on a batch of ``example``'s shape (B, ...).

    ``example`` is an input tensor or its shape (then zeros in the model's dtype on its device are
    used). Counted once per (architecture, parameter shapes, input shape) with
    ``FlopCounterMode`` and cached; weights do not change the count. The count runs in eval mode
    without gradients, so it never moves batch-norm statistics. Convolutions count
    ``2 * k_h * k_w * C_in * C_out * H_out * W_out`` and linear layers ``2 * in * out`` per sample;
    element-wise ops (activations, normalisation, additions) are not counted.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    shape = tuple(int(size) for size in (example.shape if torch.is_tensor(example) else example))
    key = _architecture_key(model) + (shape,)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    if torch.is_tensor(example):
        inputs = example
    else:
        parameter = next(model.parameters(), None)
        device = parameter.device if parameter is not None else torch.device("cpu")
        dtype = parameter.dtype if parameter is not None else torch.float32
        inputs = torch.zeros(shape, device=device, dtype=dtype)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(inputs)
    finally:
        model.train(was_training)
    flops = int(counter.get_total_flops())
    with _cache_lock:
        _cache[key] = flops
    return flops


def _architecture_key(model: nn.Module) -> tuple[Any, ...]:
    """What the FLOP count depends on: the module tree and its parameter shapes."""
    parameter_shapes = tuple((name, tuple(p.shape)) for name, p in model.named_parameters())
    return (type(model).__qualname__, repr(model), parameter_shapes)


def learner_flops(forward_flops_per_sample: int, samples: int) -> int:
    """Train FLOPs of learner updates on ``samples`` samples: 3 x forward per sample
    (REFERENCES.md, "Compute accounting")."""
    return TRAIN_STEP_FORWARD_MULTIPLE * forward_flops_per_sample * samples


def transformer_forward_flops(parameters: int, tokens: int) -> int:
    """Dense transformer inference: about 2 x parameters FLOPs per token (Kaplan et al. 2020)."""
    return 2 * parameters * tokens


def transformer_train_flops(parameters: int, tokens: int) -> int:
    """Dense transformer training: about 6 x parameters x tokens FLOPs (Kaplan et al. 2020)."""
    return 6 * parameters * tokens


def log_milestone(flops: int | float, factor: float = 2.0) -> int:
    """Index of the log-spaced band that ``flops`` falls in: floor(log_factor(flops)), -1 for 0.

    A run keeps a snapshot whenever this index grows, i.e. at every ``factor``-fold increase of
    train FLOPs, so that a later train x test compute study can pick log-spaced snapshots
    (Jones 2021)."""
    if factor <= 1:
        raise ValueError(f"log_milestone factor must be > 1, got {factor}")
    if flops <= 0:
        return -1
    index = math.floor(math.log(flops) / math.log(factor))
    # Floating-point logs can land just below an exact power (log(8) / log(2) < 3): correct it.
    while factor ** (index + 1) <= flops:
        index += 1
    while factor**index > flops:
        index -= 1
    return index
