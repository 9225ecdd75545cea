"""Players by spec with per-player rule changes, and ``ponder tactics`` on tic-tac-toe."""

from __future__ import annotations

import json

from games import make_game
from ponder.cli import main
from ponder.commands._bots import make_player
from search.rules import Uct
from tradeoff.tactics import proven_positions


def test_a_spec_names_its_player_and_changes_its_rule():
    game = make_game("tic_tac_toe")
    plain = make_player(game, "mcts:50", 200)
    changed = make_player(game, "mcts:50,uct.solve=false,uct.exploration=1.0", 200)
    assert plain.name == "mcts:50" and plain.config.uct == Uct()
    assert changed.name == "mcts:50,uct.solve=false,uct.exploration=1.0"
    assert changed.config.uct == Uct(exploration=1.0, solve=False)
    everyone = make_player(game, "mcts:50", 200, ["uct.solve=false"])
    assert everyone.config.uct == Uct(solve=False)


def test_proven_positions_have_moves_that_lose_the_value():
    game = make_game("tic_tac_toe")
    for tactic in proven_positions(game, 6, seed=2, min_plies=3, simulations=3000):
        state = game.state_from_moves(tactic.moves)
        legal = game.legal_actions(state)
        assert tactic.answers and set(tactic.answers) < set(legal)


def test_tactics_command_scores_players_with_intervals(tmp_path, capsys):
    rows = tmp_path / "tactics.jsonl"
    arguments = ["tactics", "mcts:300", "random", "--game", "tic_tac_toe", "--positions", "10"]
    arguments += ["--proven", "10"]
    assert main([*arguments, "--min-plies", "3", "--json", str(rows)]) == 0
    out = capsys.readouterr().out
    assert "95% interval" in out
    scores = {(r["agent"], r["kind"]): r for r in map(json.loads, rows.read_text().splitlines())}
    assert {kind for _, kind in scores} == {"win", "block", "proven"}
    for kind in ("win", "block"):  # classic MCTS with proven values never misses these
        assert scores["mcts:300", kind]["correct"] == scores["mcts:300", kind]["positions"]
    assert sum(r["correct"] for (agent, _), r in scores.items() if agent == "random") < 25
