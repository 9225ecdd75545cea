"""Bots for the people-facing commands: classic MCTS, or a trained net from a checkpoint."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from games.base import Game
from games.config import GameConfig
from search.config import SearchConfig
from search.play import Bot, RandomBot, SearchBot, mcts_bot


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


def search_overrides(overrides: Sequence[str]) -> SearchConfig:
    """The rules' constants for every searching player, from ``puct.c_init=2.5``-style
    overrides of a search config section (``uct.solve=false`` for classic MCTS)."""
    from experiment.config import load_config

    return load_config(SearchConfig, None, list(overrides))


def make_player(
    game: Game, spec: str, default_simulations: int, search: SearchConfig | None = None
) -> Bot:
    """A player by spec: ``random``; ``mcts:N`` (classic MCTS, N simulations); ``PATH`` or
    ``PATH@N`` (a trained net from a run directory or checkpoint file, PUCT without noise at N
    simulations per move, default ``default_simulations``). ``search`` holds the rules'
    constants (PUCT's for nets, UCT's for classic MCTS)."""
    from experiment import UserError

    search = search or SearchConfig()
    if spec == "random":
        return RandomBot(game)
    if spec.startswith("mcts:"):
        count = spec.removeprefix("mcts:")
        if not count.isdigit() or int(count) < 1:
            raise UserError(f"player {spec!r}: write mcts:N with N simulations, e.g. mcts:1000")
        return mcts_bot(game, int(count), search.uct)
    path, _, simulations = spec.partition("@") if "@" in spec else (spec, "", "")
    if simulations and (not simulations.isdigit() or int(simulations) < 1):
        raise UserError(f"player {spec!r}: write RUN@N with N simulations, e.g. runs/c4@200")
    from selfplay.agent import load_net_bot

    budget = int(simulations) if simulations else default_simulations
    return load_net_bot(game, path, budget, dataclasses.replace(search, rule="puct"))


def game_of_players(game_name: str | None, specs: Sequence[str]) -> Game:
    """The game named, or else the game the first net player was trained on."""
    from experiment import UserError
    from games import make_game

    nets = [spec for spec in specs if spec != "random" and not spec.startswith("mcts:")]
    if game_name is not None:
        return make_game(game_name)
    if not nets:
        raise UserError("name the game with --game (no player is a checkpoint)")
    from selfplay.agent import checkpoint_config

    return checkpoint_config(nets[0].rsplit("@", 1)[0]).game.make()
