"""Hex on an n x n rhombus (n = 3..11) as OpenSpiel plays it without the swap rule.

Action = row * n + column. Player 0 ('x') moves first and connects the top edge (row 1) to the
bottom edge (row n); player 1 ('o') connects the left edge (column a) to the right edge. Cell
(r, c) touches (r-1, c), (r-1, c+1), (r, c-1), (r, c+1), (r+1, c-1), (r+1, c): rows are drawn
shifted right by half a cell each, as OpenSpiel prints the board.

State: int8 (n*n + 2,) = [cells..., ply, winner + 1 (0 while nobody has won)]. A stone's cell
holds its colour (1 = player 0, 2 = player 1) plus the edges its group touches (4 = the
player's first edge, 8 = the second), kept equal across a group, so a move knows at once
whether it joined both edges (the same bookkeeping as OpenSpiel's hex.cc). The kernels read n
from the state's length, so one compiled set serves every board size.
"""

from __future__ import annotations

import re

import numpy as np
from numba import njit

from games.base import GameKernels, IllegalMoveError, KernelGame, Symmetry
from games.random import GOLDEN_GAMMA, bounded, mix

MIN_SIZE, MAX_SIZE = 3, 11
COLOUR = 3  # mask of a cell's colour bits
FIRST_EDGE, SECOND_EDGE = 4, 8
BOTH_EDGES = FIRST_EDGE | SECOND_EDGE
NEIGHBOUR_ROWS = np.array([-1, -1, 0, 0, 1, 1], np.int64)
NEIGHBOUR_COLUMNS = np.array([0, 1, -1, 1, -1, 0], np.int64)


@njit(cache=True, inline="always")
def board_size(state: np.ndarray) -> int:
    n = int(np.sqrt(state.shape[0] - 2) + 0.5)
    return n


@njit(cache=True)
def status(state: np.ndarray) -> tuple[bool, float]:
    # Hex has no draws, and only the player who just moved can have connected.
    if state[state.shape[0] - 1] != 0:
        return True, -1.0
    return False, 0.0


@njit(cache=True)
def legal_into(state: np.ndarray, mask_out: np.ndarray) -> int:
    cells = state.shape[0] - 2
    if state[cells + 1] != 0:
        mask_out[:] = False
        return 0
    count = 0
    for cell in range(cells):
        empty = state[cell] == 0
        mask_out[cell] = empty
        count += empty
    return count


@njit(cache=True)
def needs_spread(cells: np.ndarray, n: int, row: int, column: int, colour: int, edges: int) -> bool:
    """Whether a same-colour neighbour's group lacks some of the merged ``edges`` (most moves
    join no edge, so this spares the flood fill and its allocation)."""
    for k in range(6):
        r, c = row + NEIGHBOUR_ROWS[k], column + NEIGHBOUR_COLUMNS[k]
        if 0 <= r < n and 0 <= c < n:
            value = cells[r * n + c]
            if (value & COLOUR) == colour and (value & BOTH_EDGES) != edges:
                return True
    return False


@njit(cache=True)
def spread_edges(cells: np.ndarray, n: int, start: int, colour: int, edges: int) -> None:
    """Give every stone joined to ``start`` the merged ``edges``. A group is uniform, so a stone
    whose edges differ belongs to a group not yet updated."""
    stack = np.empty(n * n, np.int64)
    stack[0] = start
    top = 1
    while top > 0:
        top -= 1
        cell = stack[top]
        r0, c0 = cell // n, cell % n
        for k in range(6):
            r, c = r0 + NEIGHBOUR_ROWS[k], c0 + NEIGHBOUR_COLUMNS[k]
            if 0 <= r < n and 0 <= c < n:
                neighbour = r * n + c
                value = cells[neighbour]
                if (value & COLOUR) == colour and (value & BOTH_EDGES) != edges:
                    cells[neighbour] = colour | edges
                    stack[top] = neighbour
                    top += 1


@njit(cache=True)
def apply_into(state: np.ndarray, action: int, out: np.ndarray) -> None:
    out[:] = state
    n = board_size(state)
    cells = n * n
    ply = state[cells]
    player = ply & 1
    colour = player + 1
    row, column = action // n, action % n
    # The edges this stone touches itself (rows for player 0, columns for player 1).
    line = row if player == 0 else column
    edges = (FIRST_EDGE if line == 0 else 0) | (SECOND_EDGE if line == n - 1 else 0)
    for k in range(6):
        r, c = row + NEIGHBOUR_ROWS[k], column + NEIGHBOUR_COLUMNS[k]
        if 0 <= r < n and 0 <= c < n:
            value = out[r * n + c]
            if (value & COLOUR) == colour:
                edges |= value & BOTH_EDGES
    out[action] = colour | edges
    if needs_spread(out, n, row, column, colour, edges):
        spread_edges(out, n, action, colour, edges)
    out[cells] = ply + 1
    if edges == BOTH_EDGES:
        out[cells + 1] = player + 1


@njit(cache=True)
def player_zero_connects(colours: np.ndarray, n: int) -> bool:
    """Whether player 0's stones (colour 1) join row 0 to row n-1; marks visited cells 3."""
    stack = np.empty(n * n, np.int64)
    top = 0
    for column in range(n):
        if colours[column] == 1:
            colours[column] = 3
            stack[top] = column
            top += 1
    while top > 0:
        top -= 1
        cell = stack[top]
        r0, c0 = cell // n, cell % n
        if r0 == n - 1:
            return True
        for k in range(6):
            r, c = r0 + NEIGHBOUR_ROWS[k], c0 + NEIGHBOUR_COLUMNS[k]
            if 0 <= r < n and 0 <= c < n and colours[r * n + c] == 1:
                colours[r * n + c] = 3
                stack[top] = r * n + c
                top += 1
    return False


@njit(cache=True)
def rollout(state: np.ndarray, rng_state: np.ndarray, index: int) -> float:
    # Random play to the end has the outcome of filling every empty cell in a random order with
    # alternating colours: connections never break and a full Hex board has exactly one winner.
    if state[state.shape[0] - 1] != 0:
        return -1.0
    n = board_size(state)
    cells = n * n
    mover = state[cells] & 1
    colours = np.empty(cells, np.int8)
    empties = np.empty(cells, np.int64)
    count = 0
    for cell in range(cells):
        colours[cell] = state[cell] & COLOUR
        if colours[cell] == 0:
            empties[count] = cell
            count += 1
    # The mover gets the first ceil(count / 2) cells of a random order (partial Fisher-Yates).
    mover_cells = (count + 1) // 2
    counter = rng_state[index]
    for i in range(mover_cells):
        counter += GOLDEN_GAMMA
        j = i + bounded(mix(counter), count - i)
        chosen = empties[j]
        empties[j] = empties[i]
        empties[i] = chosen
        colours[chosen] = mover + 1
    rng_state[index] = counter
    for i in range(mover_cells, count):
        colours[empties[i]] = 2 - mover
    zero_wins = player_zero_connects(colours, n)
    return 1.0 if zero_wins == (mover == 0) else -1.0


@njit(cache=True)
def observations_into(states: np.ndarray, out: np.ndarray) -> None:
    """states (L, n*n+2) -> out (L, 3, n, n): plane 0 the mover's stones, plane 1 the
    opponent's, plane 2 all ones when the mover connects top-bottom (player 0), else zeros."""
    n = out.shape[2]
    cells = n * n
    for i in range(states.shape[0]):
        mover_colour = (states[i, cells] & 1) + 1
        for cell in range(cells):
            colour = states[i, cell] & COLOUR
            r, c = cell // n, cell % n
            out[i, 0, r, c] = colour == mover_colour
            out[i, 1, r, c] = colour != 0 and colour != mover_colour
            out[i, 2, r, c] = mover_colour == 1


@njit(cache=True)
def legal_masks_into(states: np.ndarray, out: np.ndarray) -> None:
    for i in range(states.shape[0]):
        legal_into(states[i], out[i])


class Hex(KernelGame):
    """n x n Hex; move text "a1".."k11" (letter = column, number = row, both 1-based)."""

    def __init__(self, board_size: int = 11) -> None:
        if isinstance(board_size, bool) or not isinstance(board_size, int | np.integer):
            raise ValueError(f"hex: board_size must be an integer in 3..11, got {board_size!r}")
        if not MIN_SIZE <= board_size <= MAX_SIZE:
            raise ValueError(
                f"hex: board_size={board_size} is not supported; valid sizes are "
                f"{MIN_SIZE}..{MAX_SIZE} (move text uses letters a..k)"
            )
        n = int(board_size)
        self.board_size = n
        self.name = "hex"
        self.display_name = f"Hex {n}x{n}"
        self.num_actions = n * n
        self.state_size = n * n + 2
        self.state_dtype = np.dtype(np.int8)
        self.observation_shape = (3, n, n)
        self.params = {"board_size": n}
        self.max_game_length = n * n
        # A 180-degree rotation maps top to bottom and left to right: both goals survive.
        # (Mirrors and transposes swap the players' edges, so they are not symmetries.)
        rotation = np.arange(n * n)[::-1].copy()
        self.symmetries = (
            Symmetry(np.arange(n * n), np.arange(n * n)),
            Symmetry(rotation, rotation),
        )
        self.kernels = GameKernels(apply_into, legal_into, status, rollout)
        self.ply_index = n * n  # the cells come first, then the ply
        self.observations_into, self.legal_masks_into = observations_into, legal_masks_into

    def action_to_text(self, action: int) -> str:
        row, column = divmod(int(action), self.board_size)
        return f"{chr(ord('a') + column)}{row + 1}"

    def parse_moves(self, text: str) -> list[int]:
        """Moves like "c2", as a list "c2 b3", "c2,b3" or "c2b3" (letter column, number row)."""
        n = self.board_size
        compact = re.sub(r"[\s,]+", "", text).lower()
        tokens = re.findall(r"[a-z]\d+", compact)
        last_letter = chr(ord("a") + n - 1)
        if not compact or "".join(tokens) != compact:
            raise IllegalMoveError(
                f"hex: cannot read {text!r} as moves: a move is a column letter a-{last_letter} "
                f"and a row number 1-{n}, e.g. 'c2'; a list is 'c2 b3' or 'c2b3'"
            )
        actions = []
        for token in tokens:
            column, row = ord(token[0]) - ord("a"), int(token[1:]) - 1
            if not (0 <= column < n and 0 <= row < n):
                raise IllegalMoveError(
                    f"hex: move {token!r} is off the {n}x{n} board: columns a-{last_letter}, "
                    f"rows 1-{n}"
                )
            actions.append(row * n + column)
        return actions

    def render(self, state: np.ndarray) -> str:
        """The rhombus as OpenSpiel draws it, with column letters and row numbers."""
        n = self.board_size
        symbols = {0: ".", 1: "x", 2: "o"}
        lines = ["   " + " ".join(chr(ord("a") + column) for column in range(n))]
        for row in range(n):
            cells = " ".join(symbols[int(state[row * n + c]) & COLOUR] for c in range(n))
            lines.append(" " * row + f"{row + 1:>2} {cells}")
        lines.append(f"x connects rows 1-{n}, o connects columns a-{chr(ord('a') + n - 1)}")
        lines.append(self.status_text(state))
        return "\n".join(lines)
