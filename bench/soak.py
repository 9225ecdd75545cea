"""Soak test: self-play on Ray for a set time, every actor's resident memory and the object
store's use every minute, to a CSV and a PNG (issue 16: after warm-up, RSS grows under 10% and
the object store stays bounded).

``python -m bench.soak --minutes 60`` trains the Connect Four recipe (arena on, as a real run)
into a temporary run directory, then reads the run's ``system/rss_gb_<actor>`` and
``system/object_store_gb`` TensorBoard scalars back, takes each minute's last value, and reports
per process the growth from the end of warm-up (the first ``--warmup`` share of the time) to the
end. Prints ``soak: ... ratio=X`` last, X the largest end / warm-up RSS ratio, and writes
``bench/results/soak_<date>.csv``, ``.png`` and ``.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import tempfile
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
PREFIXES = ("system/rss_gb_", "system/object_store_gb")


def per_minute(series: dict[str, list[tuple[float, float]]]) -> tuple[np.ndarray, dict]:
    """(minutes since the first event, {name: last value in each minute}) from (wall time,
    value) series; a minute without an event repeats the one before."""
    start = min(t for points in series.values() for t, _ in points)
    end = max(t for points in series.values() for t, _ in points)
    minutes = np.arange(int((end - start) // 60) + 1)
    table = {}
    for name, points in series.items():
        times = np.array([t for t, _ in points]) - start
        values = np.array([v for _, v in points])
        order = np.argsort(times)
        index = np.searchsorted(times[order], (minutes + 1) * 60, side="left") - 1
        table[name] = np.where(index >= 0, values[order][np.clip(index, 0, None)], np.nan)
    return minutes, table


def growth(values: np.ndarray, warmup: float) -> float:
    """End value over the value at the end of warm-up (the first ``warmup`` share of rows)."""
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return float("nan")
    reference = values[min(int(len(values) * warmup), len(values) - 1)]
    return float(values[-1] / reference) if reference > 0 else float("nan")


def read_series(run: Path) -> dict[str, list[tuple[float, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    return {
        tag.removeprefix("system/"): [(e.wall_time, e.value) for e in events.Scalars(tag)]
        for tag in events.Tags()["scalars"]
        if tag.startswith(PREFIXES)
    }


def plot(minutes: np.ndarray, table: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(9, 4.5))
    for name, values in sorted(table.items()):
        axis.plot(minutes, values, marker="o", markersize=2, label=name)
    axis.set(xlabel="minutes of self-play", ylabel="GB (resident memory; object store in use)",
             title="soak: memory of every process of a training run")  # fmt: skip
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--recipe", default="connect4")
    parser.add_argument("--warmup", type=float, default=0.2, help="share of the time (0.2)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    from ponder.cli import main as ponder

    with tempfile.TemporaryDirectory() as root:
        status = ponder(["train", args.recipe, f"runs_root={root}", "--name", "soak",
                         f"budget.minutes={args.minutes}", "log_every_seconds=20"])  # fmt: skip
        if status != 0:
            raise SystemExit(f"soak: training failed with status {status}")
        minutes, table = per_minute(read_series(Path(root) / "soak"))
    stem = args.output / f"soak_{datetime.date.today().isoformat()}"
    stem.parent.mkdir(parents=True, exist_ok=True)
    names = sorted(table)
    rows = ["minute," + ",".join(names)]
    rows += [f"{m}," + ",".join(f"{table[n][i]:.4f}" for n in names) for i, m in enumerate(minutes)]
    stem.with_suffix(".csv").write_text("\n".join(rows) + "\n")
    plot(minutes, table, stem.with_suffix(".png"))
    ratios = {name: growth(values, args.warmup) for name, values in table.items()}
    rss = [ratio for name, ratio in ratios.items() if name.startswith("rss") and np.isfinite(ratio)]
    report = {
        "minutes": args.minutes, "recipe": args.recipe, "warmup_share": args.warmup,
        "growth_after_warmup": ratios, "max_rss_growth": max(rss, default=float("nan")),
        "object_store_gb_max": float(np.nanmax(table.get("object_store_gb", [np.nan]))),
    }  # fmt: skip
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    shown = ", ".join(f"{name} x{ratio:.3f}" for name, ratio in sorted(ratios.items()))
    print(f"soak: {args.minutes:g} min of {args.recipe}; growth after warm-up: {shown}; "
          f"goal RSS x1.10 ratio={report['max_rss_growth']:.3f}")  # fmt: skip
    return report


if __name__ == "__main__":
    main()
