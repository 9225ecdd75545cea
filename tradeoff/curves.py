"""Training curves of a run: arena win rates against wall time, games and train FLOPs (PNG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def read_scalars(run: str | Path) -> dict[str, list[tuple[int, float, float]]]:
    """Every TensorBoard scalar of a run: tag -> [(step, wall time, value)], in step order."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(Path(run) / "tensorboard"), size_guidance={"scalars": 0})
    accumulator.Reload()
    return {
        tag: sorted(
            (event.step, event.wall_time, event.value) for event in accumulator.Scalars(tag)
        )
        for tag in accumulator.Tags()["scalars"]
    }


def _at_steps(series: list[tuple[int, float, float]], steps: np.ndarray) -> np.ndarray:
    """A counter's value at the given learner steps (last value logged at or before each)."""
    known = np.array([point[0] for point in series])
    values = np.array([point[2] for point in series])
    index = np.clip(np.searchsorted(known, steps, side="right") - 1, 0, len(values) - 1)
    return values[index]


def training_clock(walltimes: np.ndarray, max_gap: float = 600.0) -> tuple[np.ndarray, np.ndarray]:
    """(sorted walltimes, seconds of training before each): a gap between logged events longer
    than ``max_gap`` is a stop before a resume and does not count. Training logs every few seconds
    to a minute, so only pauses are that long."""
    times = np.sort(np.asarray(walltimes, float))
    gaps = np.diff(times, prepend=times[:1])
    return times, np.cumsum(np.where(gaps > max_gap, 0.0, gaps))


def plot_training_curve(
    run: str | Path, output: str | Path | None = None, games_per_point: int | None = None
) -> Path:
    """Plot ``arena/winrate_vs_*`` against hours, games played and train FLOPs, each point with
    its 95% Wilson interval when ``games_per_point`` (the arena's games per opponent and round)
    is given; return the PNG."""
    import matplotlib

    from experiment.stats import wilson_interval

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scalars = read_scalars(run)
    curves = {tag: points for tag, points in scalars.items() if tag.startswith("arena/winrate_vs_")}
    if not curves:
        raise ValueError(f"run '{run}' has no arena results yet (arena/winrate_vs_* scalars)")
    walltimes = np.array([point[1] for points in scalars.values() for point in points])
    logged, trained = training_clock(walltimes)
    unit, seconds_per_unit = ("hours", 3600) if trained[-1] > 7200 else ("minutes", 60)
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.2), sharey=True)
    for tag, points in sorted(curves.items()):
        steps = np.array([p[0] for p in points])
        times = np.interp([p[1] for p in points], logged, trained) / seconds_per_unit
        rates = np.array([p[2] for p in points])
        label = tag.removeprefix("arena/winrate_vs_")
        errors = None
        if games_per_point:
            bounds = np.array(
                [wilson_interval(r * games_per_point, games_per_point) for r in rates]
            )
            errors = np.abs(bounds.T - rates)  # (2, points): below and above
        style = {"marker": "o", "markersize": 3, "capsize": 2, "yerr": errors}
        axes[0].errorbar(times, rates, label=label, **style)
        if "selfplay/games" in scalars:
            axes[1].errorbar(_at_steps(scalars["selfplay/games"], steps), rates, **style)
        if "compute/train_flops" in scalars:
            axes[2].errorbar(_at_steps(scalars["compute/train_flops"], steps), rates, **style)
    axes[0].set(
        xlabel=f"training time ({unit}, pauses left out)",
        ylabel="arena score (draws count half)"
        + (f", 95% interval of {games_per_point} games" if games_per_point else ""),
    )
    axes[1].set(xlabel="self-play games")
    axes[2].set(xlabel="train FLOPs (self-play + learner)", xscale="log")
    for axis in axes:
        axis.axhline(0.5, color="grey", linewidth=0.8, linestyle=":")
        axis.set_ylim(-0.02, 1.02)
        axis.grid(alpha=0.3)
    axes[0].legend(title="opponent")
    figure.suptitle(f"{Path(run).name}: strength during training")
    figure.tight_layout()
    output = Path(output) if output else Path(run) / "strength.png"
    figure.savefig(output, dpi=110)
    plt.close(figure)
    return output
