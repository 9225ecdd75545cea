"""Reasoning side of ponder: verifiable tasks, language-model policies over reasoning steps,
step verifiers and searches over steps (on the one search core in ``search/``).

- :mod:`reasoning.tasks`: problems, the text format, exact step and answer checkers, generators
  with fixed train/test splits, reference and deliberately imperfect solutions, a JSONL loader.
- :mod:`reasoning.lm`: the policy interface (:class:`reasoning.lm.base.StepPolicy`), a
  character tokenizer and a tiny GPT trained here from scratch, batched step sampling with a
  KV cache.

Importing this package imports no torch; ``reasoning.lm`` does.
"""
