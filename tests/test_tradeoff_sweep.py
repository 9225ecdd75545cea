"""``ponder tradeoff`` end to end on the tic-tac-toe smoke recipe, made smaller: every output is
written with data in every plot, and a rerun recomputes nothing (no training, no game, no fit)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from ponder.cli import main
from tradeoff.sweep import OUTPUTS

pytestmark = pytest.mark.ray
SMOKE = str(Path(__file__).parent.parent / "configs" / "tradeoff-tictactoe.yaml")


def test_smoke_sweep_writes_every_output_and_resumes_without_recomputing(tmp_path, capsys):
    output = tmp_path / "sweep"
    arguments = [
        "tradeoff", SMOKE, f"output={output}", "train.seeds=[0]", "budgets=[1,8]",
        "snapshots=3", "tournament.max_games=800", "bootstrap=50",
    ]  # fmt: skip
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
    for figure in ("elo_vs_train.png", "elo_vs_test.png", "frontier.png"):
        pixels = matplotlib.image.imread(str(output / figure))[..., :3]
        colours = np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)
        assert len(colours) > 200, figure  # points, bands and lines, not empty axes
    report = (output / "report.md").read_text()
    assert "Elo per 10x train compute" in report and "![frontier](frontier.png)" in report
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
