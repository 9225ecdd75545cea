"""The training driver's parts that need no Ray: its progress line with the time left to the
budget, and the disk options (checkpoints kept, replay shards pruned) wired from the config."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from experiment.checkpoint import CheckpointInfo, list_checkpoints, read_info
from experiment.config import ConfigError, load_config
from selfplay.actors import LearnerProcess, ReplayProcess
from selfplay.config import BudgetConfig, TrainConfig
from selfplay.replay import Batch, GameRecord, list_shards
from selfplay.train import Progress, budget_eta, progress_line

SMOKE = Path(__file__).parent.parent / "configs" / "tictactoe-smoke.yaml"
SCALARS = {"selfplay/games_per_hour": 3600.0, "selfplay/positions_per_s": 9.5,
           "selfplay/evals_per_s": 150.0, "loss/total": 2.5}  # fmt: skip


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def test_eta_is_the_nearest_limit_of_the_budget():
    progress = Progress(step=100, games=50)
    # 600 s left of 20 minutes; 900 steps at 2/s = 450 s; 950 games at 1/s = 950 s.
    budget = BudgetConfig(minutes=20, learner_steps=1000, games=1000)
    assert budget_eta(budget, 600.0, progress, 2.0, 1.0) == (450.0, "budget.learner_steps")
    assert budget_eta(BudgetConfig(minutes=20, games=1000), 600.0, progress, 2.0, 1.0) == (
        600.0,
        "budget.minutes",
    )
    assert budget_eta(BudgetConfig(games=60), 0.0, progress, 0.0, 0.5) == (20.0, "budget.games")
    # No learner step yet this session: that limit's time is not known.
    assert budget_eta(BudgetConfig(learner_steps=1000), 60.0, progress, 0.0, 1.0) == (
        math.inf,
        "budget.learner_steps",
    )
    assert budget_eta(BudgetConfig(), 600.0, progress, 2.0, 1.0) is None  # no limit, no ETA


def test_progress_line_shows_the_eta_on_one_plain_line():
    progress = Progress(step=100, games=50, selfplay_flops=10**12)
    line = progress_line(3725.0, progress, SCALARS, (450.0, "budget.learner_steps"))
    assert line.startswith("[01:02:05] step 100 | games 50 (3,600/h)")
    assert line.endswith("| ETA 00:07:30 (budget.learner_steps)")
    assert "\r" not in line and "\n" not in line
    unknown = progress_line(5.0, progress, SCALARS, (math.inf, "budget.learner_steps"))
    assert unknown.endswith("| ETA unknown (budget.learner_steps)")
    assert "ETA" not in progress_line(5.0, progress, SCALARS, None)


def test_keep_last_prunes_regular_checkpoints_and_keeps_step_zero_and_snapshots(tmp_path):
    config = load_config(TrainConfig, SMOKE, ["checkpoint_keep_last=2", "learner.device=cpu"])
    process = LearnerProcess(config, threads=1, checkpoint=None)
    rng = np.random.default_rng(0)
    batch = Batch(
        observations=(rng.random((8, 2, 3, 3)) < 0.3).astype(np.float32),
        policies=np.full((8, 9), 1 / 9, np.float32),
        values=np.zeros(8, np.float32),
        policy_mask=np.ones(8, np.bool_),
    )
    for step in range(7):
        process.save(str(tmp_path), CheckpointInfo(step=step, keep=step in (0, 3)))
        process.learner.train_step(batch)
    assert [read_info(stem).step for stem in list_checkpoints(tmp_path)] == [0, 3, 5, 6]
    with pytest.raises(ConfigError, match="'checkpoint_keep_last' must be at least 0"):
        load_config(TrainConfig, SMOKE, ["checkpoint_keep_last=-1"])


def games(count: int) -> list[GameRecord]:
    return [
        GameRecord(
            observations=np.zeros((3, 2, 3, 3), np.float32),
            policies=np.full((3, 9), 1 / 9, np.float32),
            values=np.zeros(3, np.float32),
            policy_mask=np.ones(3, np.bool_),
        )
        for _ in range(count)
    ]


@pytest.mark.parametrize("prune", [False, True])
def test_replay_shards_outside_the_window_are_pruned_only_when_asked(tmp_path, prune):
    overrides = ["replay.capacity=6", "replay.shard_games=1"]  # a game of 3 positions per shard
    if prune:
        overrides.append("replay.prune_shards=true")
    replay = ReplayProcess(load_config(TrainConfig, SMOKE, overrides), str(tmp_path), False)
    replay.add_games(games(5))
    shards = [path.name for path in list_shards(tmp_path)]
    kept = ["shard_000003.npz", "shard_000004.npz"]  # the window: the last 6 positions
    assert shards == (kept if prune else [f"shard_{i:06d}.npz" for i in range(5)])
    assert replay.state().window == 6 and replay.state().games == 5


def test_a_resumed_arena_drops_rounds_after_the_checkpoint_and_a_cut_line(tmp_path):
    import json

    from games import make_game
    from selfplay.arena import Arena, ArenaConfig

    def line(step: int) -> str:
        return json.dumps({"a": f"step_{step:06d}@8", "b": "mcts:50", "score": 1.0,
                           "opening": [], "moves": [0]})  # fmt: skip

    arena = tmp_path / "arena"
    arena.mkdir()
    (arena / "matches.jsonl").write_text("\n".join(line(s) for s in (100, 200, 300)) + '\n{"a": ')
    rounds = "".join(json.dumps({"step": s, "scalars": {}}) + "\n" for s in (100, 200, 300))
    (arena / "rounds.jsonl").write_text(rounds)
    game = make_game("tic_tac_toe")
    resumed = Arena(game, ArenaConfig(), lambda weights: None, arena, resume_step=200)
    assert [r.players[0] for r in resumed.records] == ["step_000100@8", "step_000200@8"]
    assert (arena / "matches.jsonl").read_text().count("\n") == 2
    assert [json.loads(r)["step"] for r in (arena / "rounds.jsonl").read_text().splitlines()] == [
        100, 200,
    ]  # fmt: skip
    again = Arena(game, ArenaConfig(), lambda weights: None, arena)  # a restart keeps all
    assert len(again.records) == 2
