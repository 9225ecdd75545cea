"""The exact solvers (games.solver) against OpenSpiel's minimax, the bot that plays them, and the
``solver`` player of the command line and the analysis engine. (MCTS-Solver, the search's proven
values, is tests/test_solver.py.)"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from experiment import UserError
from games import make_game
from games.solver import SolverBot, has_solver, plays_in_seconds, solver_for
from ponder.commands._bots import make_player, players_and_game
from search.analysis import analyze, serve
from search.play import RandomBot, mcts_bot, play_games, score_of

pyspiel = pytest.importorskip("pyspiel")
minimax = pytest.importorskip("open_spiel.python.algorithms.minimax")
minimax_solver = pytest.importorskip("open_spiel.python.algorithms.minimax_solver")

NO_HEX_7 = (
    "no exact solver for Hex 7x7: solvers exist for tic-tac-toe, Connect Four and Hex 3x3 to 4x4"
)


def reachable_states(reference_game: object) -> dict[str, list[int]]:
    """Every non-terminal position of an OpenSpiel game, by its text, with one move list to it."""
    found: dict[str, list[int]] = {}
    stack = [reference_game.new_initial_state()]  # type: ignore[attr-defined]
    while stack:
        state = stack.pop()
        if state.is_terminal() or str(state) in found:
            continue
        found[str(state)] = state.history()
        stack.extend(state.child(action) for action in state.legal_actions())
    return found


@pytest.mark.parametrize(
    ("name", "params", "spiel_name"),
    [("tic_tac_toe", {}, "tic_tac_toe"), ("hex", {"board_size": 3}, "hex(board_size=3)")],
)
def test_every_reachable_position_has_openspiels_minimax_values(
    name: str, params: dict, spiel_name: str
) -> None:
    game = make_game(name, **params)
    solver = solver_for(game)
    reference = minimax_solver.MinimaxSolver(spiel_name)
    table = reference.solve()
    positions = reachable_states(pyspiel.load_game(spiel_name))
    assert len(positions) == len(table)  # OpenSpiel's table covers every non-terminal position
    for text, history in positions.items():
        state = game.state_from_moves(history)
        where = f"{name} after moves {history}"
        assert solver.value(state) == table[text].value, where
        legal = game.legal_actions(state)
        move_values = solver.move_values(state)
        assert move_values[legal].tolist() == table[text].action_values[legal].tolist(), where
        assert np.isnan(np.delete(move_values, legal)).all(), where
        best = table[text].action_values[legal].max()
        optimal = [a for a in legal if table[text].action_values[a] == best]
        assert solver.optimal_moves(state) == optimal, where


def test_hex_4_first_player_wins_on_the_short_diagonal_and_agrees_with_alpha_beta() -> None:
    game = make_game("hex", board_size=4)
    solver = solver_for(game)
    empty = game.initial_state()
    assert solver.value(empty) == 1
    # The known 4x4 result: the winning openings are the cells of the short diagonal (d1 c2 b3 a4).
    assert [game.action_to_text(a) for a in solver.optimal_moves(empty)] == ["d1", "c2", "b3", "a4"]
    # Positions after 6 random plies, small enough for OpenSpiel's plain alpha-beta in Python.
    reference = pyspiel.load_game("hex", {"board_size": 4})
    rng = np.random.default_rng(4)
    values = []
    for _ in range(4):
        theirs = reference.new_initial_state()
        for _ in range(6):
            theirs.apply_action(int(rng.choice(theirs.legal_actions())))
        value, _ = minimax.alpha_beta_search(reference, theirs)  # for the player to move
        ours = game.state_from_moves(theirs.history())
        assert solver.value(ours) == value, theirs.history()
        values.append(value)
    assert set(values) == {-1.0, 1.0}  # both outcomes are checked


def test_solved_positions_are_answered_from_the_table() -> None:
    game = make_game("hex", board_size=4)
    solver = solver_for(game)
    assert solver_for(make_game("hex", board_size=4)) is solver  # one table per game
    solver.value(game.initial_state())
    visited = solver.nodes
    assert solver.value(game.initial_state()) == 1
    assert solver.nodes == visited + 1  # the root alone: its value was in the table


def test_terminal_positions_and_illegal_moves() -> None:
    game = make_game("tic_tac_toe")
    solver = solver_for(game)
    won = game.state_from_moves("1425 3")  # x completed the top row; o would move
    assert solver.value(won) == -1
    assert np.isnan(solver.move_values(won)).all()
    assert solver.optimal_moves(won) == []


def test_has_solver_and_the_error_for_games_without_one() -> None:
    assert has_solver(make_game("tic_tac_toe"))
    assert [has_solver(make_game("hex", board_size=n)) for n in (3, 4, 5, 7)] == [
        True, True, False, False,
    ]  # fmt: skip
    assert has_solver(make_game("connect_four"))
    # ... but not one that plays whole tournaments: early positions take minutes each.
    assert not plays_in_seconds(make_game("connect_four"))
    assert plays_in_seconds(make_game("hex", board_size=4))
    with pytest.raises(UserError) as error:
        solver_for(make_game("hex", board_size=7))
    assert str(error.value) == NO_HEX_7


def test_solver_bot_plays_every_optimal_move_and_only_those() -> None:
    game = make_game("hex", board_size=4)
    bot = SolverBot(game)
    states = np.stack([game.initial_state()] * 200)
    moves = bot.choose(states, np.arange(200, dtype=np.uint64))
    assert sorted(set(moves.tolist())) == solver_for(game).optimal_moves(game.initial_state())
    assert (bot.choose(states, np.arange(200, dtype=np.uint64)) == moves).all()  # seeded


SOLVED = [("tic_tac_toe", {}), ("hex", {"board_size": 3}), ("hex", {"board_size": 4})]


@pytest.mark.parametrize(("name", "params"), SOLVED)
def test_solver_bot_never_loses_against_random_and_mcts(name: str, params: dict) -> None:
    game = make_game(name, **params)
    for opponent in (RandomBot(game), mcts_bot(game, 200)):
        records = play_games(game, (SolverBot(game), opponent), num_games=12, seed=3)
        if name == "tic_tac_toe":
            wins, draws, losses = score_of(records, "solver")
            assert losses == 0, opponent.name
        else:  # Hex: the first player wins with perfect play, the second may lose
            first = [record for record in records if record.players[0] == "solver"]
            assert len(first) == 6
            assert all(record.returns[0] == 1 for record in first), opponent.name
    random_records = play_games(game, (SolverBot(game), RandomBot(game)), num_games=12, seed=3)
    assert score_of(random_records, "solver")[0] > 0  # it also wins, not only draws


def test_make_player_solver_and_the_game_of_players() -> None:
    game = make_game("tic_tac_toe")
    player = make_player(game, "solver", 200)
    assert player.name == "solver"
    state = game.state_from_moves("1425")  # x wins at 3 (and must: o threatens 6)
    assert player.choose(state[None], np.array([7], np.uint64)).tolist() == [2]
    with pytest.raises(UserError) as error:
        make_player(make_game("hex", board_size=7), "solver", 200)
    assert str(error.value) == NO_HEX_7
    # solver is not a checkpoint: without --game there is no game to take from one
    with pytest.raises(UserError, match="--game"):
        players_and_game(["solver", "random"], None)
    # a word with "=" before any "," is one of the game's parameters
    players, hex3 = players_and_game(["solver", "board_size=3", "mcts:8,uct.solve=false"], "hex")
    assert players == ["solver", "mcts:8,uct.solve=false"] and hex3 == make_game(
        "hex", board_size=3
    )


def test_analyze_with_the_solver_bot() -> None:
    answer = analyze({"id": "q", "game": "tic_tac_toe", "moves": "1425", "bot": "solver"})
    assert answer == {
        "id": "q",
        "best_move": "3",
        "policy": {"3": 1.0, "6": 0.0, "7": 0.0, "8": 0.0, "9": 0.0},
        "visits": 0,
        "value": 1,
    }
    empty = analyze({"id": "e", "game": "hex", "board_size": 4, "bot": "solver", "seed": 5})
    assert empty["value"] == 1 and empty["visits"] == 0
    assert empty["policy"] == {
        text: (0.25 if text in ("d1", "c2", "b3", "a4") else 0.0) for text in empty["policy"]
    }
    assert empty["best_move"] in ("d1", "c2", "b3", "a4")
    requests = [
        {"id": "h7", "game": "hex", "board_size": 7, "bot": "solver"},
        {"id": "h5", "game": "hex", "board_size": 5, "bot": "solver"},
    ]
    out = io.StringIO()
    errors = serve(io.StringIO("".join(json.dumps(r) + "\n" for r in requests)), out)
    answers = [json.loads(line) for line in out.getvalue().splitlines()]
    assert errors == 2
    assert answers == [
        {"id": "h7", "error": NO_HEX_7},
        {"id": "h5", "error": NO_HEX_7.replace("7x7", "5x5")},
    ]


def test_in_a_lost_position_the_solver_leaves_the_fewest_winning_replies() -> None:
    hex3 = make_game("hex", board_size=3)
    solver = solver_for(hex3)
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(200):
        state = hex3.initial_state()
        for _ in range(int(rng.integers(1, 4))):
            state = hex3.apply(state, int(rng.choice(hex3.legal_actions(state))))
        if hex3.is_terminal(state) or solver.value(state) != -1:
            continue

        counts = {
            a: int((solver.move_values(hex3.apply(state, a)) == 1).sum())
            for a in hex3.legal_actions(state)
        }
        assert set(solver.testing_moves(state)) == {
            a for a, c in counts.items() if c == min(counts.values())
        }
        checked += 1
    assert checked > 10
