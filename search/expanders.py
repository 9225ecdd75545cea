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
            np.ascontiguousarray(states), slots.astype(np.int64), searches.astype(np.int64),
            streams.state, self.use_rollout, child_states, priors, valid, values, terminal,
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


_EXPANDERS: dict[GameKernels, Any] = {}


def compiled_expander(kernels: GameKernels) -> Any:
    """``expand_game_leaves`` bound to one game's compiled kernels (compiled once per game).

    The kernels are closed over rather than passed in: numba re-types dispatcher arguments on
    every call, which costs more than the rollouts themselves.
    """
    if kernels not in _EXPANDERS:
        apply_into, legal_into = kernels.apply_into, kernels.legal_into
        status, rollout = kernels.status, kernels.rollout

        @numba.njit
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
