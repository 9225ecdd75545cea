"""ponder's tiny GPT behind an OpenAI-compatible HTTP API (what ``ponder serve-lm`` runs).

Endpoints: ``POST /v1/completions``, ``GET /v1/models``, ``GET /health``. A completion request
takes ``prompt`` (a string or a list of strings), ``max_tokens`` (default 16), ``temperature``
(default 1; 0 is greedy), ``n`` (default 1), ``stop`` (a string or up to 4), ``logprobs`` (null
or 0..5 alternatives per token), ``seed`` and ``model``; OpenAI's other fields are accepted only
at their neutral values (``top_p`` 1, ``stream`` and ``echo`` false, ...). A bad request gets
status 400 and ``{"error": {"message", "type", "param"}}`` naming the field.

Choices come prompt by prompt, ``n`` per prompt (``index = prompt * n + sample``). As in OpenAI's
API the text stops before a stop string; as in vLLM ``finish_reason`` is ``"stop"`` for a stop
string and for end of text, ``stop_reason`` tells them apart (the string, or null), and
``logprobs.tokens`` / ``token_logprobs`` cover every generated token, the stop string's and the
end-of-text token's included. Log-probabilities are those of the model at temperature 1, whatever
the sampling temperature.

With a ``seed``, sampling is reproducible: a single prompt with ``stop: ["\\n"]`` gets exactly the
steps of ``TinyGPTPolicy.sample_steps([prompt], n, max_tokens, temperature, rng=seed)``.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from reasoning.lm.checkpoint import load_tiny_gpt
from reasoning.lm.model import TinyGPT
from reasoning.lm.sampling import TinyGPTPolicy
from reasoning.lm.tokenizer import END_OF_TEXT, CharTokenizer
from reasoning.tasks.format import STEP_DELIMITER

MAX_PROMPTS = 64
MAX_SAMPLES = 128  # n
MAX_ROWS = 1024  # prompts x n in one request
MAX_STOPS = 4
MAX_LOGPROBS = 5
MAX_BODY_BYTES = 1 << 20
# OpenAI fields accepted only at a value that changes nothing here
NEUTRAL_FIELDS: dict[str, tuple[Any, ...]] = {
    "top_p": (None, 1, 1.0),
    "stream": (None, False),
    "echo": (None, False),
    "presence_penalty": (None, 0, 0.0),
    "frequency_penalty": (None, 0, 0.0),
    "logit_bias": (None, {}),
    "suffix": (None, ""),
}
KNOWN_FIELDS = {"model", "prompt", "max_tokens", "temperature", "n", "stop", "logprobs", "seed"}
KNOWN_FIELDS |= {"best_of", "user", *NEUTRAL_FIELDS}


class RequestError(Exception):
    """A request the server refuses: HTTP ``status``, the offending field ``param``."""

    def __init__(self, param: str | None, message: str, status: int = HTTPStatus.BAD_REQUEST):
        super().__init__(message)
        self.param, self.message, self.status = param, message, int(status)

    def body(self) -> dict[str, Any]:
        kind = "invalid_request_error" if self.status < 500 else "server_error"
        return {"error": {"message": self.message, "type": kind, "param": self.param}}


@dataclass(frozen=True)
class CompletionRequest:
    prompts: tuple[str, ...]
    max_tokens: int = 16
    temperature: float = 1.0
    n: int = 1
    stop: tuple[str, ...] = ()
    logprobs: int | None = None
    seed: int | None = None


@dataclass(frozen=True)
class Choice:
    """One completion: ``token_ids`` and ``token_logprobs`` cover every generated token (a stop
    string's included); ``text`` stops before the stop string. ``stop_reason`` is the stop string
    that ended it, or None (end of text, or ``finish_reason == "length"``)."""

    prompt_index: int
    text: str
    token_ids: tuple[int, ...]
    token_logprobs: tuple[float, ...]
    finish_reason: str  # "stop" | "length"
    stop_reason: str | None


def parse_request(body: Any, model_name: str) -> CompletionRequest:
    """Check a ``/v1/completions`` JSON body; :class:`RequestError` names the first bad field."""
    if not isinstance(body, dict):
        raise RequestError(None, "the request body must be a JSON object")
    for key, value in body.items():
        if key not in KNOWN_FIELDS:
            raise RequestError(key, f"unrecognized request field {key!r}")
        if key in NEUTRAL_FIELDS and value not in NEUTRAL_FIELDS[key]:
            raise RequestError(key, f"{key}={value!r} is not supported; leave it out")
    model = body.get("model")
    if model is not None and model != model_name:
        raise RequestError(
            "model", f"the model {model!r} does not exist; this server serves {model_name!r}", 404
        )
    prompt = body.get("prompt")
    prompts = [prompt] if isinstance(prompt, str) else prompt
    if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
        raise RequestError("prompt", "prompt must be a string or a non-empty list of strings")
    if len(prompts) > MAX_PROMPTS:
        raise RequestError("prompt", f"at most {MAX_PROMPTS} prompts per request")
    n = _integer(body, "n", 1, 1, MAX_SAMPLES)
    if len(prompts) * n > MAX_ROWS:
        raise RequestError("n", f"prompts x n must be at most {MAX_ROWS}")
    if body.get("best_of") not in (None, n):
        raise RequestError("best_of", "best_of must be left out or equal n")
    if body.get("user") is not None and not isinstance(body["user"], str):
        raise RequestError("user", "user must be a string")
    temperature = body.get("temperature", 1.0)
    temperature = 1.0 if temperature is None else temperature
    if not _is_number(temperature) or not 0 <= temperature <= 2:
        raise RequestError(
            "temperature", f"temperature must be a number in [0, 2], got {temperature!r}"
        )
    stop = body.get("stop")
    stops = [] if stop is None else [stop] if isinstance(stop, str) else stop
    if (
        not isinstance(stops, list)
        or len(stops) > MAX_STOPS
        or not all(isinstance(s, str) and s for s in stops)
    ):
        raise RequestError(
            "stop", f"stop must be a non-empty string or a list of up to {MAX_STOPS}"
        )
    seed = body.get("seed")
    if seed is not None and (not _is_integer(seed) or not 0 <= seed < 2**64):
        raise RequestError("seed", f"seed must be an integer in [0, 2**64), got {seed!r}")
    logprobs = body.get("logprobs")
    if logprobs is not None:
        logprobs = _integer(body, "logprobs", 0, 0, MAX_LOGPROBS)
    return CompletionRequest(
        prompts=tuple(prompts),
        max_tokens=_integer(body, "max_tokens", 16, 1, None),
        temperature=float(temperature),
        n=n,
        stop=tuple(stops),
        logprobs=logprobs,
        seed=seed,
    )


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _integer(body: dict, key: str, default: int, low: int, high: int | None) -> int:
    value = body.get(key)
    if value is None:
        return default
    if not _is_integer(value) or value < low or (high is not None and value > high):
        bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise RequestError(key, f"{key} must be an integer {bound}, got {value!r}")
    return value


class TinyCompletionEngine:
    """Completions from a :class:`TinyGPT`, one step (line) at a time via :class:`TinyGPTPolicy`.

    Generation runs in chunks that end at a one-character stop string (else at newlines): the
    first chunk samples every prompt's ``n`` rows in one call from ``default_rng(seed)``; rows
    that continue draw from streams spawned from it. With a character tokenizer the i-th character
    of a text is its i-th token, so a completion is cut exactly at a stop string or at
    ``max_tokens``, and the tokens sampled past the cut are dropped (compute only).
    """

    def __init__(self, model: TinyGPT, tokenizer: CharTokenizer, name: str):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self._policies: dict[str, TinyGPTPolicy] = {}

    @classmethod
    def from_directory(cls, directory: str | Path, name: str | None = None) -> TinyCompletionEngine:
        model, tokenizer = load_tiny_gpt(directory)
        return cls(model, tokenizer, name or Path(directory).resolve().name)

    @property
    def context_length(self) -> int:
        return self.model.config.block_size

    def _policy(self, delimiter: str) -> TinyGPTPolicy:
        if delimiter not in self._policies:
            self._policies[delimiter] = TinyGPTPolicy(
                self.model, self.tokenizer, step_delimiter=delimiter
            )
        return self._policies[delimiter]

    def check(self, request: CompletionRequest) -> None:
        """:class:`RequestError` for what this model cannot do: a prompt it cannot read or fit."""
        if request.max_tokens > self.context_length:
            raise RequestError(
                "max_tokens",
                f"max_tokens {request.max_tokens} is over this model's context of "
                f"{self.context_length} tokens",
            )
        for index, prompt in enumerate(request.prompts):
            where = "prompt" if len(request.prompts) == 1 else f"prompt[{index}]"
            if not prompt:
                raise RequestError("prompt", f"{where} is empty; the tiny GPT needs a context")
            if len(prompt) >= self.context_length:
                raise RequestError(
                    "prompt",
                    f"{where} has {len(prompt)} tokens; this model's context is "
                    f"{self.context_length} tokens (prompt + completion)",
                )
            try:
                self.tokenizer.encode(prompt)
            except ValueError as error:
                raise RequestError("prompt", f"{where}: {error}") from None

    def complete(self, request: CompletionRequest) -> list[Choice]:
        """``len(prompts) * n`` choices, prompt by prompt."""
        self.check(request)
        alphabet = set(self.tokenizer.alphabet)
        chunk_end = next((s for s in request.stop if len(s) == 1 and s in alphabet), STEP_DELIMITER)
        policy = self._policy(chunk_end)
        sampled = request.temperature > 0
        generator = np.random.default_rng(request.seed) if sampled else None
        rows = [
            _Row(p, prompt) for p, prompt in enumerate(request.prompts) for _ in range(request.n)
        ]
        samples = policy.sample_steps(
            request.prompts, request.n, request.max_tokens, request.temperature, generator
        )
        chunks = [sample for row_samples in samples for sample in row_samples]
        streams = generator.spawn(len(rows)) if generator is not None else None
        active = list(range(len(rows)))
        while active:
            continuing = []
            for index, sample in zip(active, chunks, strict=True):
                row = rows[index]
                row.extend(sample, self.tokenizer)
                row.settle(sample.stop_reason, request, self.context_length)
                if row.finish_reason is None:
                    continuing.append(index)
            active = continuing
            if active:
                budget = max(request.max_tokens - len(rows[i].token_ids) for i in active)
                samples = policy.sample_steps(
                    [rows[i].prompt + rows[i].text for i in active],
                    1,
                    budget,
                    request.temperature,
                    None if streams is None else [streams[i] for i in active],
                )
                chunks = [row_samples[0] for row_samples in samples]
        return [row.choice() for row in rows]

    @torch.inference_mode()
    def top_logprobs(self, choices: list[Choice], prompts: tuple[str, ...], count: int):
        """The ``count`` most likely tokens (text -> log-prob) at every generated position."""
        sequences = [self.tokenizer.encode(prompts[c.prompt_index]) for c in choices]
        width = max(len(s) + len(c.token_ids) for s, c in zip(sequences, choices, strict=True))
        tokens = torch.zeros((len(choices), width), dtype=torch.long)
        valid = torch.zeros((len(choices), width), dtype=torch.bool)
        for row, (context, choice) in enumerate(zip(sequences, choices, strict=True)):
            ids = context + list(choice.token_ids)
            tokens[row, width - len(ids) :], valid[row, width - len(ids) :] = (
                torch.tensor(ids),
                True,
            )
        device = self.model.head.weight.device
        log_probs = F.log_softmax(self.model(tokens.to(device), valid.to(device)).float(), -1)
        values, indices = log_probs.topk(count, dim=-1)  # (B, T, count)
        result = []
        for row, choice in enumerate(choices):
            first = width - len(choice.token_ids) - 1  # the position that predicts token 0
            positions = range(first, first + len(choice.token_ids))
            result.append(
                [
                    dict(
                        zip(
                            map(self.token_text, indices[row, t].tolist()),
                            values[row, t].tolist(),
                            strict=True,
                        )
                    )
                    for t in positions
                ]
            )
        return result

    def token_text(self, token_id: int) -> str:
        return (
            END_OF_TEXT if token_id == self.tokenizer.eos_id else self.tokenizer.decode([token_id])
        )


class _Row:
    """One completion being generated."""

    def __init__(self, prompt_index: int, prompt: str):
        self.prompt_index, self.prompt = prompt_index, prompt
        self.text = ""
        self.token_ids: list[int] = []
        self.token_logprobs: list[float] = []
        self.finish_reason: str | None = None
        self.stop_reason: str | None = None

    def extend(self, sample, tokenizer: CharTokenizer) -> None:
        self.text += sample.text
        self.token_ids += tokenizer.encode(sample.text)
        if sample.stop_reason == "end_of_text":
            self.token_ids.append(tokenizer.eos_id)
        self.token_logprobs += sample.token_logprobs

    def settle(self, chunk_stop: str, request: CompletionRequest, context_length: int) -> None:
        """Cut at ``max_tokens`` or the first stop string, and say whether the row is done."""
        cut = len(self.token_ids) > request.max_tokens
        if cut:
            self._keep(request.max_tokens)
            self.text = self.text[: request.max_tokens]
        hits = [(self.text.find(s), s) for s in request.stop if s in self.text]
        if hits:
            position, stop = min(hits, key=lambda hit: (hit[0], -len(hit[1])))
            self._keep(position + len(stop))
            self.text = self.text[:position]
            self.finish_reason, self.stop_reason = "stop", stop
        elif chunk_stop == "end_of_text" and not cut:
            self.finish_reason = "stop"
        elif (
            len(self.token_ids) >= request.max_tokens
            or chunk_stop == "length"
            or len(self.prompt) + len(self.text) >= context_length
        ):
            self.finish_reason = "length"

    def _keep(self, count: int) -> None:
        self.token_ids, self.token_logprobs = self.token_ids[:count], self.token_logprobs[:count]

    def choice(self) -> Choice:
        return Choice(
            self.prompt_index,
            self.text,
            tuple(self.token_ids),
            tuple(self.token_logprobs),
            self.finish_reason or "length",
            self.stop_reason,
        )


def completion_response(
    engine: TinyCompletionEngine, request: CompletionRequest, choices: list[Choice]
) -> dict[str, Any]:
    """The OpenAI ``text_completion`` object for ``choices``."""
    top = (
        engine.top_logprobs(choices, request.prompts, request.logprobs)
        if request.logprobs
        else None
    )
    body_choices = []
    for index, choice in enumerate(choices):
        logprobs = None
        if request.logprobs is not None:
            tokens = [engine.token_text(token) for token in choice.token_ids]
            offsets = np.cumsum([0] + [len(t) if t != END_OF_TEXT else 0 for t in tokens[:-1]])
            start = len(request.prompts[choice.prompt_index])
            logprobs = {
                "tokens": tokens,
                "token_logprobs": list(choice.token_logprobs),
                "top_logprobs": None if top is None else top[index],
                "text_offset": [start + int(offset) for offset in offsets[: len(tokens)]],
            }
        body_choices.append(
            {
                "index": index,
                "text": choice.text,
                "logprobs": logprobs,
                "finish_reason": choice.finish_reason,
                "stop_reason": choice.stop_reason,
            }
        )
    prompt_tokens = sum(len(prompt) for prompt in request.prompts)
    completion_tokens = sum(len(choice.token_ids) for choice in choices)
    return {
        "id": f"cmpl-{uuid.uuid4().hex}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": engine.name,
        "choices": body_choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class CompletionServer:
    """An HTTP server for ``engine`` on ``host:port`` (port 0: a free one, see :attr:`url`).

    ``start()`` serves from a daemon thread (tests, notebooks); ``serve_forever()`` blocks (the
    command). Requests are handled in threads; the model runs one request at a time.
    """

    def __init__(
        self,
        engine: TinyCompletionEngine,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        log_requests: bool = False,
    ):
        self.engine = engine
        self.log_requests = log_requests
        self._model_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.httpd = ThreadingHTTPServer((host, port), _handler_class(self))
        self.httpd.daemon_threads = True

    @property
    def url(self) -> str:
        """The API base, e.g. ``http://127.0.0.1:8000/v1``."""
        host, port = self.httpd.socket.getsockname()[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> CompletionServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def close(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join()
            self._thread = None
        self.httpd.server_close()

    def __enter__(self) -> CompletionServer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def models(self) -> dict[str, Any]:
        engine = self.engine
        return {
            "object": "list",
            "data": [
                {
                    "id": engine.name,
                    "object": "model",
                    "created": 0,
                    "owned_by": "ponder",
                    "max_model_len": engine.context_length,
                    "num_parameters": engine.model.num_parameters,  # not OpenAI's; for FLOPs
                }
            ],
        }

    def completions(self, body: Any) -> dict[str, Any]:
        request = parse_request(body, self.engine.name)
        with self._model_lock:  # one request at a time: the model uses every core it is given
            choices = self.engine.complete(request)
            return completion_response(self.engine, request, choices)


def _handler_class(server: CompletionServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "ponder-serve-lm"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/")
            if path == "/v1/models":
                self._send(HTTPStatus.OK, server.models())
            elif path == "/health":
                self._send(HTTPStatus.OK, {"status": "ok"})
            elif path == "/v1/completions":
                self._error(RequestError(None, "use POST for /v1/completions", 405))
            else:
                self._error(RequestError(None, f"no route {self.path}; see /v1/models", 404))

        def do_POST(self) -> None:
            if self.path.split("?", 1)[0].rstrip("/") != "/v1/completions":
                self._error(RequestError(None, f"no route POST {self.path}", 404))
                return
            try:
                body = self._read_json()
                self._send(HTTPStatus.OK, server.completions(body))
            except RequestError as error:
                self._error(error)

        def _read_json(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            if length <= 0:
                raise RequestError(None, "the request has no JSON body")
            if length > MAX_BODY_BYTES:
                raise RequestError(None, f"the body is over {MAX_BODY_BYTES} bytes", 413)
            try:
                return json.loads(self.rfile.read(length))
            except ValueError as error:
                raise RequestError(None, f"the body is not valid JSON: {error}") from None

        def _error(self, error: RequestError) -> None:
            self._send(error.status, error.body())

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            if server.log_requests:
                super().log_message(format, *args)

    return Handler
