"""Train the tiny GPT from scratch (or fine-tune it) on solution texts.

Each text is ``prompt + solution`` (see :mod:`reasoning.tasks.format`) and gets an end-of-text
token appended. The loss is next-token cross-entropy (nats per token) on the solution tokens and
the end-of-text token; the question line is context only (``loss_on_prompt=False``), because its
numbers are random and cannot be predicted. Compute: about ``6 * parameters * tokens`` FLOPs
(``experiment.ledger.transformer_train_flops``), padding excluded.

:func:`training_loop` is the one optimisation loop of the tiny-GPT family, used here and by the
verifiers (``reasoning.verifiers.training``): AdamW with weight decay on matrices only
(``experiment.schedules.decay_groups``), linear warm-up then cosine decay
(``experiment.schedules``), gradient clipping, as nanoGPT.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F

from experiment.ledger import transformer_train_flops
from experiment.progress import progress as progress_of
from experiment.schedules import decay_groups, learning_rate, warmup_cosine
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


class LoopSettings(Protocol):
    """The optimisation fields of a training config (the tiny GPT's and the verifiers')."""

    @property
    def steps(self) -> int: ...
    @property
    def batch_size(self) -> int: ...
    @property
    def learning_rate(self) -> float: ...
    @property
    def min_learning_rate(self) -> float: ...
    @property
    def warmup_steps(self) -> int: ...
    @property
    def weight_decay(self) -> float: ...
    @property
    def gradient_clip(self) -> float: ...


# AdamW's (beta1, beta2) for the policy: nanoGPT's 0.99 for small character models. The verifiers
# keep torch's default, which their loop had before it became this one, so that merging the
# loops changed only their weight decay.
POLICY_BETAS = (0.9, 0.99)


def training_loop(
    model: torch.nn.Module,
    settings: LoopSettings,
    num_examples: int,
    batch_loss: Callable[[torch.Tensor], torch.Tensor | None],
    rng: np.random.Generator,
    *,
    betas: tuple[float, float] = (0.9, 0.999),
    description: str = "train",
    progress: bool = True,
    after_step: Callable[[int], dict[str, str] | None] | None = None,
) -> list[float]:
    """``settings.steps`` AdamW steps on batches of ``settings.batch_size`` example rows drawn
    with ``rng`` from ``range(num_examples)``; returns the loss of every step taken.

    ``batch_loss(rows)`` returns the batch's mean loss, or None to skip the step (nothing to
    learn in it). ``after_step(step)`` runs after each step taken (validation, say) and may
    return values to show beside the loss. The model is left in eval mode."""
    optimizer = torch.optim.AdamW(
        decay_groups(model, settings.weight_decay), lr=settings.learning_rate, betas=betas
    )
    schedule = warmup_cosine(
        settings.steps, settings.warmup_steps, settings.learning_rate, settings.min_learning_rate
    )
    losses: list[float] = []
    bar = progress_of(range(settings.steps), description, "step", enabled=progress)
    for step in bar:
        model.train()
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(schedule, step)
        rows = torch.from_numpy(rng.integers(0, num_examples, settings.batch_size))
        loss = batch_loss(rows)
        if loss is None:
            continue
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings.gradient_clip)
        optimizer.step()
        losses.append(loss.item())
        shown = after_step(step) if after_step is not None else None
        if shown or step % 10 == 0 or step == settings.steps - 1:
            bar.set_postfix(loss=f"{losses[-1]:.3f}", **(shown or {}))
    model.eval()
    return losses


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
    counts = {"loss": 0, "context": 0}

    def batch_loss(rows: torch.Tensor) -> torch.Tensor:
        width = int(lengths[rows].max())
        batch = tokens[rows, :width].to(device)  # (B, W)
        mask = loss_mask[rows, : width - 1].to(device)  # (B, W - 1)
        logits = model(batch[:, :-1])  # (B, W - 1, V); right padding never affects real tokens
        loss_per_token = F.cross_entropy(logits.transpose(1, 2), batch[:, 1:], reduction="none")
        counts["loss"] += int(mask.sum())
        counts["context"] += int((lengths[rows] - 1).sum())
        return (loss_per_token * mask).sum() / mask.sum()

    start = time.perf_counter()
    losses = training_loop(
        model, config, len(tokens), batch_loss, rng,
        betas=POLICY_BETAS, description="train tiny GPT", progress=progress,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    flops = float(transformer_train_flops(model.num_parameters, counts["context"]))
    return TrainingResult(model, tuple(losses), counts["loss"], seconds, flops)
