"""Bots for the people-facing commands: classic MCTS, or a trained net from a checkpoint."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from games.base import Game
from games.config import GameConfig
from search.play import SearchBot, mcts_bot


@dataclass(frozen=True)
class PlayConfig:
    """``ponder play``: the game, the bot (classic MCTS or a net from a checkpoint), your colour."""

    game: GameConfig = field(default_factory=GameConfig)
    bot: Literal["mcts", "net"] = "mcts"
    simulations: int = 2000
    checkpoint: str | None = None
    human: Literal["first", "second"] = "first"
    seed: int = 0


def make_bot(game: Game, simulations: int, checkpoint: str | None) -> SearchBot:
    """Classic MCTS (UCT + random rollouts) without a checkpoint; the checkpoint's net with PUCT
    otherwise (a run directory means its latest checkpoint)."""
    if checkpoint is None:
        return mcts_bot(game, simulations)
    from selfplay.agent import load_net_bot  # torch only when a net is asked for

    return load_net_bot(game, checkpoint, simulations)
