"""A tiny GPT (nanoGPT style): token + learned position embeddings, pre-norm blocks of causal
self-attention and an MLP, a final LayerNorm and a linear head. Shapes: B batch, T time,
C embedding, H heads, D = C / H head size, V vocabulary, S key slots (cache + new tokens).

Rows may be left-padded (``token_valid`` False on padding): real tokens get positions 0, 1, ...
within their row and never attend to padding, so a prefix gives the same logits alone or padded
in a batch. A :class:`KVCache` keeps keys and values of earlier slots for incremental decoding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class TinyGPTConfig:
    vocab_size: int = 97
    block_size: int = 256  # the most positions a row may use (prompt + generated)
    num_layers: int = 3
    num_heads: int = 4
    embedding_dim: int = 128

    def __post_init__(self) -> None:
        if self.embedding_dim % self.num_heads:
            raise ValueError(
                f"embedding_dim ({self.embedding_dim}) must be a multiple of num_heads "
                f"({self.num_heads})"
            )


class KVCache:
    """Keys and values of every layer for ``capacity`` slots, filled left to right in lockstep:
    ``keys`` and ``values`` (layers, B, H, capacity, D), one tensor each, so that selecting rows
    or reading one row's slots is one operation for all layers (``keys[layer]`` is a layer's)."""

    def __init__(self, config: TinyGPTConfig, batch_size: int, capacity: int, device, dtype):
        head_size = config.embedding_dim // config.num_heads
        shape = (config.num_layers, batch_size, config.num_heads, capacity, head_size)
        self.keys = torch.zeros(shape, device=device, dtype=dtype)
        self.values = torch.zeros(shape, device=device, dtype=dtype)
        self.key_valid = torch.zeros((batch_size, capacity), dtype=torch.bool, device=device)
        self.length = 0  # slots filled so far

    @property
    def capacity(self) -> int:
        return self.key_valid.shape[1]

    def select(self, rows: torch.Tensor) -> None:
        """Keep only ``rows`` (a LongTensor of row indices, repeats allowed), in that order."""
        self.keys = self.keys[:, rows]
        self.values = self.values[:, rows]
        self.key_valid = self.key_valid[rows]

    def row_slots(self, row: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values (layers, H, n, D) of ``row``'s n filled slots, in slot order."""
        filled = self.key_valid[row, : self.length].nonzero().squeeze(1)  # (n,)
        return self.keys[:, row, :, filled], self.values[:, row, :, filled]


class CausalSelfAttention(nn.Module):
    def __init__(self, config: TinyGPTConfig):
        super().__init__()
        self.num_heads = config.num_heads
        self.qkv = nn.Linear(config.embedding_dim, 3 * config.embedding_dim)
        self.projection = nn.Linear(config.embedding_dim, config.embedding_dim)

    def forward(
        self,
        x: torch.Tensor,  # (B, T, C)
        mask: torch.Tensor | None,  # (B, 1, T, S) bool, True = may attend; None = plain causal
        cache: tuple[torch.Tensor, torch.Tensor, int] | None,  # (keys, values, start slot)
    ) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # (B, T, C) each
        q, k, v = (
            t.view(B, T, self.num_heads, C // self.num_heads).transpose(1, 2) for t in (q, k, v)
        )
        if cache is not None:  # write the new slots, attend over all filled ones
            keys, values, start = cache
            keys[:, :, start : start + T] = k
            values[:, :, start : start + T] = v
            k, v = keys[:, :, : start + T], values[:, :, : start + T]  # (B, H, S, D)
        if mask is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, H, T, D)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.projection(y.transpose(1, 2).reshape(B, T, C))


class Block(nn.Module):
    def __init__(self, config: TinyGPTConfig):
        super().__init__()
        self.attention_norm = nn.LayerNorm(config.embedding_dim)
        self.attention = CausalSelfAttention(config)
        self.mlp_norm = nn.LayerNorm(config.embedding_dim)
        self.mlp = nn.Sequential(
            nn.Linear(config.embedding_dim, 4 * config.embedding_dim),
            nn.GELU(),
            nn.Linear(4 * config.embedding_dim, config.embedding_dim),
        )

    def forward(self, x, mask, cache):  # x (B, T, C)
        x = x + self.attention(self.attention_norm(x), mask, cache)
        return x + self.mlp(self.mlp_norm(x))


class TinyGPT(nn.Module):
    """Build with :func:`build_tiny_gpt` (seeded init) or load with ``reasoning.lm.checkpoint``."""

    def __init__(self, config: TinyGPTConfig):
        super().__init__()
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.embedding_dim)
        self.position_embedding = nn.Embedding(config.block_size, config.embedding_dim)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.num_layers))
        self.final_norm = nn.LayerNorm(config.embedding_dim)
        self.head = nn.Linear(config.embedding_dim, config.vocab_size, bias=False)

    @property
    def num_parameters(self) -> int:
        return sum(parameter.numel() for parameter in self.parameters())

    def new_cache(self, batch_size: int, capacity: int) -> KVCache:
        parameter = self.head.weight
        return KVCache(self.config, batch_size, capacity, parameter.device, parameter.dtype)

    def features(
        self,
        tokens: torch.Tensor,  # (B, T) int64
        token_valid: torch.Tensor | None = None,  # (B, T) bool, False on left padding
        cache: KVCache | None = None,
        positions: torch.Tensor | None = None,  # (B, T) int64; default: count of valid tokens
    ) -> torch.Tensor:
        """Final hidden states (B, T, C), e.g. for a verifier head."""
        B, T = tokens.shape
        start = 0 if cache is None else cache.length
        mask = None
        if token_valid is not None or cache is not None:
            if token_valid is None:
                token_valid = torch.ones((B, T), dtype=torch.bool, device=tokens.device)
            if cache is not None:
                if start + T > cache.capacity:
                    raise ValueError(
                        f"KV cache full: {start} + {T} slots > capacity {cache.capacity}"
                    )
                cache.key_valid[:, start : start + T] = token_valid
                key_valid = cache.key_valid[:, : start + T]  # (B, S)
            else:
                key_valid = token_valid
            mask = _attention_mask(key_valid, start, T)
            if positions is None:
                positions = key_valid.long().cumsum(dim=1)[:, start:] - 1  # (B, T)
        if positions is None:
            positions = torch.arange(T, device=tokens.device).expand(B, T)
        positions = positions.clamp(min=0)
        if int(positions.max()) >= self.config.block_size:
            raise ValueError(
                f"position {int(positions.max())} >= block_size {self.config.block_size}"
            )
        x = self.token_embedding(tokens) + self.position_embedding(positions)  # (B, T, C)
        for layer, block in enumerate(self.blocks):
            layer_cache = None if cache is None else (cache.keys[layer], cache.values[layer], start)
            x = block(x, mask, layer_cache)
        if cache is not None:
            cache.length = start + T
        return self.final_norm(x)

    def forward(self, tokens, token_valid=None, cache=None, positions=None) -> torch.Tensor:
        """Logits (B, T, V) of the next token at every position."""
        return self.head(self.features(tokens, token_valid, cache, positions))


def _attention_mask(key_valid: torch.Tensor, start: int, length: int) -> torch.Tensor:
    """(B, 1, T, S) bool: query slot ``start + t`` sees valid key slots up to itself. A padding
    query also sees itself, so that no row of the softmax is empty (its output is never used)."""
    num_slots = key_valid.shape[1]
    query_slots = torch.arange(start, start + length, device=key_valid.device)[:, None]  # (T, 1)
    key_slots = torch.arange(num_slots, device=key_valid.device)[None, :]  # (1, S)
    causal = key_slots <= query_slots  # (T, S)
    mask = causal[None] & key_valid[:, None, :]  # (B, T, S)
    mask = mask | (key_slots == query_slots)[None]
    return mask[:, None]


def new_tiny_gpt(config: TinyGPTConfig) -> TinyGPT:
    """A model with arbitrary weights (to be overwritten), built without touching the global RNG:
    PyTorch's default init draws from it, so its state is saved and restored around."""
    with torch.random.fork_rng(devices=[]):
        return TinyGPT(config)


def build_tiny_gpt(
    config: TinyGPTConfig, generator: torch.Generator, device: str | torch.device = "cpu"
) -> TinyGPT:
    """A freshly initialised model (nanoGPT init: N(0, 0.02), residual projections scaled by
    1/sqrt(2 * layers)), drawn only from ``generator`` (the global torch RNG is not touched)."""
    model = new_tiny_gpt(config)  # initialised on the CPU, where the generator lives
    residual_std = 0.02 / math.sqrt(2 * config.num_layers)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("bias"):
                parameter.zero_()
            elif "norm" in name:
                parameter.fill_(1.0)
            else:
                std = residual_std if name.endswith(("projection.weight", "mlp.2.weight")) else 0.02
                parameter.normal_(0.0, std, generator=generator)
    return model.to(device)
