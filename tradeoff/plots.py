"""The sweep's figures, domain-free: strength against train compute (one curve per test budget),
against test compute (one curve per snapshot), and the iso-strength frontier (PNG).

Every rated point carries its 95% interval as a band; the fitted curves and lines of
``tradeoff.fit`` are drawn over them. Points without train compute (step 0) or with an unbounded
rating cannot sit on a log axis or a finite scale: they are left out of the figures (they are in
``results.csv``). ``strength`` names the scale on the axes ("Elo", "accuracy").
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from experiment.stats import percentile_interval
from tradeoff.fit import Row, TradeoffFit


def plot_all(
    rows: Sequence[Row], strength: np.ndarray, samples: np.ndarray, fit: TradeoffFit,
    folder: Path, scale: str,
) -> list[Path]:  # fmt: skip
    """Write ``elo_vs_train.png``, ``elo_vs_test.png`` and ``frontier.png`` into ``folder``."""
    import matplotlib

    matplotlib.use("Agg")
    if len(samples):
        low, high = percentile_interval(samples)
    else:
        low, high = strength.copy(), strength.copy()
    shown = np.isfinite(strength) & np.isfinite(low) & np.isfinite(high)
    return [
        _against(
            rows, strength, low, high, shown, fit, folder / "elo_vs_train.png", scale, "train"
        ),
        _against(rows, strength, low, high, shown, fit, folder / "elo_vs_test.png", scale, "test"),
        _frontier(rows, strength, shown, fit, folder / "frontier.png", scale),
    ]


def _against(
    rows: Sequence[Row], strength: np.ndarray, low: np.ndarray, high: np.ndarray,
    shown: np.ndarray, fit: TradeoffFit, path: Path, scale: str, axis: str,
) -> Path:  # fmt: skip
    """Strength against train compute per budget (``axis`` "train") or against test compute
    per snapshot ("test"), with interval bands and the fitted changepoint curves."""
    import matplotlib.pyplot as plt

    figure, plot = plt.subplots(figsize=(8, 5.2))  # widened below for a long legend
    groups: list[Any]
    if axis == "train":
        groups = sorted({r.budget for r in rows})
        key, x_of, curves = (lambda r: r.budget), (lambda r: r.train_compute), fit.train_curves
        names = [f"{g:g} simulations" for g in groups]
    else:
        groups = sorted({(r.run, r.snapshot) for r in rows}, key=lambda g: _train(rows, g))
        key, x_of, curves = (
            (lambda r: (r.run, r.snapshot)),
            (lambda r: r.test_compute),
            fit.test_curves,
        )
        names = [f"{run} {snapshot} ({_train(rows, (run, snapshot)):.1e} train FLOPs)"
                 for run, snapshot in groups]  # fmt: skip
    colours = plt.cm.viridis(np.linspace(0, 0.95, max(len(groups), 1)))
    fitted = {curve.group: curve for curve in curves}
    for group, name, colour in zip(groups, names, colours, strict=True):
        members = [k for k, r in enumerate(rows) if key(r) == group and shown[k] and x_of(r) > 0]
        if not members:
            continue
        members.sort(key=lambda k: x_of(rows[k]))
        x = np.array([x_of(rows[k]) for k in members])
        plot.fill_between(x, low[members], high[members], color=colour, alpha=0.18, linewidth=0)
        plot.plot(x, strength[members], "o", color=colour, markersize=4, label=name)
        label = f"{group:g}" if axis == "train" else f"{group[0]}/{group[1]}"
        curve = fitted.get(label)
        if curve is not None and np.isfinite(curve.slope_per_10x.value):
            grid = np.linspace(np.log10(x[0]), np.log10(x[-1]), 100)
            plot.plot(10**grid, curve.predict(grid), "-", color=colour, linewidth=1.2)
    plot.set_xscale("log")
    what = "train FLOPs (self-play + learner)" if axis == "train" else "test FLOPs per move"
    plot.set_xlabel(what)
    plot.set_ylabel(f"{scale} (95% bootstrap interval)")
    summary = fit.train_slope_per_10x if axis == "train" else fit.test_slope_per_10x
    plot.set_title(
        f"{scale} against {what}\n{summary.value:+.0f} per 10x ({summary.low:+.0f} to "
        f"{summary.high:+.0f}, mean of the fits); lines: changepoint fits", fontsize=10,
    )  # fmt: skip
    if fit.config.perfect is not None:
        plot.axhline(fit.config.perfect, color="black", linestyle=":", linewidth=1,
                     label="perfect play")  # fmt: skip
    plot.grid(alpha=0.3, which="both")
    if len(groups) > 8:  # beside the axes: inside, a long legend hides the data
        figure.set_size_inches(8 + 3.2 * (1 + len(groups) // 26), 5.2)
        plot.legend(fontsize=7, ncol=1 + len(groups) // 26, loc="upper left",
                    bbox_to_anchor=(1.01, 1.0), borderaxespad=0)  # fmt: skip
    else:
        plot.legend(fontsize=7, loc="best")
    return _save(figure, path)


def _train(rows: Sequence[Row], group: tuple[str, str]) -> float:
    return next(r.train_compute for r in rows if (r.run, r.snapshot) == group)


def _frontier(
    rows: Sequence[Row], strength: np.ndarray, shown: np.ndarray, fit: TradeoffFit, path: Path,
    scale: str,
) -> Path:  # fmt: skip
    """The (train, test) plane: every rated agent coloured by strength, iso-strength contours
    through them, the frontier points of each level and its fitted line."""
    import matplotlib.pyplot as plt

    figure, plot = plt.subplots(figsize=(8, 5.6))
    keep = [
        k for k, r in enumerate(rows) if shown[k] and r.train_compute > 0 and r.test_compute > 0
    ]
    x = np.log10([rows[k].train_compute for k in keep])
    y = np.log10([rows[k].test_compute for k in keep])
    z = strength[keep]
    points = plot.scatter(x, y, c=z, cmap="viridis", s=22, zorder=3)
    figure.colorbar(points, ax=plot, label=f"{scale}")
    frontier = fit.frontier
    levels = list(frontier.levels)
    if len(keep) >= 3 and len(np.unique(x)) >= 2 and len(np.unique(y)) >= 2 and np.ptp(z) > 0:
        # the fit's levels, or five through the ratings when the fit has none
        contour_levels = sorted(levels) if levels else np.linspace(z.min(), z.max(), 7)[1:-1]
        contours = plot.tricontour(x, y, z, levels=contour_levels, cmap="viridis",
                                   linewidths=0.8, linestyles="dashed")  # fmt: skip
        plot.clabel(contours, fmt="%.0f", fontsize=7)
    slope, level_slope, intercept = (frontier.exchange_slope.value, frontier.level_slope.value,
                                     frontier.intercept.value)  # fmt: skip
    colours = plt.cm.viridis((np.array(levels) - min(z, default=0)) / max(np.ptp(z), 1e-9))
    for level, colour in zip(levels, colours, strict=True):
        at = [(p[1], p[2]) for p in frontier.points if p[0] == level]
        plot.plot(*zip(*at, strict=True), "D", color=colour, markeredgecolor="black", markersize=6,
                  zorder=4)  # fmt: skip
        if np.isfinite(slope):
            grid = np.array([min(a for a, _ in at) - 0.2, max(a for a, _ in at) + 0.2])
            plot.plot(grid, slope * grid + level_slope * level + intercept, "-", color=colour,
                      linewidth=1.5, label=f"{scale} {level:.0f}")  # fmt: skip
    exchange = frontier.exchange_slope
    title = (f"iso-{scale} frontier: slope {exchange.value:.2f} ({exchange.low:.2f} to "
             f"{exchange.high:.2f})" if np.isfinite(exchange.value) else
             f"iso-{scale} frontier: {frontier.note}")  # fmt: skip
    # Contours make the data's range a hard edge of the axes (matplotlib's sticky edges), which
    # cut the outermost agents' markers in half: margins instead.
    plot.use_sticky_edges = False
    plot.margins(0.04)
    plot.set_title(title)
    plot.set_xlabel("log10 train FLOPs")
    plot.set_ylabel("log10 test FLOPs per move")
    plot.grid(alpha=0.3)
    if levels and np.isfinite(slope):
        plot.legend(fontsize=7, title="fitted lines (diamonds: frontier)", title_fontsize=7)
    return _save(figure, path)


def _save(figure: Any, path: Path) -> Path:
    """Write ``figure`` to ``path`` and close it (the one place figures are written)."""
    import matplotlib.pyplot as plt

    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
