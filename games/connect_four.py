"""Connect Four (7 columns x 6 rows) as OpenSpiel plays it: action = column 0..6, player 0 ('x')
moves first, four in a row wins, a full board is a draw.

State: int64 (3,) = [player 0's stones, player 1's stones, ply]. Stones are bitboards with
bit ``column * 7 + row`` (row 0 at the bottom); bit 6 of every column stays empty, so shifting
a line across a column boundary never wraps (the classic layout of Pons' solver).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from games.base import GameKernels, KernelGame, Symmetry, gather_form, parse_digit_moves
from games.random import GOLDEN_GAMMA, bounded, mix

COLUMNS = 7
ROWS = 6
CELLS = COLUMNS * ROWS
STRIDE = ROWS + 1  # bits per column, the top one a sentinel
PLY = 2
BOTTOM = np.array([1 << (column * STRIDE) for column in range(COLUMNS)], dtype=np.int64)
COLUMN_MASK = np.array(
    [((1 << ROWS) - 1) << (column * STRIDE) for column in range(COLUMNS)], dtype=np.int64
)
TOP = np.array([1 << (column * STRIDE + ROWS - 1) for column in range(COLUMNS)], dtype=np.int64)
TOP_ROW = int(TOP.sum())
BOTTOM_ROW = int(BOTTOM.sum())
BOARD = int(COLUMN_MASK.sum())  # every cell, no sentinel bit


def _select_table() -> np.ndarray:
    """SELECT[columns, k]: the k-th set bit of a 7-bit set of open columns (-1 past the end)."""
    table = np.full((1 << COLUMNS, COLUMNS), -1, dtype=np.int64)
    for columns in range(1 << COLUMNS):
        open_columns = [column for column in range(COLUMNS) if (columns >> column) & 1]
        table[columns, : len(open_columns)] = open_columns
    return table


SELECT = _select_table()
POPCOUNT = np.array([bin(columns).count("1") for columns in range(1 << COLUMNS)], np.int64)


@njit(cache=True)
def has_four(stones: int) -> bool:
    # Shifts 1, 7, 6, 8: vertical, horizontal and the two diagonals.
    for shift in (1, STRIDE, STRIDE - 1, STRIDE + 1):
        pairs = stones & (stones >> shift)
        if pairs & (pairs >> (2 * shift)):
            return True
    return False


@njit(cache=True)
def winning_cells(stones: int, occupied: int) -> int:
    """The empty cells (playable or not) where one more of ``stones`` would complete four: for
    each direction, a cell whose three neighbours on one line of four, in any of the four places
    the cell can take in it, are all stones. Lines that leave the board pass through a sentinel
    bit or past bit 48, which hold no stone, so no line wraps."""
    cells = 0
    for shift in (1, STRIDE, STRIDE - 1, STRIDE + 1):
        for place in range(4):  # the cell's index on the line; the other three must be stones
            line = -1
            for other in range(4):
                if other != place:
                    offset = (other - place) * shift
                    line &= (stones >> offset) if offset > 0 else (stones << -offset)
            cells |= line
    return cells & BOARD & ~occupied


@njit(cache=True)
def status(state: np.ndarray) -> tuple[bool, float]:
    ply = state[PLY]
    if ply == 0:
        return False, 0.0
    # Only the player who just moved can have completed four.
    if has_four(state[(ply - 1) & 1]):
        return True, -1.0
    if ply == CELLS:
        return True, 0.0
    return False, 0.0


@njit(cache=True)
def legal_into(state: np.ndarray, mask_out: np.ndarray) -> int:
    mask_out[:] = False
    if status(state)[0]:
        return 0
    occupied = state[0] | state[1]
    count = 0
    for column in range(COLUMNS):
        if not occupied & TOP[column]:
            mask_out[column] = True
            count += 1
    return count


@njit(cache=True)
def apply_into(state: np.ndarray, action: int, out: np.ndarray) -> None:
    out[:] = state
    ply = state[PLY]
    occupied = state[0] | state[1]
    # Adding the column's bottom bit carries through its stones into the first empty cell.
    stone = (occupied + BOTTOM[action]) & COLUMN_MASK[action]
    out[ply & 1] = state[ply & 1] | stone
    out[PLY] = ply + 1


@njit(cache=True)
def rollout(state: np.ndarray, rng_state: np.ndarray, index: int) -> float:
    done, value = status(state)
    if done:
        return value
    ply = state[PLY]
    mover = state[ply & 1]
    other = state[(ply & 1) ^ 1]
    occupied = mover | other
    open_columns = 0
    for column in range(COLUMNS):
        if not occupied & TOP[column]:
            open_columns |= 1 << column
    counter = rng_state[index]
    sign = 1.0  # +1 while the player to move at `state` is moving
    result = 0.0
    while True:
        counter += GOLDEN_GAMMA
        column = SELECT[open_columns, bounded(mix(counter), POPCOUNT[open_columns])]
        stone = (occupied + BOTTOM[column]) & COLUMN_MASK[column]
        occupied |= stone
        mover |= stone
        if has_four(mover):
            result = sign
            break
        ply += 1
        if ply == CELLS:
            break
        if stone & TOP_ROW:
            open_columns &= ~(1 << column)
        mover, other = other, mover
        sign = -sign
    rng_state[index] = counter
    return result


@njit(cache=True)
def observations_into(states: np.ndarray, out: np.ndarray) -> None:
    """states (L, 3) -> out (L, 2, 6, 7): plane 0 the mover's stones, plane 1 the opponent's;
    H index 0 is the top row, as rendered."""
    for i in range(states.shape[0]):
        mover = states[i, PLY] & 1
        for plane in range(2):
            stones = states[i, mover ^ plane]
            for column in range(COLUMNS):
                for row in range(ROWS):
                    out[i, plane, ROWS - 1 - row, column] = (stones >> (column * STRIDE + row)) & 1


@njit(cache=True)
def legal_masks_into(states: np.ndarray, out: np.ndarray) -> None:
    for i in range(states.shape[0]):
        legal_into(states[i], out[i])


def mirror_symmetries() -> tuple[Symmetry, ...]:
    """Identity and the left-right mirror (the only symmetries gravity leaves)."""
    heights, columns = np.divmod(np.arange(ROWS * COLUMNS), COLUMNS)
    identity = Symmetry(np.arange(ROWS * COLUMNS), np.arange(COLUMNS))
    mirrored_cells = gather_form(heights * COLUMNS + (COLUMNS - 1 - columns))
    mirror = Symmetry(mirrored_cells, np.arange(COLUMNS)[::-1].copy())
    return (identity, mirror)


class ConnectFour(KernelGame):
    """Connect Four; move text "1".."7" (column, action + 1), a move list is a digit string."""

    def __init__(self) -> None:
        self.name = "connect_four"
        self.display_name = "Connect Four"
        self.num_actions = COLUMNS
        self.state_size = 3
        self.state_dtype = np.dtype(np.int64)
        self.observation_shape = (2, ROWS, COLUMNS)
        self.params: dict = {}
        self.max_game_length = CELLS
        self.symmetries = mirror_symmetries()
        self.kernels = GameKernels(apply_into, legal_into, status, rollout)
        self.ply_index = PLY
        self.observations_into, self.legal_masks_into = observations_into, legal_masks_into

    def action_to_text(self, action: int) -> str:
        return str(int(action) + 1)

    def parse_moves(self, text: str) -> list[int]:
        """Digits "1".."7", one per move ("4453"); spaces and commas are ignored."""
        return parse_digit_moves("connect_four", text, "1234567", "'4' or '4453'")

    def render(self, state: np.ndarray) -> str:
        """Rows top to bottom ('x' player 0, 'o' player 1), column numbers, who is to move."""
        lines = []
        for row in reversed(range(ROWS)):
            cells = []
            for column in range(COLUMNS):
                bit = 1 << (column * STRIDE + row)
                cells.append("x" if state[0] & bit else "o" if state[1] & bit else ".")
            lines.append(" ".join(cells))
        lines.append(" ".join(str(column + 1) for column in range(COLUMNS)))
        lines.append(self.status_text(state))
        return "\n".join(lines)
