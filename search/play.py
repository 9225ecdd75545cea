"""Bots and batched games between them.

A bot chooses moves for many positions at once (one batched search); :func:`play_games` runs a
batch of games in lockstep so that every ply is one call per bot. Used by tests, the arena, the
command line and the benchmarks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from games.base import Game
from search.config import SearchConfig, build_search
from search.core import Expander
from search.expanders import GameExpander
from search.rules import Uct


def move_seeds(seed: int, games: Sequence[int], plies: Sequence[int]) -> np.ndarray:
    """One seed per (match seed, game, ply), independent of which games share the batch."""
    return np.array(
        [
            np.random.SeedSequence([seed, int(g), int(p)]).generate_state(1)[0]
            for g, p in zip(games, plies, strict=True)
        ],
        np.uint64,
    )


class Bot(Protocol):
    name: str

    def choose(self, states: np.ndarray, seeds: np.ndarray) -> np.ndarray:
        """Moves (L,) int64 for L non-terminal states (L, state_size), one seed each."""
        ...


@dataclass
class RandomBot:
    """Uniformly random legal moves."""

    game: Game
    name: str = "random"

    def choose(self, states: np.ndarray, seeds: np.ndarray) -> np.ndarray:
        masks = self.game.legal_masks(states)
        moves = np.empty(len(states), np.int64)
        for i, (mask, seed) in enumerate(zip(masks, seeds, strict=True)):
            moves[i] = np.random.default_rng(int(seed)).choice(np.flatnonzero(mask))
        return moves


@dataclass
class SearchBot:
    """Plays the move its search chooses (the rule decides: most visits for UCT and PUCT, the
    Sequential Halving survivor for Gumbel), with no exploration: the evaluation player."""

    expander: Expander
    config: SearchConfig
    name: str = "search"

    def __post_init__(self) -> None:
        self.search = build_search(self.expander, self.config)

    def choose(self, states: np.ndarray, seeds: np.ndarray) -> np.ndarray:
        return self.search.run(states, seeds).chosen


def mcts_bot(game: Game, num_simulations: int, uct: Uct | None = None) -> SearchBot:
    """Classic MCTS: UCT (c = 2) and one random rollout per leaf, like OpenSpiel's MCTSBot, with
    proven values on as its ``solve=True`` default (and, unless ``uct`` turns it off, the rules'
    lookahead, which that bot does not have). Named by its spec, ``mcts:N``."""
    config = SearchConfig(rule="uct", simulations=num_simulations, uct=uct or Uct())
    return SearchBot(GameExpander(game, "rollout"), config, name=f"mcts:{num_simulations}")


@dataclass(frozen=True)
class MatchRecord:
    """One finished game: who played which colour, from which opening, and the result."""

    players: tuple[str, str]  # (player 0, player 1), player 0 moves first
    opening: tuple[int, ...]
    moves: tuple[int, ...]  # all moves, opening included
    returns: tuple[float, float]  # per colour: +1 win, -1 loss, 0 draw

    def to_json(self) -> dict:
        """The match-file line (DESIGN.md, "Interface contracts"): ``a`` moved first, ``b``
        second, ``score`` is a's (1, 0.5 or 0); moves as action ids, the opening's included."""
        return {
            "a": self.players[0], "b": self.players[1], "score": (self.returns[0] + 1) / 2,
            "opening": list(self.opening), "moves": list(self.moves),
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: dict) -> MatchRecord:
        score = float(data["score"])
        return cls(
            (data["a"], data["b"]), tuple(data["opening"]), tuple(data["moves"]),
            (2 * score - 1, 1 - 2 * score),
        )  # fmt: skip


def play_games(
    game: Game,
    bots: tuple[Bot, Bot],
    num_games: int,
    seed: int,
    opening_moves: int = 0,
    swap_colours: bool = True,
    first_game: int = 0,
) -> list[MatchRecord]:
    """Play ``num_games`` games in lockstep between two bots: games ``first_game`` ..
    ``first_game + num_games - 1`` of the match seeded ``seed``.

    With ``swap_colours`` bot 0 plays first in even games and second in odd games, so every
    pairing plays both colours equally often. Games start after ``opening_moves`` uniformly random
    moves (recorded). Each ply is one batched ``choose`` call per bot. Every random draw of a
    game (its opening, each search) comes from (seed, game index, ply), so a game is the same
    whichever games share its batch.
    """
    games = range(first_game, first_game + num_games)
    states = [game.initial_state() for _ in games]
    histories: list[list[int]] = [[] for _ in games]
    for g, index in enumerate(games):
        opening_rng = np.random.default_rng([seed, index, 0x0FE])
        for _ in range(opening_moves):
            if game.is_terminal(states[g]):
                break
            move = int(opening_rng.choice(game.legal_actions(states[g])))
            states[g] = game.apply(states[g], move)
            histories[g].append(move)
    openings = [tuple(h) for h in histories]
    seat_of_bot0 = [(index % 2 if swap_colours else 0) for index in games]
    active = [g for g in range(num_games) if not game.is_terminal(states[g])]
    while active:
        for bot_index, bot in enumerate(bots):
            turn = [
                g for g in active
                if (game.current_player(states[g]) == seat_of_bot0[g]) == (bot_index == 0)
            ]  # fmt: skip
            if not turn:
                continue
            batch = np.stack([states[g] for g in turn])
            seeds = move_seeds(seed, [games[g] for g in turn], [len(histories[g]) for g in turn])
            moves = bot.choose(batch, seeds)
            for g, move in zip(turn, moves, strict=True):
                states[g] = game.apply(states[g], int(move))
                histories[g].append(int(move))
            active = [g for g in active if not game.is_terminal(states[g])]
    records = []
    for g in range(num_games):
        names = (
            (bots[0].name, bots[1].name) if seat_of_bot0[g] == 0 else (bots[1].name, bots[0].name)
        )
        result = game.returns(states[g])
        records.append(
            MatchRecord(
                names, openings[g], tuple(histories[g]), (float(result[0]), float(result[1]))
            )
        )
    return records


def score_of(records: Sequence[MatchRecord], name: str) -> tuple[int, int, int]:
    """(wins, draws, losses) of the player called ``name`` over the records."""
    wins = draws = losses = 0
    for record in records:
        seat = record.players.index(name)
        outcome = record.returns[seat]
        wins += outcome > 0
        draws += outcome == 0
        losses += outcome < 0
    return wins, draws, losses
