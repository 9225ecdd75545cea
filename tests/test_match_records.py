"""Match records as every reader sees them: one reader (experiment.jsonl) for the tournament's
resume, the training arena's resume and the ratings, the same rule for a line cut by a kill, and
a net agent's name that stands for one checkpoint only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from experiment import UserError
from experiment.checkpoint import CheckpointInfo, save_checkpoint
from experiment.config import load_config
from experiment.ledger import ComputeLedger
from experiment.ratings import read_results
from experiment.run import RunDirectory
from games import make_game
from selfplay.arena import Arena, ArenaConfig
from selfplay.config import TrainConfig
from selfplay.network import build_network
from tradeoff.tournament import TournamentConfig, read_record, run_tournament

TIC_TAC_TOE = make_game("tic_tac_toe")
TINY_NET = ["game.name=tic_tac_toe", "network.blocks=1", "network.channels=4",
            "network.value_hidden=8"]  # fmt: skip


def fake_run(path: Path, steps: list[int]) -> Path:
    """A run directory of tiny tic-tac-toe nets (random weights, seeded by step) at ``steps``,
    each a kept snapshot with 10^9 x step train FLOPs; a step already there is left alone."""
    if not (path / "config.yaml").exists():
        config = load_config(TrainConfig, None, [*TINY_NET, f"name={path.name}"])
        RunDirectory.create(path.parent, path.name, config)
    config = RunDirectory.open(path).load_config(TrainConfig)
    for step in steps:
        generator = torch.Generator().manual_seed(step)
        network = build_network(
            config.network, TIC_TAC_TOE.observation_shape, TIC_TAC_TOE.num_actions, generator
        )
        ledger = ComputeLedger(selfplay_flops=step * 10**9)
        info = CheckpointInfo(step=step, keep=True, ledger=ledger)
        save_checkpoint(path / "checkpoints", info, network.state_dict())
    return path


def tournament(record: Path, agents: list[str], games: int = 2) -> list:
    config = TournamentConfig(games=games, batch=4, workers=0)
    return run_tournament(TIC_TAC_TOE, agents, record, config, 2, show_progress=False)


def arena_records(folder: Path) -> int:
    return len(Arena(TIC_TAC_TOE, ArenaConfig(), lambda weights: None, folder).records)


def test_every_reader_leaves_out_a_line_cut_by_a_kill_and_names_a_malformed_line(tmp_path):
    whole = tmp_path / "whole.jsonl"
    tournament(whole, ["random", "mcts:2"], games=4)
    lines = whole.read_text(encoding="utf-8").splitlines(keepends=True)
    cut = "".join(lines[:3]) + lines[3][:25]  # killed while writing the fourth game
    malformed = lines[0] + "{nope\n" + "".join(lines[1:])
    readers = {
        "ratings": lambda path: int(read_results([path]).games.sum()),
        "tournament": lambda path: len(read_record(path, TournamentConfig(games=4), {})),
        "arena": lambda path: arena_records(path.parent),
    }
    for name, text, games in [("cut", cut, 3), ("malformed", malformed, None)]:
        for reader, read in readers.items():
            path = tmp_path / name / reader / "matches.jsonl"
            path.parent.mkdir(parents=True)
            path.write_text(text, encoding="utf-8")
            if games is None:
                with pytest.raises(UserError, match=f"{path}:2: not a JSON object"):
                    read(path)
            else:
                assert read(path) == games, reader
    # Those that append next (the tournament, the arena) cut the unfinished line from the file.
    for reader in ("tournament", "arena"):
        assert (tmp_path / "cut" / reader / "matches.jsonl").read_text() == "".join(lines[:3])


def test_a_name_for_two_checkpoints_is_refused_on_resume_and_in_ratings(tmp_path, capsys):
    from ponder.cli import main

    run = fake_run(tmp_path / "runs" / "ttt", [0])
    net = f"{run}@2"  # RUN@N: the run's latest checkpoint, which training moves on
    record = tmp_path / "record.jsonl"
    tournament(record, ["random", net])
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    for line in lines:  # the net's side names the checkpoint it resolved to; random has none
        assert line["checkpoint"] == {"ab"[[line["a"], line["b"]].index(net)]: "step_000000"}
    before = record.read_text()

    fake_run(run, [10])  # the run trained on: RUN@2 is now another net
    with pytest.raises(UserError) as refused:
        tournament(record, ["random", net], games=4)
    message = str(refused.value)
    assert f"agent {net!r} names two checkpoints: step_000000 ({record}:1)" in message
    assert "step_000010 (as built now)" in message and "\n" not in message
    assert record.read_text() == before  # refused before any game was played

    # A record that already mixes the two nets under one name cannot be rated either.
    mixed = dict(lines[0], game=5, checkpoint={k: "step_000010" for k in lines[0]["checkpoint"]})
    record.write_text(before + json.dumps(mixed) + "\n")
    assert main(["elo", str(record), "--bootstrap", "0"]) == 2
    error = capsys.readouterr().err
    assert f"step_000000 ({record}:1) and step_000010 ({record}:3)" in error

    # Records written before the field (no "checkpoint") stay readable and resumable.
    old = [{k: v for k, v in line.items() if k != "checkpoint"} for line in lines]
    record.write_text("".join(json.dumps(line) + "\n" for line in old))
    assert read_results([record]).games.sum() == 2
    resumed = tournament(record, ["random", net], games=4)
    assert len(resumed) == 4 and len(record.read_text().splitlines()) == 4


SWEEP = str(Path(__file__).parent.parent / "configs" / "tradeoff-tictactoe.yaml")
SWEEP_SETTINGS = ["train.seeds=[0]", "budgets=[1,2]", "snapshots=3", "anchors=[random,mcts:2]",
                  "tournament.pairs=all", "tournament.games=4", "tournament.workers=0",
                  "bootstrap=20"]  # fmt: skip


def test_a_copied_sweep_folder_resumes_and_refits_under_the_same_names(
    tmp_path, monkeypatch, capsys
):
    """A sweep run from one working directory with a relative output folder, then copied
    elsewhere and resumed from another working directory: the same agents, the same games and
    the same results.csv. (Its run is trained by hand: tiny random nets, no self-play.)"""
    import shutil

    from ponder.cli import main
    from tradeoff.sweep import OUTPUTS, TRAINED_MARK

    first = tmp_path / "first"
    run = fake_run(first / "sweep" / "runs" / "c16-seed0", [0, 10, 40])
    (run / TRAINED_MARK).write_text("{}\n")
    monkeypatch.chdir(first)
    assert main(["tradeoff", SWEEP, "output=sweep", *SWEEP_SETTINGS]) == 0
    table = (first / "sweep" / "results.csv").read_text()
    agents = [row.split(",")[0] for row in table.splitlines()[1:]]
    nets = [a for a in agents if a not in ("random", "mcts:2")]
    assert len(nets) == 6 and all(a.startswith("runs/c16-seed0/checkpoints/step_") for a in nets)
    games = sorted((first / "sweep" / "games.jsonl").read_text().splitlines())

    copy = tmp_path / "elsewhere" / "copied"
    shutil.copytree(first / "sweep", copy)
    shutil.rmtree(first)  # nothing may still point at the old place
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["tradeoff", SWEEP, f"output={copy}", *SWEEP_SETTINGS]) == 0
    assert "up to date" in capsys.readouterr().out  # the same agents and games: nothing to do

    # Resumed from half its games, its outputs gone: the same games and table again.
    for name in OUTPUTS:
        (copy / name).unlink()
    lines = (copy / "games.jsonl").read_text().splitlines(keepends=True)
    (copy / "games.jsonl").write_text("".join(lines[: len(lines) // 2]))
    assert main(["tradeoff", SWEEP, f"output={copy}", *SWEEP_SETTINGS]) == 0
    assert sorted((copy / "games.jsonl").read_text().splitlines()) == games
    assert (copy / "results.csv").read_text() == table


def test_a_record_of_a_sweep_named_from_the_working_directory_is_adopted(tmp_path, monkeypatch):
    """Sweeps before relative names named agents OUTPUT/runs/...: their games still count."""
    from tradeoff.sweep import adopt_old_names

    monkeypatch.chdir(tmp_path)
    record = Path("runs/sweep/games.jsonl")
    record.parent.mkdir(parents=True)
    net = "runs/c16-seed0/checkpoints/step_000000@1"
    lines = [{"a": f"runs/sweep/{net}", "b": "random", "score": 1}, {"a": "random", "b": net,
             "score": 0}]  # fmt: skip
    record.write_text("".join(json.dumps(line) + "\n" for line in lines))
    adopt_old_names(record, Path("runs/sweep"), ["random", net])
    read = [json.loads(line) for line in record.read_text().splitlines()]
    assert [(line["a"], line["b"]) for line in read] == [(net, "random"), ("random", net)]
