"""Rules only: the Game protocol, tic-tac-toe, Connect Four, Hex n x n, and gymnasium adapters.

``make_game(name, **params)`` builds a game by OpenSpiel's name; importing the package also
registers the gymnasium environments ``ponder/TicTacToe-v0``, ``ponder/ConnectFour-v0`` and
``ponder/Hex-v0``.
"""

from __future__ import annotations

from typing import Any

from games.base import (
    Game,
    GameKernels,
    IllegalMoveError,
    KernelGame,
    Symmetry,
    apply_symmetry,
)
from games.connect_four import ConnectFour
from games.gym_envs import register_envs
from games.hex import Hex
from games.tic_tac_toe import TicTacToe

GAMES: dict[str, type[KernelGame]] = {
    "tic_tac_toe": TicTacToe,
    "connect_four": ConnectFour,
    "hex": Hex,
}
PARAMETERS: dict[str, tuple[str, ...]] = {
    "tic_tac_toe": (),
    "connect_four": (),
    "hex": ("board_size",),
}


def make_game(name: str, **params: Any) -> Game:
    """Build a game by name: ``make_game("connect_four")``, ``make_game("hex", board_size=7)``.

    Raises ValueError naming the valid games, or the parameters the game accepts.
    """
    if name not in GAMES:
        raise ValueError(f"unknown game {name!r}; valid games: {', '.join(GAMES)}")
    unknown = sorted(set(params) - set(PARAMETERS[name]))
    if unknown:
        accepted = ", ".join(PARAMETERS[name]) or "none"
        raise ValueError(
            f"{name} does not take parameter(s) {', '.join(unknown)}; it accepts: {accepted}"
        )
    return GAMES[name](**params)


register_envs()

__all__ = [
    "GAMES",
    "Game",
    "GameKernels",
    "IllegalMoveError",
    "Symmetry",
    "apply_symmetry",
    "make_game",
    "register_envs",
]
