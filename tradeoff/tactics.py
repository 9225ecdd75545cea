"""Tactics as a strength measure: the share of positions with exact answers in which an agent
plays a right move, with a 95% interval.

Two sets, both generated from the rules and never used in training:
- one-move tactics (:mod:`games.tactics`): a win in one, or the only move that does not lose at
  once;
- proven positions: late-game positions whose every move a deep search with proven values solved
  exactly, where some move throws the game-theoretic value away; the right moves are those that
  keep it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from experiment import UserError
from experiment.stats import wilson_interval
from games.base import Game
from games.tactics import Tactic, classify, generate_tactics
from search.config import SearchConfig, build_search
from search.expanders import GameExpander
from search.play import Bot, move_seeds


@dataclass(frozen=True)
class TacticScore:
    """How often one agent played a right move on one kind of position."""

    agent: str
    kind: str
    correct: int
    positions: int
    low: float  # 95% Wilson interval of the share
    high: float

    @property
    def share(self) -> float:
        return self.correct / self.positions


def proven_positions(
    game: Game,
    count: int,
    seed: int,
    min_plies: int,
    simulations: int = 20_000,
    batch: int = 64,
) -> list[Tactic]:
    """``count`` positions at least ``min_plies`` into uniformly random games whose every legal
    move classic MCTS with proven values (``simulations`` per position) solved exactly, where
    some move loses value and that are no one-move tactic; the answers are the moves that keep
    the root's exact value."""
    if min_plies >= game.max_game_length:
        raise UserError(
            f"proven positions at least {min_plies} plies in: {game.display_name} games last at "
            f"most {game.max_game_length}; ask for fewer plies (--min-plies)"
        )
    rng = np.random.default_rng([seed, 0x9E0])  # not the one-move tactics' stream
    search = build_search(GameExpander(game), SearchConfig(rule="uct", simulations=simulations))
    found: dict[tuple[int, ...], Tactic] = {}
    for _ in range(1000):
        if len(found) >= count:
            break
        candidates: list[tuple[tuple[int, ...], np.ndarray]] = []
        while len(candidates) < batch:
            state, moves = game.initial_state(), list[int]()
            length = int(rng.integers(min_plies, game.max_game_length))
            while not game.is_terminal(state) and len(moves) < length:
                action = int(rng.choice(game.legal_actions(state)))
                state, moves = game.apply(state, action), [*moves, action]
            if not game.is_terminal(state) and len(moves) >= min_plies:
                candidates.append((tuple(moves), state))
        seeds = rng.integers(0, 2**63, size=batch)
        result = search.run(np.stack([state for _, state in candidates]), seeds)
        for b, (played, _) in enumerate(candidates):
            legal = result.valid[b]
            values = result.proven_values[b][legal]
            if not result.solved[b] or np.isnan(values).any():
                continue
            keeps = np.flatnonzero(legal)[np.isclose(values, result.root_values[b])]
            one_move = classify(game, game.state_from_moves(played)) is not None
            if len(keeps) < legal.sum() and played not in found and not one_move:
                found[played] = Tactic(played, "proven", frozenset(int(a) for a in keeps))
    if len(found) < count:
        raise ValueError(f"found only {len(found)} proven positions in {game!r}")
    return list(found.values())[:count]


def tactic_set(game: Game, count: int, proven: int, seed: int, min_plies: int) -> list[Tactic]:
    """``count`` one-move tactics (half wins, half blocks) and ``proven`` proven positions."""
    tactics = generate_tactics(game, count, seed)
    return tactics + (proven_positions(game, proven, seed, min_plies) if proven else [])


def score_tactics(
    game: Game, bot: Bot, tactics: Sequence[Tactic], seed: int, batch: int = 100
) -> list[TacticScore]:
    """Every kind's share of right moves for ``bot`` (its moves chosen in batches)."""
    right = np.zeros(len(tactics), bool)
    for start in range(0, len(tactics), batch):
        chunk = tactics[start : start + batch]
        states = np.stack([game.state_from_moves(t.moves) for t in chunk])
        indices = list(range(start, start + len(chunk)))
        moves = bot.choose(states, move_seeds(seed, indices, [len(t.moves) for t in chunk]))
        right[indices] = [int(m) in t.answers for m, t in zip(moves, chunk, strict=True)]
    scores = []
    for kind in dict.fromkeys(t.kind for t in tactics):
        mask = np.array([t.kind == kind for t in tactics])
        correct, total = int(right[mask].sum()), int(mask.sum())
        low, high = wilson_interval(correct, total)
        scores.append(TacticScore(bot.name, kind, correct, total, low, high))
    return scores
