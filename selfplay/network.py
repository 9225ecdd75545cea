"""The residual policy-value network (AlphaZero's, scaled down) and the device/precision helpers
that the evaluator and the learner share.

    observations (B, C, H, W)
      -> stem: conv3x3 -> BN -> ReLU                          (B, channels, H, W)
      -> blocks x [conv3x3 -> BN -> ReLU -> conv3x3 -> BN, + skip, ReLU]
      -> policy head: conv1x1 -> BN -> ReLU -> linear           (B, A) logits
      -> value head:  conv1x1 -> BN -> ReLU -> linear -> ReLU -> linear -> tanh   (B,)
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

Precision = Literal["float32", "bfloat16", "float16"]
_AUTOCAST_DTYPES = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(frozen=True)
class NetworkConfig:
    """Size of the residual tower and its heads. DESIGN.md, "Fitting the budgets", sizes them for
    two CPU cores; what the 4x32 Connect Four recipe reaches is in docs/results/connect4.md."""

    blocks: int = 4
    channels: int = 32
    policy_channels: int = 2  # 1x1 conv planes feeding the policy's linear layer
    value_channels: int = 1  # 1x1 conv planes feeding the value's hidden layer
    value_hidden: int = 64

    def __post_init__(self) -> None:
        for name in ("channels", "policy_channels", "value_channels", "value_hidden"):
            if getattr(self, name) < 1:
                raise ValueError(f"network.{name} must be >= 1, got {getattr(self, name)}")
        if self.blocks < 0:
            raise ValueError(f"network.blocks must be >= 0, got {self.blocks}")


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.norm1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(channels)  # its scale starts at 0: see initialise_weights

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, channels, H, W)
        y = F.relu(self.norm1(self.conv1(x)))
        y = self.norm2(self.conv2(y))
        return F.relu(x + y)


class PolicyValueNet(nn.Module):
    """A policy-value net for one game's observation planes and action count, on the CPU, with
    every initial weight drawn from ``generator`` (None: a generator seeded 0, for a net whose
    weights are loaded next). Torch's global RNG is neither read nor advanced."""

    def __init__(
        self,
        config: NetworkConfig,
        observation_shape: tuple[int, int, int],
        num_actions: int,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        planes, height, width = observation_shape
        self.config = config
        self.observation_shape = (int(planes), int(height), int(width))
        self.num_actions = int(num_actions)
        # The layers are made on the meta device, where their default initialisation draws
        # nothing; initialise_weights then draws each weight once, from ``generator`` alone.
        with torch.device("meta"):
            self._make_layers(config, planes, height * width, num_actions)
        self.to_empty(device="cpu")
        initialise_weights(
            self, torch.Generator().manual_seed(0) if generator is None else generator
        )

    def _make_layers(
        self, config: NetworkConfig, planes: int, cells: int, num_actions: int
    ) -> None:
        channels = config.channels
        self.stem = nn.Sequential(
            nn.Conv2d(planes, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
        )
        self.tower = nn.Sequential(*(ResidualBlock(channels) for _ in range(config.blocks)))
        self.policy_head = nn.Sequential(
            nn.Conv2d(channels, config.policy_channels, 1, bias=False),
            nn.BatchNorm2d(config.policy_channels),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(config.policy_channels * cells, num_actions),
        )
        self.value_head = nn.Sequential(
            nn.Conv2d(channels, config.value_channels, 1, bias=False),
            nn.BatchNorm2d(config.value_channels),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(config.value_channels * cells, config.value_hidden),
            nn.ReLU(),
            nn.Linear(config.value_hidden, 1),
        )

    def forward(self, observations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """observations (B, C, H, W) -> (policy logits (B, A), values (B,) in (-1, 1) for the
        player to move). Logits are unmasked; see :func:`masked_log_softmax`."""
        x = self.tower(self.stem(observations))  # (B, channels, H, W)
        # Flatten follows the logical (C, H, W) order whatever the memory format, so the heads'
        # linear layers see the same features with or without channels_last.
        logits = self.policy_head(x)  # (B, A)
        values = torch.tanh(self.value_head(x)).squeeze(-1)  # (B,)
        return logits, values


def initialise_weights(network: PolicyValueNet, generator: torch.Generator) -> None:
    """Draw every weight and reset every statistic of ``network`` from ``generator`` alone.

    Each layer gets torch's default initialisation (convolutions and linear layers:
    Kaiming-uniform with a = sqrt(5), biases uniform in +-1/sqrt(fan_in); batch norm: scale 1,
    shift 0, fresh running statistics), except that the last batch-norm scale of each residual
    block is 0, so each block starts as the identity (Goyal et al. 2017): a deep tower then
    trains as stably as a shallow one from the first step."""
    with torch.no_grad():
        for module in network.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
                if module.bias is not None:
                    bound = 1 / math.sqrt(module.weight[0].numel())  # 1 / sqrt(fan_in)
                    nn.init.uniform_(module.bias, -bound, bound, generator=generator)
            elif isinstance(module, nn.BatchNorm2d):
                module.reset_parameters()
            elif [*module.parameters(recurse=False), *module.buffers(recurse=False)]:
                raise TypeError(f"initialise_weights has no rule for a {type(module).__name__}")
        for block in network.tower:
            assert isinstance(block, ResidualBlock)
            nn.init.zeros_(block.norm2.weight)


def build_network(
    config: NetworkConfig,
    observation_shape: tuple[int, int, int],
    num_actions: int,
    generator: torch.Generator | None = None,
) -> PolicyValueNet:
    """The net for a game: ``build_network(config, game.observation_shape, game.num_actions,
    generator)``, its initial weights drawn from ``generator`` (see :class:`PolicyValueNet`)."""
    return PolicyValueNet(config, observation_shape, num_actions, generator)


def _conv_norm_pairs(network: nn.Module) -> list[tuple[str, str]]:
    """Names of each convolution and the batch norm that reads its output: within each module,
    a ``Conv2d`` child registered just before a ``BatchNorm2d`` child (the stem's and heads'
    ``Sequential`` and ``ResidualBlock`` register their layers in the order they run, which
    ``tests/test_inference_variants.py`` checks against the unfolded forward)."""
    pairs = []
    for parent_name, parent in network.named_modules():
        children = list(parent.named_children())
        for (conv_name, conv), (norm_name, norm) in zip(children, children[1:], strict=False):
            if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d):
                prefix = f"{parent_name}." if parent_name else ""
                pairs.append((prefix + conv_name, prefix + norm_name))
    return pairs


def folded_batchnorm(network: nn.Module, into: nn.Module | None = None) -> nn.Module:
    """The inference form of ``network`` (in eval mode): each batch norm folded into the
    convolution before it, conv(x) -> BN becoming one convolution with weight ``W * s`` and bias
    ``beta + (b - mean) * s``, ``s = gamma / sqrt(var + eps)`` per output channel (Ioffe &
    Szegedy 2015: in inference BN is a fixed affine map). The same function in float32 up to
    rounding, one pass over the activations fewer per layer. ``into``: a form made earlier by
    this function, refreshed in place from ``network``'s current weights (its tensors keep
    their identity, so a ``torch.compile`` of it stays valid)."""
    pairs = _conv_norm_pairs(network)
    if into is None:
        into = copy.deepcopy(network).eval()
        for conv_name, norm_name in pairs:
            conv = into.get_submodule(conv_name)  # a copy: its weight keeps device and layout
            assert isinstance(conv, nn.Conv2d)
            if conv.bias is None:
                conv.bias = nn.Parameter(conv.weight.new_zeros(conv.out_channels))
            into.set_submodule(norm_name, nn.Identity())
    source = network.state_dict()
    with torch.no_grad():
        folded_names = set()
        for conv_name, norm_name in pairs:
            conv, norm = network.get_submodule(conv_name), network.get_submodule(norm_name)
            assert isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d)
            assert norm.running_mean is not None and norm.running_var is not None
            scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)  # (out,)
            bias = conv.bias if conv.bias is not None else torch.zeros_like(scale)
            target = into.get_submodule(conv_name)
            assert isinstance(target, nn.Conv2d) and target.bias is not None
            target.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
            target.bias.copy_(norm.bias + (bias - norm.running_mean) * scale)
            folded_names.update({f"{conv_name}.weight", f"{conv_name}.bias"})
        for name, tensor in into.state_dict().items():
            if name not in folded_names:
                tensor.copy_(source[name])
    return into


def masked_log_softmax(logits: torch.Tensor, legal_mask: torch.Tensor) -> torch.Tensor:
    """log-probabilities over legal moves only: logits (B, A), legal_mask (B, A) bool -> (B, A)
    float32, -inf on illegal moves (so their probability is exactly zero). A row without legal
    moves (a terminal position) is all -inf rather than NaN."""
    minus_infinity = torch.tensor(float("-inf"), device=logits.device)
    masked = torch.where(legal_mask, logits.float(), minus_infinity)
    return torch.where(legal_mask, torch.log_softmax(masked, dim=-1), minus_infinity)


def masked_softmax(logits: torch.Tensor, legal_mask: torch.Tensor) -> torch.Tensor:
    """Priors: logits (B, A), legal_mask (B, A) bool -> (B, A) float32 summing to 1 over legal
    moves and 0 on illegal ones (all zeros in a row without legal moves)."""
    masked = torch.where(legal_mask, logits.float(), float("-inf"))
    # A row without legal moves is NaN after the softmax; the second where makes it zeros.
    return torch.where(legal_mask, torch.softmax(masked, dim=-1), 0.0)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when present, else the CPU; anything else as torch reads it. Asking for
    CUDA on a machine without it is an error that says so, not a crash deep inside a forward."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} asked for, but CUDA is not available here; "
                         "use device: auto or cpu")  # fmt: skip
    return resolved


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The autocast dtype for a precision name; None for plain float32."""
    if precision not in _AUTOCAST_DTYPES:
        raise ValueError(
            f"precision must be one of {', '.join(_AUTOCAST_DTYPES)}, got {precision!r}"
        )
    return _AUTOCAST_DTYPES[precision]


@contextlib.contextmanager
def autocast(device: torch.device, precision: str) -> Iterator[None]:
    """Automatic mixed precision on ``device`` (CUDA or CPU) at ``precision``; a no-op for
    float32. Weights stay float32; matrix products and convolutions run in the lower precision."""
    dtype = autocast_dtype(precision)
    if dtype is None:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield


def set_torch_threads(num_threads: int | None) -> None:
    """Limit this process's intra-op threads. Call it where an actor is created, not at import:
    DESIGN.md, "Fitting the budgets": two threads per process on two cores run several times
    slower than one."""
    if num_threads is not None:
        torch.set_num_threads(int(num_threads))


def numpy_to_tensor(
    array: np.ndarray, device: torch.device, dtype: type | None = None
) -> torch.Tensor:
    """``array`` (as ``dtype`` if given) on ``device``. Read-only arrays (Ray's zero-copy
    arguments) are copied first: torch wants writable memory."""
    array = np.ascontiguousarray(array, dtype=dtype)
    if not array.flags.writeable:
        array = array.copy()
    return torch.from_numpy(array).to(device, non_blocking=True)
