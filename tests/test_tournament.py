"""Tournaments (tradeoff/tournament.py, ``ponder arena``) and the test compute in match records."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import torch

from experiment import UserError
from experiment.ledger import forward_flops
from experiment.ratings import rate
from games import make_game
from ponder.cli import main
from search.play import MatchRecord, PlayerCompute, RandomBot, mcts_bot, play_games
from selfplay.arena import net_bot
from selfplay.inference import Evaluator
from selfplay.network import NetworkConfig, build_network
from tradeoff.tournament import (
    TournamentConfig,
    adaptive_summary,
    bootstrap_widths,
    results_of,
    run_tournament,
)

TIC_TAC_TOE = make_game("tic_tac_toe")
LADDER = ["random", "mcts:2", "mcts:8", "mcts:32"]


def lines_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def tournament(path: Path, agents=LADDER[:3], **options) -> list[MatchRecord]:
    config = TournamentConfig(**{"games": 6, "batch": 4, "workers": 0, **options})
    return run_tournament(TIC_TAC_TOE, agents, path, config, 8, show_progress=False)


def table(records: list[MatchRecord]) -> list[tuple]:
    return [(r.name, round(r.elo, 6), r.games) for r in rate(results_of(records), bootstrap=0)]


def test_records_carry_seed_game_and_each_colours_test_compute():
    mcts, random_bot = mcts_bot(TIC_TAC_TOE, 4), RandomBot(TIC_TAC_TOE)
    records = play_games(TIC_TAC_TOE, (mcts, random_bot), 4, seed=7, opening_moves=1)
    assert [(r.seed, r.game) for r in records] == [(7, 0), (7, 1), (7, 2), (7, 3)]
    for record in records:
        seat = record.players.index(mcts.name)
        searched, random_side = record.compute[seat], record.compute[1 - seat]
        assert random_side == PlayerCompute(moves=random_side.moves)  # no test compute
        assert searched.simulations == 4 * searched.moves
        # A search evaluates its root and at most one new leaf per simulation; rollouts are
        # not net FLOPs.
        assert searched.moves <= searched.evaluations <= 5 * searched.moves
        assert searched.flops == 0
        assert searched.moves + random_side.moves == len(record.moves) - 1
        line = record.to_json()
        assert line["seed"] == 7 and line["test_flops"] == {"a": 0, "b": 0}
        assert line["test_compute"]["ab"[seat]]["simulations"] == searched.simulations
        assert MatchRecord.from_json(json.loads(json.dumps(line))) == record
    old_line = {"a": "x", "b": "y", "score": 0.5, "opening": [], "moves": [4]}
    old = MatchRecord.from_json(old_line)
    assert (old.seed, old.game, old.compute) == (None, None, None)
    assert old.to_json() == old_line


def test_a_net_bots_test_flops_are_its_evaluations_times_its_forward_flops():
    network = build_network(
        NetworkConfig(blocks=1, channels=8), TIC_TAC_TOE.observation_shape,
        TIC_TAC_TOE.num_actions, torch.Generator().manual_seed(0),
    )  # fmt: skip
    evaluator = Evaluator(network, "cpu", num_threads=1)
    per_position = forward_flops(network, (1, *TIC_TAC_TOE.observation_shape))
    assert per_position > 0
    bot = net_bot(TIC_TAC_TOE, evaluator, 3, "net@3", flops_per_evaluation=per_position)
    records = play_games(TIC_TAC_TOE, (bot, RandomBot(TIC_TAC_TOE)), 6, seed=1)
    spent = [r.compute[r.players.index("net@3")] for r in records]
    # The evaluator counts every position it ran through the net, independently of the search.
    assert sum(c.evaluations for c in spent) == evaluator.evaluations
    assert sum(c.flops for c in spent) == evaluator.flops == evaluator.evaluations * per_position
    assert all(c.simulations == 3 * c.moves for c in spent)
    assert [r.to_json()["test_flops"]["ab"[r.players.index("net@3")]] for r in records] == [
        c.flops for c in spent
    ]


def test_every_pair_plays_both_colours_equally_often(tmp_path):
    records = tournament(tmp_path / "record.jsonl", games=4)
    first_movers = Counter(r.players for r in records)
    assert len(records) == 3 * 4
    for a, b in [("random", "mcts:2"), ("random", "mcts:8"), ("mcts:2", "mcts:8")]:
        assert first_movers[a, b] == first_movers[b, a] == 2
    adjacent = tournament(tmp_path / "adjacent.jsonl", games=4, pairs="adjacent")
    assert {frozenset(r.players) for r in adjacent} == {
        frozenset(("random", "mcts:2")),
        frozenset(("mcts:2", "mcts:8")),
    }


@pytest.mark.parametrize("pairs", ["all", "adaptive"])
def test_an_interrupted_tournament_reruns_to_the_same_record_without_duplicates(tmp_path, pairs):
    options = {"pairs": pairs, "games": 6, "target_interval": 250.0}
    whole = tmp_path / "whole.jsonl"
    records = tournament(whole, **options)
    cut = tmp_path / "cut.jsonl"
    lines = lines_of(whole)
    # Killed mid-run: the first 5 games were written, the sixth was cut half-way through.
    cut.write_text("\n".join(lines[:5]) + "\n" + lines[5][:20], encoding="utf-8")
    rerun = tournament(cut, **options)
    assert sorted(lines_of(cut)) == sorted(lines)  # the same games, each once
    assert len(set(lines_of(cut))) == len(lines_of(cut))
    assert table(rerun) == table(records)
    assert tournament(cut, **options) and sorted(lines_of(cut)) == sorted(lines)  # nothing new


def test_a_rerun_of_an_adaptive_tournament_starts_from_its_logged_plans(tmp_path, monkeypatch):
    import tradeoff.tournament as tournament_module

    options = {"pairs": "adaptive", "games": 6, "target_interval": 250.0}
    whole = tmp_path / "whole.jsonl"
    tournament(whole, **options)
    plans = tmp_path / "whole.jsonl.plans.jsonl"
    logged = lines_of(plans)
    assert len(logged) >= 2 and json.loads(logged[-1])["finished"]
    # Killed after its first plan, with the record of that point: the rerun goes on from the
    # logged plan and ends with the same games as the run that was never stopped.
    first_round = sum(count for _, _, count in json.loads(logged[0])["counts"])
    cut = tmp_path / "cut.jsonl"
    cut.write_text("\n".join(lines_of(whole)[:3]) + "\n", encoding="utf-8")
    (tmp_path / "cut.jsonl.plans.jsonl").write_text(logged[0] + "\n", encoding="utf-8")
    tournament(cut, **options)
    assert sorted(lines_of(cut)) == sorted(lines_of(whole)) and first_round < len(lines_of(cut))

    # A finished tournament rerun plans nothing: it only checks that its games are there.
    def no_planning(*args, **kwargs):
        raise AssertionError("planned again")

    monkeypatch.setattr(tournament_module, "plan_round", no_planning)
    monkeypatch.setattr(tournament_module, "bootstrap_widths", no_planning)
    tournament(whole, **options)
    assert lines_of(plans) == logged
    # Other settings are another tournament: its plans are not this one's.
    with pytest.raises(AssertionError, match="planned again"):
        tournament(whole, **{**options, "target_interval": 200.0})


def test_adaptive_reaches_the_target_with_fewer_games_than_all_pairs(tmp_path):
    target = 60.0
    options = {"games": 20, "pairs": "adaptive", "target_interval": target, "batch": 64}
    records = tournament(tmp_path / "adaptive.jsonl", LADDER, **options)
    adaptive_config = TournamentConfig(**options)
    widths = bootstrap_widths(records, adaptive_config)
    assert all(width <= target for width in widths.values()), widths
    summary = adaptive_summary(LADDER, records)
    assert summary.unbounded == () and summary.games == len(records)
    assert summary.all_pairs_games > len(records)
    # Measured: all six pairs with the same number of games in all miss the target.
    per_pair = len(records) // 6 // 2 * 2
    all_pairs = tournament(tmp_path / "all.jsonl", LADDER, games=per_pair, batch=64)
    assert max(bootstrap_widths(all_pairs, adaptive_config).values()) > target


@pytest.mark.ray
def test_ray_workers_play_the_same_games_as_this_process(tmp_path):
    options = {"games": 4, "batch": 2, "openings": 1}
    local = tournament(tmp_path / "local.jsonl", LADDER[:2], **options)
    config = TournamentConfig(workers=2, **options)
    on_ray = run_tournament(
        TIC_TAC_TOE, LADDER[:2], tmp_path / "ray.jsonl", config, 8, show_progress=False
    )
    assert sorted(lines_of(tmp_path / "ray.jsonl")) == sorted(lines_of(tmp_path / "local.jsonl"))
    assert len(on_ray) == len(local) == 4


def test_a_rerun_with_every_game_recorded_starts_no_ray(tmp_path, monkeypatch):
    """Ray starts with the first chunk to play: checking a finished record costs no cluster."""
    import experiment.cluster

    options = {"games": 4, "batch": 2, "openings": 1}
    played = tournament(tmp_path / "record.jsonl", LADDER[:2], **options)

    def no_ray(*arguments, **keywords):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("Ray was started for a finished tournament")

    monkeypatch.setattr(experiment.cluster, "start_ray", no_ray)
    config = TournamentConfig(workers=2, **options)
    again = run_tournament(
        TIC_TAC_TOE, LADDER[:2], tmp_path / "record.jsonl", config, 8, show_progress=False
    )
    assert [r.to_json() for r in again] == [r.to_json() for r in played]


def arena(tmp_path: Path, *arguments: str) -> list[str]:
    record = tmp_path / "record.jsonl"
    return ["arena", "--game", "tic_tac_toe", "--record", str(record), "--workers", "0",
            *arguments]  # fmt: skip


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["random", "mcts:2", "--games", "3"], "--games must be even"),
        (["random", "mcts:two"], "write mcts:N"),
        (["random", "nowhere/run@8"], "nowhere/run"),
        (["random", "random"], "two different agents"),
        (["random", "mcts:2", "--seed", "5"], "--seed 0, not 5"),
        (["random", "mcts:2", "--openings", "1"], "not --openings 1"),
        (["random", "mcts:2", "--game", "connect_four"], "not Connect Four"),
    ],
)
def test_bad_input_is_one_line_and_exit_2_before_any_game(tmp_path, capsys, arguments, message):
    assert main(arena(tmp_path, "random", "mcts:2", "--games", "2")) == 0
    before = lines_of(tmp_path / "record.jsonl")
    capsys.readouterr()
    assert main(arena(tmp_path, *arguments)) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1, error
    assert lines_of(tmp_path / "record.jsonl") == before


def test_a_record_with_two_results_for_one_game_is_refused(tmp_path):
    path = tmp_path / "record.jsonl"
    tournament(path, LADDER[:2], games=2)
    first = json.loads(lines_of(path)[0])
    first["score"] = 1 - first["score"] if first["score"] != 0.5 else 1
    with open(path, "a", encoding="utf-8") as file:
        file.write(json.dumps(first) + "\n")
    with pytest.raises(UserError, match="another result"):
        tournament(path, LADDER[:2], games=2)


def test_arena_prints_the_table_and_the_record(tmp_path, capsys):
    assert main(arena(tmp_path, "random", "mcts:8", "--games", "4", "--bootstrap", "20")) == 0
    out = capsys.readouterr().out
    assert "mcts:8" in out and "random" in out and str(tmp_path / "record.jsonl") in out
    assert "anchor: random = 0 Elo; 4 games in" in out
    assert len(lines_of(tmp_path / "record.jsonl")) == 4


def test_match_records_the_same_lines_as_the_arena(tmp_path, capsys):
    record = tmp_path / "match.jsonl"
    arguments = ["random", "mcts:2", "--game", "tic_tac_toe", "--games", "2", "--seed", "3"]
    assert main(["match", *arguments, "--record", str(record)]) == 0
    lines = [json.loads(line) for line in lines_of(record)]
    assert [(line["seed"], line["game"]) for line in lines] == [(3, 0), (3, 1)]
    for line in lines:
        mcts_side = "ab"[[line["a"], line["b"]].index("mcts:2")]
        assert line["test_flops"] == {"a": 0, "b": 0}
        compute = line["test_compute"][mcts_side]
        assert compute["simulations"] == 2 * compute["moves"] > 0


def test_a_game_between_players_far_apart_carries_no_information():
    from tradeoff.tournament import game_information

    assert game_information(0.0, 0.0) == pytest.approx(0.25)  # p = 1/2: Fisher's p (1 - p)
    assert game_information(0.0, 0.5) > game_information(0.0, 0.0)  # draws make it less noisy
    assert game_information(1e6, 0.0) == 0.0 and game_information(-1e6, 0.3) == 0.0


def test_names_carry_the_budget_and_every_search_change():
    from ponder.commands._bots import canonical_specs

    specs = ["random", "solver", "mcts:8,uct.solve=false", "runs/a", "runs/b@50:puct,puct.c_init=2"]
    assert canonical_specs(specs, 200, ["uct.exploration=1.0"]) == [
        "random", "solver",
        "mcts:8,uct.exploration=1.0,uct.solve=false", "runs/a@200,uct.exploration=1.0",
        "runs/b@50:puct,uct.exploration=1.0,puct.c_init=2",
    ]  # fmt: skip
    assert canonical_specs(specs, 200) == [*specs[:3], "runs/a@200", specs[4]]
