"""The Game protocol every rule set implements, its compiled kernels, symmetries and errors.

A state is a 1-D numpy array of fixed length ``game.state_size`` and dtype ``game.state_dtype``;
states are values (``apply`` returns a new array), so the search core can keep them in a
preallocated ``(B, nodes, state_size)`` array. Actions are OpenSpiel's integers.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np


class IllegalMoveError(ValueError):
    """A move that the rules forbid in the given position (or text that names no move)."""


class GameKernels(NamedTuple):
    """The compiled rules (plain ``@njit`` functions), passed as first-class functions into the
    search core's own compiled loops.

    - ``apply_into(state, action, out) -> None``: write the child state into ``out`` (no check).
    - ``legal_into(state, mask_out) -> int``: fill the bool mask (num_actions,), return the number
      of legal moves (0 at a terminal state).
    - ``status(state) -> (bool, float)``: (terminal, value for the player to move at ``state``),
      the value +1 win / -1 loss / 0 draw or not terminal.
    - ``rollout(state, rng_state, index) -> float``: the outcome of uniformly random play to the
      end, for the player to move at ``state``; draws from (and advances) stream
      ``rng_state[index]``.
    """

    apply_into: Callable[..., None]
    legal_into: Callable[..., int]
    status: Callable[..., tuple[bool, float]]
    rollout: Callable[..., float]


@dataclass(frozen=True, eq=False)
class Symmetry:
    """A board symmetry in gather form, with H*W cells and A actions.

    ``transformed_obs.reshape(C, -1)[:, i] = obs.reshape(C, -1)[:, spatial[i]]`` and
    ``transformed_policy[i] = policy[actions[i]]``. If the symmetry moves the stone on cell j to
    cell sigma(j), then ``spatial = sigma^-1``; :meth:`map_action` is sigma on actions, for
    building the transformed position from transformed moves.
    """

    spatial: np.ndarray  # (H*W,) int64
    actions: np.ndarray  # (A,) int64

    def map_action(self, action: int) -> int:
        """Where ``action`` goes under the symmetry (the inverse of the gather map)."""
        return int(np.flatnonzero(self.actions == action)[0])


def apply_symmetry(
    observations: np.ndarray, policies: np.ndarray, symmetry: Symmetry
) -> tuple[np.ndarray, np.ndarray]:
    """Transform a batch: observations (L, C, H, W) and policies (L, A) -> the same shapes."""
    batch, planes, height, width = observations.shape
    flat = observations.reshape(batch, planes, height * width)
    transformed = flat[:, :, symmetry.spatial].reshape(batch, planes, height, width)
    return transformed, policies[:, symmetry.actions]


def gather_form(forward: np.ndarray) -> np.ndarray:
    """The gather map of a permutation sigma (cell j -> cell sigma(j)): its inverse, int64."""
    return np.argsort(forward).astype(np.int64)


def square_symmetries(n: int) -> tuple[Symmetry, ...]:
    """The 8 dihedral symmetries of an n x n board whose actions are its cells (row-major),
    identity first."""
    rows, cols = np.divmod(np.arange(n * n), n)
    forward = [
        (rows, cols),  # identity
        (cols, n - 1 - rows),  # rotate 90 degrees clockwise
        (n - 1 - rows, n - 1 - cols),  # rotate 180
        (n - 1 - cols, rows),  # rotate 270
        (rows, n - 1 - cols),  # mirror left-right
        (n - 1 - rows, cols),  # mirror top-bottom
        (cols, rows),  # transpose
        (n - 1 - cols, n - 1 - rows),  # anti-transpose
    ]
    symmetries = []
    for new_rows, new_cols in forward:
        inverse = gather_form(new_rows * n + new_cols)
        symmetries.append(Symmetry(spatial=inverse, actions=inverse.copy()))
    return tuple(symmetries)


@runtime_checkable
class Game(Protocol):
    """What the search core, self-play, the CLI and the gym adapters rely on."""

    name: str  # OpenSpiel's name, for configs and records: "connect_four"
    display_name: str  # for people, in headers and messages: "Connect Four", "Hex 7x7"
    num_actions: int
    state_size: int
    state_dtype: np.dtype
    observation_shape: tuple[int, int, int]
    params: dict[str, Any]
    max_game_length: int
    symmetries: tuple[Symmetry, ...]
    kernels: GameKernels

    def initial_state(self) -> np.ndarray:
        """The empty board: (state_size,) state_dtype."""
        ...

    def legal_mask(self, state: np.ndarray) -> np.ndarray:
        """Bool (num_actions,); all False at a terminal state."""
        ...

    def legal_actions(self, state: np.ndarray) -> list[int]:
        """The legal actions in increasing order (OpenSpiel's order); [] at a terminal state."""
        ...

    def apply(self, state: np.ndarray, action: int) -> np.ndarray:
        """A new state after ``action``; raises IllegalMoveError naming the move and why."""
        ...

    def is_terminal(self, state: np.ndarray) -> bool: ...

    def returns(self, state: np.ndarray) -> np.ndarray:
        """Float64 (2,): +1 / -1 / 0 for player 0 and player 1 (zeros before the end)."""
        ...

    def current_player(self, state: np.ndarray) -> int:
        """0 or 1 (player 0 moves first); at a terminal state, the player who would move."""
        ...

    def observation(self, state: np.ndarray) -> np.ndarray:
        """Float32 (planes, H, W) from the mover's view: plane 0 the mover's stones, plane 1
        the opponent's, further planes as the game needs."""
        ...

    def observations(self, states: np.ndarray) -> np.ndarray:
        """Batched: states (L, state_size) -> float32 (L, planes, H, W)."""
        ...

    def legal_masks(self, states: np.ndarray) -> np.ndarray:
        """Batched: states (L, state_size) -> bool (L, num_actions)."""
        ...

    def render(self, state: np.ndarray) -> str:
        """The board with coordinates and a last line saying who moves or who won."""
        ...

    def action_to_text(self, action: int) -> str:
        """Move text for people (DESIGN.md, "Interface contracts")."""
        ...

    def parse_move(self, text: str, state: np.ndarray | None = None) -> int:
        """One move's text -> action; with ``state``, raises IllegalMoveError if illegal there."""
        ...

    def parse_moves(self, text: str) -> list[int]:
        """A move list's text -> actions (no legality check)."""
        ...

    def state_from_moves(self, moves: str | Sequence[int]) -> np.ndarray:
        """The state after a move list (text or actions) from the start, each move checked."""
        ...


def parse_digit_moves(game: str, text: str, digits: str, example: str) -> list[int]:
    """Moves written as one digit each ("4453"): digit d is action d - 1. Spaces and commas
    between moves are ignored."""
    compact = re.sub(r"[\s,]+", "", text)
    if not compact or any(char not in digits for char in compact):
        raise IllegalMoveError(
            f"{game}: cannot read {text!r} as moves: each move is a digit {digits[0]}-"
            f"{digits[-1]}, e.g. {example}"
        )
    return [int(char) - 1 for char in compact]


class KernelGame(ABC):
    """Python-level methods shared by all games, written once over the game's kernels.

    A subclass sets the attributes of :class:`Game` plus ``ply_index`` and its two batched
    kernels, and implements ``render``, ``action_to_text`` and ``parse_moves`` (``parse_move``
    parses one move with it).
    """

    name: str
    display_name: str
    num_actions: int
    state_size: int
    state_dtype: np.dtype
    observation_shape: tuple[int, int, int]
    params: dict[str, Any]
    max_game_length: int
    symmetries: tuple[Symmetry, ...]
    kernels: GameKernels
    ply_index: int  # where a state keeps its ply count
    observations_into: Callable[..., None]  # compiled: (states (L, W), out (L, C, H, W))
    legal_masks_into: Callable[..., None]  # compiled: (states (L, W), out (L, A))

    def __repr__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.params.items())
        return f"make_game({self.name!r}{', ' if arguments else ''}{arguments})"

    def __eq__(self, other: object) -> bool:
        # Games are rules, not instances: equal when they are the same game with the same params.
        return (
            isinstance(other, KernelGame)
            and type(other) is type(self)
            and other.params == self.params
        )

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted(self.params.items()))))

    def initial_state(self) -> np.ndarray:
        return np.zeros(self.state_size, self.state_dtype)

    def _check_state(self, state: np.ndarray) -> np.ndarray:
        state = np.asarray(state)
        if state.shape != (self.state_size,) or state.dtype != self.state_dtype:
            raise ValueError(
                f"{self.name}: a state is a ({self.state_size},) {self.state_dtype} array, "
                f"got {state.shape} {state.dtype}"
            )
        return state

    def legal_mask(self, state: np.ndarray) -> np.ndarray:
        """Bool (num_actions,): True where the action is legal (none at a terminal state)."""
        mask = np.zeros(self.num_actions, np.bool_)
        self.kernels.legal_into(self._check_state(state), mask)
        return mask

    def legal_actions(self, state: np.ndarray) -> list[int]:
        return [int(action) for action in np.flatnonzero(self.legal_mask(state))]

    def apply(self, state: np.ndarray, action: int) -> np.ndarray:
        """The state after ``action``; raises IllegalMoveError naming the move and why."""
        mask = self.legal_mask(state)
        if not 0 <= int(action) < self.num_actions or not mask[int(action)]:
            raise IllegalMoveError(self._illegal_message(int(action), mask))
        child = np.empty_like(state)
        self.kernels.apply_into(state, int(action), child)
        return child

    def _illegal_message(self, action: int, mask: np.ndarray) -> str:
        if not mask.any():
            shown = self.action_to_text(action) if 0 <= action < self.num_actions else action
            return f"{self.name}: move {shown} (action {action}) is illegal: the game is over"
        legal = ", ".join(f"{self.action_to_text(int(a))} ({int(a)})" for a in np.flatnonzero(mask))
        if not 0 <= action < self.num_actions:
            return (
                f"{self.name}: action {action} is out of range 0..{self.num_actions - 1}; "
                f"legal moves (text, action): {legal}"
            )
        return (
            f"{self.name}: move {self.action_to_text(action)} (action {action}) is illegal "
            f"here; legal moves (text, action): {legal}"
        )

    def is_terminal(self, state: np.ndarray) -> bool:
        return bool(self.kernels.status(self._check_state(state))[0])

    def returns(self, state: np.ndarray) -> np.ndarray:
        """Float64 (2,): the outcome for player 0 and player 1 (zeros before the end)."""
        _, value = self.kernels.status(self._check_state(state))
        mover = self.current_player(state)
        result = np.zeros(2)
        result[mover] = value
        result[1 - mover] = -value if value else 0.0
        return result

    def current_player(self, state: np.ndarray) -> int:
        """Player 0 moves at even plies (the state keeps its ply at ``ply_index``)."""
        return int(state[self.ply_index]) % 2

    def observations(self, states: np.ndarray) -> np.ndarray:
        """Float32 (L, planes, H, W) for states (L, state_size), one compiled call."""
        states = np.ascontiguousarray(states, dtype=self.state_dtype).reshape(-1, self.state_size)
        out = np.zeros((len(states), *self.observation_shape), np.float32)
        self.observations_into(states, out)
        return out

    def legal_masks(self, states: np.ndarray) -> np.ndarray:
        """Bool (L, num_actions) for states (L, state_size), one compiled call."""
        states = np.ascontiguousarray(states, dtype=self.state_dtype).reshape(-1, self.state_size)
        out = np.zeros((len(states), self.num_actions), np.bool_)
        self.legal_masks_into(states, out)
        return out

    def observation(self, state: np.ndarray) -> np.ndarray:
        """Float32 (planes, H, W) from the mover's view."""
        return self.observations(self._check_state(state)[None])[0]

    @abstractmethod
    def action_to_text(self, action: int) -> str: ...

    @abstractmethod
    def parse_moves(self, text: str) -> list[int]: ...

    def parse_move(self, text: str, state: np.ndarray | None = None) -> int:
        """One move's text -> action; with ``state``, also checks that it is legal there."""
        actions = self.parse_moves(text)
        if len(actions) != 1:
            raise IllegalMoveError(
                f"{self.name}: expected one move, got {len(actions)} in {text!r} "
                f"(e.g. {self.action_to_text(0)!r})"
            )
        action = actions[0]
        if state is not None:
            mask = self.legal_mask(state)
            if not mask[action]:
                raise IllegalMoveError(self._illegal_message(action, mask))
        return action

    def state_from_moves(self, moves: str | Sequence[int]) -> np.ndarray:
        """Play a move list (text, or a sequence of actions) from the start, checking each.
        An empty list (or blank text) is the initial position."""
        if isinstance(moves, str):
            actions = self.parse_moves(moves) if moves.strip() else []
        else:
            actions = [int(m) for m in moves]
        state = self.initial_state()
        for ply, action in enumerate(actions):
            try:
                state = self.apply(state, action)
            except IllegalMoveError as error:
                raise IllegalMoveError(f"move {ply + 1} of the list: {error}") from None
        return state

    @abstractmethod
    def render(self, state: np.ndarray) -> str: ...

    def status_text(self, state: np.ndarray) -> str:
        """'x (player 0) to move', 'o (player 1) wins' or 'draw' (the last line of a render)."""
        symbols = ("x", "o")
        done, value = self.kernels.status(state)
        mover = self.current_player(state)
        if not done:
            return f"{symbols[mover]} (player {mover}) to move"
        if value == 0.0:
            return "draw"
        winner = mover if value > 0 else 1 - mover
        return f"{symbols[winner]} (player {winner}) wins"
