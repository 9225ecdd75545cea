"""Differential tests: our rules against OpenSpiel's on random playouts, and our compiled random
rollouts against random playouts of OpenSpiel's rules (the reference) in distribution."""

from __future__ import annotations

import re

import numpy as np
import pytest

from games import make_game
from games.base import KernelGame
from games.random import seed_states

pyspiel = pytest.importorskip("pyspiel")

GAMES = [
    ("tic_tac_toe", {}),
    ("connect_four", {}),
    ("hex", {"board_size": 3}),
    ("hex", {"board_size": 5}),
    ("hex", {"board_size": 9}),
    ("hex", {"board_size": 11}),
]
PLAYOUTS = 500


def board_cells(text: str) -> list[str]:
    """The 'x' / 'o' / '.' cells of a rendered board in reading order (rows top to bottom)."""
    return re.findall(r"[xo.]", text)


def our_cells(game: KernelGame, state: np.ndarray) -> list[str]:
    # The board part of our render: every line but the coordinates and the status lines.
    lines = game.render(state).splitlines()
    if game.name == "hex":
        board = [re.sub(r"^\s*\d+", "", line) for line in lines[1:-2]]
    elif game.name == "connect_four":
        board = lines[:-2]
    else:
        board = [line.split("    ")[0] for line in lines[:-1]]
    return board_cells("\n".join(board))


@pytest.mark.parametrize(("name", "params"), GAMES, ids=lambda value: str(value))
def test_random_playouts_agree_with_openspiel(name: str, params: dict) -> None:
    game = make_game(name, **params)
    reference = pyspiel.load_game(name, params)
    rng = np.random.default_rng(12345)
    lengths = []
    for _ in range(PLAYOUTS):
        ours, theirs = game.initial_state(), reference.new_initial_state()
        moves: list[int] = []
        while True:
            where = f"{name}{params} after moves {moves}"
            terminal = game.is_terminal(ours)
            assert terminal == theirs.is_terminal(), where
            assert game.legal_actions(ours) == theirs.legal_actions(), where
            if terminal:
                assert game.returns(ours).tolist() == theirs.returns(), where
                break
            assert game.current_player(ours) == theirs.current_player(), where
            assert game.returns(ours).tolist() == [0.0, 0.0], where
            legal = theirs.legal_actions()
            action = legal[rng.integers(len(legal))]
            moves.append(action)
            ours = game.apply(ours, action)
            theirs.apply_action(action)
        cells = our_cells(game, ours)
        assert len(cells) == game.observation_shape[1] * game.observation_shape[2]
        assert cells == board_cells(str(theirs)), where
        lengths.append(len(moves))
    # The playouts must reach both decisive results (and draws where the game has them).
    assert min(lengths) < max(lengths)


def reference_outcomes(name: str, params: dict, moves: list[int], playouts: int) -> np.ndarray:
    """Outcomes (playouts,) in {-1, 0, 1} of uniformly random play in OpenSpiel for the player
    to move after ``moves``: the reference our rollout kernel must match in distribution."""
    reference = pyspiel.load_game(name, params)
    rng = np.random.default_rng(2024)
    start = reference.new_initial_state()
    for move in moves:
        start.apply_action(move)
    mover = start.current_player()
    outcomes = np.empty(playouts)
    for playout in range(playouts):
        state = start.clone()
        while not state.is_terminal():
            legal = state.legal_actions()
            state.apply_action(legal[rng.integers(len(legal))])
        outcomes[playout] = state.returns()[mover]
    return outcomes


@pytest.mark.parametrize(
    ("name", "params", "moves"),
    [
        ("tic_tac_toe", {}, []),
        ("connect_four", {}, []),
        ("connect_four", {}, [3]),
        ("hex", {"board_size": 5}, []),
        ("hex", {"board_size": 5}, [12]),
        # x's chain d1-c2-b3 is connected only through the (r+1, c-1) neighbours.
        ("hex", {"board_size": 5}, [3, 0, 7, 24, 11]),
        ("hex", {"board_size": 9}, []),
    ],
    ids=str,
)
def test_rollout_outcomes_match_random_play(name: str, params: dict, moves: list[int]) -> None:
    game = make_game(name, **params)
    state = game.state_from_moves(moves)
    rng_state = seed_states([7])
    rollouts, playouts = 100_000, 20_000
    ours = np.array([game.kernels.rollout(state, rng_state, 0) for _ in range(rollouts)])
    theirs = reference_outcomes(name, params, moves, playouts)
    assert set(np.unique(ours)) <= {-1.0, 0.0, 1.0}
    # A frequency's standard error is at most 0.5/sqrt(count); 4 standard errors of the
    # difference (0.015) keep this seeded test far from flaky while catching a biased move
    # choice or a flipped sign (the mover's edge from the start is 0.06-0.3).
    tolerance = 4 * 0.5 * np.sqrt(1 / playouts + 1 / rollouts)
    for outcome in (-1.0, 0.0, 1.0):
        frequencies = np.mean(ours == outcome), np.mean(theirs == outcome)
        assert abs(frequencies[0] - frequencies[1]) < tolerance, (outcome, frequencies)
    assert abs(ours.mean() - theirs.mean()) < 2 * tolerance
