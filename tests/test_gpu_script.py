"""bench/gpu.py (the one call prepared for the GPU machine) runs every part at toy sizes."""

from __future__ import annotations

import json

from bench import gpu


def test_gpu_script_runs_every_part_on_the_cpu_at_tiny_sizes(tmp_path, monkeypatch):
    monkeypatch.setenv("OUT", str(tmp_path))
    record = gpu.main(["--tiny"])
    sizes = gpu.TINY
    played = record["selfplay"]
    assert record["device"] == "cpu"
    # Every game of every thread moved, and every leaf went through the one server.
    assert played["positions"] == sizes.moves * sizes.games_per_thread * sizes.threads
    # Gumbel evaluates the root and then at most one leaf per simulation.
    assert (
        played["positions"] < played["evaluations"] <= played["positions"] * (1 + sizes.simulations)
    )
    assert record["forward_ceiling_evaluations_per_s"] > 0
    assert record["amp_learner"]["matches"]
    assert record["mctx_pgx"] is None and record["ratio"] is None  # no peer on this machine
    assert json.loads((tmp_path / "gpu.json").read_text())["selfplay"] == played
