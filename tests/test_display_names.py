"""Games are named for people in headers and messages, from the game itself."""

from __future__ import annotations

import pytest

from games import make_game


@pytest.mark.parametrize(
    ("name", "params", "shown"),
    [
        ("tic_tac_toe", {}, "tic-tac-toe"),
        ("connect_four", {}, "Connect Four"),
        ("hex", {"board_size": 7}, "Hex 7x7"),
        ("hex", {}, "Hex 11x11"),  # OpenSpiel's default size
    ],
)
def test_each_game_has_a_readable_name(name, params, shown):
    assert make_game(name, **params).display_name == shown
