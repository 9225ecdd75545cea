"""``ponder tradeoff`` end to end on the tic-tac-toe smoke recipe, made smaller: every output is
written with data in every plot, and a rerun recomputes nothing (no training, no game, no fit)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from ponder.cli import main
from tradeoff.sweep import OUTPUTS, TRAINED_MARK

SMOKE = str(Path(__file__).parent.parent / "configs" / "tradeoff-tictactoe.yaml")


def keep_figures(monkeypatch) -> dict:
    """The sweep's figures by file name, kept as they are written."""
    from tradeoff import plots

    figures: dict = {}
    write = plots._save

    def keep(figure, path):
        figures[Path(path).name] = figure
        return write(figure, path)

    monkeypatch.setattr(plots, "_save", keep)
    return figures


def check_figures(figures: dict, table: list[dict]) -> None:
    """Every net agent of results.csv with a finite rating is a point of elo_vs_train (x: its
    train FLOPs) and elo_vs_test (x: its test FLOPs per move) at its Elo, inside an interval band
    from its low to its high; one series (points and band) per test budget, resp. per snapshot;
    the frontier scatters them all in the (log10 train, log10 test) plane; axes say their units.
    An empty figure, or one without its bands, fails."""
    from matplotlib.collections import PathCollection, PolyCollection

    rated = [
        {k: float(row[k]) for k in ("train_flops", "test_flops_per_move", "elo", "low", "high")}
        | {"group": row["simulations"], "snapshot": (row["run"], row["step"])}
        for row in table
        if row["run"] and all(math.isfinite(float(row[k])) for k in ("elo", "low", "high"))
    ]
    assert len([r for r in rated if r["train_flops"] > 0]) >= 4, table
    for name, x_key, group_key, x_label in [
        ("elo_vs_train.png", "train_flops", "group", "train FLOPs"),
        ("elo_vs_test.png", "test_flops_per_move", "snapshot", "test FLOPs per move"),
    ]:
        on_log_axes = [r for r in rated if r[x_key] > 0]  # step 0 has no train FLOPs to show
        plot = figures[name].axes[0]
        assert x_label in plot.get_xlabel() and "Elo" in plot.get_ylabel(), name
        assert plot.get_xscale() == "log", name
        series = [line for line in plot.lines if line.get_marker() == "o"]
        bands = [c for c in plot.collections if isinstance(c, PolyCollection)]
        assert len(series) == len(bands) == len({r[group_key] for r in on_log_axes}), name
        points = sorted(
            (float(x), float(y)) for line in series
            for x, y in zip(line.get_xdata(), line.get_ydata(), strict=True)
        )  # fmt: skip
        expected = sorted((r[x_key], r["elo"]) for r in on_log_axes)
        np.testing.assert_allclose(points, expected, rtol=1e-9, err_msg=name)
        corners = np.concatenate([path.vertices for band in bands for path in band.get_paths()])
        for r in on_log_axes:  # the band reaches from low to high at every point
            for y in (r["low"], r["high"]):
                near = np.isclose(corners[:, 0], r[x_key]) & np.isclose(corners[:, 1], y)
                assert near.any(), (name, r)
    on_log_axes = [r for r in rated if r["train_flops"] > 0 and r["test_flops_per_move"] > 0]
    plot = figures["frontier.png"].axes[0]
    assert "log10 train FLOPs" in plot.get_xlabel()
    assert "log10 test FLOPs" in plot.get_ylabel()
    scattered = [c for c in plot.collections if isinstance(c, PathCollection)][0].get_offsets()
    np.testing.assert_allclose(
        sorted(map(tuple, np.asarray(scattered))),
        sorted(
            (math.log10(r["train_flops"]), math.log10(r["test_flops_per_move"]))
            for r in on_log_axes
        ),  # fmt: skip
    )


def test_the_figures_plot_every_rated_agent_with_its_interval(tmp_path, monkeypatch):
    """A small sweep over hand-made snapshots (tiny random nets, no training; as in
    test_match_records) writes figures that hold its results.csv."""
    from test_match_records import SWEEP, SWEEP_SETTINGS, fake_run

    output = tmp_path / "sweep"
    run = fake_run(output / "runs" / "c16-seed0", [0, 10, 40, 160])
    (run / TRAINED_MARK).write_text("{}\n")
    figures = keep_figures(monkeypatch)
    settings = [*SWEEP_SETTINGS, "snapshots=4", "budgets=[1,2,4]", "anchors=[random,mcts:4]"]
    assert main(["tradeoff", SWEEP, f"output={output}", *settings]) == 0
    with open(output / "results.csv", encoding="utf-8") as file:
        check_figures(figures, list(csv.DictReader(file)))


@pytest.mark.ray
def test_smoke_sweep_writes_every_output_and_resumes_without_recomputing(
    tmp_path, capsys, monkeypatch
):
    output = tmp_path / "sweep"
    arguments = [
        "tradeoff", SMOKE, f"output={output}", "train.seeds=[0]", "budgets=[1,8]",
        "snapshots=3", "tournament.max_games=800", "bootstrap=50",
    ]  # fmt: skip
    figures = keep_figures(monkeypatch)
    assert main(arguments) == 0
    for name in OUTPUTS:
        assert (output / name).is_file(), name
    with open(output / "results.csv", encoding="utf-8") as file:
        table = list(csv.DictReader(file))
    nets = [row for row in table if row["run"]]
    assert len(nets) == 3 * 2 and {row["simulations"] for row in nets} == {"1", "8"}
    assert all(math.isfinite(float(row["elo"])) and int(row["games"]) > 0 for row in nets)
    assert all(float(row["test_flops_per_move"]) > 0 for row in nets)
    assert float(next(r for r in nets if r["simulations"] == "8")["test_flops_per_move"]) > float(
        next(r for r in nets if r["simulations"] == "1")["test_flops_per_move"]
    )  # more simulations cost more test FLOPs
    fit = json.loads((output / "fit.json").read_text())
    assert set(fit["train"]["slope_per_10x"]) == {"value", "low", "high"}
    assert set(fit["frontier"]["exchange_slope"]) == {"value", "low", "high"}
    check_figures(figures, table)
    report = (output / "report.md").read_text()
    assert "Elo per 10x train compute" in report and "![frontier](frontier.png)" in report
    design = fit["tournament"]
    assert design["games"] == len((output / "games.jsonl").read_bytes().splitlines())
    assert design["seconds"] > 0 and design["all_pairs_games"] > 0
    assert f"{design['games']} games (adaptive pairs)" in report and "All pairs would" in report
    assert any((output / "tensorboard").iterdir())

    games = (output / "games.jsonl").read_bytes()
    checkpoints = sorted(p.name for p in (output / "runs").rglob("step_*.json"))
    written = {name: (output / name).stat().st_mtime_ns for name in OUTPUTS}
    capsys.readouterr()
    assert main(arguments) == 0
    assert "up to date" in capsys.readouterr().out
    assert (output / "games.jsonl").read_bytes() == games
    assert sorted(p.name for p in (output / "runs").rglob("step_*.json")) == checkpoints
    assert {name: (output / name).stat().st_mtime_ns for name in OUTPUTS} == written

    # A tournament killed part-way (its record cut after 300 games, the last line half
    # written, as kill -9 leaves it), rerun: the same games and the same table.
    table_before = (output / "results.csv").read_text()
    for name in OUTPUTS:
        (output / name).unlink()
    lines = games.splitlines(keepends=True)
    (output / "games.jsonl").write_bytes(b"".join(lines[:300]) + lines[300][:40])
    assert main(arguments) == 0
    assert sorted((output / "games.jsonl").read_bytes().splitlines()) == sorted(games.splitlines())
    assert (output / "results.csv").read_text() == table_before
    # Another fit setting on the same games refits (outputs depend on more than the games).
    capsys.readouterr()
    assert main([*arguments[:-1], "bootstrap=40"]) == 0
    out = capsys.readouterr().out
    assert "up to date" not in out and "phase 4: wrote" in out
    assert json.loads((output / "fit.json").read_text())["bootstrap"] == 40
