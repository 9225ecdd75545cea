"""Language-model policies over reasoning steps.

- :mod:`reasoning.lm.base`: the :class:`StepPolicy` protocol every backend implements and the
  :class:`StepSample` it returns (no torch);
- :mod:`reasoning.lm.tokenizer`, :mod:`reasoning.lm.model`, :mod:`reasoning.lm.train`,
  :mod:`reasoning.lm.checkpoint`: a character-level tiny GPT trained here from scratch;
- :mod:`reasoning.lm.sampling`: :class:`TinyGPTPolicy`, batched step sampling with a KV cache;
- :mod:`reasoning.lm.decoding`: whole solutions from any policy (greedy or sampled).

Names are imported lazily, so ``from reasoning.lm.base import StepPolicy`` does not import torch.
Nothing here changes torch's global settings (threads, seeds).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "RandomSource": "base",
    "StepPolicy": "base",
    "StepSample": "base",
    "greedy_steps": "base",
    "uniform_draws": "base",
    "load_tiny_gpt": "checkpoint",
    "save_tiny_gpt": "checkpoint",
    "Completion": "decoding",
    "complete_solutions": "decoding",
    "KVCache": "model",
    "TinyGPT": "model",
    "TinyGPTConfig": "model",
    "build_tiny_gpt": "model",
    "TinyGPTPolicy": "sampling",
    "CharTokenizer": "tokenizer",
    "TrainingConfig": "train",
    "TrainingResult": "train",
    "train_tiny_gpt": "train",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'reasoning.lm' has no attribute {name!r}")
    return getattr(importlib.import_module(f"reasoning.lm.{_EXPORTS[name]}"), name)


def __dir__() -> list[str]:
    return __all__
