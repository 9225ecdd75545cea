"""Training curves of runs: arena scores and Elo against training time, games and train FLOPs.

Each point is one arena round, placed by the run's exact state when its net was taken (the
trainer writes ``arena/rounds.jsonl``: seconds of training, self-play games, train FLOPs). A run
from before that file existed is read from its checkpoint records instead, whose counters hold
the latest arena scores at each checkpoint. Scores carry their 95% Wilson intervals; the Elo
panel refits every arena game of a run (experiment.ratings: Bradley-Terry, bootstrap intervals,
anchored at the first classic-MCTS reference) and plots each snapshot of the net.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from experiment.checkpoint import list_checkpoints, read_info
from selfplay.arena import snapshot_step

SCORE_PREFIX = "arena/winrate_vs_"


@dataclass(frozen=True)
class Round:
    """One arena round: the net of learner ``step`` and where the run stood when it was taken."""

    step: int
    seconds: float
    selfplay_games: int
    train_flops: float
    games_per_opponent: int | None  # None when the record does not say
    scores: dict[str, float]  # opponent -> score (draws half)


def read_rounds(run: str | Path, games_per_opponent: int | None = None) -> list[Round]:
    """A run's arena rounds in step order, from ``arena/rounds.jsonl`` or, for older runs, from
    the checkpoint records (``games_per_opponent`` fills in what those do not record)."""
    run = Path(run)
    path = run / "arena" / "rounds.jsonl"
    rounds = []
    if path.exists():
        for line in path.read_text().splitlines():
            data = json.loads(line)
            scores = _scores(data["scalars"])
            rounds.append(
                Round(int(data["step"]), float(data["seconds"]), int(data["selfplay_games"]),
                      float(data["train_flops"]), data.get("games_per_opponent"), scores)
            )  # fmt: skip
    else:
        for stem in list_checkpoints(run / "checkpoints"):
            info = read_info(stem)
            scores = _scores(info.counters)
            if scores:
                rounds.append(
                    Round(info.step, float(info.counters.get("seconds", np.nan)),
                          info.games_played, float(info.ledger.train_flops), games_per_opponent,
                          scores)
                )  # fmt: skip
    return sorted(rounds, key=lambda r: r.step)


def _scores(scalars: dict) -> dict[str, float]:
    return {
        tag.removeprefix(SCORE_PREFIX): float(value)
        for tag, value in scalars.items()
        if tag.startswith(SCORE_PREFIX)
    }


def snapshot_elos(run: str | Path, anchor: str | None, bootstrap: int = 200) -> dict[int, tuple]:
    """Step -> (Elo, low, high) of every net snapshot the arena played, from all the run's arena
    games; empty when the run has none or its records predate the rating format."""
    from experiment import UserError
    from experiment.ratings import rate, read_results

    path = Path(run) / "arena" / "matches.jsonl"
    if not path.exists():
        return {}
    try:
        results = read_results([path])
        if anchor not in results.players:
            anchor = None
        ratings = rate(results, anchor, bootstrap=bootstrap)
    except (UserError, KeyError):
        return {}
    elos = {}
    for rating in ratings:
        step = snapshot_step(rating.name)
        if step is not None:
            elos[step] = (rating.elo, rating.low, rating.high)
    return elos


def plot_training_curves(
    runs: Sequence[str | Path],
    output: str | Path,
    games_per_opponent: Sequence[int | None] | None = None,
    anchors: Sequence[str | None] | None = None,
) -> Path:
    """Plot the arena scores (top row) and the snapshots' Elo (bottom row) of one or more runs
    against training time, self-play games and train FLOPs, overlaid, with 95% intervals;
    return the PNG. ``anchors``: per run the rating anchor (its first ``mcts:N`` reference)."""
    import matplotlib

    from experiment.stats import wilson_interval

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = len(runs)
    per_run_games = list(games_per_opponent or [None] * count)
    per_run_anchor = list(anchors or [None] * count)
    data = [read_rounds(run, games) for run, games in zip(runs, per_run_games, strict=True)]
    for run, rounds in zip(runs, data, strict=True):
        if not rounds:
            raise ValueError(f"run '{run}' has no arena results yet (arena/rounds.jsonl)")
    hours = max(r.seconds for rounds in data for r in rounds) > 7200
    unit, seconds_per_unit = ("hours", 3600) if hours else ("minutes", 60)
    figure, axes = plt.subplots(2, 3, figsize=(15, 8), sharex="col")
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    markers = "os^Dv<>"
    opponents = sorted({o for rounds in data for r in rounds for o in r.scores})
    for index, (run, rounds) in enumerate(zip(runs, data, strict=True)):
        run_name = Path(run).name
        x_values = _x_values(rounds, seconds_per_unit)
        for o_index, opponent in enumerate(opponents):
            played = [i for i, r in enumerate(rounds) if opponent in r.scores]
            if not played:
                continue
            rates = np.array([rounds[i].scores[opponent] for i in played])
            errors = None
            games = rounds[played[0]].games_per_opponent
            if games:
                bounds = np.array([wilson_interval(r * games, games) for r in rates])
                errors = np.abs(bounds.T - rates)
            label = f"{run_name}: {opponent}" if count > 1 else opponent
            style = {
                "marker": markers[index % len(markers)], "markersize": 3, "capsize": 2,
                "color": colours[o_index % len(colours)], "label": label,
                "linestyle": "-" if index == 0 else "--",
            }  # fmt: skip
            for column, xs in enumerate(x_values):
                axes[0, column].errorbar(xs[played], rates, yerr=errors, **style)
        elos = snapshot_elos(run, per_run_anchor[index])
        steps = [i for i, r in enumerate(rounds) if r.step in elos]
        if steps:
            elo = np.array([elos[rounds[i].step] for i in steps])  # (n, 3)
            finite = np.isfinite(elo).all(1)
            errors = np.abs(elo[finite, 1:].T - elo[finite, 0])
            for column, xs in enumerate(x_values):
                axes[1, column].errorbar(
                    xs[steps][finite], elo[finite, 0], yerr=errors, marker="o", markersize=3,
                    capsize=2, color=colours[index % len(colours)], label=run_name,
                )  # fmt: skip
    axes[0, 0].set_ylabel("arena score (draws count half)\nbars: 95% Wilson interval")
    anchor_text = ", ".join(sorted({a for a in per_run_anchor if a})) or "the first player"
    axes[1, 0].set_ylabel(
        f"Elo of the net (anchor {anchor_text} = 0)\nbars: 95% bootstrap interval"
    )
    axes[1, 0].set_xlabel(f"training time ({unit}, pauses left out)")
    axes[1, 1].set_xlabel("self-play games")
    axes[1, 2].set_xlabel("train FLOPs (self-play + learner)")
    for axis in axes[:, 2]:
        axis.set_xscale("log")
    for axis in axes[0]:
        axis.axhline(0.5, color="grey", linewidth=0.8, linestyle=":")
        axis.set_ylim(-0.02, 1.02)
    for axis in axes.flat:
        axis.grid(alpha=0.3)
    axes[0, 0].legend(title="opponent", fontsize=8)
    if axes[1, 0].has_data():
        axes[1, 0].legend(title="run", fontsize=8)
    else:
        axes[1, 0].text(
            0.5, 0.5, "no rated arena games", ha="center", transform=axes[1, 0].transAxes
        )
    names = ", ".join(Path(run).name for run in runs)
    figure.suptitle(f"{names}: strength during training")
    figure.tight_layout()
    output = Path(output)
    figure.savefig(output, dpi=110)
    plt.close(figure)
    return output


def _x_values(rounds: Sequence[Round], seconds_per_unit: float) -> list[np.ndarray]:
    """(training time, self-play games, train FLOPs) of each round: the panels' x axes."""
    return [
        np.array([r.seconds / seconds_per_unit for r in rounds]),
        np.array([r.selfplay_games for r in rounds], float),
        np.array([max(r.train_flops, 1.0) for r in rounds]),
    ]
