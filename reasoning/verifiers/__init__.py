"""Verifiers: score step prefixes of a solution in [0, 1], in batches.

- :mod:`reasoning.verifiers.base`: the :class:`Verifier` protocol and the step-score
  aggregations by name (``last``, ``min``, ``product``); no torch;
- :mod:`reasoning.verifiers.oracle`: the task's exact checker (the ceiling); no torch;
- :mod:`reasoning.verifiers.reward_model`: the learned PRM / ORM network, save and load;
- :mod:`reasoning.verifiers.training`: training a PRM or ORM on labelled prefixes.

Names are imported lazily, so importing the package (or its base) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AGGREGATIONS": "base",
    "Verifier": "base",
    "aggregate": "base",
    "score_solutions": "base",
    "step_end_positions": "base",
    "OracleVerifier": "oracle",
    "LearnedVerifier": "reward_model",
    "RewardModel": "reward_model",
    "build_reward_model": "reward_model",
    "VerifierExample": "training",
    "VerifierTrainingConfig": "training",
    "VerifierTrainingResult": "training",
    "train_verifier": "training",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'reasoning.verifiers' has no attribute {name!r}")
    return getattr(importlib.import_module(f"reasoning.verifiers.{_EXPORTS[name]}"), name)


def __dir__() -> list[str]:
    return __all__
