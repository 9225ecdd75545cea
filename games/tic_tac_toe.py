"""Tic-tac-toe as OpenSpiel plays it: action = row * 3 + column, player 0 ('x') moves first.

State: int64 (3,) = [player 0's stones, player 1's stones, ply], stones as 9-bit boards where
bit i is the cell of action i.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from games.base import GameKernels, KernelGame, parse_digit_moves, square_symmetries
from games.random import GOLDEN_GAMMA, bounded, mix

NUM_CELLS = 9
FULL_BOARD = (1 << NUM_CELLS) - 1
# The 8 lines of three: rows, columns, diagonals.
LINES = np.array(
    [0b000000111, 0b000111000, 0b111000000, 0b001001001, 0b010010010, 0b100100100,
     0b100010001, 0b001010100],
    dtype=np.int64,
)  # fmt: skip
PLY = 2


@njit(cache=True)
def has_line(stones: int) -> bool:
    for line in LINES:
        if stones & line == line:
            return True
    return False


@njit(cache=True)
def status(state: np.ndarray) -> tuple[bool, float]:
    ply = state[PLY]
    if ply == 0:
        return False, 0.0
    # Only the player who just moved can have completed a line.
    if has_line(state[(ply - 1) & 1]):
        return True, -1.0
    if ply == NUM_CELLS:
        return True, 0.0
    return False, 0.0


@njit(cache=True)
def legal_into(state: np.ndarray, mask_out: np.ndarray) -> int:
    mask_out[:] = False
    if status(state)[0]:
        return 0
    occupied = state[0] | state[1]
    count = 0
    for action in range(NUM_CELLS):
        if not (occupied >> action) & 1:
            mask_out[action] = True
            count += 1
    return count


@njit(cache=True)
def apply_into(state: np.ndarray, action: int, out: np.ndarray) -> None:
    out[:] = state
    ply = state[PLY]
    out[ply & 1] = state[ply & 1] | (1 << action)
    out[PLY] = ply + 1


@njit(cache=True)
def rollout(state: np.ndarray, rng_state: np.ndarray, index: int) -> float:
    done, value = status(state)
    if done:
        return value
    ply = state[PLY]
    mover = state[ply & 1]
    other = state[(ply & 1) ^ 1]
    counter = rng_state[index]
    sign = 1.0  # +1 while the player to move at `state` is moving
    result = 0.0
    while True:
        empty = ~(mover | other) & FULL_BOARD
        count = 0
        for cell in range(NUM_CELLS):
            count += (empty >> cell) & 1
        counter += GOLDEN_GAMMA
        pick = bounded(mix(counter), count)
        for cell in range(NUM_CELLS):
            if (empty >> cell) & 1:
                if pick == 0:
                    mover |= 1 << cell
                    break
                pick -= 1
        if has_line(mover):
            result = sign
            break
        if count == 1:
            break
        mover, other = other, mover
        sign = -sign
    rng_state[index] = counter
    return result


@njit(cache=True)
def observations_into(states: np.ndarray, out: np.ndarray) -> None:
    """states (L, 3) -> out (L, 2, 3, 3): plane 0 the mover's stones, plane 1 the opponent's."""
    for i in range(states.shape[0]):
        mover = states[i, PLY] & 1
        for plane in range(2):
            stones = states[i, mover ^ plane]
            for cell in range(NUM_CELLS):
                out[i, plane, cell // 3, cell % 3] = (stones >> cell) & 1


@njit(cache=True)
def legal_masks_into(states: np.ndarray, out: np.ndarray) -> None:
    for i in range(states.shape[0]):
        legal_into(states[i], out[i])


class TicTacToe(KernelGame):
    """3 x 3 tic-tac-toe; move text "1".."9" (row-major from the top-left, action + 1)."""

    def __init__(self) -> None:
        self.name = "tic_tac_toe"
        self.display_name = "tic-tac-toe"
        self.num_actions = NUM_CELLS
        self.state_size = 3
        self.state_dtype = np.dtype(np.int64)
        self.observation_shape = (2, 3, 3)
        self.params: dict = {}
        self.max_game_length = NUM_CELLS
        self.symmetries = square_symmetries(3)
        self.kernels = GameKernels(apply_into, legal_into, status, rollout)
        self.ply_index = PLY
        self.observations_into, self.legal_masks_into = observations_into, legal_masks_into

    def action_to_text(self, action: int) -> str:
        return str(int(action) + 1)

    def parse_moves(self, text: str) -> list[int]:
        """Digits "1".."9", one per move; spaces and commas between moves are ignored."""
        return parse_digit_moves(
            "tic_tac_toe", text, "123456789", "'5' or '519' (row-major from the top-left)"
        )

    def render(self, state: np.ndarray) -> str:
        """The board ('x' player 0, 'o' player 1) beside the cell numbers, then who is to move."""
        lines = []
        for row in range(3):
            cells = []
            for col in range(3):
                bit = 1 << (row * 3 + col)
                cells.append("x" if state[0] & bit else "o" if state[1] & bit else ".")
            numbers = " ".join(str(row * 3 + col + 1) for col in range(3))
            lines.append(f"{' '.join(cells)}    {numbers}")
        lines.append(self.status_text(state))
        return "\n".join(lines)
