"""Learned verifiers (PRM and ORM): a tiny causal transformer with a scalar head.

The trunk is the tiny GPT of :mod:`reasoning.lm.model` without its language-model head (so it
can start from the policy's weights, as Lightman et al. fine-tune their base model); a linear
head maps the hidden state at every position to a logit. The score of a prefix is the sigmoid of
the logit at its last token; since attention is causal, one forward over a whole solution gives
the score of every step prefix at once (read at each step's delimiter).

Shapes: B texts, T tokens (characters), C embedding. Save/load: ``model.safetensors`` and
``config.json`` (no pickle).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from experiment.ledger import transformer_forward_flops
from reasoning.lm.checkpoint import CONFIG_FILE, WEIGHTS_FILE, read_model_config
from reasoning.lm.model import TinyGPT, TinyGPTConfig, build_tiny_gpt
from reasoning.lm.tokenizer import CharTokenizer
from reasoning.verifiers.base import step_end_positions

# prm: Monte-Carlo step labels (Math-Shepherd); prm_checker: the exact step checker's labels of
# the policy's own samples (as PRM800K's human labels); orm: final correctness
VerifierKind = Literal["prm", "prm_checker", "orm"]
VERIFIER_KINDS: tuple[VerifierKind, ...] = ("prm", "prm_checker", "orm")
FORMAT = "ponder.reward_model"
VERSION = 1


class RewardModel(nn.Module):
    """Tiny GPT trunk + linear value head: logits (B, T) of "this prefix leads to a correct
    answer" at every position."""

    def __init__(self, config: TinyGPTConfig):
        super().__init__()
        self.config = config
        self.trunk = TinyGPT(config)
        # the LM head is not used: no parameters, no FLOPs
        self.trunk.head = nn.Identity()  # type: ignore[assignment]
        self.value_head = nn.Linear(config.embedding_dim, 1)

    @property
    def num_parameters(self) -> int:
        return sum(parameter.numel() for parameter in self.parameters())

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits (B, T) for right-padded tokens (B, T); padding never affects real positions."""
        return self.value_head(self.trunk.features(tokens)).squeeze(-1)


def build_reward_model(
    config: TinyGPTConfig, generator: torch.Generator, policy: TinyGPT | None = None
) -> RewardModel:
    """A fresh model drawn from ``generator``; with ``policy``, the trunk starts from the policy's
    weights (same architecture required) and only the value head is new."""
    model = RewardModel(config)
    trunk = build_tiny_gpt(config, generator)
    if policy is not None:
        if policy.config != config:
            raise ValueError(
                f"init_from_policy needs the verifier's model config to equal the policy's: "
                f"{config} != {policy.config}"
            )
        trunk = policy
    state = {k: v for k, v in trunk.state_dict().items() if not k.startswith("head.")}
    model.trunk.load_state_dict(state)
    with torch.no_grad():
        model.value_head.weight.normal_(0.0, 0.02, generator=generator)
        model.value_head.bias.zero_()
    return model


class LearnedVerifier:
    """A trained :class:`RewardModel` behind the :class:`reasoning.verifiers.base.Verifier`
    interface. ``kind`` says what it was trained on: ``prm`` (Monte-Carlo step labels),
    ``prm_checker`` (the exact step checker's labels) or ``orm`` (final correctness). Texts
    longer than the block size are scored on their last ``block_size`` characters."""

    def __init__(
        self,
        model: RewardModel,
        kind: VerifierKind,
        tokenizer: CharTokenizer | None = None,
        *,
        batch_rows: int = 256,
    ):
        if kind not in VERIFIER_KINDS:
            raise ValueError(f"verifier kind must be one of {VERIFIER_KINDS}, got {kind!r}")
        self.model = model.eval()
        self.name = kind
        self.tokenizer = tokenizer or CharTokenizer()
        self.batch_rows = batch_rows

    @property
    def num_parameters(self) -> int:
        return self.model.num_parameters

    @property
    def flops_per_token(self) -> float:
        return float(transformer_forward_flops(self.num_parameters, 1))

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text))

    def _logits(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Per-text logits (T_i,) at every character, in batches of ``batch_rows``."""
        block_size = self.model.config.block_size
        device = self.model.value_head.weight.device
        results: list[np.ndarray] = []
        for start in range(0, len(texts), self.batch_rows):
            encoded = [
                self.tokenizer.encode(text)[-block_size:]
                for text in texts[start : start + self.batch_rows]
            ]
            width = max(len(ids) for ids in encoded)
            tokens = torch.full((len(encoded), width), self.tokenizer.eos_id, dtype=torch.long)
            for row, ids in enumerate(encoded):
                tokens[row, : len(ids)] = torch.tensor(ids)
            with torch.inference_mode():
                logits = self.model(tokens.to(device)).float().cpu().numpy()  # (B, W)
            results.extend(logits[row, : len(ids)] for row, ids in enumerate(encoded))
        return results

    def score_prefixes(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros(0, np.float64)
        last = np.array([logits[-1] for logits in self._logits(texts)], np.float64)
        return 1.0 / (1.0 + np.exp(-last))

    def step_scores(self, texts: Sequence[str]) -> list[np.ndarray]:
        if not texts:
            return []
        block_size = self.model.config.block_size
        scores = []
        for text, logits in zip(texts, self._logits(texts), strict=True):
            shift = max(0, len(text) - block_size)  # characters dropped on the left
            positions = [p - shift for p in step_end_positions(text)[1:] if p >= shift]
            scores.append(1.0 / (1.0 + np.exp(-logits[positions].astype(np.float64))))
        return scores

    def save(self, directory: str | Path) -> Path:
        """Write ``model.safetensors`` and ``config.json`` into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        weights = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        save_file(weights, str(directory / WEIGHTS_FILE), metadata={"format": FORMAT})
        config = {
            "format": FORMAT,
            "version": VERSION,
            "kind": self.name,
            "model": asdict(self.model.config),
            "tokenizer": self.tokenizer.to_config(),
        }
        (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
        return directory

    @classmethod
    def load(cls, directory: str | Path, device: str = "cpu") -> LearnedVerifier:
        """Read a verifier written by :meth:`save`."""
        directory = Path(directory)
        config, model_config = read_model_config(directory, FORMAT, VERSION, "saved verifier")
        with torch.device("meta"):
            model = RewardModel(model_config)
        model.load_state_dict(load_file(str(directory / WEIGHTS_FILE), device=device), assign=True)
        tokenizer = CharTokenizer.from_config(config["tokenizer"])
        return cls(model, config["kind"], tokenizer)
