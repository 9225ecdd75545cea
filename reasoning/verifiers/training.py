"""Train a PRM or an ORM on labelled step prefixes.

An example is a text (prompt + steps) with a target in [0, 1] at some of its step ends: a PRM
gets one at every step end (Math-Shepherd Monte-Carlo labels, hard or soft), an ORM only at the
end of a finished solution (its final correctness). The loss is binary cross-entropy of the
logit at each labelled position against its target (soft targets allowed), averaged over the
labelled positions of a batch. The optimisation loop is the tiny GPT's
(``reasoning.lm.train.training_loop``). Compute: about ``6 * parameters * tokens`` FLOPs
(``experiment.ledger.transformer_train_flops``), padding excluded. Validation holds out whole
problems (``group``), so a problem's many prefixes never leak from training into validation.

Two guards against the shortcut a small verifier finds first on Monte-Carlo labels (learning
each training problem's base rate and preferring short solutions, instead of checking steps):
copies of one text (a policy repeats its likely solutions many times) are merged into one
example with the mean label, and the weights kept are those that best *rank* the held-out
candidates of one problem (the fraction of pairs with different final labels put in the label's
order), which is what best-of-N and search ask of a verifier; held-out loss breaks ties.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from experiment.ledger import transformer_train_flops
from reasoning.lm.model import TinyGPT, TinyGPTConfig
from reasoning.lm.tokenizer import CharTokenizer
from reasoning.lm.train import training_loop
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
    max_validation_examples: int = 2048  # held-out problems are drawn whole up to this many
    merge_duplicates: bool = True  # one example per (problem, text), labels averaged
    keep: Literal["ranking", "loss"] = "ranking"  # which held-out measure picks the weights
    # weigh positive targets by (1 - p) / p, p the mean training target (positive_weight), so
    # that rare positives (the correct steps and solutions of a weak policy) count as much as
    # the negatives; scores then rank as before but are no longer calibrated probabilities
    balance_classes: bool = False


@dataclass(frozen=True)
class VerifierTrainingResult:
    verifier: LearnedVerifier
    losses: tuple[float, ...]  # training loss (nats per labelled position) of every step
    validation_loss: float | None  # of the kept weights, on held-out problems; None without
    validation_accuracy: float | None  # (score > 0.5) == (target > 0.5) on held-out positions
    validation_ranking: float | None  # pairs of one problem's texts ordered as their labels
    best_step: int  # the step whose weights were kept
    validations: tuple[tuple[int, Validation], ...]  # (step, held-out measures), every one made
    validation_groups: tuple[int, ...]  # the held-out problems validated on
    examples: int  # distinct examples trained and validated on (after merging copies)
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


def positive_weight(targets: torch.Tensor) -> float:
    """(1 - p) / p for the mean p of the labelled (non-NaN) ``targets``: the weight of a positive
    in the binary cross-entropy that makes positives and negatives weigh alike (1.0 when there
    are no labels or only one class)."""
    labelled = targets[~torch.isnan(targets)]
    mean = float(labelled.mean()) if labelled.numel() else 0.5
    return (1.0 - mean) / mean if 0.0 < mean < 1.0 else 1.0


def _batch_loss(
    model: torch.nn.Module,
    tokens: torch.Tensor,
    targets: torch.Tensor,
    pos_weight: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean BCE over labelled positions (positives weighted by ``pos_weight``), and the
    labelled logits and targets."""
    logits = model(tokens)  # (B, W)
    labelled = ~torch.isnan(targets)
    chosen_logits, chosen_targets = logits[labelled], targets[labelled]
    loss = F.binary_cross_entropy_with_logits(chosen_logits, chosen_targets, pos_weight=pos_weight)
    return loss, chosen_logits, chosen_targets


def merge_duplicates(examples: Sequence[VerifierExample]) -> list[VerifierExample]:
    """One example per (problem, text), in first-seen order: its targets are the mean, position
    by position, over the copies that label that position (NaN where none does)."""
    copies: dict[tuple[int, str], list[tuple[float, ...]]] = {}
    for example in examples:
        copies.setdefault((example.group, example.text), []).append(example.targets)
    merged = []
    for (group, text), rows in copies.items():
        targets = np.array(rows, np.float64)  # (copies, step ends)
        labelled = ~np.isnan(targets)
        counts = labelled.sum(axis=0)
        sums = np.where(labelled, targets, 0.0).sum(axis=0)
        mean = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        merged.append(VerifierExample(text, tuple(float(x) for x in mean), group))
    return merged


def _split(
    examples: Sequence[VerifierExample],
    fraction: float,
    rng: np.random.Generator,
    max_validation: int,
) -> tuple[list[VerifierExample], list[VerifierExample]]:
    """(train, validation) with ``fraction`` of the problems (groups) held out whole; of those,
    whole problems in random order until ``max_validation`` examples are validated on (the
    others are used for neither, so they never leak into training)."""
    groups = np.array(sorted({example.group for example in examples}))
    count = int(len(groups) * fraction) if len(groups) > 1 else 0
    held_out = rng.choice(groups, count, replace=False).tolist()
    sizes: dict[int, int] = {}
    for example in examples:
        sizes[example.group] = sizes.get(example.group, 0) + 1
    validated, total = set(), 0
    for group in held_out:
        if total and total + sizes[group] > max_validation:
            break
        validated.add(group)
        total += sizes[group]
    held = set(held_out)
    return (
        [e for e in examples if e.group not in held],
        [e for e in examples if e.group in validated],
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
    if config.merge_duplicates:
        examples = merge_duplicates(examples)
    train_rows, validation_rows = _split(
        examples, config.validation_fraction, rng, config.max_validation_examples
    )
    tokens, targets, lengths = _encode(train_rows, tokenizer, config.model.block_size)
    pos_weight = torch.tensor(positive_weight(targets)) if config.balance_classes else None
    processed = 0
    best: tuple[tuple[float, float], Validation, int, dict[str, torch.Tensor]] | None = None
    validations: list[tuple[int, Validation]] = []

    def batch_loss(rows: torch.Tensor) -> torch.Tensor | None:
        nonlocal processed
        width = int(lengths[rows].max())
        loss, chosen, _ = _batch_loss(
            model, tokens[rows, :width], targets[rows, :width], pos_weight
        )
        if chosen.numel() == 0:  # no labelled position in this batch: nothing to learn
            return None
        processed += int(lengths[rows].sum())
        return loss

    def validate(step: int) -> dict[str, str] | None:
        """Every ``validation_every`` steps (and at the last), keep the best weights so far."""
        nonlocal best
        last = step == config.steps - 1
        if not validation_rows or ((step + 1) % config.validation_every and not last):
            return None
        model.eval()
        validation = _evaluate(model, validation_rows, tokenizer)
        validations.append((step, validation))
        key = (
            (validation.ranking, -validation.loss)
            if config.keep == "ranking"
            else (-validation.loss, validation.ranking)
        )
        if best is None or key > best[0]:
            weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
            best = (key, validation, step, weights)
        return {"validation": f"{validation.loss:.3f}", "ranking": f"{validation.ranking:.3f}"}

    start = time.perf_counter()
    losses = training_loop(
        model, config, len(tokens), batch_loss, rng,
        description=f"train {kind.upper()}", progress=progress, after_step=validate,
    )  # fmt: skip
    if best is not None:
        model.load_state_dict(best[3])
    model.eval()
    seconds = time.perf_counter() - start
    flops = float(transformer_train_flops(model.num_parameters, processed))
    return VerifierTrainingResult(
        verifier=LearnedVerifier(model, kind, tokenizer),
        losses=tuple(losses),
        validation_loss=None if best is None else best[1].loss,
        validation_accuracy=None if best is None else best[1].accuracy,
        validation_ranking=None if best is None else best[1].ranking,
        best_step=config.steps - 1 if best is None else best[2],
        validations=tuple(validations),
        validation_groups=tuple(sorted({example.group for example in validation_rows})),
        examples=len(examples),
        tokens=processed,
        flops=flops,
        seconds=seconds,
    )


@dataclass(frozen=True)
class Validation:
    loss: float  # mean BCE over every labelled position
    accuracy: float  # (logit > 0) == (target > 0.5) over every labelled position
    ranking: float  # see ranking_accuracy; 0.5 when no problem has two different final labels


def ranking_accuracy(scores: np.ndarray, targets: np.ndarray, groups: np.ndarray) -> float:
    """Of the pairs of texts of one problem (``groups``) whose final ``targets`` differ, the
    fraction whose ``scores`` are in the same order (ties count half); 0.5 without pairs."""
    ordered = pairs = 0.0
    for group in np.unique(groups):
        members = groups == group
        s, t = scores[members], targets[members]
        higher = t[:, None] > t[None, :]  # (i, j): i should score above j
        ordered += float(
            (higher * ((s[:, None] > s[None, :]) + 0.5 * (s[:, None] == s[None, :]))).sum()
        )
        pairs += float(higher.sum())
    return ordered / pairs if pairs else 0.5


@torch.inference_mode()
def _evaluate(
    model: RewardModel, examples: Sequence[VerifierExample], tokenizer: CharTokenizer
) -> Validation:
    """Loss and accuracy over all labelled positions of ``examples``, and the ranking accuracy
    of their scores at each text's last labelled position."""
    tokens, targets, _ = _encode(examples, tokenizer, model.config.block_size)
    total_loss, correct, count = 0.0, 0, 0
    final_scores, final_targets = [], []
    for start in range(0, len(tokens), 256):
        batch_targets = targets[start : start + 256]
        logits = model(tokens[start : start + 256])  # (B, W)
        labelled = ~torch.isnan(batch_targets)
        chosen_logits, chosen = logits[labelled], batch_targets[labelled]
        loss = F.binary_cross_entropy_with_logits(chosen_logits, chosen, reduction="sum")
        total_loss += loss.item()
        correct += int(((chosen_logits > 0) == (chosen > 0.5)).sum())
        count += len(chosen)
        width = labelled.shape[1]
        last = width - 1 - labelled.flip(1).int().argmax(dim=1)  # (B,) last labelled position
        rows = torch.arange(len(last))
        final_scores.append(logits[rows, last].numpy())
        final_targets.append(batch_targets[rows, last].numpy())
    groups = np.array([example.group for example in examples])
    ranking = ranking_accuracy(np.concatenate(final_scores), np.concatenate(final_targets), groups)
    return Validation(total_loss / max(count, 1), correct / max(count, 1), ranking)
