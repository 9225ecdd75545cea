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
    """A player. A bot that spends test compute (a search) also sets ``last_compute``, a
    :class:`ChoiceCompute` of its latest ``choose`` call; :func:`choice_compute` reads it."""

    name: str

    def choose(self, states: np.ndarray, seeds: np.ndarray) -> np.ndarray:
        """Moves (L,) int64 for L non-terminal states (L, state_size), one seed each."""
        ...


@dataclass(frozen=True)
class ChoiceCompute:
    """Test compute of one ``choose`` call, per state: arrays (L,) int64."""

    simulations: np.ndarray  # search simulations run
    evaluations: np.ndarray  # leaves evaluated (net forward passes or rollouts)
    flops: np.ndarray  # net forward FLOPs (evaluations x FLOPs per position; 0 for rollouts)


def choice_compute(bot: Bot, count: int) -> ChoiceCompute:
    """What ``bot``'s latest ``choose`` of ``count`` states spent: its ``last_compute`` when it
    reports one, else nothing (random moves, a solver's lookup). The one place that asks."""
    spent = getattr(bot, "last_compute", None)
    if spent is None:
        zeros = np.zeros(count, np.int64)
        return ChoiceCompute(zeros, zeros, zeros)
    if len(spent.simulations) != count:
        raise ValueError(f"bot {bot.name!r} reported compute for {len(spent.simulations)} states")
    return spent


@dataclass(frozen=True)
class PlayerCompute:
    """One player's test compute over one game: sums over the moves it chose."""

    moves: int = 0  # moves it chose (the opening's random moves are nobody's)
    simulations: int = 0
    evaluations: int = 0
    flops: int = 0  # net forward FLOPs

    def add(self, spent: ChoiceCompute, index: int) -> PlayerCompute:
        """This total plus state ``index`` of one ``choose`` call."""
        return PlayerCompute(
            self.moves + 1, self.simulations + int(spent.simulations[index]),
            self.evaluations + int(spent.evaluations[index]), self.flops + int(spent.flops[index]),
        )  # fmt: skip


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
    flops_per_evaluation: int = 0  # a net's forward FLOPs per position; 0 for rollouts
    checkpoint: str = ""  # the file name of the checkpoint its net came from; "" for none

    def __post_init__(self) -> None:
        self.search = build_search(self.expander, self.config)
        self.last_compute: ChoiceCompute | None = None

    def choose(self, states: np.ndarray, seeds: np.ndarray) -> np.ndarray:
        result = self.search.run(states, seeds)
        self.last_compute = ChoiceCompute(
            np.full(len(states), result.num_simulations, np.int64),
            result.evaluations,
            result.evaluations * self.flops_per_evaluation,
        )
        return result.chosen


def mcts_bot(game: Game, num_simulations: int, uct: Uct | None = None) -> SearchBot:
    """Classic MCTS: UCT (c = 2) and one random rollout per leaf, like OpenSpiel's MCTSBot, with
    proven values on as its ``solve=True`` default (and, unless ``uct`` turns it off, the rules'
    lookahead, which that bot does not have). Named by its spec, ``mcts:N``."""
    config = SearchConfig(rule="uct", simulations=num_simulations, uct=uct or Uct())
    return SearchBot(GameExpander(game, "rollout"), config, name=f"mcts:{num_simulations}")


@dataclass(frozen=True)
class MatchRecord:
    """One finished game: who played which colour, from which opening, the result, and each
    colour's test compute. ``seed`` and ``game`` (the match seed and the game's index in the
    match) identify it; records read from files written before they were kept have None and
    no compute."""

    players: tuple[str, str]  # (player 0, player 1), player 0 moves first
    opening: tuple[int, ...]
    moves: tuple[int, ...]  # all moves, opening included
    returns: tuple[float, float]  # per colour: +1 win, -1 loss, 0 draw
    seed: int | None = None
    game: int | None = None
    compute: tuple[PlayerCompute, PlayerCompute] | None = None  # per colour
    rules: str = ""  # the game played, by its display name ("Hex 3x3"); "" in older files
    # per colour, the checkpoint file a net player's name resolved to ("" for none, older files)
    checkpoints: tuple[str, str] = ("", "")

    @property
    def score(self) -> float:
        """The first player's score: 1, 0.5 or 0."""
        return (self.returns[0] + 1) / 2

    def to_json(self) -> dict:
        """The match-file line (DESIGN.md, "Interface contracts"): ``a`` moved first, ``b``
        second, ``score`` is a's (1, 0.5 or 0); moves as action ids, the opening's included;
        ``test_flops`` (net forward FLOPs) and ``test_compute`` per colour; ``checkpoint`` for
        the colours a net played."""
        line: dict = {
            "a": self.players[0], "b": self.players[1], "score": self.score,
            "opening": list(self.opening), "moves": list(self.moves),
        }  # fmt: skip
        if self.rules:
            line["rules"] = self.rules
        if self.seed is not None:
            line["seed"], line["game"] = self.seed, self.game
        if self.compute is not None:
            line["test_flops"] = {side: c.flops for side, c in zip("ab", self.compute, strict=True)}
            line["test_compute"] = {
                side: {"moves": c.moves, "simulations": c.simulations, "evaluations": c.evaluations}
                for side, c in zip("ab", self.compute, strict=True)
            }
        if any(self.checkpoints):
            line["checkpoint"] = {s: c for s, c in zip("ab", self.checkpoints, strict=True) if c}
        return line

    @classmethod
    def from_json(cls, data: dict) -> MatchRecord:
        """Inverse of :meth:`to_json`; reads older lines without seed, game, compute and
        checkpoints."""
        score = float(data["score"])
        sides = data.get("checkpoint", {})
        compute = None
        if "test_compute" in data:
            flops = data.get("test_flops", {})
            compute = tuple(
                PlayerCompute(**data["test_compute"][side], flops=int(flops.get(side, 0)))
                for side in "ab"
            )
        return cls(
            (data["a"], data["b"]), tuple(data["opening"]), tuple(data["moves"]),
            (2 * score - 1, 1 - 2 * score), data.get("seed"), data.get("game"),
            compute, str(data.get("rules", "")),  # type: ignore[arg-type]
            (str(sides.get("a", "")), str(sides.get("b", ""))),
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
    pairing plays both colours equally often, and games 2k and 2k + 1 from the same opening.
    Games start after ``opening_moves`` uniformly random moves (recorded). Each ply is one
    batched ``choose`` call per bot. Every random draw of a game (its opening, each search)
    comes from (seed, game index, ply), so a game is the same whichever games share its batch.
    """
    games = range(first_game, first_game + num_games)
    states = [game.initial_state() for _ in games]
    histories: list[list[int]] = [[] for _ in games]
    for g, index in enumerate(games):
        # With colours swapping, games 2k and 2k + 1 share their opening: each opening is
        # played once with each colour, so an opening's own value (who it favours) cancels
        # out of a pairing's score instead of adding noise (or, for equal players, a bias).
        opening_rng = np.random.default_rng([seed, index // 2 if swap_colours else index, 0x0FE])
        for _ in range(opening_moves):
            if game.is_terminal(states[g]):
                break
            move = int(opening_rng.choice(game.legal_actions(states[g])))
            states[g] = game.apply(states[g], move)
            histories[g].append(move)
    openings = [tuple(h) for h in histories]
    seat_of_bot0 = [(index % 2 if swap_colours else 0) for index in games]
    active = [g for g in range(num_games) if not game.is_terminal(states[g])]
    # Per game, per bot (not per colour: bot 0 sits in seat ``seat_of_bot0[g]``).
    spent = [[PlayerCompute(), PlayerCompute()] for _ in games]
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
            compute = choice_compute(bot, len(turn))
            for i, (g, move) in enumerate(zip(turn, moves, strict=True)):
                states[g] = game.apply(states[g], int(move))
                histories[g].append(int(move))
                spent[g][bot_index] = spent[g][bot_index].add(compute, i)
            active = [g for g in active if not game.is_terminal(states[g])]
    records = []
    # Bots without a net (random, a solver, rollouts) have no checkpoint.
    checkpoints = [str(getattr(bot, "checkpoint", "")) for bot in bots]
    for g, index in enumerate(games):
        order = (0, 1) if seat_of_bot0[g] == 0 else (1, 0)  # bot indices by colour
        result = game.returns(states[g])
        records.append(
            MatchRecord(
                (bots[order[0]].name, bots[order[1]].name), openings[g], tuple(histories[g]),
                (float(result[0]), float(result[1])), seed, index,
                (spent[g][order[0]], spent[g][order[1]]), game.display_name,
                (checkpoints[order[0]], checkpoints[order[1]]),
            )
        )  # fmt: skip
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
