"""Batched step sampling from the tiny GPT with a KV cache (the :class:`StepPolicy` backend).

All prefixes x samples decode in one batch: the prefixes are left-padded and run once (B = P),
the cache is then repeated for the K samples of each prefix (B = P * K), and every row decodes one
token per forward until it writes the step delimiter or end of text; finished rows leave the batch.
Tokens are drawn by inverse CDF from per-row uniforms (see :func:`reasoning.lm.base.uniform_draws`),
so the same generator gives the same samples with or without the cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

from experiment.ledger import transformer_forward_flops
from reasoning.lm.base import (
    RandomSource,
    StepSample,
    StopReason,
    check_sampling_arguments,
    step_ends_solution,
    uniform_draws,
)
from reasoning.lm.checkpoint import load_tiny_gpt, save_tiny_gpt
from reasoning.lm.model import KVCache, TinyGPT
from reasoning.lm.prefix_cache import PrefixCache
from reasoning.lm.tokenizer import CharTokenizer
from reasoning.tasks.format import STEP_DELIMITER


class TinyGPTPolicy:
    """A :class:`reasoning.lm.base.StepPolicy` over a :class:`TinyGPT` and its tokenizer.

    ``use_kv_cache=False`` recomputes the whole sequence for every token (for tests and timing).
    With the KV cache, ``prefix_cache_tokens`` > 0 keeps the keys and values of the prefixes
    each call ran (:class:`reasoning.lm.prefix_cache.PrefixCache`, that many tokens at most),
    so that a later call from an extended prefix (a search tree's child) runs only its new
    tokens; 0 runs every prefix in full.
    """

    def __init__(
        self,
        model: TinyGPT,
        tokenizer: CharTokenizer,
        *,
        use_kv_cache: bool = True,
        step_delimiter: str = STEP_DELIMITER,
        prefix_cache_tokens: int = 32768,
    ):
        if model.config.vocab_size != tokenizer.vocab_size:
            raise ValueError(
                f"model vocab_size {model.config.vocab_size} != tokenizer vocab_size "
                f"{tokenizer.vocab_size}"
            )
        if len(step_delimiter) != 1:
            raise ValueError(
                f"the tiny GPT needs a one-character step delimiter, got {step_delimiter!r}"
            )
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.use_kv_cache = use_kv_cache
        self._step_delimiter = step_delimiter
        self._delimiter_id = tokenizer.token_id(step_delimiter)
        self.prefix_cache = PrefixCache(prefix_cache_tokens) if prefix_cache_tokens else None
        self._weights_version = self._parameters_version()

    @classmethod
    def from_directory(cls, directory: str | Path, **options) -> TinyGPTPolicy:
        model, tokenizer = load_tiny_gpt(directory)
        return cls(model, tokenizer, **options)

    def save(self, directory: str | Path) -> None:
        save_tiny_gpt(directory, self.model, self.tokenizer)

    @property
    def step_delimiter(self) -> str:
        return self._step_delimiter

    @property
    def num_parameters(self) -> int:
        return self.model.num_parameters

    @property
    def flops_per_token(self) -> float:
        return float(transformer_forward_flops(self.num_parameters, 1))

    def _encode_prefixes(
        self, prefixes: Sequence[str]
    ) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
        """Left-padded tokens (P, L), their validity (P, L) and each prefix's length."""
        encoded = self._token_ids(prefixes)
        return (*self._left_padded(encoded), [len(ids) for ids in encoded])

    def _token_ids(self, prefixes: Sequence[str]) -> list[list[int]]:
        """Token ids of each prefix, checked against the block size."""
        block_size = self.model.config.block_size
        encoded = [self.tokenizer.encode(prefix) for prefix in prefixes]
        for index, ids in enumerate(encoded):
            if not 1 <= len(ids) < block_size:
                raise ValueError(
                    f"prefix {index} has {len(ids)} tokens; the tiny GPT needs 1 to "
                    f"{block_size - 1} (block_size {block_size})"
                )
        return encoded

    def _left_padded(self, encoded: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Left-padded tokens (P, L) and their validity (P, L)."""
        width = max(len(ids) for ids in encoded)
        device = self.model.head.weight.device
        tokens = torch.full((len(encoded), width), self.tokenizer.eos_id, dtype=torch.long)
        valid = torch.zeros((len(encoded), width), dtype=torch.bool)
        for row, ids in enumerate(encoded):
            if ids:
                tokens[row, width - len(ids) :] = torch.tensor(ids)
                valid[row, width - len(ids) :] = True
        return tokens.to(device), valid.to(device)

    def _parameters_version(self) -> int:
        """Changes whenever a weight is written in place (an optimizer step, a state-dict load)."""
        return sum(parameter._version for parameter in self.model.parameters())

    def _check_prefix_cache(self) -> None:
        """Keys and values kept under other weights are wrong for these: forget them."""
        version = self._parameters_version()
        if self.prefix_cache is not None and version != self._weights_version:
            self.prefix_cache.clear()
        self._weights_version = version

    def _prefill(
        self, encoded: Sequence[Sequence[int]], num_steps: int
    ) -> tuple[KVCache, torch.Tensor]:
        """A KV cache holding every prefix and the next-token logits (P, V) after each.

        Each prefix's longest kept part (the prefix cache) is copied in, right-aligned in slots
        ``[0, C)``; the rest of its tokens run in one forward (at least its last token, whose
        logits are needed). Padding between the two parts is masked, and positions count valid
        slots only, so a row sees what it would see run in full."""
        found = [
            self.prefix_cache.longest(ids, len(ids) - 1) if self.prefix_cache else (0, None)
            for ids in encoded
        ]
        cached = max(length for length, _ in found)
        rest = [ids[length:] for ids, (length, _) in zip(encoded, found, strict=True)]
        tokens, valid = self._left_padded(rest)
        cache = self.model.new_cache(len(encoded), cached + tokens.shape[1] + num_steps)
        for row, (length, state) in enumerate(found):
            if state is None:
                continue
            keys, values = state  # (layers, H, length, D)
            cache.keys[:, row, :, cached - length : cached] = keys
            cache.values[:, row, :, cached - length : cached] = values
            cache.key_valid[row, cached - length : cached] = True
        cache.length = cached
        return cache, self.model(tokens, valid, cache)[:, -1]

    def _keep_prefix(self, cache: KVCache, batch_row: int, ids: Sequence[int]) -> None:
        """Keep the keys and values of ``batch_row``'s filled slots as those of ``ids``."""
        if self.prefix_cache is None:
            return
        keys, values = cache.row_slots(batch_row)  # (layers, H, n, D)
        assert keys.shape[2] == len(ids), (keys.shape, len(ids))
        self.prefix_cache.store(ids, keys, values)

    @torch.inference_mode()
    def sample_steps(
        self,
        prefixes: Sequence[str],
        num_samples: int,
        max_tokens: int,
        temperature: float,
        rng: RandomSource = None,
    ) -> list[list[StepSample]]:
        """See :class:`reasoning.lm.base.StepPolicy`. Rows stop at the delimiter, end of text,
        ``max_tokens``, or the model's block size (stop reason ``"length"`` for the last two)."""
        check_sampling_arguments(num_samples, max_tokens, temperature)
        if not prefixes or num_samples == 0:
            return [[] for _ in prefixes]
        num_prefixes, rows = len(prefixes), len(prefixes) * num_samples
        encoded = self._token_ids(prefixes)
        lengths = [len(ids) for ids in encoded]
        device = self.model.head.weight.device
        block_size = self.model.config.block_size
        budgets = [min(max_tokens, block_size - n) for n in lengths for _ in range(num_samples)]
        num_steps = max(budgets)
        uniforms = None
        if temperature > 0:
            # always max_tokens draws per sample, so a prefix's draws do not depend on its batch
            draws = uniform_draws(rng, num_prefixes, num_samples, max_tokens)  # (P, K, max_tokens)
            uniforms = torch.from_numpy(draws.reshape(rows, max_tokens)).to(device)
        repeat = torch.arange(num_prefixes, device=device).repeat_interleave(num_samples)  # (R,)
        cache: KVCache | None = None
        tokens, valid = torch.empty(0), torch.empty(0)
        if self.use_kv_cache:
            self._check_prefix_cache()
            cache, logits = self._prefill(encoded, num_steps)  # (P, V)
            cache.select(repeat)
        else:
            tokens, valid = self._left_padded(encoded)
            logits = self.model(tokens, valid)[:, -1]
            tokens, valid = tokens[repeat], valid[repeat]  # (R, L)
        logits = logits[repeat]  # (R, V)
        row_prefixes = [encoded[p] for p in repeat.tolist()]
        generated, logprobs, stops = self._decode(
            logits, cache, tokens, valid, uniforms, budgets, temperature, row_prefixes
        )
        samples = []
        for row in range(rows):
            text = self.tokenizer.decode(generated[row])
            samples.append(
                StepSample(
                    text=text,
                    token_logprobs=tuple(logprobs[row]),
                    finished=step_ends_solution(text, stops[row]),
                    stop_reason=stops[row],
                )
            )
        return [samples[p * num_samples : (p + 1) * num_samples] for p in range(num_prefixes)]

    def _decode(
        self,
        logits: torch.Tensor,  # (R, V) next-token logits of every row
        cache: KVCache | None,  # filled with every row's prefix, or None to recompute
        tokens: torch.Tensor,  # (R, L) the prefixes, used when there is no cache
        valid: torch.Tensor,  # (R, L)
        uniforms: torch.Tensor | None,  # (R, steps) draws; None for greedy
        budgets: list[int],  # the most tokens each row may generate
        temperature: float,
        row_prefixes: Sequence[Sequence[int]],  # (R,) each row's prefix ids
    ) -> tuple[list[list[int]], list[list[float]], list[StopReason]]:
        """Generate until every row stops; rows that stopped stay in the batch (their outputs
        ignored) until they are half of it, because dropping rows copies the whole cache."""
        rows = logits.shape[0]
        batch_rows = torch.arange(rows, device=logits.device)  # original row of each batch row
        alive = [True] * rows  # per batch row
        generated: list[list[int]] = [[] for _ in range(rows)]
        logprobs: list[list[float]] = [[] for _ in range(rows)]
        stops: list[StopReason] = ["length"] * rows
        stop_tokens = (self._delimiter_id, self.tokenizer.eos_id)
        for step in range(max(budgets)):
            log_probs = F.log_softmax(logits.float(), dim=-1)  # (A, V)
            if uniforms is None:
                next_tokens = log_probs.argmax(dim=-1)  # (A,)
            else:
                cdf = torch.softmax(logits.double() / temperature, dim=-1).cumsum(dim=-1)  # (A, V)
                thresholds = uniforms[batch_rows, step] * cdf[:, -1]  # (A,)
                next_tokens = torch.searchsorted(cdf, thresholds[:, None], right=True).squeeze(1)
                next_tokens = next_tokens.clamp(max=logits.shape[-1] - 1)
            chosen = log_probs.gather(1, next_tokens[:, None]).squeeze(1)  # (A,)
            for batch_row, (row, token, logprob) in enumerate(
                zip(batch_rows.tolist(), next_tokens.tolist(), chosen.tolist(), strict=True)
            ):
                if not alive[batch_row]:
                    continue
                generated[row].append(token)
                logprobs[row].append(logprob)
                if token in stop_tokens:
                    stops[row] = "delimiter" if token == self._delimiter_id else "end_of_text"
                    alive[batch_row] = False
                elif len(generated[row]) >= budgets[row]:
                    alive[batch_row] = False
                if stops[row] == "delimiter" and cache is not None:
                    # The cache holds the prefix and every generated token but this last one:
                    # the prefix of the child this step makes extends exactly these. (A step
                    # that ends the text or runs out of tokens makes a leaf: nothing to keep.)
                    self._keep_prefix(cache, batch_row, [*row_prefixes[row], *generated[row][:-1]])
            num_alive = sum(alive)
            if num_alive == 0:
                break
            if num_alive <= len(alive) // 2:
                keep = torch.tensor([i for i, a in enumerate(alive) if a], device=logits.device)
                batch_rows, next_tokens, alive = (
                    batch_rows[keep],
                    next_tokens[keep],
                    [True] * num_alive,
                )
                if cache is not None:
                    cache.select(keep)
                else:
                    tokens, valid = tokens[keep], valid[keep]
            if cache is not None:
                step_valid = torch.ones((len(alive), 1), dtype=torch.bool, device=logits.device)
                logits = self.model(next_tokens[:, None], step_valid, cache)[:, -1]
            else:
                tokens = torch.cat([tokens, next_tokens[:, None]], dim=1)
                valid = torch.cat([valid, torch.ones_like(valid[:, :1])], dim=1)
                logits = self.model(tokens, valid)[:, -1]
        return generated, logprobs, stops
