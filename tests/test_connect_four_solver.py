"""The Connect Four solver (games.solver) against plain exhaustive minimax on late-game positions,
and the scripts that solve the two-ply openings and split a match by them. The known opening
values (Allis 1988; Tromp) take far longer than a test may to solve here: they are checked by
``python -m bench.connect_four_openings`` (docs/results/solver.md)."""

from __future__ import annotations

import itertools
from functools import cache

import numpy as np

from bench.connect_four_openings import inconsistencies
from bench.opening_split import Game, games_of, report
from games import make_game
from games.connect_four import has_four, winning_cells
from games.solver import Solver, solver_for
from search.analysis import analyze

GAME = make_game("connect_four")


@cache
def minimax_value(position: tuple[int, ...]) -> int:
    """The value for the player to move at a state (as a tuple), by plain minimax over every move
    (no pruning, no move filtering: only the game's own rules), memoised by position."""
    state = np.array(position, np.int64)
    if GAME.is_terminal(state):
        return int(GAME.returns(state)[GAME.current_player(state)])
    return max(-minimax_value(tuple(GAME.apply(state, a))) for a in GAME.legal_actions(state))


def late_positions(count: int, stones: int, seed: int) -> list[list[int]]:
    """``count`` move lists of random games stopped after ``stones`` plies, none yet over."""
    rng = np.random.default_rng(seed)
    found: list[list[int]] = []
    while len(found) < count:
        state, moves = GAME.initial_state(), []
        while len(moves) < stones and not GAME.is_terminal(state):
            action = int(rng.choice(GAME.legal_actions(state)))
            moves.append(action)
            state = GAME.apply(state, action)
        if len(moves) == stones and not GAME.is_terminal(state):
            found.append(moves)
    return found


def test_late_positions_agree_with_plain_minimax() -> None:
    solver = Solver(GAME)  # its own table: the answers come from search, not from other tests
    values = []
    positions = late_positions(40, 33, seed=1) + late_positions(10, 30, seed=2)
    for moves in positions + late_positions(60, 37, seed=3):
        state = GAME.state_from_moves(moves)
        expected = minimax_value(tuple(state))
        assert solver.value(state) == expected, moves
        move_values = solver.move_values(state)
        for action in GAME.legal_actions(state):
            child = tuple(GAME.apply(state, action))
            assert move_values[action] == -minimax_value(child), (moves, action)
        values.append(expected)
    assert set(values) == {-1, 0, 1}  # every outcome is checked


def test_a_small_table_that_replaces_entries_gives_the_same_values() -> None:
    small = Solver(GAME, max_table_bits=12)  # 4096 slots: full long before these are solved
    for moves in late_positions(12, 24, seed=3):
        state = GAME.state_from_moves(moves)
        assert small.value(state) == solver_for(GAME).value(state), moves
    assert small.keys.shape == (4096,)


def test_winning_cells_are_the_empty_cells_that_complete_four() -> None:
    checked = 0
    for moves in late_positions(30, 20, seed=4):
        state = GAME.state_from_moves(moves)
        occupied = int(state[0] | state[1])
        for player in (0, 1):
            stones = int(state[player])
            cells = winning_cells(stones, occupied)
            for column, row in itertools.product(range(7), range(7)):
                bit = 1 << (column * 7 + row)
                empty_cell = row < 6 and not occupied & bit
                assert bool(cells & bit) == (empty_cell and has_four(stones | bit)), (moves, bit)
                checked += bool(cells & bit)
    assert checked > 10  # some cells do win


def test_pons_example_is_a_win_by_an_open_three() -> None:
    # "4455": the mover (x) wins by making an open three on the bottom row (Pons, part 1).
    state = GAME.state_from_moves("4455")
    assert solver_for(GAME).value(state) == 1
    for column in (2, 5):  # 3 and 6: the opponent can stop one end only
        assert solver_for(GAME).value(GAME.apply(state, column)) == -1


def test_analyze_answers_a_late_position_with_an_optimal_move_and_the_exact_value() -> None:
    moves = late_positions(1, 33, seed=6)[0]
    state = GAME.state_from_moves(moves)
    text = "".join(GAME.action_to_text(action) for action in moves)
    answer = analyze({"id": "c4", "game": "connect_four", "moves": text, "bot": "solver"})
    assert answer["value"] == minimax_value(tuple(state))
    best = GAME.apply(state, GAME.parse_moves(answer["best_move"])[0])
    assert -minimax_value(tuple(best)) == answer["value"]


def test_the_one_ply_check_finds_two_ply_values_that_contradict_it() -> None:
    # Consistent: after 4 every reply loses for player 2, after 3 and 5 one draws and none wins,
    # after the outer columns the centre reply wins for player 2.
    values: dict[str, int | None] = {f"{a}{b}": 0 for a in range(1, 8) for b in range(1, 8)}
    values |= {f"4{b}": 1 for b in range(1, 8)}
    values |= {f"{a}4": -1 for a in (1, 2, 6, 7)}
    assert inconsistencies(values) == []
    values["43"], values["54"], values["14"] = 0, -1, 0
    assert inconsistencies(values) == [
        "column 1: a loss, but no reply wins for player 2",
        "column 4: a win, but a reply does not lose for player 2",
        "column 5: a draw, but no reply draws or one wins for 2",
    ]
    values["14"] = None  # unsolved: no verdict
    assert len(inconsistencies(values)) == 2


def test_the_split_turns_match_records_into_the_net_side_of_each_opening() -> None:
    values = {"44": 1, "17": -1, "33": 0}
    records = [  # games 2k and 2k + 1: one opening, colours swapped
        {"a": "runs/x@200", "b": "mcts:1000", "score": 1.0, "opening": [3, 3]},
        {"a": "mcts:1000", "b": "runs/x@200", "score": 1.0, "opening": [3, 3]},
        {"a": "runs/x@200", "b": "mcts:1000", "score": 1.0, "opening": [0, 6]},
        {"a": "mcts:1000", "b": "runs/x@200", "score": 0.5, "opening": [0, 6]},
        {"a": "runs/x@200", "b": "mcts:1000", "score": 0.5, "opening": [2, 2]},
    ]
    games = games_of(records, values, "runs/")
    assert games == [
        Game("44", True, 1, 1.0), Game("44", False, -1, 0.0), Game("17", True, -1, 1.0),
        Game("17", False, 1, 0.5), Game("33", True, 0, 0.5),
    ]  # fmt: skip
    lines = report(games, "title").splitlines()
    wins = [field.strip() for field in lines[2].split("|")]
    assert wins[:3] == ["wins", "2", "1-1-0"] and wins[3].startswith("75.0% (")
    assert lines[-1].endswith(": 50.0%")  # 1 + 0 + 0 + 1 + 0.5 out of 5 games
    # Unsolved: a pair of colours scores 1 of 2 with perfect play; a game alone, 0 or 1.
    unsolved = [Game("12", True, None, 1.0), Game("12", False, None, 1.0)]
    assert report(unsolved, "t").splitlines()[-1].endswith(": 50.0%")
    assert (
        report([*unsolved, Game("16", True, None, 1.0)], "t")
        .splitlines()[-1]
        .endswith(": 33.3% to 66.7% (1 games from unsolved openings)")
    )
