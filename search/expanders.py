"""The game expander: legal moves as slots, scored by one random rollout (classic MCTS, as
OpenSpiel's ``MCTSBot`` with ``RandomRolloutEvaluator``), by zero, or by a policy-value evaluator
(a net, given as a plain callable so that search imports no torch).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numba
import numpy as np

from games.base import Game, GameKernels
from search.core import Evaluation, Streams

# (observations (L, C, H, W) float32, legal masks (L, A) bool) -> (priors (L, A), values (L,))
PolicyValueFn = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


class GameExpander:
    """Legal moves of a game as slots (slot = OpenSpiel action id).

    ``leaf_value="rollout"``: uniform prior, value of one uniformly random playout to the end;
    ``"zero"``: uniform prior, value 0 (only terminal nodes carry information);
    ``evaluator``: priors and values of all non-terminal leaves from ONE call of a policy-value
    function (values for the player to move). Terminal leaves always get the game's result.
    """

    def __init__(
        self,
        game: Game,
        leaf_value: Literal["rollout", "zero"] = "rollout",
        evaluator: PolicyValueFn | None = None,
    ):
        if leaf_value not in ("rollout", "zero"):
            raise ValueError(f"leaf_value must be 'rollout' or 'zero', got {leaf_value!r}")
        self.game = game
        self.num_slots = game.num_actions
        self.evaluator = evaluator
        self.use_rollout = leaf_value == "rollout" and evaluator is None
        self.expand_leaves = compiled_expander(game.kernels)
        self.exact_slot_values = compiled_slot_values(game.kernels)

    @property
    def compiled_kernels(self) -> tuple[Any, Any, bool] | None:
        """(expand kernel, slot-values kernel, rollout flag) when every leaf is scored in
        compiled code, so the search runs its whole loop compiled
        (``search.core.compiled_simulations``); None with a net."""
        if self.evaluator is not None:
            return None
        return self.expand_leaves, self.exact_slot_values, self.use_rollout

    def allocate_states(self, batch_size: int, num_nodes: int) -> np.ndarray:
        return np.zeros((batch_size, num_nodes, self.game.state_size), self.game.state_dtype)

    def evaluate(self, states: np.ndarray, searches: np.ndarray, streams: Streams) -> Evaluation:
        no_moves = np.full(len(states), -1, np.int32)
        return self.expand(states, no_moves, searches, streams)[1]

    def expand(
        self, states: np.ndarray, slots: np.ndarray, searches: np.ndarray, streams: Streams
    ) -> tuple[np.ndarray, Evaluation]:
        count = len(states)
        child_states = np.empty((count, self.game.state_size), self.game.state_dtype)
        priors = np.zeros((count, self.num_slots), np.float32)
        valid = np.zeros((count, self.num_slots), np.bool_)
        values = np.zeros(count, np.float32)
        terminal = np.zeros(count, np.bool_)
        self.expand_leaves(
            np.ascontiguousarray(states), np.asarray(slots, np.int64),
            np.asarray(searches, np.int64), streams.state, self.use_rollout,
            child_states, priors, valid, values, terminal,
        )  # fmt: skip
        if self.evaluator is not None:
            open_leaves = np.flatnonzero(~terminal)
            if len(open_leaves):
                leaf_states = child_states[open_leaves]
                net_priors, net_values = self.evaluator(
                    self.game.observations(leaf_states), valid[open_leaves]
                )
                priors[open_leaves] = np.where(valid[open_leaves], net_priors, 0.0)
                values[open_leaves] = net_values
        # Alternating two-player zero-sum games: the child's mover is the parent's opponent.
        discounts = np.full(count, -1.0, np.float32)
        return child_states, Evaluation(priors, valid, values, terminal, discounts)

    def slot_values(self, states: np.ndarray, depth: int) -> np.ndarray:
        """Exact values (L, K) of moves decided within ``depth`` plies by the rules (see
        ``search.core.ProvingExpander``); NaN elsewhere."""
        values = np.full((len(states), self.num_slots), np.nan, np.float32)
        self.exact_slot_values(np.ascontiguousarray(states), depth, values)
        return values


_EXPANDERS: dict[GameKernels, Any] = {}
_SLOT_VALUES: dict[GameKernels, Any] = {}


def compiled_slot_values(kernels: GameKernels) -> Any:
    """``exact_slot_values`` bound to one game's compiled kernels (compiled once per game)."""
    if kernels not in _SLOT_VALUES:
        apply_into, legal_into, status = kernels.apply_into, kernels.legal_into, kernels.status

        @numba.njit(nogil=True)
        def exact_slot_values(states, depth, out):  # noqa: ANN001
            """Fill ``out[i, k]`` with the value for the mover at ``states[i]`` of move ``k`` where
            the rules decide it: the result of a move that ends the game; with ``depth`` 2 also
            -1 for a move after which the opponent can win at once, and the worst result for a
            move after which every reply ends the game. Values of a child state are for its
            mover, the opponent: the mover's value is their negation."""
            num_actions = out.shape[1]
            moves = np.zeros(num_actions, np.bool_)
            replies = np.zeros(num_actions, np.bool_)
            child = np.empty_like(states[0])
            grandchild = np.empty_like(states[0])
            for i in range(states.shape[0]):
                legal_into(states[i], moves)
                for k in range(num_actions):
                    if not moves[k]:
                        continue
                    apply_into(states[i], k, child)
                    done, value = status(child)
                    if done:
                        out[i, k] = -value
                        continue
                    if depth < 2:
                        continue
                    legal_into(child, replies)
                    worst, every_reply_ends = np.inf, True
                    for j in range(num_actions):
                        if not replies[j]:
                            continue
                        apply_into(child, j, grandchild)
                        done, value = status(grandchild)  # grandchild's mover: our mover
                        if not done:
                            every_reply_ends = False
                        elif value < worst:
                            worst = value
                        if done and value <= -1.0:
                            break
                    if worst <= -1.0 or every_reply_ends:
                        out[i, k] = worst

        _SLOT_VALUES[kernels] = exact_slot_values
    return _SLOT_VALUES[kernels]


def compiled_expander(kernels: GameKernels) -> Any:
    """``expand_game_leaves`` bound to one game's compiled kernels (compiled once per game).

    The kernels are closed over rather than passed in: numba re-types dispatcher arguments on
    every call, which costs more than the rollouts themselves.
    """
    if kernels not in _EXPANDERS:
        apply_into, legal_into = kernels.apply_into, kernels.legal_into
        status, rollout = kernels.status, kernels.rollout

        @numba.njit(nogil=True)
        def expand_game_leaves(  # noqa: ANN001
            parent_states, slots, searches, rng_state, use_rollout,
            child_states, priors, valid, values, terminal,
        ):  # fmt: skip
            """Apply ``slots[i]`` to ``parent_states[i]`` (or keep the state where the slot is
            -1), then score the child: its terminal value, or a uniform prior over legal moves
            and a rollout (or 0)."""
            for i in range(parent_states.shape[0]):
                if slots[i] >= 0:
                    apply_into(parent_states[i], slots[i], child_states[i])
                else:
                    child_states[i, :] = parent_states[i]
                done, value = status(child_states[i])
                terminal[i] = done
                if done:
                    values[i] = value
                    continue
                num_legal = legal_into(child_states[i], valid[i])
                for k in range(valid.shape[1]):
                    if valid[i, k]:
                        priors[i, k] = 1.0 / num_legal
                values[i] = rollout(child_states[i], rng_state, searches[i]) if use_rollout else 0.0

        _EXPANDERS[kernels] = expand_game_leaves
    return _EXPANDERS[kernels]
