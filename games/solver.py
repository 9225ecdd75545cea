"""Exact solvers (perfect play): tic-tac-toe, Hex 3x3 to 4x4 and Connect Four 7x6.

A :class:`Solver` answers the game-theoretic value of a position for the player to move (1 win,
0 draw, -1 loss), the exact value of each legal move, and the optimal moves. It runs a compiled
negamax alpha-beta over the game's own kernels (the rules are never written again here) with a
transposition table that lives in the Solver, so a position solved once is answered from the
table afterwards: :func:`solver_for` hands out one Solver per game, and a tournament of thousands
of games shares its table. :class:`SolverBot` plays uniformly among the optimal moves.

One search serves every game. The value is found by null-window probes (is it a win? if not, is it
at least a draw?), each cheaper than a full-window search (Pons, "Solving Connect 4").
At every position the game's candidate moves come from :func:`_candidates`: the generic one tries
the table's best move first, then moves by history score, and declares a win when a move wins at
once; Connect Four's follows Pascal Pons' solver (blog "Solving Connect 4: how to build a perfect
AI"): a win when a playable cell completes four, a loss when the opponent threatens
two playable cells, only the moves that neither ignore a threat nor play under one (his
"non-losing moves"), a draw when only two cells are left, and the moves ordered by the number of
threats they create, centre columns first among equals.

The table stores, for each position met, bounds on its value ``lower <= value <= upper`` (fail-soft
alpha-beta with a window proves bounds, not always the value) and the move that gave the best
score, which is tried first the next time. Keys are exact encodings of the board (no hash
collisions can corrupt a value): tic-tac-toe's two 9-bit stone boards, Hex's colour per cell in two
bits, Connect Four's mover's stones plus the occupied cells plus the bottom row (Pons' key:
unique in 49 bits). The table doubles as it fills up to ``max_table_bits``; past that, a new
position replaces the one of least work (searched positions under it) among the few slots it may
take, so Connect Four solves in bounded memory.

Nothing is kept on disk. Hex 5x5 is beyond plain alpha-beta (docs/results/solver.md has the times
of every game); solving it takes Hex knowledge, such as the virtual connections and dead cells of
MoHex's solver.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from games import connect_four, tic_tac_toe
from games import hex as hex_rules
from games.base import Game

# Sizes of Hex with a solver: the largest solves from the empty board in seconds on one core (the
# measured times are in docs/results/solver.md).
HEX_SIZES = (3, 4)
INITIAL_TABLE_BITS = 12  # 4096 slots; the table doubles as it fills
MAX_TABLE_BITS = 24  # 16M slots, 192 MiB: the most a table grows to before it replaces entries
MAX_LOAD = 0.6  # fraction of slots in use before the table doubles (probing slows above)
PROBES = 4  # slots a key may take, from its hash on: a lookup reads at most these
_OCCUPIED = np.uint64(1 << 63)  # set in every stored key, so 0 marks an empty slot
_HASH_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing (Knuth, TAOCP vol. 3, 6.4)
NOT_PROVEN = 2  # what _candidates answers when the position's value is not known at once


@njit(cache=True)
def tic_tac_toe_key(state: np.ndarray) -> np.uint64:
    """Player 0's and player 1's 9-bit stone boards side by side (the ply is their popcount)."""
    return np.uint64(state[0]) | (np.uint64(state[1]) << np.uint64(9))


@njit(cache=True)
def hex_key(state: np.ndarray) -> np.uint64:
    """Each cell's colour (0 empty, 1 player 0, 2 player 1) in two bits; the edge bits a stone
    carries and the winner follow from the colours. Exact up to 31 cells (Hex 5x5)."""
    key = np.uint64(0)
    for cell in range(state.shape[0] - 2):
        key |= np.uint64(state[cell] & 3) << np.uint64(2 * cell)
    return key


@njit(cache=True)
def connect_four_key(state: np.ndarray) -> np.uint64:
    """The mover's stones plus the occupied cells plus the bottom row: each column's occupied
    cells plus its bottom bit set one bit above its top stone, which gives the heights, and the
    mover's stones are the rest (Pons' key)."""
    ply = state[connect_four.PLY]
    occupied = state[0] | state[1]
    return np.uint64(state[ply & 1] + occupied + connect_four.BOTTOM_ROW)


# Which rules a compiled search runs. The kernels are chosen inside compiled code rather than
# passed in: numba types a function argument by the identity of its dispatcher, which changes in
# every process, so a search that took the kernels as arguments would be compiled anew (seconds)
# by every process instead of loaded from numba's cache.
TIC_TAC_TOE_RULES, HEX_RULES, CONNECT_FOUR_RULES = 0, 1, 2


@njit(cache=True)
def _apply(rules: int, state: np.ndarray, action: int, out: np.ndarray) -> None:
    if rules == CONNECT_FOUR_RULES:
        connect_four.apply_into(state, action, out)
    elif rules == HEX_RULES:
        hex_rules.apply_into(state, action, out)
    else:
        tic_tac_toe.apply_into(state, action, out)


@njit(cache=True)
def _legal(rules: int, state: np.ndarray, mask_out: np.ndarray) -> int:
    if rules == CONNECT_FOUR_RULES:
        return connect_four.legal_into(state, mask_out)
    if rules == HEX_RULES:
        return hex_rules.legal_into(state, mask_out)
    return tic_tac_toe.legal_into(state, mask_out)


@njit(cache=True)
def _status(rules: int, state: np.ndarray) -> tuple[bool, float]:
    if rules == CONNECT_FOUR_RULES:
        return connect_four.status(state)
    if rules == HEX_RULES:
        return hex_rules.status(state)
    return tic_tac_toe.status(state)


@njit(cache=True)
def _key(rules: int, state: np.ndarray) -> np.uint64:
    if rules == CONNECT_FOUR_RULES:
        return connect_four_key(state)
    if rules == HEX_RULES:
        return hex_key(state)
    return tic_tac_toe_key(state)


def centre_first(height: int, width: int) -> np.ndarray:
    """The cells of a board ordered by distance from its centre (row-major among equals): central
    moves are the strong ones in these games, and alpha-beta prunes most when it tries the best
    move first. Connect Four's columns are ``centre_first(1, 7)``: 3 2 4 1 5 0 6."""
    rows, columns = np.divmod(np.arange(height * width), width)
    distance = np.abs(rows - (height - 1) / 2) + np.abs(columns - (width - 1) / 2)
    return np.argsort(distance, kind="stable").astype(np.int64)


# A table entry in one int32: bits 0-3 the bounds, (lower + 1) * 3 + (upper + 1) with both in
# -1..1; bits 4-15 the best move + 1 (0: none); bits 16-23 the work, log2 of the number of positions
# searched under the position when it was stored (plus one).


@njit(cache=True, inline="always")
def _work_of(entry: np.int32) -> int:
    return (int(entry) >> 16) & 0xFF


@njit(cache=True)
def _slot_of(keys: np.ndarray, entries: np.ndarray, stored_key: np.uint64) -> int:
    """The slot holding ``stored_key`` among the PROBES slots from its hash on; else the slot it
    would take: the first empty one, or the one of least work."""
    mask = np.uint64(keys.shape[0] - 1)
    shift = np.uint64(64 - int(np.log2(keys.shape[0])))
    slot = np.int64((stored_key * _HASH_MULTIPLIER) >> shift)  # int() of a uint64 stays unsigned
    chosen, least_work = np.int64(-1), 1 << 30
    for _ in range(PROBES):
        if keys[slot] == stored_key:
            return int(slot)
        if keys[slot] == 0:
            if least_work >= 0:
                chosen, least_work = slot, -1
        elif _work_of(entries[slot]) < least_work:
            chosen, least_work = slot, _work_of(entries[slot])
        slot = np.int64((np.uint64(slot) + np.uint64(1)) & mask)
    return int(chosen)


@njit(cache=True)
def _grown(keys: np.ndarray, entries: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """The table rehashed into twice as many slots, and the slots in use (an entry whose slots
    are all taken by more work is dropped: the table is a cache, never the only copy of a value)."""
    new_keys = np.zeros(2 * keys.shape[0], np.uint64)
    new_entries = np.zeros(2 * keys.shape[0], np.int32)
    used = 0
    for old in range(keys.shape[0]):
        if keys[old] != 0:
            slot = _slot_of(new_keys, new_entries, keys[old])
            if new_keys[slot] == 0:
                used += 1
            new_keys[slot] = keys[old]
            new_entries[slot] = entries[old]
    return new_keys, new_entries, used


@njit(cache=True)
def _probe(keys: np.ndarray, entries: np.ndarray, stored_key: np.uint64):  # noqa: ANN202
    """(lower, upper, best move or -1) the table holds for a position; (-1, 1, -1) if none."""
    slot = _slot_of(keys, entries, stored_key)
    if slot < 0 or keys[slot] != stored_key:
        return -1, 1, -1
    entry = int(entries[slot])
    bounds = entry & 0xF
    return bounds // 3 - 1, bounds % 3 - 1, ((entry >> 4) & 0xFFF) - 1


@njit(cache=True)
def _store(keys, entries, used, max_slots, stored_key, value, alpha, beta, best_move, work):  # noqa: ANN001, ANN202
    """Record what a fail-soft search with window (alpha, beta) proved, ``value`` an upper bound
    at or below alpha, a lower bound at or above beta, exact between, intersected with what the
    table knew, and the position's best move and work; returns the table (doubled when it fills,
    up to ``max_slots``) and the slots in use."""
    lower = value if value > alpha else -1
    upper = value if value < beta else 1
    if used + 1 > MAX_LOAD * keys.shape[0] and 2 * keys.shape[0] <= max_slots:
        keys, entries, used = _grown(keys, entries)
    slot = _slot_of(keys, entries, stored_key)
    if keys[slot] == stored_key:
        bounds = int(entries[slot]) & 0xF
        lower = max(lower, bounds // 3 - 1)
        upper = min(upper, bounds % 3 - 1)
    elif keys[slot] == 0:
        used += 1
    keys[slot] = stored_key
    entries[slot] = np.int32((lower + 1) * 3 + upper + 1 + ((best_move + 1) << 4) + (work << 16))
    return keys, entries, used


@njit(cache=True)
def _order_moves(mask, order, hint, history, moves):  # noqa: ANN001
    """Write the legal moves into ``moves`` (returns their number): the table's best move first,
    then by history score (moves that caused cut-offs elsewhere, Schaeffer 1989), ties in the
    static order."""
    count = 0
    for action in order:
        if mask[action] and action != hint:
            # Insertion sort: a stable order by falling history score.
            index = count
            while index > 0 and history[moves[index - 1]] < history[action]:
                moves[index] = moves[index - 1]
                index -= 1
            moves[index] = action
            count += 1
    if hint >= 0:
        moves[1 : count + 1] = moves[:count].copy()
        moves[0] = hint
        count += 1
    return count


@njit(cache=True)
def _popcount(bits: int) -> int:
    count = 0
    while bits:
        bits &= bits - 1
        count += 1
    return count


@njit(cache=True)
def _connect_four_candidates(state, order, hint, moves):  # noqa: ANN001, ANN202
    """Pons' non-losing moves and threat ordering; (count, proven value or
    NOT_PROVEN) as :func:`_candidates`."""
    ply = state[connect_four.PLY]
    mine, theirs = state[ply & 1], state[(ply & 1) ^ 1]
    occupied = mine | theirs
    playable = (occupied + connect_four.BOTTOM_ROW) & connect_four.BOARD
    if connect_four.winning_cells(mine, occupied) & playable:
        return 0, 1
    threats = connect_four.winning_cells(theirs, occupied)
    forced = playable & threats
    if forced:
        if forced & (forced - 1):  # two threats to block with one stone
            return 0, -1
        playable = forced
    # A stone right under an opponent's threat lets them play it next.
    playable &= ~(threats >> 1)
    if playable == 0:
        return 0, -1
    if ply >= connect_four.CELLS - 2:  # the opponent's last stone cannot win either: see above
        return 0, 0
    count = 0
    scores = np.empty(connect_four.COLUMNS, np.int64)
    for column in order:
        stone = playable & connect_four.COLUMN_MASK[column]
        if stone:
            score = _popcount(connect_four.winning_cells(mine | stone, occupied | stone))
            if column == hint:
                score = 1 << 20
            index = count  # insertion sort, stable: by falling score, centre first among equals
            while index > 0 and scores[index - 1] < score:
                moves[index], scores[index] = moves[index - 1], scores[index - 1]
                index -= 1
            moves[index], scores[index] = column, score
            count += 1
    return count, NOT_PROVEN


@njit(cache=True)
def _candidates(rules, state, order, hint, history, mask, child, moves):  # noqa: ANN001, ANN202
    """The moves to search at a non-terminal ``state``, best first, written into ``moves``, and
    their number; or 0 and the position's value when it is known without search (a move wins at
    once; for Connect Four also a threat that cannot be stopped, or a draw two cells from the
    end). Otherwise the value is NOT_PROVEN."""
    if rules == CONNECT_FOUR_RULES:
        return _connect_four_candidates(state, order, hint, moves)
    _legal(rules, state, mask)
    count = _order_moves(mask, order, hint, history, moves)
    for index in range(count):
        _apply(rules, state, moves[index], child)
        done, terminal_value = _status(rules, child)
        if done and terminal_value < 0:  # the opponent, to move in ``child``, has lost
            return 0, 1
    return count, NOT_PROVEN


@njit(cache=True)
def negamax(  # noqa: ANN001, ANN201
    rules, root, alpha, beta, order, max_depth, keys, entries, used, max_slots
):
    """Fail-soft negamax alpha-beta from ``root`` with window (alpha, beta), iterative (an explicit
    stack, one frame per ply, at most ``max_depth`` plies). Returns (value for the mover at
    ``root``, the table's two arrays, which may have been replaced by larger ones, slots in use,
    positions visited). With the window (-1, 1) the value is exact: every result is then inside
    it or at its ends, -1 and 1, which bound every value."""
    num_actions = order.shape[0]
    frames = max_depth + 2
    states = np.empty((frames, root.shape[0]), root.dtype)
    moves = np.empty((frames, num_actions + 1), np.int64)
    move_counts = np.zeros(frames, np.int64)
    next_moves = np.zeros(frames, np.int64)
    alphas = np.zeros(frames, np.int64)
    betas = np.zeros(frames, np.int64)
    window_lows = np.zeros(frames, np.int64)  # alpha on entry, after the table's bounds
    bests = np.zeros(frames, np.int64)
    best_at = np.zeros(frames, np.int64)
    nodes_at_entry = np.zeros(frames, np.int64)
    stored_keys = np.zeros(frames, np.uint64)
    history = np.zeros(num_actions, np.int64)
    mask = np.zeros(num_actions, np.bool_)
    child = np.empty_like(root)
    states[0] = root
    alphas[0], betas[0] = alpha, beta
    depth, value, nodes = 0, 0, 0
    entering = True
    while True:
        if entering:
            nodes += 1
            state = states[depth]
            finished, terminal_value = _status(rules, state)
            value = int(terminal_value)
            if not finished:
                stored_key = _key(rules, state) | _OCCUPIED
                low, high, hint = _probe(keys, entries, stored_key)
                if low >= betas[depth] or low == high:
                    finished, value = True, low
                elif high <= alphas[depth]:
                    finished, value = True, high
            if not finished:
                count, proven = _candidates(
                    rules, state, order, hint, history, mask, child, moves[depth]
                )
                if proven != NOT_PROVEN:
                    finished, value = True, proven
            if not finished:
                alphas[depth] = max(alphas[depth], low)
                betas[depth] = min(betas[depth], high)
                window_lows[depth] = alphas[depth]
                stored_keys[depth] = stored_key
                nodes_at_entry[depth] = nodes
                move_counts[depth], next_moves[depth] = count, 0
                bests[depth], best_at[depth] = -2, -1
        else:
            # A child of the frame at ``depth`` returned ``value`` for its own mover.
            score = -value
            if score > bests[depth]:
                bests[depth] = score
                best_at[depth] = moves[depth, next_moves[depth] - 1]
                alphas[depth] = max(alphas[depth], score)
            finished = alphas[depth] >= betas[depth] or next_moves[depth] == move_counts[depth]
            if finished:
                value = bests[depth]
                if value >= betas[depth]:  # a cut-off: credit the move, more the bigger the tree
                    history[best_at[depth]] += 1 << min(move_counts[depth], 40)
                work = int(np.log2(nodes - nodes_at_entry[depth] + 1))
                keys, entries, used = _store(
                    keys, entries, used, max_slots, stored_keys[depth], value,
                    window_lows[depth], betas[depth], best_at[depth], work,
                )  # fmt: skip
        if finished:
            if depth == 0:
                return value, keys, entries, used, nodes
            depth -= 1
            entering = False
            continue
        # Descend into the next move of the frame at ``depth``.
        _apply(rules, states[depth], moves[depth, next_moves[depth]], states[depth + 1])
        next_moves[depth] += 1
        alphas[depth + 1], betas[depth + 1] = -betas[depth], -alphas[depth]
        depth += 1
        entering = True


def _rules_and_order(game: Game) -> tuple[int, np.ndarray] | None:
    """The compiled rules' number and the static move order of a game with a solver, else None."""
    if game.name == "tic_tac_toe":
        return TIC_TAC_TOE_RULES, centre_first(3, 3)
    if game.name == "connect_four":
        return CONNECT_FOUR_RULES, centre_first(1, connect_four.COLUMNS)
    size = game.params.get("board_size")
    if game.name == "hex" and size in HEX_SIZES:
        return HEX_RULES, centre_first(size, size)
    return None


def has_solver(game: Game) -> bool:
    """Whether :func:`solver_for` has an exact solver for this game and size."""
    return _rules_and_order(game) is not None


def plays_in_seconds(game: Game) -> bool:
    """Whether the solver answers every position of this game in seconds, so that it can play
    whole tournaments: not Connect Four, whose early positions take minutes each here
    (docs/results/solver.md)."""
    rules = _rules_and_order(game)
    return rules is not None and rules[0] != CONNECT_FOUR_RULES


def no_solver_message(game: Game) -> str:
    """The one line that refuses a game without a solver, naming those that have one."""
    sizes = f"Hex {HEX_SIZES[0]}x{HEX_SIZES[0]} to {HEX_SIZES[-1]}x{HEX_SIZES[-1]}"
    return (
        f"no exact solver for {game.display_name}: solvers exist for tic-tac-toe, Connect Four "
        f"and {sizes}"
    )


class Solver:
    """Perfect play for one game; the transposition table grows as positions are solved and lives
    as long as the Solver (:func:`solver_for` keeps one per game, so prefer it)."""

    def __init__(self, game: Game, max_table_bits: int = MAX_TABLE_BITS) -> None:
        found = _rules_and_order(game)
        if found is None:
            from experiment import UserError  # a leaf package: games stays free of the rest

            raise UserError(no_solver_message(game))
        self.game = game
        self.rules, self.order = found
        self.max_slots = 1 << max(max_table_bits, INITIAL_TABLE_BITS)
        self.keys = np.zeros(1 << INITIAL_TABLE_BITS, np.uint64)
        self.entries = np.zeros(1 << INITIAL_TABLE_BITS, np.int32)
        self.used = 0  # slots of the table in use
        self.nodes = 0  # positions visited by all searches so far

    def _search(self, state: np.ndarray, alpha: int, beta: int) -> int:
        value, self.keys, self.entries, self.used, nodes = negamax(
            self.rules, state, alpha, beta, self.order, self.game.max_game_length,
            self.keys, self.entries, self.used, self.max_slots,
        )  # fmt: skip
        self.nodes += nodes
        return int(value)

    def _solve(self, state: np.ndarray) -> int:
        # Null windows (Pons): a win? (fail-soft: a result of -1 is then exact too) and,
        # only if the answer was "at most a draw", a draw or a loss?
        value = self._search(state, 0, 1)
        if value == 0:
            value = max(self._search(state, -1, 0), -1)
        return min(value, 1)

    def _checked(self, state: np.ndarray) -> np.ndarray:
        state = np.ascontiguousarray(state)
        if state.shape != (self.game.state_size,) or state.dtype != self.game.state_dtype:
            raise ValueError(
                f"{self.game.name}: a state is a ({self.game.state_size},) "
                f"{self.game.state_dtype} array, got {state.shape} {state.dtype}"
            )
        return state

    def value(self, state: np.ndarray) -> int:
        """The exact value of ``state`` for the player to move: 1 win, 0 draw, -1 loss (at a
        terminal state, its result for the player who would move)."""
        return self._solve(self._checked(state))

    def move_values(self, state: np.ndarray) -> np.ndarray:
        """Float64 (num_actions,): the exact value of each legal move for the player to move
        (1 / 0 / -1), NaN for illegal moves (all NaN at a terminal state)."""
        state = self._checked(state)
        values = np.full(self.game.num_actions, np.nan)
        for action in self.game.legal_actions(state):
            values[action] = -self._solve(self.game.apply(state, action))
        return values

    def optimal_moves(self, state: np.ndarray) -> list[int]:
        """The legal moves whose value is the position's, in increasing order ([] at the end)."""
        values = self.move_values(state)
        if np.isnan(values).all():
            return []
        return [int(action) for action in np.flatnonzero(values == np.nanmax(values))]

    def testing_moves(self, state: np.ndarray) -> list[int]:
        """The optimal moves that leave the opponent the fewest replies keeping their value:
        all optimal, and the hardest to answer. In a lost position every move loses, and a
        solver that played any of them would throw away the games a fallible opponent can still
        lose (so that nets would out-score perfect play against third parties); this plays on as
        a strong player does, making the win hard to find. In a won position, any winning move."""
        optimal = self.optimal_moves(state)
        if len(optimal) < 2 or self.value(state) == 1:
            return optimal
        good_replies = []
        for action in optimal:
            child = self.game.apply(state, action)
            replies = self.move_values(child)
            good_replies.append(
                0 if np.isnan(replies).all() else int((replies == np.nanmax(replies)).sum())
            )
        fewest = min(good_replies)
        return [a for a, count in zip(optimal, good_replies, strict=True) if count == fewest]

    def draw_optimal_move(self, state: np.ndarray, seed: int) -> int:
        """One of :meth:`testing_moves`, uniformly, drawn by ``np.random.default_rng(seed)``."""
        return int(np.random.default_rng(seed).choice(self.testing_moves(state)))


_SOLVERS: dict[Game, Solver] = {}


def solver_for(game: Game) -> Solver:
    """The one Solver of ``game`` in this process, its table shared by every caller. Raises
    experiment.UserError naming the game and the games that have a solver."""
    if game not in _SOLVERS:
        _SOLVERS[game] = Solver(game)
    return _SOLVERS[game]


@dataclass
class SolverBot:
    """Perfect play: an optimal move, the hardest for the opponent to answer (uniformly among
    those, drawn from each position's seed: :meth:`Solver.testing_moves`)."""

    game: Game
    name: str = "solver"

    def __post_init__(self) -> None:
        self.solver = solver_for(self.game)

    def choose(self, states: np.ndarray, seeds: np.ndarray) -> np.ndarray:
        """Moves (L,) int64 for L non-terminal states (L, state_size), one seed (L,) each."""
        moves = np.empty(len(states), np.int64)
        for i, (state, seed) in enumerate(zip(states, seeds, strict=True)):
            moves[i] = self.solver.draw_optimal_move(state, int(seed))
        return moves
