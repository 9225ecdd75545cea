"""Figures of a reasoning evaluation (matplotlib, Agg backend, no display needed).

- :func:`plot_accuracy_vs_compute`: accuracy against test FLOPs per problem (log scale), one
  curve per method with its 95% bootstrap interval as a band;
- :func:`plot_coverage`: coverage (pass@k) and best-of-N selections against the number of
  samples N, as in "Large Language Monkeys" (selection plateaus below coverage).

Rows are anything with ``method``, ``budget``, ``accuracy``, ``interval_low``,
``interval_high`` and ``test_flops`` (``reasoning.pipeline.results.ResultRow``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# A fixed look per family, so figures of different runs read the same.
_COLOURS = {
    "greedy": "black",
    "best_of_n/majority": "tab:gray",
    "best_of_n/orm_weighted": "tab:olive",
    "best_of_n/orm_argmax": "tab:brown",
    "best_of_n/prm_weighted": "tab:cyan",
    "best_of_n/prm_argmax": "tab:blue",
    "best_of_n/oracle": "tab:green",
    "beam/prm": "tab:orange",
    "beam/orm": "tab:orange",
    "beam/oracle": "tab:orange",
    "mcts_puct/prm": "tab:red",
    "mcts_puct/orm": "tab:red",
    "mcts_gumbel/prm": "tab:purple",
    "mcts_gumbel/orm": "tab:purple",
    "mcts_gumbel/oracle": "tab:purple",
    "mcts_puct/oracle": "tab:red",
}


def _by_method(rows: Sequence[Any]) -> dict[str, list[Any]]:
    groups: dict[str, list[Any]] = {}
    for row in rows:
        groups.setdefault(row.method, []).append(row)
    return {method: sorted(group, key=lambda r: r.budget) for method, group in groups.items()}


def _style(method: str) -> dict[str, Any]:
    oracle = method.endswith("/oracle")
    return {
        "color": _COLOURS.get(method, None),
        "linestyle": ":" if oracle else "-",
        "marker": "o" if method.startswith(("beam", "mcts")) else ".",
    }


def plot_accuracy_vs_compute(rows: Sequence[Any], path: str | Path, title: str = "") -> Path:
    """Accuracy vs test FLOPs per problem, one curve per method with its interval band."""
    figure, axes = plt.subplots(figsize=(10, 6))
    for method, group in _by_method(rows).items():
        flops = [r.test_flops for r in group]
        accuracy = [r.accuracy for r in group]
        style = _style(method)
        if len(group) == 1:
            (row,) = group
            error = [[row.accuracy - row.interval_low], [row.interval_high - row.accuracy]]
            axes.errorbar(
                flops, accuracy, yerr=error, fmt="s", color=style["color"], capsize=4, label=method
            )
            continue
        axes.plot(flops, accuracy, label=method, markersize=4, **style)
        axes.fill_between(
            flops, [r.interval_low for r in group], [r.interval_high for r in group],
            color=style["color"], alpha=0.12, linewidth=0,
        )  # fmt: skip
    axes.set_xscale("log")
    axes.set_xlabel("test FLOPs per problem (policy + verifier, 2 x parameters per token)")
    axes.set_ylabel("accuracy (test problems solved)")
    axes.set_ylim(0, 1)
    axes.grid(True, which="both", alpha=0.3)
    axes.set_title(title or "Accuracy vs test compute (bands: 95% bootstrap over problems)")
    axes.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return Path(path)


def plot_coverage(rows: Sequence[Any], path: str | Path, title: str = "") -> Path:
    """Coverage (pass@k, the oracle best-of-N) and best-of-N selections vs samples N."""
    figure, axes = plt.subplots(figsize=(8, 5))
    for method, group in _by_method(rows).items():
        if not method.startswith("best_of_n/"):
            continue
        budgets = [r.budget for r in group]
        label = "coverage (pass@k)" if method == "best_of_n/oracle" else method
        axes.plot(budgets, [r.accuracy for r in group], label=label, **_style(method))
        axes.fill_between(
            budgets, [r.interval_low for r in group], [r.interval_high for r in group],
            color=_style(method)["color"], alpha=0.12, linewidth=0,
        )  # fmt: skip
    axes.set_xscale("log", base=2)
    axes.set_xlabel("samples per problem N (k)")
    axes.set_ylabel("accuracy / coverage")
    axes.set_ylim(0, 1)
    axes.grid(True, which="both", alpha=0.3)
    axes.set_title(title or "Best-of-N: coverage vs selection")
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return Path(path)
