"""Train a PRM or an ORM on labelled step prefixes.

An example is a text (prompt + steps) with a target in [0, 1] at some of its step ends: a PRM
gets one at every step end (Math-Shepherd Monte-Carlo labels, hard or soft), an ORM only at the
end of a finished solution (its final correctness). The loss is binary cross-entropy of the
logit at each labelled position against its target (soft targets allowed), averaged over the
labelled positions of a batch. AdamW, linear warmup then cosine decay, gradient clipping.
Compute: about ``6 * parameters * tokens`` FLOPs (Kaplan et al. 2020, REFERENCES.md), padding
excluded. Validation holds out whole problems (``group``), so a problem's many prefixes never
leak from training into validation; the weights with the lowest validation loss are kept.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from reasoning.lm.model import TinyGPT, TinyGPTConfig
from reasoning.lm.tokenizer import CharTokenizer
from reasoning.verifiers.base import step_end_positions
from reasoning.verifiers.reward_model import (
    LearnedVerifier,
    RewardModel,
    VerifierKind,
    build_reward_model,
)


@dataclass(frozen=True)
class VerifierExample:
    """``targets[i]`` is the target at the i-th step end of ``text`` (entry 0: the prompt's
    end); NaN where the example says nothing. ``group`` names the problem it came from."""

    text: str
    targets: tuple[float, ...]
    group: int = 0


@dataclass(frozen=True)
class VerifierTrainingConfig:
    model: TinyGPTConfig = field(
        default_factory=lambda: TinyGPTConfig(
            block_size=256, num_layers=2, num_heads=4, embedding_dim=64
        )
    )
    init_from_policy: bool = False  # start the trunk from the policy's weights (same model config)
    steps: int = 500
    batch_size: int = 32  # texts per step
    learning_rate: float = 1e-3
    min_learning_rate: float = 1e-4
    warmup_steps: int = 20
    weight_decay: float = 0.01
    gradient_clip: float = 1.0
    validation_fraction: float = 0.1  # of the problems (groups), held out
    validation_every: int = 50  # steps between validations; the best weights are kept
    max_validation_examples: int = 512  # a random subset of the held-out ones, for speed


@dataclass(frozen=True)
class VerifierTrainingResult:
    verifier: LearnedVerifier
    losses: tuple[float, ...]  # training loss (nats per labelled position) of every step
    validation_loss: float | None  # of the kept weights, on held-out problems; None without
    validation_accuracy: float | None  # (score > 0.5) == (target > 0.5) on held-out positions
    best_step: int  # the step whose weights were kept
    tokens: int  # tokens processed (padding excluded), all steps
    flops: float  # 6 * parameters * tokens (all steps run, the kept ones or not)
    seconds: float


def _encode(
    examples: Sequence[VerifierExample], tokenizer: CharTokenizer, block_size: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded tokens (N, W), targets (N, W) (NaN where unlabelled) and lengths (N,)."""
    encoded, target_rows = [], []
    for index, example in enumerate(examples):
        ids = tokenizer.encode(example.text)
        if len(ids) > block_size:
            raise ValueError(
                f"verifier example {index} has {len(ids)} tokens, more than the verifier's "
                f"block_size {block_size}: {example.text[:60]!r}; raise verifier.model.block_size"
            )
        positions = step_end_positions(example.text)
        if len(positions) != len(example.targets):
            raise ValueError(
                f"verifier example {index} has {len(positions)} step ends (prompt included) but "
                f"{len(example.targets)} targets: {example.text[:60]!r}"
            )
        row = np.full(len(ids), np.nan, np.float32)
        row[positions] = example.targets
        encoded.append(ids)
        target_rows.append(row)
    if not encoded:
        raise ValueError("no verifier training examples")
    width = max(len(ids) for ids in encoded)
    tokens = torch.full((len(encoded), width), tokenizer.eos_id, dtype=torch.long)
    targets = torch.full((len(encoded), width), float("nan"))
    for index, (ids, target_row) in enumerate(zip(encoded, target_rows, strict=True)):
        tokens[index, : len(ids)] = torch.tensor(ids)
        targets[index, : len(ids)] = torch.from_numpy(target_row)
    return tokens, targets, torch.tensor([len(ids) for ids in encoded])


def _learning_rate(config: VerifierTrainingConfig, step: int) -> float:
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return config.min_learning_rate + cosine * (config.learning_rate - config.min_learning_rate)


def _batch_loss(
    model: torch.nn.Module, tokens: torch.Tensor, targets: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean BCE over labelled positions, and the labelled logits and targets."""
    logits = model(tokens)  # (B, W)
    labelled = ~torch.isnan(targets)
    chosen_logits, chosen_targets = logits[labelled], targets[labelled]
    loss = F.binary_cross_entropy_with_logits(chosen_logits, chosen_targets)
    return loss, chosen_logits, chosen_targets


def _split(
    examples: Sequence[VerifierExample], fraction: float, rng: np.random.Generator
) -> tuple[list[VerifierExample], list[VerifierExample]]:
    """(train, validation) with ``fraction`` of the problems (groups) held out whole."""
    groups = np.array(sorted({example.group for example in examples}))
    count = int(len(groups) * fraction) if len(groups) > 1 else 0
    held_out = set(rng.choice(groups, count, replace=False).tolist())
    return (
        [e for e in examples if e.group not in held_out],
        [e for e in examples if e.group in held_out],
    )


def train_verifier(
    kind: VerifierKind,
    examples: Sequence[VerifierExample],
    config: VerifierTrainingConfig,
    rng: np.random.Generator,
    *,
    policy_model: TinyGPT | None = None,
    progress: bool = True,
) -> VerifierTrainingResult:
    """Train a ``kind`` verifier for up to ``config.steps`` steps on ``examples``.

    Every ``validation_every`` steps the loss on held-out problems is measured and the best
    weights so far are kept (early stopping): a few thousand labelled prefixes are easily
    memorised by a model of a few hundred thousand parameters. With ``config.init_from_policy``
    the trunk starts from ``policy_model`` (a tiny GPT of the same config). Batches come from
    ``rng`` and the initial weights from a torch generator seeded by it; no global RNG or
    thread setting is touched.
    """
    tokenizer = CharTokenizer()
    if config.init_from_policy and policy_model is None:
        raise ValueError("verifier init_from_policy needs the policy's tiny GPT (policy_model)")
    generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
    model = build_reward_model(
        config.model, generator, policy_model if config.init_from_policy else None
    )
    train_rows, validation_rows = _split(examples, config.validation_fraction, rng)
    if len(validation_rows) > config.max_validation_examples:
        keep = rng.choice(len(validation_rows), config.max_validation_examples, replace=False)
        validation_rows = [validation_rows[i] for i in sorted(keep)]
    tokens, targets, lengths = _encode(train_rows, tokenizer, config.model.block_size)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    losses: list[float] = []
    processed = 0
    best: tuple[float, float, int, dict[str, torch.Tensor]] | None = None  # loss, acc, step
    start = time.perf_counter()
    bar = tqdm(range(config.steps), desc=f"train {kind.upper()}", unit="step", disable=not progress)
    for step in bar:
        model.train()
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(config, step)
        rows = torch.from_numpy(rng.integers(0, len(tokens), config.batch_size))
        width = int(lengths[rows].max())
        loss, chosen, _ = _batch_loss(model, tokens[rows, :width], targets[rows, :width])
        if chosen.numel() == 0:  # no labelled position in this batch: nothing to learn
            continue
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.gradient_clip)
        optimizer.step()
        losses.append(loss.item())
        processed += int(lengths[rows].sum())
        last = step == config.steps - 1
        if validation_rows and ((step + 1) % config.validation_every == 0 or last):
            model.eval()
            validation_loss, validation_accuracy = _evaluate(model, validation_rows, tokenizer)
            if best is None or validation_loss < best[0]:
                weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
                best = (validation_loss, validation_accuracy, step, weights)
            bar.set_postfix(loss=f"{losses[-1]:.3f}", validation=f"{validation_loss:.3f}")
        elif step % 10 == 0:
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
    if best is not None:
        model.load_state_dict(best[3])
    model.eval()
    seconds = time.perf_counter() - start
    flops = 6.0 * model.num_parameters * processed  # Kaplan et al. 2020
    return VerifierTrainingResult(
        verifier=LearnedVerifier(model, kind, tokenizer),
        losses=tuple(losses),
        validation_loss=None if best is None else best[0],
        validation_accuracy=None if best is None else best[1],
        best_step=config.steps - 1 if best is None else best[2],
        tokens=processed,
        flops=flops,
        seconds=seconds,
    )


@torch.inference_mode()
def _evaluate(
    model: RewardModel, examples: Sequence[VerifierExample], tokenizer: CharTokenizer
) -> tuple[float, float]:
    """Mean BCE and accuracy at 0.5 over all labelled positions of ``examples``."""
    tokens, targets, _ = _encode(examples, tokenizer, model.config.block_size)
    total_loss, correct, count = 0.0, 0, 0
    for start in range(0, len(tokens), 256):
        loss, logits, chosen = _batch_loss(
            model, tokens[start : start + 256], targets[start : start + 256]
        )
        total_loss += loss.item() * len(chosen)
        correct += int(((logits > 0) == (chosen > 0.5)).sum())
        count += len(chosen)
    return total_loss / max(count, 1), correct / max(count, 1)
