"""Run directories: what a run records about itself, and the mistakes they refuse."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field

import pytest

from experiment.config import load_config
from experiment.run import (
    SOURCE_ROOT,
    RunDirectory,
    RunDirectoryError,
    code_version,
)


@dataclass(frozen=True)
class TinySection:
    lr: float = 0.01
    channels: tuple[int, ...] = (8, 8)


@dataclass(frozen=True)
class TinyConfig:
    seed: int = 0
    learner: TinySection = field(default_factory=TinySection)


CONFIG = TinyConfig(seed=3, learner=TinySection(lr=1e-4, channels=(4,)))
COMMAND_LINE = ["ponder", "train", "configs/x.yaml", "learner.lr=1e-4"]


def in_git_checkout() -> bool:
    result = subprocess.run(
        ["git", "-C", str(SOURCE_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    return result.returncode == 0


def test_create_records_config_code_version_and_environment(tmp_path):
    run = RunDirectory.create(tmp_path / "runs", "c4-small", CONFIG, command_line=COMMAND_LINE)
    assert run.path == tmp_path / "runs" / "c4-small"
    assert load_config(TinyConfig, run.path / "config.yaml") == CONFIG
    assert run.load_config(TinyConfig) == CONFIG
    assert run.load_config(TinyConfig, ["seed=9"]).seed == 9
    for folder in (run.tensorboard, run.checkpoints, run.replay, run.arena):
        assert folder.parent == run.path

    meta = json.loads((run.path / "meta.json").read_text())
    assert meta == run.read_meta()
    if in_git_checkout():
        assert re.fullmatch(r"[0-9a-f]{40}", meta["git_commit"])
        assert isinstance(meta["git_dirty"], bool)
    else:
        assert meta["git_commit"] == "unknown"
    assert set(meta["packages"]) == {"torch", "numpy", "ray"}
    assert meta["command_line"] == COMMAND_LINE
    assert meta["config_schema"].endswith("TinyConfig")
    assert meta["hostname"] and meta["python"].count(".") == 2
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", meta["started_at"])


def test_a_new_run_has_no_empty_folders(tmp_path):
    # Each workflow makes the folders it writes (a reasoning run has no replay/ or arena/), so a
    # folder in a run directory always means that something was written there.
    run = RunDirectory.create(tmp_path, "run", CONFIG)
    assert sorted(p.name for p in run.path.iterdir()) == ["config.yaml", "meta.json"]


def test_code_version_is_unknown_outside_a_git_checkout(tmp_path):
    version = code_version(tmp_path)
    assert (version.commit, version.dirty) == ("unknown", None)
    assert version.describe() == "commit unknown"


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_code_version_ignores_a_checkout_the_code_is_merely_installed_in(tmp_path):
    # A package installed into an ignored folder (a .venv inside some repository) must not
    # report that repository's commit as its own.
    def git(*arguments: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *arguments], check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / ".gitignore").write_text(".venv/\n")
    git("add", ".gitignore")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init")
    installed = tmp_path / ".venv" / "site-packages"
    installed.mkdir(parents=True)
    assert code_version(installed).commit == "unknown"
    own = code_version(tmp_path)
    assert re.fullmatch(r"[0-9a-f]{40}", own.commit) and own.dirty is False
    (tmp_path / "new.py").write_text("x = 1\n")
    assert code_version(tmp_path).dirty is True


def test_existing_run_is_not_clobbered_unless_asked(tmp_path):
    first = RunDirectory.create(tmp_path, "run", CONFIG)
    first.checkpoints.mkdir()
    (first.checkpoints / "step_100.safetensors").write_text("weights")
    with pytest.raises(RunDirectoryError, match="already exists.*ponder resume.*--overwrite"):
        RunDirectory.create(tmp_path, "run", CONFIG)
    assert (first.checkpoints / "step_100.safetensors").exists()

    second = RunDirectory.create(tmp_path, "run", TinyConfig(), overwrite=True)
    assert second.path == first.path
    assert not (second.checkpoints / "step_100.safetensors").exists()
    assert second.load_config(TinyConfig) == TinyConfig()


def test_overwrite_never_deletes_a_folder_that_is_not_a_run(tmp_path):
    precious = tmp_path / "notes"
    precious.mkdir()
    (precious / "thesis.tex").write_text("...")
    with pytest.raises(RunDirectoryError, match="not a run directory"):
        RunDirectory.create(tmp_path, "notes", CONFIG, overwrite=True)
    assert (precious / "thesis.tex").exists()


def test_default_names_are_timestamps_and_never_collide(tmp_path):
    first = RunDirectory.create(tmp_path, None, CONFIG)
    second = RunDirectory.create(tmp_path, None, CONFIG)
    assert re.fullmatch(r"\d{8}-\d{6}(-\d+)?", first.name)
    assert first.path != second.path and second.path.is_dir()


@pytest.mark.parametrize("name", ["", "..", "a/b", "../escape"])
def test_invalid_names_are_refused(tmp_path, name):
    with pytest.raises(RunDirectoryError, match="invalid run name"):
        RunDirectory.create(tmp_path, name, CONFIG)


def test_open_finds_a_run_and_explains_what_is_not_one(tmp_path):
    created = RunDirectory.create(tmp_path, "c4-small", CONFIG)
    assert RunDirectory.open(created.path) == created

    with pytest.raises(RunDirectoryError, match=r"no run directory at .*; did you mean .*c4-small"):
        RunDirectory.open(tmp_path / "c4-smal")
    (tmp_path / "plain").mkdir()
    with pytest.raises(RunDirectoryError, match="not a run directory: it has no config.yaml or"):
        RunDirectory.open(tmp_path / "plain")


def test_record_resume_appends_the_new_session(tmp_path):
    run = RunDirectory.create(tmp_path, "run", CONFIG, command_line=["ponder", "train"])
    run.record_resume(["ponder", "resume", str(run.path)])
    run.record_resume(["ponder", "resume", str(run.path), "learner.lr=1e-5"])
    meta = run.read_meta()
    assert meta["command_line"] == ["ponder", "train"]
    assert [r["command_line"][-1] for r in meta["resumes"]] == [str(run.path), "learner.lr=1e-5"]
    assert {"git_commit", "git_dirty", "hostname", "started_at"} <= set(meta["resumes"][0])
