"""What every benchmark shares: the machine's description, interleaved timing, the result file.

On a shared machine the load changes from one second to the next, so a benchmark measures its
peers in alternating rounds and reports the ratio of their medians: both sides then see the
same load, and the ratio holds where the absolute rates do not.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def machine() -> dict[str, Any]:
    """The machine a figure was measured on: CPU model, cores, load, library versions."""
    import numpy

    cpu = platform.processor() or "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    description: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "platform": platform.platform(),
    }
    try:
        import torch

        description["torch"] = torch.__version__
        if torch.cuda.is_available():
            description["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return description


def parse_arguments(
    description: str | None,
    argv: list[str] | None,
    extra: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    """A benchmark's command line: ``--quick`` (a short smoke run) and ``extra``'s arguments.
    Sets one OpenMP thread per process, as ponder's workers run."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    if extra is not None:
        extra(parser)
    return parser.parse_args(argv)


def timed_rate(work: Callable[[], int], seconds: float) -> float:
    """Units per second of ``work`` (it returns the units it did), called until ``seconds``."""
    done, start = 0, time.perf_counter()
    while True:
        done += work()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed


def interleaved_rates(
    works: Mapping[str, Callable[[], int]], rounds: int, seconds: float
) -> dict[str, float]:
    """Median units per second of each work over ``rounds`` alternating rounds of ``seconds``."""
    samples: dict[str, list[float]] = {name: [] for name in works}
    for _ in range(rounds):
        for name, work in works.items():
            samples[name].append(timed_rate(work, seconds))
    return {name: statistics.median(values) for name, values in samples.items()}


def report(name: str, result: dict[str, Any], line: str) -> dict[str, Any]:
    """Print the benchmark's figure (``line``, which ends with ``ratio=X``) and write
    ``results/<name>.json`` with the machine's description."""
    print(f"{name}: {line}", flush=True)
    record = {"benchmark": name, **result, "machine": machine()}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
    return record
