"""Keys and values of token prefixes already run, kept across ``sample_steps`` calls.

A tree search asks for steps from prefixes that extend earlier ones: a child's prefix is its
parent's prefix plus one sampled step, and the sampler ran exactly those tokens when it drew the
step. Kept here (per prefix: the keys and values of every layer), the next call runs only the tokens
no kept prefix covers, as a serving engine with prefix caching (vLLM, SGLang's radix tree) does.
Bounded by the tokens it holds; the least recently used prefixes go first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch

# Keys (layers, H, n, D) and values (layers, H, n, D) of a prefix of n tokens.
PrefixState = tuple[torch.Tensor, torch.Tensor]


class PrefixCache:
    """Token prefixes (tuples of ids) -> their per-layer keys and values, at most
    ``max_tokens`` tokens in all (each kept prefix counts its full length)."""

    def __init__(self, max_tokens: int = 32768):
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
        self.max_tokens = max_tokens
        self.tokens = 0
        self.hits = 0  # tokens a lookup found already run
        self._entries: OrderedDict[tuple[int, ...], PrefixState] = OrderedDict()
        self._lengths: dict[int, int] = {}  # prefix length -> how many entries have it

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget every prefix (the model's weights changed)."""
        self._entries.clear()
        self._lengths.clear()
        self.tokens = 0

    def store(self, ids: Sequence[int], keys: torch.Tensor, values: torch.Tensor):
        """Keep the keys and values (layers, H, len(ids), D) of the prefix ``ids``."""
        key = tuple(ids)
        if not key or len(key) > self.max_tokens:
            return
        if key in self._entries:
            self._entries.move_to_end(key)
            return
        self._entries[key] = (keys, values)
        self._lengths[len(key)] = self._lengths.get(len(key), 0) + 1
        self.tokens += len(key)
        while self.tokens > self.max_tokens:
            old, _ = self._entries.popitem(last=False)
            self.tokens -= len(old)
            self._lengths[len(old)] -= 1
            if not self._lengths[len(old)]:
                del self._lengths[len(old)]

    def longest(self, ids: Sequence[int], limit: int) -> tuple[int, PrefixState | None]:
        """The longest kept prefix of ``ids`` of at most ``limit`` tokens: (its length, its
        keys and values), or (0, None)."""
        key = tuple(ids)
        for length in sorted(self._lengths, reverse=True):
            if length > limit:
                continue
            state = self._entries.get(key[:length])
            if state is not None:
                self._entries.move_to_end(key[:length])
                self.hits += length
                return length, state
        return 0, None
