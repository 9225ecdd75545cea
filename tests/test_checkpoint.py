"""Checkpoints: exact round trips, finding the latest, atomic commits, clear corruption errors."""

from __future__ import annotations

import fractions
import hashlib
import json

import pytest
import torch
from torch import nn

from experiment.checkpoint import (
    CheckpointError,
    CheckpointInfo,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    prune_checkpoints,
    read_info,
    save_checkpoint,
)
from experiment.ledger import ComputeLedger


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def trained_model_and_optimizer() -> tuple[nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.Flatten(),
                          nn.Linear(4 * 9, 3))  # fmt: skip
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(2):  # fill the momentum buffers and the batch-norm statistics
        optimizer.zero_grad()
        model(torch.randn(5, 2, 3, 3)).square().mean().backward()
        optimizer.step()
    return model, optimizer


def save(directory, step, **info) -> None:
    model, optimizer = trained_model_and_optimizer()
    save_checkpoint(directory, CheckpointInfo(step=step, **info), model.state_dict(),
                    {"optimizer": optimizer.state_dict(), "step": step})  # fmt: skip


def test_round_trip_restores_weights_optimizer_state_and_metadata(tmp_path):
    model, optimizer = trained_model_and_optimizer()
    ledger = ComputeLedger(selfplay_flops=10**15, learner_flops=3 * 10**12)
    info = CheckpointInfo(step=123, version=7, games_played=40, positions_seen=900,
                          ledger=ledger, counters={"arena_rounds": 2})  # fmt: skip
    stem = save_checkpoint(tmp_path / "checkpoints", info, model.state_dict(),
                           {"optimizer": optimizer.state_dict(), "step": 123})  # fmt: skip
    assert stem.name == "step_000123"
    loaded = load_checkpoint(tmp_path)
    assert loaded.info == info
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.model_state[name], tensor), name
    restored = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    restored.load_state_dict(loaded.optimizer_state["optimizer"])
    for parameter in model.parameters():
        assert torch.equal(
            restored.state[parameter]["momentum_buffer"],
            optimizer.state[parameter]["momentum_buffer"],
        )
    assert loaded.optimizer_state["step"] == 123


def test_latest_checkpoint_accepts_run_directory_folder_file_or_stem(tmp_path):
    folder = tmp_path / "checkpoints"
    for step in (5, 40, 300):
        save(folder, step)
    latest = folder / "step_000300"
    assert latest_checkpoint(tmp_path) == latest
    assert latest_checkpoint(folder) == latest
    assert latest_checkpoint(folder / "step_000040.safetensors") == folder / "step_000040"
    assert latest_checkpoint(folder / "step_000040.json") == folder / "step_000040"
    assert latest_checkpoint(folder / "step_000005") == folder / "step_000005"
    assert read_info(tmp_path).step == 300
    assert [stem.name for stem in list_checkpoints(folder)] == [
        "step_000005", "step_000040", "step_000300"
    ]  # fmt: skip


def test_a_save_cut_short_before_its_record_leaves_the_previous_latest(tmp_path):
    folder = tmp_path / "checkpoints"
    save(folder, 10)
    save(folder, 11)
    # A crash while saving step 12: weights half written under a temporary name and even a
    # complete weights file, but no JSON record yet.
    (folder / ".step_000012.safetensors.abc.tmp").write_bytes(b"\x00" * 10)
    (folder / "step_000012.safetensors").write_bytes(b"partial")
    assert latest_checkpoint(tmp_path).name == "step_000011"
    assert load_checkpoint(tmp_path).step == 11
    with pytest.raises(CheckpointError, match="missing its record"):
        load_checkpoint(folder / "step_000012.safetensors")


@pytest.mark.parametrize("suffix", [".safetensors", ".optimizer.pt"])
def test_truncated_file_gives_a_clear_error_naming_it(tmp_path, suffix):
    save(tmp_path, 3)
    path = tmp_path / f"step_000003{suffix}"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"step_000003.*truncated.*bytes"):
        load_checkpoint(tmp_path)


def test_altered_or_missing_files_and_broken_records_are_named(tmp_path):
    save(tmp_path, 3)
    weights = tmp_path / "step_000003.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # same size, one byte flipped
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="step_000003.safetensors.*corrupt"):
        load_checkpoint(tmp_path)
    weights.unlink()
    with pytest.raises(CheckpointError, match="step_000003.safetensors.*missing"):
        load_checkpoint(tmp_path)
    (tmp_path / "step_000003.json").write_text('{"step": 3, "files": ')
    with pytest.raises(CheckpointError, match="step_000003.json.*not valid JSON"):
        load_checkpoint(tmp_path)


def test_optimizer_file_holding_a_pickled_object_is_refused(tmp_path):
    save(tmp_path, 1)
    record_path = tmp_path / "step_000001.json"
    # Replace the optimizer state with a pickled arbitrary object, and make the record agree,
    # so only torch.load(weights_only=True) stands between it and execution.
    optimizer_path = tmp_path / "step_000001.optimizer.pt"
    torch.save({"optimizer": fractions.Fraction(1, 3)}, optimizer_path)
    record = json.loads(record_path.read_text())
    data = optimizer_path.read_bytes()
    record["files"]["optimizer"].update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    record_path.write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match="cannot read optimizer state.*step_000001"):
        load_checkpoint(tmp_path)
    assert load_checkpoint(tmp_path, load_optimizer=False).optimizer_state is None


def test_no_checkpoint_and_not_a_checkpoint_are_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint in"):
        latest_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match="neither a directory nor a checkpoint"):
        latest_checkpoint(tmp_path / "model.bin")


def test_saving_a_step_again_replaces_it(tmp_path):
    save(tmp_path, 4, games_played=1)
    save(tmp_path, 4, games_played=2)
    assert load_checkpoint(tmp_path).info.games_played == 2


def test_prune_keeps_the_newest_regular_checkpoints_and_every_marked_snapshot(tmp_path):
    for step in range(7):
        save(tmp_path, step, keep=step in (0, 2, 5))  # step 0 and two FLOPs-doubling snapshots
    removed = prune_checkpoints(tmp_path, keep_last=2)
    # The regular ones are 1, 3, 4, 6: the newest two of them stay, wherever the marked lie.
    assert [stem.name for stem in removed] == ["step_000001", "step_000003"]
    assert [stem.name for stem in list_checkpoints(tmp_path)] == [
        "step_000000", "step_000002", "step_000004", "step_000005", "step_000006"
    ]  # fmt: skip
    assert not list(tmp_path.glob("step_000001*")) and not list(tmp_path.glob("step_000003*"))
    assert prune_checkpoints(tmp_path, keep_last=2) == []  # nothing more to do
    with pytest.raises(ValueError, match="keep_last must be >= 1"):
        prune_checkpoints(tmp_path, keep_last=0)
