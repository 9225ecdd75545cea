"""Choose a policy backend from one string, as ``--policy`` on the command line takes it.

Specs:

- ``tiny:DIR``: ponder's own tiny GPT, a directory saved by :mod:`reasoning.lm.checkpoint`;
- ``hf:DIR``: a Hugging Face ``transformers`` causal LM saved in a local directory (never a hub
  download; needs the ``[hf]`` extra);
- ``http://HOST:PORT/v1`` or ``https://...``: an OpenAI-compatible server's ``/v1/completions``
  (vLLM, llama.cpp server, ``ponder serve-lm``). Query parameters: ``model=NAME`` (default: the
  one model the server lists), ``params=N`` (the model's parameter count, for the FLOPs ledger,
  needed when the server does not report it), ``timeout=SECONDS`` (each request's whole time,
  default 60) and ``retries=N`` (default 3), e.g.
  ``http://127.0.0.1:8000/v1?model=Qwen/Qwen2.5-0.5B&params=4.9e8``;
- a bare directory: ``tiny:`` when its ``config.json`` says ``ponder.tiny_gpt``, else ``hf:``.

Importing this module imports neither torch nor transformers; :func:`load_policy` imports what the
chosen backend needs.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

from reasoning.lm.base import PolicyLoadError, StepPolicy
from reasoning.tasks.format import STEP_DELIMITER

__all__ = ["SPEC_EXAMPLES", "PolicyLoadError", "load_policy"]

SPEC_EXAMPLES = "tiny:runs/x/policy, hf:/models/gpt2, http://127.0.0.1:8000/v1?model=NAME"
TINY_FORMAT = "ponder.tiny_gpt"  # reasoning.lm.checkpoint.FORMAT, repeated to avoid importing torch


def load_policy(
    spec: str,
    *,
    device: str = "cpu",
    step_delimiter: str = STEP_DELIMITER,
    timeout_s: float = 60.0,
    max_retries: int = 3,
    backoff_s: float = 0.5,
) -> StepPolicy:
    """The :class:`StepPolicy` a spec names (see the module docstring for the forms).

    ``device`` places local models (``tiny:``, ``hf:``); ``timeout_s``, ``max_retries`` and
    ``backoff_s`` (the first wait between retries, doubling) apply to every HTTP request of a
    server backend. Raises :class:`PolicyLoadError` naming the spec and
    what would be right.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise PolicyLoadError(f"empty policy spec; expected one of: {SPEC_EXAMPLES}")
    spec = spec.strip()
    kind, separator, rest = spec.partition(":")
    if kind in ("http", "https"):
        return _load_http(spec, step_delimiter, timeout_s, max_retries, backoff_s)
    if separator and kind == "tiny":
        return _load_tiny(_existing_directory(rest, spec), device, step_delimiter)
    if separator and kind == "hf":
        from reasoning.lm.hf import HuggingFacePolicy

        return HuggingFacePolicy.from_directory(
            _existing_directory(rest, spec), device=device, step_delimiter=step_delimiter
        )
    path = Path(spec).expanduser()
    if path.is_dir():
        if _is_tiny_checkpoint(path):
            return _load_tiny(path, device, step_delimiter)
        from reasoning.lm.hf import HuggingFacePolicy

        return HuggingFacePolicy.from_directory(path, device=device, step_delimiter=step_delimiter)
    if separator and len(kind) > 1 and "/" not in kind:  # "foo:..." is a prefix, not a path
        raise PolicyLoadError(
            f"policy spec {spec!r}: unknown backend {kind!r}; expected tiny:, hf:, http:// or "
            f"https://, e.g. {SPEC_EXAMPLES}"
        )
    raise PolicyLoadError(
        f"policy spec {spec!r}: no such directory and no backend prefix; expected one of: "
        f"{SPEC_EXAMPLES}"
    )


def _existing_directory(path_text: str, spec: str) -> Path:
    path = Path(path_text).expanduser()
    if not path_text:
        raise PolicyLoadError(f"policy spec {spec!r} names no path; e.g. {SPEC_EXAMPLES}")
    if not path.exists():
        raise PolicyLoadError(f"policy spec {spec!r}: {path} does not exist")
    if not path.is_dir():
        raise PolicyLoadError(f"policy spec {spec!r}: {path} is a file; expected a model directory")
    return path


def _is_tiny_checkpoint(directory: Path) -> bool:
    try:
        return json.loads((directory / "config.json").read_text()).get("format") == TINY_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def _load_tiny(directory: Path, device: str, step_delimiter: str) -> StepPolicy:
    from reasoning.lm.checkpoint import load_tiny_gpt
    from reasoning.lm.sampling import TinyGPTPolicy

    try:
        model, tokenizer = load_tiny_gpt(directory, device=device)
    except (FileNotFoundError, ValueError) as error:
        raise PolicyLoadError(f"tiny:{directory}: {error}") from error
    return TinyGPTPolicy(model, tokenizer, step_delimiter=step_delimiter)


def _load_http(
    spec: str, step_delimiter: str, timeout_s: float, max_retries: int, backoff_s: float
) -> StepPolicy:
    from reasoning.lm.http import OpenAICompletionsPolicy

    parts = urlsplit(spec)
    if not parts.hostname:
        raise PolicyLoadError(f"policy spec {spec!r}: no host; e.g. http://127.0.0.1:8000/v1")
    options = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(options) - {"model", "params", "timeout", "retries"})
    if unknown:
        raise PolicyLoadError(
            f"policy spec {spec!r}: unknown option(s) {unknown}; known: model=NAME, params=N, "
            "timeout=SECONDS (per request, in all), retries=N"
        )
    try:
        timeout_s = float(options.get("timeout", [timeout_s])[-1])
        max_retries = int(options.get("retries", [max_retries])[-1])
    except ValueError:
        timeout_s = max_retries = -1
    if timeout_s <= 0 or max_retries < 0:
        raise PolicyLoadError(
            f"policy spec {spec!r}: timeout must be a positive number of seconds and retries a "
            "whole number >= 0, e.g. ?timeout=30&retries=2"
        )
    model = options.get("model", [None])[-1] or None
    num_parameters = None
    if "params" in options:
        text = options["params"][-1]
        try:
            num_parameters = int(float(text))
        except ValueError:
            num_parameters = -1
        if num_parameters <= 0:
            raise PolicyLoadError(
                f"policy spec {spec!r}: params={text!r} is not a positive number; e.g. params=4.9e8"
            )
    base_url = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
    return OpenAICompletionsPolicy(
        base_url,
        model=model,
        num_parameters=num_parameters,
        step_delimiter=step_delimiter,
        timeout_s=timeout_s,
        max_retries=max_retries,
        backoff_s=backoff_s,
    )
