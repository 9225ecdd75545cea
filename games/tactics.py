"""One-move tactics with exact answers, generated from the rules: positions where the mover can
win at once ("win"), or has exactly one move that does not let the opponent win at once
("block"). The answers are checked by applying every move (and every reply), never by a search,
so a search's choice can be scored against them exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from games.base import Game


@dataclass(frozen=True)
class Tactic:
    """A position (the moves from the start) and the set of moves that solve it: a win in one,
    the one move that does not lose at once (block), or the moves that keep a proven value
    (proven: by a search; solved: by the game's exact solver)."""

    moves: tuple[int, ...]
    kind: Literal["win", "block", "proven", "solved"]
    answers: frozenset[int]


def winning_moves(game: Game, state: np.ndarray) -> list[int]:
    """The mover's moves that end the game with the mover winning."""
    mover = game.current_player(state)
    wins = []
    for action in game.legal_actions(state):
        child = game.apply(state, action)
        if game.is_terminal(child) and game.returns(child)[mover] > 0:
            wins.append(action)
    return wins


def safe_moves(game: Game, state: np.ndarray) -> list[int]:
    """The mover's moves after which the opponent has no immediate win."""
    return [
        action
        for action in game.legal_actions(state)
        if game.is_terminal(child := game.apply(state, action)) or not winning_moves(game, child)
    ]


def classify(game: Game, state: np.ndarray) -> Tactic | None:
    """The tactic at ``state`` (moves left empty), or None when it is neither kind."""
    if game.is_terminal(state):
        return None
    wins = winning_moves(game, state)
    if wins:
        return Tactic((), "win", frozenset(wins))
    safe = safe_moves(game, state)
    if len(safe) == 1 and len(game.legal_actions(state)) > 1:
        return Tactic((), "block", frozenset(safe))
    return None


def generate_tactics(
    game: Game, count: int, seed: int, kinds: tuple[str, ...] = ("win", "block")
) -> list[Tactic]:
    """``count`` distinct tactics of the given kinds (alternating between them), met along
    uniformly random games seeded by ``seed``."""
    rng = np.random.default_rng(seed)
    found: dict[str, dict[tuple[int, ...], Tactic]] = {kind: {} for kind in kinds}
    per_kind = -(-count // len(kinds))
    for _ in range(200 * count):
        if all(len(tactics) >= per_kind for tactics in found.values()):
            break
        state, moves = game.initial_state(), list[int]()
        while not game.is_terminal(state):
            tactic = classify(game, state)
            if tactic is not None and tactic.kind in found:
                tactics = found[tactic.kind]
                if len(tactics) < per_kind and tuple(moves) not in tactics:
                    tactics[tuple(moves)] = Tactic(tuple(moves), tactic.kind, tactic.answers)
            action = int(rng.choice(game.legal_actions(state)))
            state = game.apply(state, action)
            moves.append(action)
    result = [
        t for pair in zip(*(list(f.values()) for f in found.values()), strict=False) for t in pair
    ]
    if len(result) < count:
        raise ValueError(f"found only {len(result)} tactics of kinds {kinds} in {game!r}")
    return result[:count]
