"""Bots for the people-facing commands: classic MCTS, or a trained net from a checkpoint."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
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
    """``play``'s and ``analyze``'s bot: classic MCTS without a checkpoint, the checkpoint's net
    with its run's rule otherwise (a run directory means its latest checkpoint), as
    :func:`make_player` builds them."""
    spec = f"mcts:{simulations}" if checkpoint is None else f"{checkpoint}@{simulations}"
    player = make_player(game, spec, simulations)
    assert isinstance(player, SearchBot)
    return player


def make_player(
    game: Game,
    spec: str,
    default_simulations: int,
    overrides: Sequence[str] = (),
    root: str | Path | None = None,
) -> Bot:
    """A player by spec, named by it: ``random``; ``mcts:N`` (classic MCTS, N simulations);
    ``solver`` (perfect play where games.solver has a solver, a UserError elsewhere); ``PATH``,
    ``PATH@N`` or ``PATH@N:RULE`` (a trained net from a run directory or checkpoint file at N
    simulations per move, default ``default_simulations``, searching with the run's rule and
    constants, or with RULE (``uct``, ``puct``, ``gumbel``), always without exploration: no root
    noise, temperature or Gumbel draw); any of them followed by ``,key=value`` changes of the
    search section (``puct.c_init=2.5``, ``uct.solve=false``), applied after ``overrides`` (the
    same for every player). A relative ``PATH`` is relative to ``root`` (default: the working
    directory), so that a sweep's names stay valid wherever its folder is."""
    from experiment import UserError
    from experiment.config import apply_overrides, load_config

    base, *changes = spec.split(",")
    player: Bot
    if base == "random":
        player = RandomBot(game)
    elif base == "solver":
        from games.solver import SolverBot

        player = SolverBot(game)
    elif base.startswith("mcts:"):
        count = base.removeprefix("mcts:")
        if not count.isdigit() or int(count) < 1:
            raise UserError(f"player {spec!r}: write mcts:N with N simulations, e.g. mcts:1000")
        search = load_config(SearchConfig, None, [*overrides, *changes])
        player = mcts_bot(game, int(count), search.uct)
    else:
        path, budget, rule = _net_spec(spec, base)
        if root is not None:
            path = str(Path(root) / path)  # an absolute path stays itself
        from selfplay.agent import checkpoint_config, load_net_bot

        trained = checkpoint_config(path).search.without_exploration()
        changed = [*([f"rule={rule}"] if rule else []), *overrides, *changes]
        search = apply_overrides(trained, changed, where=f"player {spec!r}")
        player = load_net_bot(game, path, budget or default_simulations, search)
    player.name = spec
    return player


def canonical_specs(
    specs: Sequence[str], default_simulations: int, overrides: Sequence[str] = ()
) -> list[str]:
    """The specs as names that say everything about their players (a name always carries its
    budget and its search changes): a net without ``@N`` gets the default budget, and the
    changes meant for every player (``--search``) join each spec's own. ``make_player`` then
    needs neither the default nor the shared changes, and a record can never hold one name
    for two different players."""
    named = []
    for spec in specs:
        base, *changes = spec.split(",")
        if base in ("random", "solver"):  # they do not search
            named.append(spec)
            continue
        if not base.startswith("mcts:") and "@" not in base:
            base = f"{base}@{default_simulations}"
        named.append(",".join([base, *overrides, *changes]))
    return named


def _net_spec(spec: str, base: str) -> tuple[str, int | None, str | None]:
    """(path, simulations or None, rule or None) of ``PATH[@N[:RULE]]``."""
    from experiment import UserError

    if "@" not in base:
        return base, None, None
    path, _, budget = base.rpartition("@")
    simulations, _, rule = budget.partition(":")
    if not simulations.isdigit() or int(simulations) < 1:
        raise UserError(f"player {spec!r}: write RUN@N with N simulations, e.g. runs/c4@200")
    if rule and rule not in ("uct", "puct", "gumbel"):
        raise UserError(f"player {spec!r}: the rule after @N: is uct, puct or gumbel, not {rule!r}")
    return path, int(simulations), rule or None


def players_and_game(
    words: Sequence[str], game_name: str | None, game_parameters: Sequence[str] = ()
) -> tuple[list[str], Game]:
    """The player specs among ``words`` and the game they play: ``game_name`` with its
    ``key=value`` parameters (``board_size=5``; argparse cannot tell a word with ``=`` before
    any ``,`` from a player, so such words are parameters too), or else the game the first net
    player (not random, mcts:N or solver) was trained on."""
    from experiment import UserError

    players: list[str] = []
    parameters = list(game_parameters)
    for word in words:
        is_parameter = "=" in word and ("," not in word or word.index("=") < word.index(","))
        (parameters if is_parameter else players).append(word)
    if game_name is not None:
        from experiment.config import load_config

        return players, load_config(GameConfig, None, [f"name={game_name}", *parameters]).make()
    if parameters:
        raise UserError(f"game parameters {parameters} need the game named with --game")
    bases = [spec.split(",")[0] for spec in players]
    nets = [
        base for base in bases if base not in ("random", "solver") and not base.startswith("mcts:")
    ]
    if not nets:
        raise UserError("name the game with --game (no player is a checkpoint)")
    from selfplay.agent import checkpoint_config

    return players, checkpoint_config(_net_spec(nets[0], nets[0])[0]).game.make()
