"""The config record that names a game, shared by every workflow that plays one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from experiment.config import Range
from games import make_game
from games.base import Game
from games.hex import MAX_SIZE, MIN_SIZE


@dataclass(frozen=True)
class GameConfig:
    """A game by OpenSpiel's name; ``board_size`` is used by Hex only (3..11, default 11)."""

    name: Literal["tic_tac_toe", "connect_four", "hex"] = "connect_four"
    board_size: Annotated[int, Range(MIN_SIZE, MAX_SIZE)] = 11

    def make(self) -> Game:
        if self.name == "hex":
            return make_game("hex", board_size=self.board_size)
        return make_game(self.name)
