"""Two ``ponder reason`` runs on the same test problems, method by method: each run's accuracy
and the paired difference (second minus first) with its 95% bootstrap interval over problems
(both runs' results on a problem resampled together), from the runs' evaluation/ results.

    python docs/results/countdown4_2026-12-01/runs_compare.py FIRST_RUN SECOND_RUN [OUT.csv]

Only methods and budgets both runs evaluated, on the same problems (checked), are compared.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from experiment.seeds import stream_seed
from experiment.stats import bootstrap_interval
from reasoning.pipeline.evaluation import MethodResult


def results(run: Path) -> dict[tuple[str, int], np.ndarray]:
    """(method, budget) -> per-problem correctness of the run's finished evaluation results."""
    found = {}
    for path in sorted((run / "evaluation").glob("*@*.json")):
        record = json.loads(path.read_text())
        record.pop("fingerprint", None)
        result = MethodResult.from_json(record)
        found[result.method, int(result.budget)] = result.correct
    return found


def main() -> None:
    first, second = Path(sys.argv[1]), Path(sys.argv[2])
    out = Path(sys.argv[3]) if len(sys.argv) > 3 else None
    a, b = results(first), results(second)
    rows: list[dict[str, Any]] = []
    for key in sorted(set(a) & set(b), key=lambda k: (k[0], k[1])):
        if len(a[key]) != len(b[key]):
            raise SystemExit(f"{key}: {len(a[key])} problems against {len(b[key])}")
        rng = np.random.default_rng(stream_seed(0, "paired_bootstrap", key[1]))
        low, high = bootstrap_interval(b[key] - a[key], rng)
        rows.append(
            {
                "method": key[0],
                "budget": key[1],
                "problems": len(a[key]),
                "first": float(a[key].mean()),
                "second": float(b[key].mean()),
                "difference": float((b[key] - a[key]).mean()),
                "interval_low": low,
                "interval_high": high,
            }
        )
    for row in rows:
        low, high = row["interval_low"], row["interval_high"]
        print(
            f"{row['method']:40s} {row['budget']:4d}  {row['first']:.3f} -> {row['second']:.3f}"
            f"  {row['difference']:+.3f} ({low:+.3f} to {high:+.3f})"
        )
    if out is not None and rows:
        with out.open("w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
