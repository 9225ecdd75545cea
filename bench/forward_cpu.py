"""The policy-value forward on this CPU, one thread: the ways to run it, against eager fp32.

Variants, each an ``Evaluator`` as self-play builds it (masked softmax and numpy copies
included): eager fp32 (the peer), channels_last, batch norms folded into the convolutions,
both (self-play's default), ``torch.compile`` of the default (its compile time reported
apart), and ONNX Runtime's CPU provider when ``onnxruntime`` is importable (not a dependency:
it did not win on this machine, docs/results/performance.md). Measured in alternating rounds at
the Connect Four recipe's batch (128 games in lockstep) for the recipe's 4x32 net and the GPU
script's 6x64 net. The figure is the fastest variant's rate over eager fp32.

    python -m bench.forward_cpu [--quick]
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable

import numpy as np

from bench.common import interleaved_rates, parse_arguments, report

BATCH = 128


def onnx_runtime(network, batch: int) -> Callable[[np.ndarray], object] | None:  # noqa: ANN001
    """ONNX Runtime session of ``network`` on one CPU thread, or None without onnxruntime."""
    try:
        import onnxruntime
    except ImportError:
        return None
    import torch

    buffer = io.BytesIO()
    example = torch.zeros(batch, *network.observation_shape)
    torch.onnx.export(  # the legacy exporter writes to a file object too
        network, (example,), buffer,  # type: ignore[arg-type]
        input_names=["observations"], dynamo=False, dynamic_axes={"observations": {0: "batch"}},
    )  # fmt: skip
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        buffer.getvalue(), options, providers=["CPUExecutionProvider"]
    )
    return lambda observations: session.run(None, {"observations": observations})


def measure(blocks: int, channels: int, rounds: int, seconds: float) -> dict:
    """Evaluations per second of each variant for one net size, and torch.compile's time."""
    import torch

    from games import make_game
    from selfplay.inference import Evaluator
    from selfplay.network import NetworkConfig, build_network

    game = make_game("connect_four")
    config = NetworkConfig(blocks=blocks, channels=channels)

    def evaluator(
        channels_last: bool = False, fold: bool = False, compile: bool = False
    ) -> Evaluator:
        network = build_network(config, game.observation_shape, game.num_actions)
        return Evaluator(
            network, "cpu", channels_last=channels_last, num_threads=1, compile=compile,
            fold_batchnorm=fold,
        )  # fmt: skip

    rng = np.random.default_rng(0)
    observations = (rng.random((BATCH, *game.observation_shape)) < 0.3).astype(np.float32)
    masks = np.ones((BATCH, game.num_actions), np.bool_)
    variants = {
        "eager_fp32": evaluator(),
        "channels_last": evaluator(channels_last=True),
        "folded_norms": evaluator(fold=True),
        "channels_last_folded": evaluator(channels_last=True, fold=True),  # the default
        "compile": evaluator(channels_last=True, fold=True, compile=True),
    }
    start = time.perf_counter()
    variants["compile"].evaluate(observations, masks)
    compile_seconds = time.perf_counter() - start
    reference = variants["eager_fp32"].evaluate(observations, masks)
    for name, variant in variants.items():
        priors, values = variant.evaluate(observations, masks)
        assert np.allclose(priors, reference[0], atol=1e-4), name
        assert np.allclose(values, reference[1], atol=1e-4), name

    def work(variant: Evaluator) -> Callable[[], int]:
        return lambda: len(variant.evaluate(observations, masks)[1])

    works = {name: work(variant) for name, variant in variants.items()}
    session = onnx_runtime(variants["eager_fp32"].network, BATCH)
    if session is not None:
        works["onnxruntime"] = lambda: (session(observations), BATCH)[1]
    with torch.inference_mode():
        rates = interleaved_rates(works, rounds, seconds)
    return {"evaluations_per_s": rates, "compile_seconds": round(compile_seconds, 1)}


def main(argv: list[str] | None = None) -> dict:
    args = parse_arguments(__doc__, argv)
    rounds, seconds = (3, 0.3) if args.quick else (7, 1.0)
    sizes = {"4x32": (4, 32), "6x64": (6, 64)}
    nets = {label: measure(*size, rounds, seconds) for label, size in sizes.items()}
    result: dict = {"batch": BATCH, "threads": 1, "nets": nets}
    parts = []
    for label, figures in nets.items():
        rates = figures["evaluations_per_s"]
        best = max(rates, key=rates.__getitem__)
        figures["fastest"] = best
        figures["ratio"] = round(rates[best] / rates["eager_fp32"], 2)
        parts.append(
            f"{label} eager {rates['eager_fp32']:,.0f}/s, fastest {best} {rates[best]:,.0f}/s"
        )
    recipe = nets["4x32"]
    return report("forward_cpu", result, "; ".join(parts) + f", ratio={recipe['ratio']:.2f}")


if __name__ == "__main__":
    main()
