"""Reliability of a training run (issue 16): a dead worker is restarted and loses no finished
game; a driver killed with SIGKILL leaves no process behind, and its resume counts exactly the
games on disk; a stopped run exits with the signal's status. On the tic-tac-toe smoke recipe."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from experiment.checkpoint import list_checkpoints, read_info
from selfplay.replay import list_shards, read_games

pytestmark = pytest.mark.ray
SMOKE = str(Path(__file__).parent.parent / "configs" / "tictactoe-smoke.yaml")


def _train(tmp_path: Path, name: str, *overrides: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "ponder", "train", SMOKE, f"runs_root={tmp_path}",
               "--name", name, *overrides]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for_training(run: Path, process: subprocess.Popen, timeout: float = 180) -> None:
    """Until the run wrote a checkpoint of a trained net (step 0 is written at once)."""
    deadline = time.time() + timeout
    while not list((run / "checkpoints").glob("step_*[1-9]*.json")):
        assert process.poll() is None and time.time() < deadline, "training did not start"
        time.sleep(0.5)


def _workers(driver: psutil.Process) -> list[psutil.Process]:
    return [p for p in driver.children(recursive=True) if p.name().startswith("ray::WorkerProc")]


def _running(process: psutil.Process) -> bool:
    """Alive and not a zombie (a killed process whose parent is gone waits for init, which in
    a container may never reap it: it holds no memory)."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _shard_totals(run: Path) -> tuple[int, int]:
    """(games, self-play FLOPs) the replay shards hold."""
    games = sum(1 for _ in read_games(run / "replay"))
    with np.load(list_shards(run / "replay")[-1]) as last:
        return games, int(last["selfplay_flops"])


def test_a_killed_worker_is_restarted_and_every_finished_game_counted(tmp_path):
    run = tmp_path / "worker"
    process = _train(tmp_path, "worker", "budget.learner_steps=120", "checkpoint_every_steps=40")
    _wait_for_training(run, process)
    (worker,) = _workers(psutil.Process(process.pid))
    worker.kill()
    output = process.communicate(timeout=300)[0]
    assert process.returncode == 0, output[-3000:]
    assert "self-play worker 0 died" in output and "Ray restarts it" in output
    info = read_info(run)
    assert info.step >= 120
    assert (info.games_played, info.ledger.selfplay_flops) == _shard_totals(run)


def test_sigkill_of_the_driver_leaves_no_process_and_resume_counts_the_disk(tmp_path):
    run = tmp_path / "killed"
    process = _train(tmp_path, "killed", "budget.minutes=5", "checkpoint_every_steps=1000")
    _wait_for_training(run, process)
    driver = psutil.Process(process.pid)
    time.sleep(4)  # games finish after the checkpoint: the counters fall behind the shards
    descendants = driver.children(recursive=True)
    assert _workers(driver)
    driver.kill()
    process.communicate(timeout=30)
    _, alive = psutil.wait_procs(descendants, timeout=30)
    alive = [p for p in alive if _running(p)]
    assert not alive, [(p.pid, p.name()) for p in alive]  # nothing outlives the run by 30 s
    before = read_info(run)
    games_on_disk, _ = _shard_totals(run)
    assert games_on_disk > before.games_played  # what the issue saw: the checkpoint undercounts

    resumed = subprocess.run(
        [sys.executable, "-m", "ponder", "resume", str(run),
         f"budget.learner_steps={before.step + 20}", "budget.minutes=0"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert f"the replay holds {games_on_disk} games" in resumed.stdout
    after = read_info(run)
    assert (after.games_played, after.ledger.selfplay_flops) == _shard_totals(run)
    assert after.step >= before.step + 20 and len(list_checkpoints(run / "checkpoints")) >= 2


def test_sigterm_checkpoints_and_exits_with_its_status(tmp_path):
    run = tmp_path / "stop"
    process = _train(tmp_path, "stop", "budget.minutes=5")
    _wait_for_training(run, process)
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=120)[0]
    assert process.returncode == 128 + signal.SIGTERM, output[-3000:]
    assert "interrupted (SIGTERM): writing a checkpoint" in output
    assert read_info(run).step > 0


@pytest.mark.parametrize(
    ("actor", "message"),
    [
        ("ray::ReplayProcess", "the replay buffer's process died"),
        ("ray::LearnerProcess", "the learner's process died"),
    ],
)
def test_a_dead_learner_or_replay_ends_the_run_in_one_line(tmp_path, actor, message):
    run = tmp_path / "dies"
    process = _train(tmp_path, "dies", "budget.minutes=5", "checkpoint_every_steps=20")
    _wait_for_training(run, process)
    before = read_info(run).step
    driver = psutil.Process(process.pid)
    (victim,) = [p for p in driver.children(recursive=True) if p.name().startswith(actor)]
    victim.kill()
    output = process.communicate(timeout=180)[0]
    assert process.returncode == 1, output[-3000:]
    error = [line for line in output.splitlines() if line.startswith("ponder: error:")]
    assert len(error) == 1 and message in error[0], output[-3000:]
    if actor == "ray::ReplayProcess":  # the learner lives: the run ends with a checkpoint
        assert "final checkpoint" in error[0] and read_info(run).step >= before
    else:  # its optimizer state died with it: the last checkpoint is named for the resume
        assert "resume from the last one" in error[0]
