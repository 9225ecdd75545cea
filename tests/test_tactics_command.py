"""Players by spec with per-player rule changes, and ``ponder tactics`` on tic-tac-toe."""

from __future__ import annotations

import json

import numpy as np
import pytest

from experiment import UserError
from games import make_game
from games.solver import solver_for
from ponder.cli import main
from ponder.commands._bots import make_player
from search.rules import Uct
from tradeoff.tactics import proven_positions, solved_positions


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


def test_solved_positions_keep_exactly_the_solvers_optimal_moves():
    """Every answer keeps the position's exact value and every other legal move loses some,
    checked against the solver move by move; the same seed gives the same set."""
    game = make_game("connect_four")
    tactics = solved_positions(game, 8, seed=3, min_plies=14)
    assert tactics == solved_positions(game, 8, seed=3, min_plies=14)
    solver = solver_for(game)
    for tactic in tactics:
        assert len(tactic.moves) >= 14 and tactic.kind == "solved"
        values = solver.move_values(game.state_from_moves(tactic.moves))
        best = np.nanmax(values)
        legal = set(np.flatnonzero(~np.isnan(values)).tolist())
        assert tactic.answers == {a for a in legal if values[a] == best}
        assert tactic.answers < legal
    with pytest.raises(UserError, match="no exact solver for Hex 5x5"):
        solved_positions(make_game("hex", board_size=5), 1, seed=0, min_plies=2)


def test_tactics_command_scores_players_with_intervals(tmp_path, capsys):
    rows = tmp_path / "tactics.jsonl"
    arguments = ["tactics", "mcts:300", "random", "--game", "tic_tac_toe", "--positions", "10"]
    arguments += ["--proven", "10", "--solved", "10", "--solved-plies", "2"]
    assert main([*arguments, "--min-plies", "3", "--json", str(rows)]) == 0
    out = capsys.readouterr().out
    assert "95% interval" in out
    scores = {(r["agent"], r["kind"]): r for r in map(json.loads, rows.read_text().splitlines())}
    assert {kind for _, kind in scores} == {"win", "block", "proven", "solved"}
    for kind in ("win", "block"):  # classic MCTS with proven values never misses these
        assert scores["mcts:300", kind]["correct"] == scores["mcts:300", kind]["positions"]
    assert sum(r["correct"] for (agent, _), r in scores.items() if agent == "random") < 25
