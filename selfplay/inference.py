"""Net evaluation for the search: numpy batches in, priors and values out.

``Evaluator`` runs a policy-value net on one device (CPU or CUDA, optional autocast and
channels_last) and is a ``PolicyValueFn`` for ``search.expanders.GameExpander``: all leaves of
one search step go through one forward. ``InferenceServer`` puts one evaluator behind a thread
and a queue so that requests from several callers (threads, or Ray actor calls when wrapped as
``ray.remote(max_concurrency=...)``) are merged into one forward of up to ``max_batch`` rows,
waiting at most ``max_wait_ms`` for more to arrive.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from experiment.config import NonNegativeFloat, PositiveInt
from experiment.ledger import forward_flops
from selfplay.network import (
    PolicyValueNet,
    Precision,
    autocast,
    autocast_dtype,
    folded_batchnorm,
    masked_softmax,
    numpy_to_tensor,
    resolve_device,
    set_torch_threads,
)


@dataclass(frozen=True)
class InferenceConfig:
    """Where self-play evaluates its net. ``local``: each worker runs its own copy on its CPU;
    ``server``: one InferenceServer holds the net (on the GPU when there is one) for all."""

    mode: Literal["local", "server"] = "local"
    device: str = "auto"
    precision: Precision = "float32"  # "bfloat16" (or "float16") for CUDA autocast
    # How the forward runs; `python -m bench.forward_cpu` measures the choices on this CPU
    # (docs/results/performance.md). channels_last is the fastest that costs nothing up front;
    # torch.compile is faster still once compiled, but each process compiles again (seconds to
    # a minute, more for each new batch shape), which short runs and tests do not win back.
    channels_last: bool = True
    compile: bool = False
    # Each batch norm folded into the convolution before it (selfplay.network.folded_batchnorm):
    # the same function up to float32 rounding, about 10% less time per forward on this CPU.
    fold_batchnorm: bool = True
    max_batch: PositiveInt = 4096  # server: most rows merged into one forward
    max_wait_ms: NonNegativeFloat = 2.0  # server: longest a request waits for others to join it


class Evaluator:
    """A policy-value net on a device, evaluating numpy batches under ``torch.inference_mode``.

    Counts ``evaluations`` (rows) and ``flops`` (forward FLOPs, counted per sample once with
    ``experiment.ledger.forward_flops``: every layer of the net is per-sample, so a batch of L
    costs exactly L times one sample, which ``tests/test_network.py`` checks)."""

    def __init__(
        self,
        network: PolicyValueNet,
        device: str | torch.device = "auto",
        precision: Precision = "float32",
        channels_last: bool = False,
        num_threads: int | None = None,
        compile: bool = False,
        fold_batchnorm: bool = True,
    ):
        set_torch_threads(num_threads)
        autocast_dtype(precision)  # reject an unknown precision here, not at the first forward
        self.device = resolve_device(device)
        self.precision = precision
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        # Module.to takes memory_format at run time; torch's type stubs leave it out.
        network.to(self.device, memory_format=self.memory_format)  # type: ignore[call-overload]
        self._network = network.eval()
        self.compile = compile
        # What the forward runs: the network, or its folded form kept in step by load_weights.
        self._inference: torch.nn.Module = folded_batchnorm(network) if fold_batchnorm else network
        self._compiled: tuple[torch.nn.Module, Any] | None = None  # (module, its compiled form)
        self.observation_shape = network.observation_shape
        self.num_actions = network.num_actions
        self.version: int | None = None  # the learner's weights version last loaded
        self.evaluations = 0
        self.flops = 0
        self._flops_per_evaluation: int | None = None

    @property
    def network(self) -> PolicyValueNet:
        """The net with its weights as trained (read-only: ``load_weights`` changes them, and
        keeps the folded form the forward runs in step)."""
        return self._network

    @property
    def flops_per_evaluation(self) -> int:
        """Forward FLOPs of one position (counted once, on first use)."""
        if self._flops_per_evaluation is None:
            shape = (1, *self.observation_shape)
            self._flops_per_evaluation = forward_flops(self.network, shape)
        return self._flops_per_evaluation

    def _forward(self) -> Any:
        """The inference module (the network or its folded form), or its torch.compile form
        (made on first use; it shares the module's parameters, so loaded weights reach it)."""
        if not self.compile:
            return self._inference
        if self._compiled is None or self._compiled[0] is not self._inference:
            self._compiled = (self._inference, torch.compile(self._inference))
        return self._compiled[1]

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The raw forward of what ``evaluate`` runs: inputs (L, C, H, W) on the device in
        ``memory_format`` -> (logits, values), without masks, softmax or copies (benchmarks
        measure it as the ceiling)."""
        return self._forward()(inputs)

    def load_weights(self, state_dict: Mapping[str, torch.Tensor], version: int) -> bool:
        """Load the learner's weights ``version``; a no-op (returns False) if already loaded."""
        if version == self.version:
            return False
        self.network.load_state_dict(state_dict)
        if self._inference is not self.network:
            folded_batchnorm(self.network, into=self._inference)
        self.version = version
        return True

    def evaluate(
        self, observations: np.ndarray, legal_masks: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """observations (L, C, H, W), legal_masks (L, A) bool -> priors (L, A) float32 (sum 1
        over legal moves, 0 on illegal ones), values (L,) float32 in (-1, 1) for the mover."""
        count = self.check_inputs(observations, legal_masks)
        if count == 0:
            return np.zeros((0, self.num_actions), np.float32), np.zeros(0, np.float32)
        inputs = numpy_to_tensor(observations, self.device, np.float32)
        inputs = inputs.contiguous(memory_format=self.memory_format)  # (L, C, H, W)
        masks = numpy_to_tensor(legal_masks, self.device, np.bool_)  # (L, A)
        with torch.inference_mode():
            with autocast(self.device, self.precision):
                logits, values = self._forward()(inputs)  # (L, A), (L,)
            priors = masked_softmax(logits, masks)  # float32 whatever autocast chose
        self.evaluations += count
        self.flops += count * self.flops_per_evaluation
        return priors.cpu().numpy(), values.float().cpu().numpy()

    def __call__(
        self, observations: np.ndarray, legal_masks: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``evaluate``: this object is a ``search.expanders.PolicyValueFn``."""
        return self.evaluate(observations, legal_masks)

    def check_inputs(self, observations: np.ndarray, legal_masks: np.ndarray) -> int:
        """The batch size L, or ValueError naming the shape that does not fit this net."""
        if observations.ndim != 4 or tuple(observations.shape[1:]) != self.observation_shape:
            raise ValueError(
                f"observations must have shape (L, {', '.join(map(str, self.observation_shape))})"
                f" for this net, got {observations.shape}"
            )
        if legal_masks.shape != (len(observations), self.num_actions):
            raise ValueError(
                f"legal_masks must have shape ({len(observations)}, {self.num_actions}) to match "
                f"the observations and the net's actions, got {legal_masks.shape}"
            )
        return len(observations)


@dataclass(frozen=True)
class ServerStats:
    """An InferenceServer's counters since creation."""

    evaluations: int  # rows the server evaluated
    flops: int  # their forward FLOPs
    batches: int  # forwards run
    requests: int  # evaluate calls answered
    forward_seconds: float

    @property
    def mean_batch(self) -> float:
        """Rows per forward: how well the server merged its callers' requests."""
        return self.evaluations / max(1, self.batches)


@dataclass
class _Request:
    observations: np.ndarray  # (L, C, H, W)
    legal_masks: np.ndarray  # (L, A)
    result: Future


_STOP = object()


class InferenceServer:
    """Merges concurrent ``evaluate`` calls into batched forwards on one evaluator.

    A batch is sent as soon as it holds ``max_batch`` rows, or requests from
    ``expected_callers`` callers (when given: with W workers each waiting on its own request,
    no more will come), or ``max_wait_ms`` after its first request. A request larger than
    ``max_batch`` is evaluated alone. Weight loads wait for the forward in flight, so no forward
    ever sees half-loaded weights."""

    def __init__(
        self,
        evaluator: Evaluator,
        max_batch: int = 4096,
        max_wait_ms: float = 2.0,
        expected_callers: int | None = None,
    ):
        if max_batch < 1 or max_wait_ms < 0:
            raise ValueError(
                f"max_batch must be >= 1 and max_wait_ms >= 0, got {max_batch}, {max_wait_ms}"
            )
        self.evaluator = evaluator
        self.max_batch = max_batch
        self.max_wait_seconds = max_wait_ms / 1000.0
        self.expected_callers = expected_callers
        self.batches = 0
        self.requests = 0
        self.rows = 0
        self.forward_seconds = 0.0
        self._queue: queue.Queue[Any] = queue.Queue()
        self._lock = threading.Lock()  # one forward or weight load at a time
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="inference-server", daemon=True)
        self._thread.start()

    def submit(self, observations: np.ndarray, legal_masks: np.ndarray) -> Future:
        """Queue a request; the future's result is ``(priors, values)`` as for ``evaluate``."""
        if self._closed:
            raise RuntimeError("InferenceServer is closed; create a new one to evaluate")
        self.evaluator.check_inputs(observations, legal_masks)  # fail in the caller, not the server
        future: Future = Future()
        self._queue.put(_Request(observations, legal_masks, future))
        return future

    def evaluate(
        self, observations: np.ndarray, legal_masks: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Blocking, thread-safe: the same answer as ``Evaluator.evaluate`` on this request."""
        return self.submit(observations, legal_masks).result()

    def __call__(
        self, observations: np.ndarray, legal_masks: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``evaluate``: this object is a ``search.expanders.PolicyValueFn``."""
        return self.evaluate(observations, legal_masks)

    def load_weights(self, state_dict: Mapping[str, torch.Tensor], version: int) -> bool:
        with self._lock:
            return self.evaluator.load_weights(state_dict, version)

    @property
    def version(self) -> int | None:
        return self.evaluator.version

    def stats(self) -> ServerStats:
        return ServerStats(
            evaluations=self.rows,
            flops=self.rows * self.evaluator.flops_per_evaluation,
            batches=self.batches,
            requests=self.requests,
            forward_seconds=self.forward_seconds,
        )

    def close(self) -> None:
        """Finish the requests already queued, then stop the serving thread."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
            self._thread.join()
            while not self._queue.empty():  # submitted while closing: answer, never hang
                item = self._queue.get()
                if item is not _STOP:
                    item.result.set_exception(RuntimeError("InferenceServer closed"))

    def _serve(self) -> None:
        carried = None  # a request that did not fit into the previous batch
        while True:
            first = carried if carried is not None else self._queue.get()
            carried = None
            if first is _STOP:
                return
            batch, rows, stop = [first], len(first.observations), False
            deadline = time.monotonic() + self.max_wait_seconds
            while rows < self.max_batch and not self._enough_callers(batch):
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                if rows + len(item.observations) > self.max_batch:
                    carried = item
                    break
                batch.append(item)
                rows += len(item.observations)
            self._run(batch)
            if stop:
                if carried is not None:
                    self._run([carried])
                return

    def _enough_callers(self, batch: list[_Request]) -> bool:
        return self.expected_callers is not None and len(batch) >= self.expected_callers

    def _run(self, batch: list[_Request]) -> None:
        """One forward for all requests in ``batch``; each caller gets its own rows back."""
        try:
            observations = np.concatenate([r.observations for r in batch])  # (sum L, C, H, W)
            masks = np.concatenate([r.legal_masks for r in batch])  # (sum L, A)
            start = time.perf_counter()
            with self._lock:
                priors, values = self.evaluator.evaluate(observations, masks)
            self.forward_seconds += time.perf_counter() - start
        except Exception as error:  # every waiting caller sees the failure, none hangs
            for request in batch:
                request.result.set_exception(error)
            return
        self.batches += 1
        self.requests += len(batch)
        self.rows += len(observations)
        offset = 0
        for request in batch:
            size = len(request.observations)
            request.result.set_result(
                (priors[offset : offset + size], values[offset : offset + size])
            )
            offset += size
