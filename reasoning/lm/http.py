"""An OpenAI-compatible completions server (vLLM, llama.cpp server, ``ponder serve-lm``) as a
:class:`StepPolicy`, over the standard library's ``urllib``.

Every prefix is one ``POST {base_url}/completions`` with ``n`` samples, ``stop=[delimiter]``,
``logprobs`` and a ``seed``; the prefixes of a call go out concurrently (a server such as vLLM
batches them). Seeds come from :func:`request_seeds`: one stream per prefix, so a prefix gets the
same samples alone or in any batch, as far as the server honours seeds.

Mapping a choice back to a :class:`StepSample`:

- OpenAI's ``stop`` leaves the stop string out of the text, so when ``finish_reason`` is
  ``"stop"`` the delimiter is appended back: ``text`` then ends with the delimiter, as it does for
  the local backends. vLLM and ``ponder serve-lm`` also say why (``stop_reason``: the string, or
  null/a token id for end of text); a server that does not is taken to have stopped at the
  delimiter.
- ``token_logprobs`` are the server's ``logprobs.token_logprobs``, which cover the stop string's
  tokens on vLLM and ``ponder serve-lm``. They are the model's temperature-1 log-probs there
  (vLLM's default ``raw_logprobs``); some servers report them at the sampling temperature.

A request gets ``timeout_s`` in all, from connecting to the answer's last byte (a server that
drips bytes cannot hold it longer); a refused or dropped connection, a timeout, HTTP 429 or 5xx
is retried ``max_retries`` times with exponential backoff, each retry announced by a warning line
on stderr, then :class:`ServerUnreachableError` names the URL and the cause. Other HTTP errors
(a 400 naming a field) are raised at once.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from experiment import UserError
from experiment.ledger import transformer_forward_flops
from reasoning.lm.base import (
    RandomSource,
    StepSample,
    StopReason,
    check_sampling_arguments,
    step_ends_solution,
)
from reasoning.tasks.format import STEP_DELIMITER

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
SEED_LIMIT = 2**31 - 1  # int32 seeds, which every server we know accepts


class CompletionServerError(UserError, RuntimeError):
    """The server answered, but with an error or with something that is not a completion."""


class ServerUnreachableError(CompletionServerError, ConnectionError):
    """No answer from the server after every retry (refused, timed out, dropped, 5xx)."""


def request_seeds(rng: RandomSource, num_prefixes: int) -> list[int]:
    """The ``seed`` sent with each prefix's request: one draw from each prefix's stream.

    One generator per prefix is used as given; one generator or an integer is split into
    ``num_prefixes`` streams with ``spawn``.
    """
    if rng is None:
        raise ValueError("sampling at temperature > 0 needs rng (a numpy Generator or a seed)")
    if isinstance(rng, int | np.integer):
        rng = np.random.default_rng(int(rng))
    if isinstance(rng, np.random.Generator):
        streams = rng.spawn(num_prefixes)
    else:
        streams = list(rng)
        if len(streams) != num_prefixes:
            raise ValueError(
                f"got {len(streams)} generators for {num_prefixes} prefixes; pass one per prefix"
            )
    return [int(stream.integers(0, SEED_LIMIT)) for stream in streams]


class OpenAICompletionsPolicy:
    """A :class:`reasoning.lm.base.StepPolicy` over ``{base_url}/completions``.

    ``base_url`` is the API root, e.g. ``http://127.0.0.1:8000/v1``. ``model`` defaults to the
    only model ``/models`` lists; ``num_parameters`` (for the FLOPs ledger) to the
    ``num_parameters`` it reports (``ponder serve-lm`` does; vLLM does not, so pass it).
    """

    def __init__(
        self,
        base_url: str,
        *,
        model: str | None = None,
        num_parameters: int | None = None,
        step_delimiter: str = STEP_DELIMITER,
        timeout_s: float = 60.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        max_concurrency: int = 16,
        api_key: str | None = None,
    ):
        if not step_delimiter:
            raise ValueError("the step delimiter must be a non-empty string")
        if timeout_s <= 0 or max_retries < 0 or backoff_s < 0 or max_concurrency < 1:
            raise ValueError(
                f"need timeout_s > 0, max_retries >= 0, backoff_s >= 0, max_concurrency >= 1; got "
                f"{timeout_s}, {max_retries}, {backoff_s}, {max_concurrency}"
            )
        self.base_url = base_url.rstrip("/")
        self.timeout_s, self.max_retries, self.backoff_s = timeout_s, max_retries, backoff_s
        self.max_concurrency = max_concurrency
        self.api_key = api_key
        self._step_delimiter = step_delimiter
        if model is None or num_parameters is None:
            model, num_parameters = self._describe_model(model, num_parameters)
        self.model = model
        self._num_parameters = int(num_parameters)

    def _describe_model(self, model: str | None, num_parameters: int | None) -> tuple[str, int]:
        listing = self._request("GET", "/models")
        entries = [e for e in listing.get("data", []) if isinstance(e, dict) and "id" in e]
        names = [entry["id"] for entry in entries]
        if model is None:
            if len(names) != 1:
                raise CompletionServerError(
                    f"{self.base_url}/models lists {names or 'no models'}; name one with "
                    f"{self.base_url}?model=NAME"
                )
            model = names[0]
        if num_parameters is None:
            entry = next((e for e in entries if e["id"] == model), {})
            num_parameters = entry.get("num_parameters")
            if not isinstance(num_parameters, int) or num_parameters <= 0:
                raise CompletionServerError(
                    f"{self.base_url} does not report the parameter count of {model!r} (needed "
                    f"for FLOPs); pass it, e.g. {self.base_url}?model={model}&params=7e9"
                )
        return model, num_parameters

    @property
    def step_delimiter(self) -> str:
        return self._step_delimiter

    @property
    def num_parameters(self) -> int:
        return self._num_parameters

    @property
    def flops_per_token(self) -> float:
        return float(transformer_forward_flops(self._num_parameters, 1))

    def sample_steps(
        self,
        prefixes: Sequence[str],
        num_samples: int,
        max_tokens: int,
        temperature: float,
        rng: RandomSource = None,
    ) -> list[list[StepSample]]:
        """See :class:`reasoning.lm.base.StepPolicy`. Greedy (temperature 0) asks for one sample
        per prefix and repeats it."""
        check_sampling_arguments(num_samples, max_tokens, temperature)
        if not prefixes or num_samples == 0:
            return [[] for _ in prefixes]
        greedy = temperature == 0
        count = 1 if greedy else num_samples  # samples asked of the server per prefix
        seeds = [None] * len(prefixes) if greedy else request_seeds(rng, len(prefixes))
        bodies = [
            {
                "model": self.model,
                "prompt": prefix,
                "max_tokens": max_tokens,
                "temperature": temperature,
                "n": count,
                "stop": [self._step_delimiter],
                "logprobs": 1,  # the sampled token's log-prob (0 alternatives is not universal)
                **({} if seed is None else {"seed": seed}),
            }
            for prefix, seed in zip(prefixes, seeds, strict=True)
        ]
        if len(bodies) == 1:
            responses = [self.complete(bodies[0])]
        else:
            with ThreadPoolExecutor(min(len(bodies), self.max_concurrency)) as pool:
                responses = list(pool.map(self.complete, bodies))
        samples = [self._steps(response, count) for response in responses]
        return [row * num_samples if greedy else row for row in samples]

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST one ``/completions`` request (retried as the module says); the JSON answer."""
        return self._request("POST", "/completions", body)

    def _steps(self, response: dict[str, Any], expected: int) -> list[StepSample]:
        choices = response.get("choices")
        if not isinstance(choices, list) or len(choices) != expected:
            count = len(choices) if isinstance(choices, list) else "no"
            raise CompletionServerError(
                f"{self.base_url}/completions returned {count} choices; asked for {expected}"
            )
        ordered = sorted(choices, key=lambda choice: choice.get("index", 0))
        return [self._step(choice) for choice in ordered]

    def _step(self, choice: dict[str, Any]) -> StepSample:
        text = choice.get("text")
        logprobs = (choice.get("logprobs") or {}).get("token_logprobs")
        if not isinstance(text, str) or not isinstance(logprobs, list):
            raise CompletionServerError(
                f"{self.base_url}/completions returned a choice without text or "
                f"logprobs.token_logprobs; the server must support `logprobs`: {choice!r:.300}"
            )
        if any(not isinstance(value, int | float) for value in logprobs):
            raise CompletionServerError(f"{self.base_url}: non-numeric token_logprobs {logprobs}")
        finish_reason = choice.get("finish_reason")
        stop: StopReason
        if finish_reason == "length":
            stop = "length"
        elif finish_reason == "stop":
            stopped_at = choice.get("stop_reason", self._step_delimiter)
            if stopped_at is None or isinstance(stopped_at, int):  # end of text, or a stop token
                stop = "end_of_text"
            else:
                stop = "delimiter"
                if not text.endswith(self._step_delimiter):  # OpenAI's stop drops it
                    text += self._step_delimiter
        else:
            raise CompletionServerError(
                f"{self.base_url}/completions: finish_reason {finish_reason!r}; expected "
                f"'stop' or 'length'"
            )
        token_logprobs = tuple(float(value) for value in logprobs)
        return StepSample(text, token_logprobs, step_ends_solution(text, stop), stop)

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        url = self.base_url + path
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        cause = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            if attempt:
                print(
                    f"warning: {method} {url}: {cause}; retry {attempt} of {self.max_retries}",
                    file=sys.stderr, flush=True,
                )  # fmt: skip
            request = urllib.request.Request(url, data=data, headers=headers, method=method)
            try:
                payload = self._read_within_deadline(request)
            except urllib.error.HTTPError as error:
                message = _error_message(error)
                if error.code not in RETRY_STATUSES:
                    raise CompletionServerError(
                        f"{method} {url} failed with HTTP {error.code}: {message}"
                    ) from None
                cause = f"HTTP {error.code}: {message}"
            except (urllib.error.URLError, OSError) as error:  # refused, timeout, reset
                cause = _connection_cause(error, self.timeout_s)
            else:
                try:
                    return json.loads(payload)
                except ValueError:
                    raise CompletionServerError(
                        f"{method} {url} answered with non-JSON: {payload[:200]!r}"
                    ) from None
        raise ServerUnreachableError(
            f"cannot reach the completion server at {url}: {cause} "
            f"({self.max_retries + 1} attempts, timeout {self.timeout_s:g} s each); is it running?"
        )

    def _read_within_deadline(self, request: urllib.request.Request) -> bytes:
        """The whole answer within ``timeout_s`` from the start: the socket timeout alone bounds
        each read, so a server dripping a byte a second would hold a request for ever. The
        request runs on a helper thread, so that not even a server dripping its headers holds
        the caller past the deadline (a thread left behind ends when its socket times out)."""
        outcome: dict[str, Any] = {}

        def fetch() -> None:
            try:
                outcome["payload"] = self._read(request, time.monotonic() + self.timeout_s)
            except BaseException as error:  # handed to the caller as it is
                outcome["error"] = error

        helper = threading.Thread(target=fetch, daemon=True)
        helper.start()
        helper.join(self.timeout_s)
        if helper.is_alive():
            raise TimeoutError(f"no complete answer within {self.timeout_s:g} s")
        if "error" in outcome:
            raise outcome["error"]
        payload: bytes = outcome["payload"]
        return payload

    def _read(self, request: urllib.request.Request, deadline: float) -> bytes:
        with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
            chunks: list[bytes] = []
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no complete answer within {self.timeout_s:g} s")
                # each read waits at most what is left (http.client's socket, when reachable)
                connection = getattr(getattr(answer.fp, "raw", None), "_sock", None)
                if connection is not None:
                    connection.settimeout(left)
                chunk = answer.read1(1 << 16)
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)


def _connection_cause(error: Exception, timeout_s: float) -> str:
    reason = getattr(error, "reason", error)
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, TimeoutError | socket.timeout):
        return f"timed out after {timeout_s:g} s"
    return f"{type(reason).__name__}: {reason}"


def _error_message(error: urllib.error.HTTPError) -> str:
    """The server's JSON error message (OpenAI shape), or the start of its body."""
    try:
        raw = error.read()
    except OSError:
        return error.reason or ""
    try:
        detail = json.loads(raw)["error"]
        return detail["message"] if isinstance(detail, dict) else str(detail)
    except (ValueError, KeyError, TypeError):
        return raw[:300].decode(errors="replace") or str(error.reason)
