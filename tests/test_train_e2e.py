"""Self-play training end to end on a local Ray (2 cpus): TensorBoard tags, checkpoints (the
seeded initial net as step 0, pruning), resume, a separate Ray head joined with --address, the
progress line. Learning itself is checked deterministically, without Ray, in test_learning.py."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import psutil
import pytest
import safetensors.torch
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from experiment.checkpoint import latest_checkpoint, list_checkpoints, load_checkpoint, read_info
from experiment.config import load_config
from experiment.ledger import log_milestone
from games import make_game
from ponder.cli import main
from selfplay.actors import initial_network
from selfplay.config import TrainConfig
from selfplay.inference import Evaluator
from selfplay.network import NetworkConfig, build_network
from selfplay.replay import read_games

pytestmark = pytest.mark.ray
SMOKE = str(Path(__file__).parent.parent / "configs" / "tictactoe-smoke.yaml")
KEEP_LAST = 3  # regular checkpoints the fixture's run keeps
TAGS = [
    "loss/policy", "loss/value", "loss/total",
    "selfplay/games_per_hour", "selfplay/positions_per_s", "selfplay/game_length",
    "selfplay/evals_per_s", "arena/winrate_vs_random", "arena/winrate_vs_mcts50", "arena/elo",
    "system/rss_gb_worker", "system/rss_gb_learner", "system/rss_gb_replay",
    "learner/samples_per_position",
    "compute/train_flops", "compute/selfplay_flops", "compute/learner_flops",
]  # fmt: skip


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    status = main(
        ["train", SMOKE, f"runs_root={root}", "--name", "smoke", "budget.learner_steps=200",
         f"checkpoint_keep_last={KEEP_LAST}"]
    )  # fmt: skip
    assert status == 0
    return root / "smoke"


def scalars(run: Path) -> EventAccumulator:
    accumulator = EventAccumulator(str(run / "tensorboard"))
    accumulator.Reload()
    return accumulator


def test_smoke_run_writes_tensorboard_checkpoints_and_replay(trained_run):
    tags = set(scalars(trained_run).Tags()["scalars"])
    missing = [tag for tag in TAGS if tag not in tags]
    assert not missing, f"missing TensorBoard tags {missing}; have {sorted(tags)}"
    info = read_info(trained_run)
    assert info.step >= 200 and info.games_played > 0 and info.positions_seen > 0
    assert info.ledger.train_flops == info.ledger.selfplay_flops + info.ledger.learner_flops > 0
    meta = json.loads((trained_run / "meta.json").read_text())
    assert "git_commit" in meta and (trained_run / "config.yaml").exists()
    # Every finished game is in the replay shards (none is lost before the checkpoint).
    assert sum(1 for _ in read_games(trained_run / "replay")) >= info.games_played
    # Snapshots kept at each doubling of train FLOPs, for train x test compute studies.
    records = [
        json.loads(p.read_text()) for p in sorted((trained_run / "checkpoints").glob("*.json"))
    ]
    kept = [sum(r["ledger"].values()) for r in records if r["keep"]]
    bands = [log_milestone(flops) for flops in kept]  # floor(log2(train FLOPs))
    assert len(kept) >= 2 and all(b > a for a, b in zip(bands, bands[1:], strict=False)), kept
    assert (trained_run / "arena" / "matches.jsonl").exists()


def test_the_initial_net_is_step_zero_decided_by_the_recipe_seed(trained_run):
    """Step 0 is the zero-train-compute point of a train x test compute study: the recipe's
    initial net, byte for byte, whatever else ran in the process before."""
    stem = trained_run / "checkpoints" / "step_000000"
    info = read_info(stem)
    assert info.keep and info.games_played == 0 and info.ledger.train_flops == 0
    torch.rand(100)  # torch's global RNG plays no part in the initial weights
    recipe = initial_network(load_config(TrainConfig, SMOKE)).state_dict()
    saved = stem.with_name(stem.name + ".safetensors").read_bytes()
    assert saved == safetensors.torch.save(recipe)
    latest = load_checkpoint(trained_run, load_optimizer=False).model_state
    assert any(not torch.equal(latest[name], recipe[name]) for name in recipe)  # it trained


def test_only_the_newest_regular_checkpoints_are_kept(trained_run):
    infos = [read_info(stem) for stem in list_checkpoints(trained_run / "checkpoints")]
    regular = [info.step for info in infos if not info.keep]
    assert len(regular) == KEEP_LAST and regular[-1] == read_info(trained_run).step
    # Step 0 and every FLOPs-doubling snapshot survive, older than the regular ones kept.
    assert [info.step for info in infos if info.keep][0] == 0
    assert sum(info.keep for info in infos) >= 3


def test_analyze_and_play_use_a_checkpoint(trained_run, monkeypatch, capsys):
    import io

    request = {"id": "net", "game": "tic_tac_toe", "moves": "1425", "checkpoint": str(trained_run),
               "sims": 50}  # fmt: skip
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(request) + "\n"))
    assert main(["analyze"]) == 0
    answer = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # A win in one is proven before any simulation: the exact value, no visits spent.
    assert answer["id"] == "net" and answer["best_move"] == "3"
    assert answer["value"] == 1.0 and answer["visits"] == 0 and answer["policy"]["3"] == 1.0
    monkeypatch.setattr("sys.stdin", io.StringIO("5\nquit\n"))
    assert main(["play", "--game", "tic_tac_toe", "--checkpoint", str(trained_run)]) == 0
    assert "bot plays" in capsys.readouterr().out
    wrong_game = {**request, "game": "connect_four", "moves": "44"}
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(wrong_game) + "\n"))
    main(["analyze"])
    assert "trained on" in json.loads(capsys.readouterr().out.strip())["error"]


def test_match_reports_score_interval_and_records(trained_run, tmp_path, capsys):
    record = tmp_path / "games.jsonl"
    arguments = ["match", f"{trained_run}@16", "random", "--games", "6", "--batch", "4"]
    assert main([*arguments, "--record", str(record)]) == 0  # the game comes from the run
    last = capsys.readouterr().out.strip().splitlines()[-1]
    spec = f"{trained_run}@16"  # a player is named by its spec
    assert last.startswith(f"{spec}: ") and "in 6 games; score" in last and "Elo" in last
    games = [json.loads(line) for line in record.read_text().splitlines()]
    assert len(games) == 6 and {g["a"] for g in games} == {g["b"] for g in games} == {
        "random",
        spec,
    }
    assert all(g["score"] in (0, 0.5, 1) for g in games)
    assert main(["elo", str(record), "--bootstrap", "50"]) == 0  # the match file rates as it is
    table = capsys.readouterr().out
    assert "random" in table and spec in table and "anchor: random = 0 Elo; 6 games" in table
    assert main(["match", "random", "mcts:x", "--game", "tic_tac_toe"]) == 2
    assert "write mcts:N" in capsys.readouterr().err


def test_arena_names_players_by_spec_and_scores_the_final_net(trained_run):
    from tradeoff.curves import read_rounds, snapshot_elos

    final = read_info(trained_run).step
    rounds = read_rounds(trained_run)
    assert rounds[-1].step == final  # the net training hands over is scored
    assert [r.selfplay_games for r in rounds] == sorted(r.selfplay_games for r in rounds)
    assert all(r.games_per_opponent and {"random", "mcts50"} <= set(r.scores) for r in rounds)
    records = [json.loads(line) for line in (trained_run / "arena" / "matches.jsonl").open()]
    names = {record["a"] for record in records} | {record["b"] for record in records}
    assert {"random", "mcts:50", f"step_{final:06d}@8"} <= names, names
    elos = snapshot_elos(trained_run, "mcts:50", bootstrap=20)
    assert set(elos) == {r.step for r in rounds}


def test_strength_curves_are_plotted_and_overlaid(trained_run, tmp_path):
    output = tmp_path / "strength.png"
    assert main(["curve", str(trained_run), "--output", str(output)]) == 0
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and output.stat().st_size > 20_000
    both = tmp_path / "both.png"
    assert main(["curve", str(trained_run), str(trained_run), "--output", str(both)]) == 0
    assert both.stat().st_size > 20_000
    assert main(["curve", str(trained_run), str(trained_run)]) == 2  # where to: --output


def test_resume_continues_steps_optimizer_and_replay(trained_run, tmp_path):
    run = tmp_path / "smoke"
    shutil.copytree(trained_run, run)
    before = read_info(run)
    games_before = sum(1 for _ in read_games(run / "replay"))
    assert main(["resume", str(run), "budget.learner_steps=220"]) == 0
    after = read_info(run)
    assert after.step >= 220 and after.games_played > before.games_played
    assert after.ledger.learner_flops > before.ledger.learner_flops
    assert sum(1 for _ in read_games(run / "replay")) > games_before
    # AdamW counts its own updates: it went on from the first session's count, not from zero.
    old = load_checkpoint(latest_checkpoint(trained_run)).optimizer_state["optimizer"]["state"]
    new = load_checkpoint(latest_checkpoint(run)).optimizer_state["optimizer"]["state"]
    assert float(old[0]["step"]) == before.step
    assert float(new[0]["step"]) == after.step
    assert not torch.equal(old[0]["exp_avg"], new[0]["exp_avg"])
    # TensorBoard steps go on from the checkpoint's step.
    steps = [event.step for event in scalars(run).Scalars("loss/total")]
    assert max(steps) >= 220


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_cluster_mode_joins_a_separate_head(tmp_path):
    """A Ray head started as its own process on 127.0.0.1; training joins it with --address;
    afterwards only that head's processes are stopped."""
    port = _free_port()
    temp_dir = Path("/tmp") / f"ponder-ray-{os.getpid()}-{port}"  # short: Ray's socket paths
    ray_binary = str(Path(sys.executable).parent / "ray")
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    subprocess.run(
        [ray_binary, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}",
         f"--temp-dir={temp_dir}", "--num-cpus=2", "--include-dashboard=false",
         "--object-store-memory=300000000", "--disable-usage-stats"],
        check=True, env=env, capture_output=True, timeout=120,
    )  # fmt: skip
    try:
        result = subprocess.run(
            [sys.executable, "-m", "ponder", "train", SMOKE, f"runs_root={tmp_path}",
             "--name", "cluster", "--address", f"127.0.0.1:{port}", "budget.learner_steps=10",
             "arena.every_steps=0"],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
        assert read_info(tmp_path / "cluster").step >= 10
        assert "Started a local Ray instance" not in result.stderr
    finally:
        for process in psutil.process_iter(["pid", "cmdline"]):
            if any(str(temp_dir) in part for part in (process.info["cmdline"] or [])):
                process.kill()
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_interrupt_writes_a_checkpoint_and_exits_cleanly(tmp_path):
    import signal
    import time

    command = [sys.executable, "-m", "ponder", "train", SMOKE, f"runs_root={tmp_path}",
               "--name", "stop", "budget.learner_steps=1000000", "budget.minutes=5"]  # fmt: skip
    # bytes, not text: text mode would turn carriage returns into newlines before we look
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    checkpoints = tmp_path / "stop" / "checkpoints"
    deadline = time.time() + 180
    # (step 0, the initial net, is written at once: wait for one that training wrote)
    while time.time() < deadline and not list(checkpoints.glob("step_*[1-9]*.json")):
        time.sleep(1)
    time.sleep(3)
    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=120)[0].decode()
    assert process.returncode == 130, output[-3000:]  # 128 + SIGINT, after the checkpoint
    assert "interrupted (SIGINT): writing a checkpoint" in output
    # Plain progress lines with the time left to the nearest limit (5 minutes here).
    assert "\r" not in output and "ETA 00:0" in output and "(budget.minutes)" in output
    info = read_info(tmp_path / "stop")
    assert info.step > 0 and info.counters["seconds"] < 200  # stopped early, not at the budget


def test_inference_server_mode_trains(tmp_path):
    """Workers without nets of their own, one InferenceServer actor batching their requests;
    with resignation calibrated from the check games (its threshold logged)."""
    overrides = [
        "inference.mode=server", "inference.device=cpu", "ray.num_workers=2",
        "ray.worker_cpus=0.5", "ray.learner_cpus=0.5", "ray.server_cpus=0.5",
        "budget.learner_steps=10", "arena.every_steps=0", "selfplay.resign_threshold=auto",
    ]  # fmt: skip
    assert main(["train", SMOKE, f"runs_root={tmp_path}", "--name", "server", *overrides]) == 0
    info = read_info(tmp_path / "server")
    assert info.step >= 10 and info.ledger.selfplay_flops > 0
    # Rows per forward, logged: each request carries the leaves of a worker's 16 games at once.
    tag = "selfplay/server_mean_batch"
    batches = [event.value for event in scalars(tmp_path / "server").Scalars(tag)]
    assert batches and batches[-1] > 1
    thresholds = scalars(tmp_path / "server").Scalars("selfplay/resign_threshold")
    assert thresholds and all(-1 <= event.value <= 0 for event in thresholds)


def test_unplaceable_actors_fail_with_the_settings_named(tmp_path, capsys):
    overrides = ["ray.num_workers=3", "budget.learner_steps=1"]
    assert main(["train", SMOKE, f"runs_root={tmp_path}", "--name", "big", *overrides]) == 2
    assert "ray.num_workers 3" in capsys.readouterr().err


def test_expander_batch_equals_per_leaf_evaluation():
    """All leaves of a step go through one forward; the result equals leaf-by-leaf calls, and
    illegal moves get zero prior."""
    from search.core import Streams
    from search.expanders import GameExpander

    game = make_game("connect_four")
    evaluator = Evaluator(build_network(NetworkConfig(1, 8), game.observation_shape, 7), "cpu")
    calls = []

    def counted(observations, masks):
        calls.append(len(observations))
        return evaluator.evaluate(observations, masks)

    expander = GameExpander(game, evaluator=counted)
    states = np.stack([game.state_from_moves(m) for m in ("", "4444", "444444", "1234567")])
    slots = np.array([3, 3, 0, 6])
    streams = Streams(range(4))
    children, batched = expander.expand(states, slots, np.arange(4), streams)
    assert calls == [4]
    for i in range(4):
        child, single = expander.expand(states[i : i + 1], slots[i : i + 1], np.array([i]), streams)
        np.testing.assert_array_equal(child[0], children[i])
        np.testing.assert_allclose(single.priors[0], batched.priors[i], atol=1e-6)
        np.testing.assert_allclose(single.values[0], batched.values[i], atol=1e-6)
    # After "444444" and a disc in column 1, column 4 holds six discs: it is full.
    assert batched.valid[2, 3] == False and batched.priors[2, 3] == 0.0  # noqa: E712
    np.testing.assert_allclose(batched.priors.sum(axis=1), 1.0, atol=1e-5)


def _broken_copy(trained_run: Path, tmp_path: Path, name: str) -> tuple[Path, Path]:
    run = tmp_path / name
    shutil.copytree(trained_run, run, ignore=shutil.ignore_patterns("tensorboard"))
    return run, latest_checkpoint(run)


def _truncate(run: Path, stem: Path) -> None:
    model = stem.with_name(stem.name + ".safetensors")
    model.write_bytes(model.read_bytes()[:100])


def _pickle_optimizer(run: Path, stem: Path) -> None:
    import hashlib
    import pickle

    optimizer = stem.with_name(stem.name + ".optimizer.pt")
    optimizer.write_bytes(pickle.dumps({"state": print}))  # a pickle payload, not tensors
    record_path = stem.with_name(stem.name + ".json")
    record = json.loads(record_path.read_text())
    data = optimizer.read_bytes()
    record["files"]["optimizer"].update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    record_path.write_text(json.dumps(record))


def _drop_a_field(run: Path, stem: Path) -> None:
    record_path = stem.with_name(stem.name + ".json")
    record = json.loads(record_path.read_text())
    del record["files"]["model"]["bytes"]
    record_path.write_text(json.dumps(record))


@pytest.mark.parametrize(
    ("damage", "overrides", "message"),
    [
        (_truncate, [], "is truncated"),
        (_pickle_optimizer, [], "cannot read optimizer state"),
        (_drop_a_field, [], "describes a file without its name, bytes and sha256"),
        (None, ["network.channels=64"], "do not fit the run's network"),
    ],
)
def test_a_broken_resume_fails_in_one_line_before_anything_starts(
    trained_run, tmp_path, capsys, damage, overrides, message
):
    run, stem = _broken_copy(trained_run, tmp_path, "broken")
    if damage is not None:
        damage(run, stem)
    meta = (run / "meta.json").read_text()
    assert main(["resume", str(run), "budget.learner_steps=1000", *overrides]) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1, error
    assert (run / "meta.json").read_text() == meta  # the failed resume is not recorded


def test_an_unwritable_run_folder_fails_the_resume_up_front(
    trained_run, tmp_path, capsys, monkeypatch
):
    import os

    run, _ = _broken_copy(trained_run, tmp_path, "readonly")
    checkpoints = str(run / "checkpoints")
    real_access = os.access
    # (tests run as root, who may write anywhere: the check is what is tested)
    monkeypatch.setattr(
        os, "access", lambda path, mode: str(path) != checkpoints and real_access(path, mode)
    )
    assert main(["resume", str(run), "budget.learner_steps=1000"]) == 2
    assert f"cannot write to '{checkpoints}'" in capsys.readouterr().err
