"""Tactics as a strength measure: the share of positions with exact answers in which an agent
plays a right move, with a 95% interval.

Three sets, all generated from the rules and never used in training:
- one-move tactics (:mod:`games.tactics`): a win in one, or the only move that does not lose at
  once;
- proven positions: late-game positions whose every move a deep search with proven values solved
  exactly, where some move throws the game-theoretic value away; the right moves are those that
  keep it;
- solved positions: the same question from positions of any stage, every move valued by the
  game's exact solver (:mod:`games.solver`; tic-tac-toe, Connect Four, Hex up to 4x4), so that
  the set is not limited to what a search proves: the middle game, where a search's choice is
  not forced by the rules.
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
    _check_plies(game, min_plies, "proven", "--min-plies")
    rng = np.random.default_rng([seed, 0x9E0])  # not the one-move tactics' stream
    search = build_search(GameExpander(game), SearchConfig(rule="uct", simulations=simulations))
    found: dict[tuple[int, ...], Tactic] = {}
    for _ in range(1000):
        if len(found) >= count:
            break
        candidates = [_random_position(game, rng, min_plies) for _ in range(batch)]
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


def _check_plies(game: Game, min_plies: int, kind: str, option: str) -> None:
    if min_plies >= game.max_game_length:
        raise UserError(
            f"{kind} positions at least {min_plies} plies in: {game.display_name} games last at "
            f"most {game.max_game_length}; ask for fewer plies ({option})"
        )


def _random_position(
    game: Game, rng: np.random.Generator, min_plies: int
) -> tuple[tuple[int, ...], np.ndarray]:
    """(moves, state): a uniformly random game stopped at a length drawn in [min_plies, the
    longest game), drawn again until it stops at a position that is not the end."""
    while True:
        state, moves = game.initial_state(), list[int]()
        length = int(rng.integers(min_plies, game.max_game_length))
        while not game.is_terminal(state) and len(moves) < length:
            action = int(rng.choice(game.legal_actions(state)))
            state, moves = game.apply(state, action), [*moves, action]
        if not game.is_terminal(state) and len(moves) >= min_plies:
            return tuple(moves), state


def solved_positions(game: Game, count: int, seed: int, min_plies: int) -> list[Tactic]:
    """``count`` positions at least ``min_plies`` into uniformly random games, every legal move
    valued by the game's exact solver, where some move loses value and that are no one-move
    tactic; the answers are the moves that keep the position's value (the optimal moves).
    Refuses, in one line, a game without a solver."""
    from games.solver import has_solver, no_solver_message, solver_for

    if not has_solver(game):
        raise UserError(f"solved positions: {no_solver_message(game)}")
    _check_plies(game, min_plies, "solved", "--solved-plies")
    rng = np.random.default_rng([seed, 0x501E])  # not the other sets' streams
    solver = solver_for(game)
    found: dict[tuple[int, ...], Tactic] = {}
    for _ in range(200 * count):
        if len(found) >= count:
            break
        played, state = _random_position(game, rng, min_plies)
        if played in found or classify(game, state) is not None:
            continue
        values = solver.move_values(state)
        legal = ~np.isnan(values)
        best = np.nanmax(values)
        if (values[legal] < best).any():
            keeps = frozenset(int(a) for a in np.flatnonzero(values == best))
            found[played] = Tactic(played, "solved", keeps)
    if len(found) < count:
        raise ValueError(f"found only {len(found)} solved positions in {game!r}")
    return list(found.values())


def tactic_set(
    game: Game,
    count: int,
    proven: int,
    seed: int,
    min_plies: int,
    solved: int = 0,
    solved_plies: int = 12,
) -> list[Tactic]:
    """``count`` one-move tactics (half wins, half blocks), ``proven`` proven positions (at
    least ``min_plies`` in) and ``solved`` solved positions (at least ``solved_plies`` in)."""
    tactics = generate_tactics(game, count, seed)
    if proven:
        tactics += proven_positions(game, proven, seed, min_plies)
    if solved:
        tactics += solved_positions(game, solved, seed, solved_plies)
    return tactics


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
