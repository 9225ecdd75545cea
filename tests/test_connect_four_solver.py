"""The Connect Four solver (games.solver): against plain exhaustive minimax on late-game positions,
and against the known values of the opening (Allis 1988; Tromp)."""

from __future__ import annotations

import itertools
from functools import cache

import numpy as np
import pytest

from games import make_game
from games.connect_four import has_four, winning_cells
from games.solver import Solver, solver_for

GAME = make_game("connect_four")


@cache
def minimax_value(moves: tuple[int, ...]) -> int:
    """The value for the player to move after ``moves``, by plain minimax over every move (no
    pruning, no move filtering: only the game's own rules), memoised by move list."""
    state = GAME.state_from_moves(list(moves))
    if GAME.is_terminal(state):
        return int(GAME.returns(state)[GAME.current_player(state)])
    return max(-minimax_value((*moves, action)) for action in GAME.legal_actions(state))


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
    for moves in late_positions(40, 32, seed=1) + late_positions(20, 30, seed=2):
        state = GAME.state_from_moves(moves)
        expected = minimax_value(tuple(moves))
        assert solver.value(state) == expected, moves
        move_values = solver.move_values(state)
        for action in GAME.legal_actions(state):
            assert move_values[action] == -minimax_value((*moves, action)), (moves, action)
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
    assert {2, 5} <= set(solver_for(GAME).optimal_moves(state))


@pytest.mark.slow
def test_one_ply_values_are_the_known_ones() -> None:
    """Allis (1988) / Tromp: after one move, the first player wins only from the centre column,
    draws after the columns beside it, and loses after the outer four."""
    solver = solver_for(GAME)
    values = [-solver.value(GAME.state_from_moves([column])) for column in range(7)]
    assert values == [-1, -1, 0, 1, 0, -1, -1]
