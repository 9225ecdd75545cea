"""Figures of a reasoning evaluation (matplotlib, Agg backend, no display needed).

- :func:`plot_accuracy_vs_compute`: accuracy against test FLOPs per problem (log scale), one
  panel per search family, one curve per method with its 95% bootstrap interval as a band and
  the oracle ceiling in every panel;
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

from reasoning.searches.selection import BEST_OF_N  # noqa: E402

BEST_OF_N_VERIFIERS = {s.verifier for s in BEST_OF_N.values() if s.verifier not in (None, "oracle")}


def _by_method(rows: Sequence[Any]) -> dict[str, list[Any]]:
    groups: dict[str, list[Any]] = {}
    for row in rows:
        groups.setdefault(row.method, []).append(row)
    return {method: sorted(group, key=lambda r: r.budget) for method, group in groups.items()}


def family(method: str) -> str:
    """The search family of a method name (``best_of_n``, ``beam``, ``dvts``, ``mcts_gumbel``,
    ``mcts_puct``, ``greedy``): one panel each."""
    return method.partition("/")[0]


# best-of-N's selections that read no verifier: drawn in every best-of-N panel, as baselines
_UNSCORED = ("best_of_n/random_finished", "best_of_n/majority")


def panel(method: str) -> str:
    """The panel a method is drawn in: its family, and for best-of-N selections by a verifier
    the verifier too (``best_of_n: prm_checker``), so that each panel stays readable."""
    name, _, selection = method.partition("/")
    if name != "best_of_n" or method in _UNSCORED or selection == "oracle":
        return name
    for verifier in sorted(BEST_OF_N_VERIFIERS, key=len, reverse=True):
        if selection.startswith(verifier + "_"):
            return f"best_of_n: {verifier}"
    return name


def _curve(axes: Any, group: Sequence[Any], x: str, label: str, **style: Any) -> None:
    """One method's accuracy against ``x`` with its interval as a band."""
    xs = [getattr(r, x) for r in group]
    (line,) = axes.plot(xs, [r.accuracy for r in group], label=label, markersize=4, **style)
    axes.fill_between(
        xs, [r.interval_low for r in group], [r.interval_high for r in group],
        color=line.get_color(), alpha=0.12, linewidth=0,
    )  # fmt: skip


def plot_accuracy_vs_compute(rows: Sequence[Any], path: str | Path, title: str = "") -> Path:
    """Accuracy vs test FLOPs per problem, one panel per search family (its methods with their
    interval bands), each with the oracle ceiling (the family's own oracle-valued search, else
    best-of-N coverage) dotted and greedy decoding as a point."""
    methods = _by_method(rows)
    panels = [panel(m) for m in methods if family(m) != "greedy"]
    if any(name.startswith("best_of_n:") for name in panels):  # baselines join those panels
        panels = [name for name in panels if name != "best_of_n"]
    families = list(dict.fromkeys(panels))
    columns = min(3, max(1, len(families)))
    lines = -(-max(1, len(families)) // columns)
    figure, grid = plt.subplots(
        lines, columns, figsize=(6 * columns, 4.5 * lines), squeeze=False, sharey=True
    )
    greedy = methods.get("greedy", [])
    for axes, name in zip(grid.flat, families, strict=False):
        members = [m for m in methods if panel(m) == name]
        if name.startswith("best_of_n"):
            members += [m for m in _UNSCORED if m in methods and m not in members]
        for method in members:
            if not method.endswith("/oracle"):
                _curve(axes, methods[method], "test_flops", method.partition("/")[2], marker=".")
        ceilings = [m for m in members if m.endswith("/oracle")] or (
            ["best_of_n/oracle"] if "best_of_n/oracle" in methods else []
        )
        for method in ceilings:
            own = family(method) == family(name.partition(":")[0])
            label = "oracle ceiling" + ("" if own else " (best-of-N coverage)")
            _curve(axes, methods[method], "test_flops", label, color="tab:green", linestyle=":")
        for row in greedy:
            error = [[row.accuracy - row.interval_low], [row.interval_high - row.accuracy]]
            axes.errorbar(
                [row.test_flops], [row.accuracy], yerr=error, fmt="s", color="black",
                capsize=4, label="greedy",
            )  # fmt: skip
        axes.set_xscale("log")
        axes.set_ylim(0, 1)
        axes.grid(True, which="both", alpha=0.3)
        axes.set_title(name)
        axes.set_xlabel("test FLOPs per problem")
        axes.legend(fontsize=7, loc="upper left")
    for axes in list(grid.flat)[len(families) :]:
        axes.set_visible(False)
    for axes in grid[:, 0]:
        axes.set_ylabel("accuracy (test problems solved)")
    figure.suptitle(title or "Accuracy vs test compute (bands: 95% bootstrap over problems)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return Path(path)


def plot_coverage(rows: Sequence[Any], path: str | Path, title: str = "") -> Path:
    """Coverage (pass@k, the oracle best-of-N) and best-of-N selections vs samples N."""
    figure, axes = plt.subplots(figsize=(8, 5))
    for method, group in _by_method(rows).items():
        if not method.startswith("best_of_n/"):
            continue
        oracle = method == "best_of_n/oracle"
        label = "coverage (pass@k)" if oracle else method
        style = {"color": "tab:green", "linestyle": ":"} if oracle else {}
        _curve(axes, group, "budget", label, marker=".", **style)
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
