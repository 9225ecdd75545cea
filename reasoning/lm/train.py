"""Train the tiny GPT from scratch (or fine-tune it) on solution texts.

Each text is ``prompt + solution`` (see :mod:`reasoning.tasks.format`) and gets an end-of-text
token appended. The loss is next-token cross-entropy (nats per token) on the solution tokens and
the end-of-text token; the question line is context only (``loss_on_prompt=False``), because its
numbers are random and cannot be predicted. AdamW, linear warmup then cosine decay, gradient
clipping, as nanoGPT. Compute: about ``6 * parameters * tokens`` FLOPs (Kaplan et al. 2020,
REFERENCES.md), padding excluded.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from reasoning.lm.model import TinyGPT, TinyGPTConfig, build_tiny_gpt
from reasoning.lm.tokenizer import CharTokenizer
from reasoning.tasks.format import STEP_DELIMITER


@dataclass(frozen=True)
class TrainingConfig:
    model: TinyGPTConfig = field(default_factory=TinyGPTConfig)
    steps: int = 1500
    batch_size: int = 32  # texts per step
    learning_rate: float = 2e-3
    min_learning_rate: float = 2e-4
    warmup_steps: int = 50
    weight_decay: float = 0.01
    gradient_clip: float = 1.0
    loss_on_prompt: bool = False


@dataclass(frozen=True)
class TrainingResult:
    model: TinyGPT
    losses: tuple[float, ...]  # mean loss (nats per token) of every step
    tokens: int  # loss tokens processed (no padding)
    seconds: float
    flops: float  # 6 * parameters * all tokens processed (context included, padding excluded)


class WarmupCosine(Protocol):
    """The schedule fields of a training config (the tiny GPT's and the verifiers')."""

    @property
    def steps(self) -> int: ...
    @property
    def warmup_steps(self) -> int: ...
    @property
    def learning_rate(self) -> float: ...
    @property
    def min_learning_rate(self) -> float: ...


def learning_rate_at(config: WarmupCosine, step: int) -> float:
    """Linear warmup to ``learning_rate``, then cosine decay to ``min_learning_rate``."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return config.min_learning_rate + cosine * (config.learning_rate - config.min_learning_rate)


def encode_texts(
    texts: Sequence[str], tokenizer: CharTokenizer, block_size: int, loss_on_prompt: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded tokens (N, W) with end of text appended, their lengths (N,), and the loss
    mask (N, W - 1) over next-token targets."""
    encoded = []
    for index, text in enumerate(texts):
        ids = tokenizer.encode(text) + [tokenizer.eos_id]
        if len(ids) > block_size + 1:
            raise ValueError(
                f"text {index} has {len(ids)} tokens with end of text, more than block_size + 1 = "
                f"{block_size + 1}: {text[:80]!r}"
            )
        encoded.append(ids)
    if not encoded:
        raise ValueError("no training texts")
    width = max(len(ids) for ids in encoded)
    tokens = torch.full((len(encoded), width), tokenizer.eos_id, dtype=torch.long)
    loss_mask = torch.zeros((len(encoded), width - 1), dtype=torch.bool)
    for row, (text, ids) in enumerate(zip(texts, encoded, strict=True)):
        tokens[row, : len(ids)] = torch.tensor(ids)
        # target j is token j + 1; the prompt is the first line, delimiter included
        first_target = 0 if loss_on_prompt else text.find(STEP_DELIMITER)
        loss_mask[row, max(first_target, 0) : len(ids) - 1] = True
    lengths = torch.tensor([len(ids) for ids in encoded])
    return tokens, lengths, loss_mask


def train_tiny_gpt(
    config: TrainingConfig,
    texts: Sequence[str],
    rng: np.random.Generator,
    *,
    tokenizer: CharTokenizer | None = None,
    model: TinyGPT | None = None,
    progress: bool = True,
    device: str | torch.device = "cpu",
) -> TrainingResult:
    """Train a new model (or continue ``model``) for ``config.steps`` steps on ``texts``.

    Batches are drawn with ``rng`` and the initial weights from a torch generator seeded by it, so
    a run is reproducible given the generator's state; no global RNG or thread setting is touched.
    """
    tokenizer = tokenizer or CharTokenizer()
    model_config = config.model if model is None else model.config
    if model_config.vocab_size != tokenizer.vocab_size:
        raise ValueError(
            f"model vocab_size {model_config.vocab_size} != tokenizer vocab_size "
            f"{tokenizer.vocab_size}"
        )
    if model is None:
        generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
        model = build_tiny_gpt(model_config, generator, device)
    tokens, lengths, loss_mask = encode_texts(
        texts, tokenizer, model_config.block_size, config.loss_on_prompt
    )
    decay = [p for name, p in model.named_parameters() if p.dim() >= 2 and "embedding" not in name]
    no_decay = [p for name, p in model.named_parameters() if p.dim() < 2 or "embedding" in name]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": config.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=config.learning_rate,
        betas=(0.9, 0.99),
    )
    model.train()
    losses: list[float] = []
    loss_tokens = context_tokens = 0
    start = time.perf_counter()
    bar = tqdm(range(config.steps), desc="train tiny GPT", unit="step", disable=not progress)
    for step in bar:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(config, step)
        rows = torch.from_numpy(rng.integers(0, len(tokens), config.batch_size))
        width = int(lengths[rows].max())
        batch = tokens[rows, :width].to(device)  # (B, W)
        mask = loss_mask[rows, : width - 1].to(device)  # (B, W - 1)
        logits = model(batch[:, :-1])  # (B, W - 1, V); right padding never affects real tokens
        loss_per_token = F.cross_entropy(logits.transpose(1, 2), batch[:, 1:], reduction="none")
        loss = (loss_per_token * mask).sum() / mask.sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.gradient_clip)
        optimizer.step()
        losses.append(loss.item())
        loss_tokens += int(mask.sum())
        context_tokens += int((lengths[rows] - 1).sum())
        if step % 10 == 0 or step == config.steps - 1:
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
    model.eval()
    seconds = time.perf_counter() - start
    flops = 6.0 * model.num_parameters * context_tokens  # Kaplan et al. 2020
    return TrainingResult(model, tuple(losses), loss_tokens, seconds, flops)
