"""Config records shared by the workflows that search a game: which game, which rule, how much."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from games import make_game
from games.base import Game
from search.rules import Gumbel, Puct, SelectionRule, Uct


@dataclass(frozen=True)
class GameConfig:
    """A game by OpenSpiel's name; ``board_size`` is used by Hex only (3..11, default 11)."""

    name: Literal["tic_tac_toe", "connect_four", "hex"] = "connect_four"
    board_size: int = 11

    def make(self) -> Game:
        if self.name == "hex":
            return make_game("hex", board_size=self.board_size)
        return make_game(self.name)


@dataclass(frozen=True)
class SearchConfig:
    """Selection rule and its constants (REFERENCES.md: AlphaZero PUCT, Gumbel AlphaZero)."""

    rule: Literal["uct", "puct", "gumbel"] = "puct"
    simulations: int = 200
    # UCT
    uct_exploration: float = 2.0
    # PUCT: c(s) = log((1 + N(s) + c_base) / c_base) + c_init
    c_init: float = 1.25
    c_base: float = 19652.0
    fpu: Literal["zero", "parent", "reduction"] = "reduction"
    fpu_reduction: float = 0.25
    dirichlet_alpha: float = 0.3
    dirichlet_fraction: float = 0.0
    # Gumbel: sigma(q) = (c_visit + max N) * c_scale * q, q rescaled to [0, 1] per node
    max_considered: int = 16
    c_visit: float = 50.0
    c_scale: float = 0.1  # mctx's value_scale; see rules.Gumbel
    gumbel_scale: float = 1.0

    def make_rule(self) -> SelectionRule:
        if self.rule == "uct":
            return Uct(self.uct_exploration)
        if self.rule == "puct":
            return Puct(
                self.c_init, self.c_base, self.fpu, self.fpu_reduction,
                self.dirichlet_alpha, self.dirichlet_fraction,
            )  # fmt: skip
        return Gumbel(self.max_considered, self.c_visit, self.c_scale, self.gumbel_scale)


@dataclass(frozen=True)
class PlayConfig:
    """``ponder play``: the game, the bot (classic MCTS or a net from a checkpoint), your colour."""

    game: GameConfig = field(default_factory=GameConfig)
    bot: Literal["mcts", "net"] = "mcts"
    simulations: int = 2000
    checkpoint: str | None = None
    human: Literal["first", "second"] = "first"
    seed: int = 0
