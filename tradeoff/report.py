"""``report.md`` of a sweep: what was trained, the compute spent, every fitted number with its
95% interval next to the literature (REFERENCES.md: Jones 2021, the +120 Elo per doubling rule),
and every figure."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tradeoff.fit import Estimate, TradeoffFit

JONES_ELO_PER_10X = 500.0  # Jones 2021: the rising regime, Elo per 10x train compute
JONES_EXCHANGE_SLOPE = -1.2  # Jones 2021, Hex 9x9: iso-Elo slope of log test against log train
RULE_ELO_PER_DOUBLING = 120.0  # Noam Brown's rule of thumb, train or test compute


def shown(value: Estimate, digits: int = 0, scientific: bool = False) -> str:
    """``value (low to high)``; "not fitted" for NaN."""
    if math.isnan(value.value):
        return "not fitted"

    def text(number: float) -> str:
        if not math.isfinite(number):
            return "inf" if number > 0 else "-inf"
        return f"{number:.2e}" if scientific else f"{number:.{digits}f}"

    return f"{text(value.value)} ({text(value.low)} to {text(value.high)})"


def write_report(
    folder: Path, config: Any, snapshots: Sequence[Any], table: Sequence[dict],
    fit: TradeoffFit, anchor: str, design: dict, figures: Sequence[Path],
) -> Path:  # fmt: skip
    """Write ``folder/report.md``; ``design``: ``tradeoff.sweep.tournament_design``'s."""
    games = design["games"]
    runs = sorted({s.run for s in snapshots})
    spent = {run: max(s.train_flops for s in snapshots if s.run == run) for run in runs}
    test_flops = sum(float(row["test_flops_per_move"]) for row in table)
    lines = [
        f"# Train x test compute sweep: {folder.name}",
        "",
        f"Ratings: Bradley-Terry Elo from {games} games, anchored at `{anchor}` = 0, 95% "
        f"intervals from {fit.bootstrap} bootstrap resamples of the games carried through every "
        "fit below (games -> ratings -> curves -> frontier -> slope).",
        "",
        "## What was trained",
        "",
        "| run | snapshots (steps) | train FLOPs of the last |",
        "|---|---|---|",
        *(
            f"| {run} | {', '.join(str(s.step) for s in snapshots if s.run == run)} | "
            f"{spent[run]:.2e} |"
            for run in runs
        ),  # fmt: skip
        "",
        f"Train compute spent: {sum(spent.values()):.2e} FLOPs in {len(runs)} runs. Test budgets: "
        f"{', '.join(map(str, config.budgets))} simulations per move; {len(table)} agents.",
        f"(Sum over agents of test FLOPs per move: {test_flops:.2e}.)",
        "",
        *_tournament_lines(design),
        "",
        "## Fitted numbers",
        "",
        "| number | this sweep | reference |",
        "|---|---|---|",
        f"| Elo per 10x train compute (mean over budgets) | {shown(fit.train_slope_per_10x)} | "
        f"Jones 2021: about {JONES_ELO_PER_10X:.0f} (rising regime, no interval) |",
        f"| Elo per doubling of train compute | {shown(fit.train_slope_per_doubling)} | "
        f"+{RULE_ELO_PER_DOUBLING:.0f} (rule of thumb) |",
        f"| Elo per doubling of test compute (mean over snapshots) | "
        f"{shown(fit.test_slope_per_doubling)} | +{RULE_ELO_PER_DOUBLING:.0f} (rule of thumb) |",
        f"| iso-Elo exchange slope, log10 test against log10 train | "
        f"{shown(fit.frontier.exchange_slope, 2)} | Jones 2021, Hex 9x9: about "
        f"{JONES_EXCHANGE_SLOPE} |",
        f"| test compute saved by 10x train compute | "
        f"{shown(fit.frontier.test_saved_per_10x_train, 1)} x | Jones 2021, Hex 9x9: about 15x |",
    ]
    for budget, value in fit.perfect_train_compute.items():
        lines.append(
            f"| train FLOPs to perfect play (within {fit.config.margin:.0f} Elo of the solver), "
            f"{budget} simulations | {shown(value, scientific=True)} | Jones 2021: x7 per board "
            "size step |"
        )
    if fit.frontier.note:
        lines += ["", f"Frontier: {fit.frontier.note}."]
    lines += ["", "## Curves", "", "| curve | points | Elo per 10x | floor | ceiling | note |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for kind, curves in (("train, budget", fit.train_curves), ("test, snapshot", fit.test_curves)):
        for curve in curves:
            lines.append(
                f"| {kind} {curve.group} | {curve.points} | {shown(curve.slope_per_10x)} | "
                f"{shown(curve.floor)} | {shown(curve.ceiling)} | {curve.note} |"
            )
    perfect = [row for row in table if anchor == "solver" and row["agent"] != "solver"
               and math.isfinite(row["elo"]) and row["elo"] >= -fit.config.margin]  # fmt: skip
    if anchor == "solver":
        reached = ", ".join(f"`{row['agent']}` ({row['elo']:.0f}, {row['low']:.0f} to "
                            f"{row['high']:.0f})" for row in perfect) or "none"  # fmt: skip
        lines += ["", f"Agents within {fit.config.margin:.0f} Elo of perfect play: {reached}."]
    lines += ["", "## Figures", ""]
    lines += [f"![{figure.stem}]({figure.name})" for figure in figures]
    lines += ["", "Every rating is in `results.csv`; every fitted number with its interval in "
              "`fit.json`."]  # fmt: skip
    path = folder / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _tournament_lines(design: dict) -> list[str]:
    """The tournament's cost, and what adaptive pairing saved against all pairs."""
    seconds = design.get("seconds")
    took = f" in {_duration(seconds)} of wall time" if seconds else ""
    lines = ["## Tournament", "", f"{design['games']} games ({design['pairs']} pairs){took}."]
    all_pairs = design.get("all_pairs_games")
    if all_pairs:
        ratio = all_pairs / max(design["games"], 1)
        # Time at this tournament's mean seconds per game (the pairs' costs differ).
        extra = _duration(seconds * abs(ratio - 1)) if seconds else ""
        verdict = (
            f"adaptive pairing played {ratio:.1f}x fewer games"
            + (f", saving about {extra}" if extra else "") if ratio >= 1
            else f"adaptive pairing played {1 / ratio:.1f}x more games"
            + (f", about {extra} more" if extra else "")
        )  # fmt: skip
        lines.append(
            f"All pairs would need about {all_pairs} games for the same widest interval "
            f"(Fisher estimate at the fitted ratings): {verdict}."
        )
    return lines


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"
