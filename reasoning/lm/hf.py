"""A Hugging Face ``transformers`` causal LM from a local directory as a :class:`StepPolicy`.

Loading never touches the network (``local_files_only=True``). Sampling runs all prefixes x
samples in one batch: the prefixes are left-padded and run once (B = P, positions counted from
each row's first real token), the KV cache is repeated for the K samples of each prefix
(B = P * K), and every row then decodes one token per forward until its text contains the step
delimiter, it writes an end-of-sequence token, or it has written ``max_tokens`` tokens. Finished
rows leave the batch once they are half of it (dropping rows copies the cache).

Tokens are drawn by inverse CDF over ``softmax(logits / T)`` from the uniforms of
:func:`reasoning.lm.base.uniform_draws`, so the same generator gives the same samples; ``T = 0``
is greedy. Token log-probabilities are always ``log_softmax(logits)`` (temperature 1).

A subword token may carry the delimiter and more (``".\\n"``, ``"\\n\\n"``): the step's text is cut
right after the delimiter, and that token's log-probability is counted whole.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from experiment.ledger import transformer_forward_flops
from reasoning.lm.base import (
    PolicyLoadError,
    RandomSource,
    StepSample,
    StopReason,
    check_sampling_arguments,
    step_ends_solution,
    uniform_draws,
)
from reasoning.tasks.format import STEP_DELIMITER

MODEL_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


@dataclass(frozen=True)
class StepTokens:
    """A sampled step with the ids of its generated tokens (end-of-sequence included)."""

    sample: StepSample
    token_ids: tuple[int, ...]


class HuggingFacePolicy:
    """A :class:`reasoning.lm.base.StepPolicy` over a ``transformers`` causal LM and tokenizer.

    Prefixes are encoded with the tokenizer's defaults (a BOS token where the model adds one).
    """

    def __init__(self, model, tokenizer, *, step_delimiter: str = STEP_DELIMITER):
        if not step_delimiter:
            raise ValueError("the step delimiter must be a non-empty string")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self._step_delimiter = step_delimiter
        self._end_ids = _end_of_sequence_ids(model, tokenizer)
        if not self._end_ids:
            raise ValueError("the tokenizer and model config name no end-of-sequence token")
        self._pad_id = (
            tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(self._end_ids)
        )
        # the context length (None: the config does not say, then prefixes are not checked)
        self.max_positions: int | None = getattr(model.config, "max_position_embeddings", None)
        self.max_positions = self.max_positions or getattr(model.config, "n_positions", None)
        self._num_parameters = sum(parameter.numel() for parameter in model.parameters())
        # the prefill needs only the last position's logits; not every model takes the argument
        accepts = inspect.signature(model.forward).parameters
        self._prefill_options = {"logits_to_keep": 1} if "logits_to_keep" in accepts else {}

    @classmethod
    def from_directory(
        cls,
        directory: str | Path,
        *,
        device: str = "cpu",
        dtype: str | torch.dtype | None = None,
        step_delimiter: str = STEP_DELIMITER,
    ) -> HuggingFacePolicy:
        """Load a model and tokenizer saved with ``save_pretrained`` in ``directory``.

        ``dtype`` None is float32 (exact log-probs on a CPU); ``"auto"`` keeps the checkpoint's.
        Raises :class:`reasoning.lm.base.PolicyLoadError` when the directory holds no model.
        """
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as error:
            raise PolicyLoadError(
                "the hf: backend needs transformers; install ponder with the [hf] extra "
                "(pip install -e '.[hf]')"
            ) from error
        directory = Path(directory).expanduser()
        if not directory.is_dir():
            raise PolicyLoadError(f"hf:{directory}: no such directory (a local model path)")
        if not (directory / "config.json").is_file() or not any(
            (directory / name).is_file() for name in MODEL_FILES
        ):
            raise PolicyLoadError(
                f"hf:{directory} holds no transformers model: expected config.json and one of "
                f"{', '.join(MODEL_FILES)} (as written by model.save_pretrained)"
            )
        try:
            tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(
                directory, local_files_only=True, dtype=torch.float32 if dtype is None else dtype
            )
        except (OSError, ValueError, KeyError) as error:
            raise PolicyLoadError(f"hf:{directory}: cannot load the model: {error}") from error
        model = model.to(device)  # type: ignore[arg-type]  # transformers' wrapper typing
        return cls(model, tokenizer, step_delimiter=step_delimiter)

    @property
    def step_delimiter(self) -> str:
        return self._step_delimiter

    @property
    def num_parameters(self) -> int:
        return self._num_parameters

    @property
    def flops_per_token(self) -> float:
        return float(transformer_forward_flops(self.num_parameters, 1))

    def encode(self, prefix: str) -> list[int]:
        """Token ids the policy conditions on for ``prefix`` (an empty one becomes BOS or EOS)."""
        ids = list(self.tokenizer(prefix)["input_ids"])
        if not ids:
            bos = self.tokenizer.bos_token_id
            ids = [bos if bos is not None else min(self._end_ids)]
        return ids

    def sample_steps(
        self,
        prefixes: Sequence[str],
        num_samples: int,
        max_tokens: int,
        temperature: float,
        rng: RandomSource = None,
    ) -> list[list[StepSample]]:
        """See :class:`reasoning.lm.base.StepPolicy`; stop reason ``"length"`` also when a row
        reaches the model's context length."""
        steps = self.sample_step_tokens(prefixes, num_samples, max_tokens, temperature, rng)
        return [[step.sample for step in row] for row in steps]

    @torch.inference_mode()
    def sample_step_tokens(
        self,
        prefixes: Sequence[str],
        num_samples: int,
        max_tokens: int,
        temperature: float,
        rng: RandomSource = None,
    ) -> list[list[StepTokens]]:
        """:meth:`sample_steps` with the generated token ids of every sample (to score them)."""
        check_sampling_arguments(num_samples, max_tokens, temperature)
        if not prefixes or num_samples == 0:
            return [[] for _ in prefixes]
        if temperature == 0:  # greedy: every sample of a prefix is the same, decode one
            greedy = self._generate(prefixes, 1, max_tokens, None, 0.0)
            return [row * num_samples for row in greedy]
        # always max_tokens draws per sample, so a prefix's draws do not depend on its batch
        draws = uniform_draws(rng, len(prefixes), num_samples, max_tokens)  # (P, K, max_tokens)
        uniforms = torch.from_numpy(draws.reshape(-1, max_tokens))
        return self._generate(prefixes, num_samples, max_tokens, uniforms, temperature)

    def _generate(
        self,
        prefixes: Sequence[str],
        num_samples: int,
        max_tokens: int,
        uniforms: torch.Tensor | None,  # (P * K, max_tokens); None for greedy
        temperature: float,
    ) -> list[list[StepTokens]]:
        device = self.model.device
        encoded = [self.encode(prefix) for prefix in prefixes]
        budgets = []
        for index, ids in enumerate(encoded):
            room = max_tokens if self.max_positions is None else self.max_positions - len(ids)
            if room < 1:
                raise ValueError(
                    f"prefix {index} has {len(ids)} tokens; the model's context is "
                    f"{self.max_positions}"
                )
            budgets.extend([min(max_tokens, room)] * num_samples)
        width = max(len(ids) for ids in encoded)
        tokens = torch.full((len(encoded), width), self._pad_id, dtype=torch.long)
        attention = torch.zeros((len(encoded), width), dtype=torch.long)
        for row, ids in enumerate(encoded):  # left padding, so every row's last token is aligned
            tokens[row, width - len(ids) :] = torch.tensor(ids)
            attention[row, width - len(ids) :] = 1
        tokens, attention = tokens.to(device), attention.to(device)
        positions = (attention.cumsum(dim=1) - 1).clamp(min=0)  # (P, L) from each first token
        output = self.model(
            input_ids=tokens,
            attention_mask=attention,
            position_ids=positions,
            use_cache=True,
            **self._prefill_options,
        )
        cache = output.past_key_values
        cache.batch_repeat_interleave(num_samples)
        logits = output.logits[:, -1].float().repeat_interleave(num_samples, dim=0)  # (R, V)
        state = _Batch(
            attention=attention.repeat_interleave(num_samples, dim=0),  # (R, S)
            next_position=positions[:, -1].repeat_interleave(num_samples) + 1,  # (R,)
            rows=torch.arange(len(budgets), device=device),
            cache=cache,
        )
        # each row's text is decoded after the last prefix token, so that tokenizers which drop
        # a leading space at the start of a text (SentencePiece) keep it
        anchors = [encoded[p][-1:] for p in range(len(prefixes)) for _ in range(num_samples)]
        generated, logprobs, stops = self._decode(
            logits, state, uniforms, budgets, anchors, temperature
        )
        steps = []
        for row, ids in enumerate(generated):
            text = self._text(anchors[row], ids)
            if stops[row] == "delimiter":  # cut a token that carries text past the delimiter
                text = text[: text.index(self._step_delimiter) + len(self._step_delimiter)]
            sample = StepSample(
                text=text,
                token_logprobs=tuple(logprobs[row]),
                finished=step_ends_solution(text, stops[row]),
                stop_reason=stops[row],
            )
            steps.append(StepTokens(sample, tuple(ids)))
        return [steps[p * num_samples : (p + 1) * num_samples] for p in range(len(prefixes))]

    def _decode(
        self,
        logits: torch.Tensor,  # (R, V) next-token logits of every row
        state: _Batch,
        uniforms: torch.Tensor | None,  # (R, max_tokens)
        budgets: list[int],
        anchors: list[list[int]],  # the last prefix token of every row
        temperature: float,
    ) -> tuple[list[list[int]], list[list[float]], list[StopReason]]:
        rows = logits.shape[0]
        alive = [True] * rows  # per batch row
        generated: list[list[int]] = [[] for _ in range(rows)]
        logprobs: list[list[float]] = [[] for _ in range(rows)]
        stops: list[StopReason] = ["length"] * rows
        for step in range(max(budgets)):
            log_probs = F.log_softmax(logits, dim=-1)  # (A, V)
            if uniforms is None:
                next_tokens = log_probs.argmax(dim=-1)  # (A,)
            else:
                cdf = torch.softmax(logits.double() / temperature, dim=-1).cumsum(dim=-1)
                draws = uniforms[state.rows.cpu(), step].to(cdf.device)  # (A,)
                thresholds = draws * cdf[:, -1]
                next_tokens = torch.searchsorted(cdf, thresholds[:, None], right=True).squeeze(1)
                next_tokens = next_tokens.clamp(max=logits.shape[-1] - 1)
            chosen = log_probs.gather(1, next_tokens[:, None]).squeeze(1)  # (A,)
            for batch_row, (row, token, logprob) in enumerate(
                zip(state.rows.tolist(), next_tokens.tolist(), chosen.tolist(), strict=True)
            ):
                if not alive[batch_row]:
                    continue
                generated[row].append(token)
                logprobs[row].append(logprob)
                if token in self._end_ids:
                    stops[row], alive[batch_row] = "end_of_text", False
                elif self._step_delimiter in self._text(anchors[row], generated[row]):
                    stops[row], alive[batch_row] = "delimiter", False
                elif len(generated[row]) >= budgets[row]:
                    alive[batch_row] = False
            num_alive = sum(alive)
            if num_alive == 0:
                break
            if num_alive <= len(alive) // 2:
                keep = torch.tensor([i for i, a in enumerate(alive) if a], device=logits.device)
                state.select(keep)
                next_tokens, alive = next_tokens[keep], [True] * num_alive
            logits = self._step(state, next_tokens)
        return generated, logprobs, stops

    def _step(self, state: _Batch, next_tokens: torch.Tensor) -> torch.Tensor:
        """Feed one token per row through the cache; the next logits (A, V)."""
        state.attention = torch.cat([state.attention, torch.ones_like(state.attention[:, :1])], 1)
        output = self.model(
            input_ids=next_tokens[:, None],
            attention_mask=state.attention,
            position_ids=state.next_position[:, None],
            past_key_values=state.cache,
            use_cache=True,
        )
        state.cache = output.past_key_values
        state.next_position = state.next_position + 1
        return output.logits[:, -1].float()

    def _text(self, anchor: list[int], ids: list[int]) -> str:
        """The text of generated ``ids`` following the token ``anchor`` (end of text dropped)."""
        options = {"skip_special_tokens": True, "clean_up_tokenization_spaces": False}
        before = self.tokenizer.decode(anchor, **options)
        text = self.tokenizer.decode(anchor + ids, **options)
        return (
            text[len(before) :]
            if text.startswith(before)
            else self.tokenizer.decode(ids, **options)
        )


class _Batch:
    """What the decode loop carries per batch row (rows shrink as samples finish)."""

    def __init__(self, attention, next_position, rows, cache):
        self.attention = attention  # (A, S) 1 on real tokens of the prefix and the generated ones
        self.next_position = next_position  # (A,) position id of the next token
        self.rows = rows  # (A,) original row (prefix * K + sample) of every batch row
        self.cache = cache

    def select(self, keep: torch.Tensor) -> None:
        self.attention, self.next_position = self.attention[keep], self.next_position[keep]
        self.rows = self.rows[keep]
        self.cache.batch_select_indices(keep)


def _end_of_sequence_ids(model, tokenizer) -> frozenset[int]:
    ids = set()
    generation_config = getattr(model, "generation_config", None)
    for value in (tokenizer.eos_token_id, getattr(generation_config, "eos_token_id", None)):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list | tuple):
            ids.update(int(v) for v in value)
    return frozenset(ids)
