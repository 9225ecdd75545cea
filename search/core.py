"""The one search loop: many independent searches in lockstep over a shared :class:`Tree`.

Each simulation step: the injected selection rule walks every search from its root to a leaf (one
compiled call for the whole batch); the domain's :class:`Expander` evaluates all new leaves of
all searches in ONE call; the new nodes are written and their values backed up (one compiled
call each). Games, reasoning, MCTS, Gumbel, beam and best-of-N differ only in the expander, the
rule, the budget and the branching width given here. Where the expander scores leaves in
compiled code (rollouts, the rules: ``compiled_kernels``), the same steps run as one compiled
loop (:func:`compiled_simulations`), with the same results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numba
import numpy as np

from games.random import seed_states
from search.rules import SelectionRule
from search.tree import (
    NO_NODE,
    Tree,
    add_and_backup,
    add_nodes,
    allocate_tree,
    backed_value,
    backed_values,
    backup,
    borrowed,
    reset_tree,
    root_proven_values,
    root_statistics,
)


@dataclass(frozen=True)
class Evaluation:
    """What an expander says about L nodes. K = the expander's number of slots."""

    priors: np.ndarray  # (L, K) float32, 0 on invalid slots, sums to 1 over valid ones
    valid: np.ndarray  # (L, K) bool
    values: np.ndarray  # (L,) float32, view of the player to move at the node, in [-1, 1]
    terminal: np.ndarray  # (L,) bool
    discounts: np.ndarray  # (L,) float32, -1 where the parent's mover is the other player
    # (L,) bool: a terminal node's value is exact (a game's result, a solution checked by the
    # exact checker), so it is a proven value; None: every terminal value is exact. A learned
    # verifier's score of a finished solution, or a step cut by a length limit, is not.
    exact: np.ndarray | None = None


class Streams:
    """Per-search random streams: a numpy Generator for root noise and a uint64 PRNG state
    for compiled code (rollouts, tie-breaks). Each is derived from the search's own seed only,
    so a search gives the same result alone or in any batch."""

    def __init__(self, seeds: Sequence[int] | np.ndarray):
        seeds = [int(seed) for seed in seeds]
        self.generators = [np.random.default_rng([seed, 1]) for seed in seeds]
        self.state = seed_states(seeds)  # (B,) uint64

    def __len__(self) -> int:
        return len(self.generators)


class Expander(Protocol):
    """The domain's side of the search: games (legal moves, net or rollouts) or reasoning
    (sampled candidate steps, a verifier). States are rows of a side table the loop owns."""

    num_slots: int

    def allocate_states(self, batch_size: int, num_nodes: int) -> np.ndarray:
        """Side table of node states, shape (batch_size, num_nodes, ...)."""
        ...

    def evaluate(self, states: np.ndarray, searches: np.ndarray, streams: Streams) -> Evaluation:
        """Evaluate L root states (L, ...); ``searches`` (L,) says which search each belongs to."""
        ...

    def expand(
        self, states: np.ndarray, slots: np.ndarray, searches: np.ndarray, streams: Streams
    ) -> tuple[np.ndarray, Evaluation]:
        """Take slot ``slots[i]`` from parent state ``states[i]`` for all L leaves in one call;
        return the child states (L, ...) and their evaluation."""
        ...


class ProvingExpander(Expander, Protocol):
    """An expander that also knows exact values of moves from the rules alone."""

    def slot_values(self, states: np.ndarray, depth: int) -> np.ndarray:
        """Exact values (L, K) float32 of each slot of L non-terminal states, in the view of the
        player to move there, as far as ``depth`` plies of the rules decide them (1: the move
        ends the game; 2: also, the opponent then wins at once); NaN where undecided."""
        ...


@dataclass(frozen=True)
class SearchResult:
    """A finished batch of B searches over K slots."""

    chosen: np.ndarray  # (B,) int64, the slot the rule would play
    policy: np.ndarray  # (B, K) float64, training target (visit fractions or Gumbel's pi')
    visit_counts: np.ndarray  # (B, K) int32 root child visits
    q_values: np.ndarray  # (B, K) float64, root view, 0 where unvisited
    root_values: np.ndarray  # (B,) float64, searched value for the player to move at the root
    valid: np.ndarray  # (B, K) bool
    num_simulations: int
    solved: np.ndarray  # (B,) bool, the root's exact value was proven (it is ``root_values``)
    proven_values: np.ndarray  # (B, K) float64, exact values of root moves (root view), NaN unknown
    # (B,) int64: leaves the expander evaluated (net forward passes, rollouts, verifier calls),
    # the root's included; terminal leaves and solved nodes visited again cost nothing.
    evaluations: np.ndarray


class Search:
    """One algorithm (a selection rule) bound to a domain's expander and a budget; reusable: it
    holds the tree arrays between calls (no reallocation per move). Every array of a
    :class:`SearchResult` is the result's own (the tree is reused by the next call)."""

    def __init__(
        self,
        expander: Expander,
        rule: SelectionRule,
        num_simulations: int,
        compiled_loop: bool = True,
    ):
        if num_simulations < 1:
            raise ValueError(f"num_simulations must be at least 1, got {num_simulations}")
        self.expander, self.rule, self.num_simulations = expander, rule, num_simulations
        root_select, interior_select, rule_data = rule.kernels(num_simulations)
        self.rule_data: Any = rule_data
        self.solve = bool(rule.solve)
        self.select_leaves = compiled_selector(root_select, interior_select)
        # An expander whose leaves are scored in compiled code (rollouts, the rules) lets the
        # whole simulation loop run as one compiled call: the loop below, step for step.
        # ``compiled_loop=False`` keeps the Python loop (the tests compare the two).
        kernels = getattr(expander, "compiled_kernels", None) if compiled_loop else None
        self._simulate = None if kernels is None else compiled_simulations(
            self.select_leaves, *kernels
        )  # fmt: skip
        self._tree: Tree | None = None
        self._states: np.ndarray | None = None

    def _arrays(self, batch_size: int) -> tuple[Tree, np.ndarray]:
        if self._tree is None or self._tree.num_nodes.shape[0] != batch_size:
            num_nodes = self.num_simulations + 1
            self._tree = allocate_tree(batch_size, num_nodes, self.expander.num_slots)
            self._states = self.expander.allocate_states(batch_size, num_nodes)
        else:
            reset_tree(self._tree)
        assert self._states is not None
        return self._tree, self._states

    def run(
        self,
        root_states: np.ndarray,
        seeds: Sequence[int] | np.ndarray,
        move_numbers: np.ndarray | None = None,
    ) -> SearchResult:
        """Search from B root states (B, ...) with one seed per search; ``move_numbers`` (B,)
        counts the searched moves already played in each game, for a rule that explores early
        in a game (None: evaluation, no exploration)."""
        batch_size = len(root_states)
        if len(seeds) != batch_size:
            raise ValueError(
                f"need one seed per root state: {len(seeds)} seeds, {batch_size} roots"
            )
        streams = Streams(seeds)
        tree, states = self._arrays(batch_size)
        searches = np.arange(batch_size)
        states[:, 0] = root_states
        evaluation = self.expander.evaluate(root_states, searches, streams)
        if evaluation.terminal.any():
            raise ValueError(
                f"cannot search from terminal roots {np.flatnonzero(evaluation.terminal)}"
            )
        no_parents = np.full(batch_size, NO_NODE, np.int32)
        slot_values = self._slot_values(root_states, evaluation, self.rule.root_lookahead)
        roots = _add(tree, searches, no_parents, searches, evaluation, slot_values, self.solve)
        evaluations = np.ones(batch_size, np.int64)
        backup(tree, roots, backed_values(tree, searches, roots, np.asarray(evaluation.values)))
        self.rule.prepare_root(tree, streams.generators)

        if self._simulate is not None:  # the whole loop in compiled code, as one call
            depth = self.rule.node_lookahead if self.solve else 0
            self._simulate(
                tree, self.rule_data, streams.state, states, self.num_simulations, depth,
                self.solve, evaluations,
            )  # fmt: skip
            return self._result(tree, streams, move_numbers, evaluations)
        leaves = np.empty(batch_size, np.int32)
        slots = np.empty(batch_size, np.int32)
        values = np.empty(batch_size, np.float32)
        for _ in range(self.num_simulations):
            # A terminal or solved leaf reached again backs up its value once more (``values``).
            self.select_leaves(tree, self.rule_data, streams.state, leaves, slots, values)
            expanding = np.flatnonzero(slots >= 0)
            if not len(expanding):
                backup(tree, leaves, values)
                continue
            parents = leaves[expanding]
            child_states, evaluation = self.expander.expand(
                states[expanding, parents], slots[expanding], expanding, streams
            )
            slot_values = self._slot_values(child_states, evaluation, self.rule.node_lookahead)
            new_nodes = _add(
                tree, expanding, parents, slots[expanding], evaluation, slot_values, self.solve,
                leaves, values,
            )  # fmt: skip
            states[expanding, new_nodes] = child_states
            evaluations[expanding] += ~evaluation.terminal
        return self._result(tree, streams, move_numbers, evaluations)

    def _result(
        self, tree: Tree, streams: Streams, move_numbers: np.ndarray | None, evaluations: np.ndarray
    ) -> SearchResult:
        chosen, policy = self.rule.finalize(
            tree, self.num_simulations, streams.generators, move_numbers
        )
        visit_counts, q_values, root_values = root_statistics(tree)
        return SearchResult(
            chosen=np.asarray(chosen, np.int64),
            policy=np.asarray(policy, np.float64),
            visit_counts=visit_counts,
            q_values=q_values,
            root_values=root_values,
            valid=tree.valid[:, 0].copy(),
            num_simulations=self.num_simulations,
            solved=tree.solved[:, 0].copy(),
            proven_values=root_proven_values(tree),
            evaluations=evaluations,
        )

    def _slot_values(self, states: np.ndarray, evaluation: Evaluation, depth: int) -> np.ndarray:
        """Exact slot values (L, K) of new nodes from an expander that knows them (NaN where
        unknown, at terminal nodes, or with the solver off)."""
        slot_values = getattr(self.expander, "slot_values", None)
        if not (self.solve and depth > 0 and slot_values is not None):
            return np.full(evaluation.priors.shape, np.nan, np.float32)
        if not evaluation.terminal.any():  # the common case: no copies of the states
            return np.asarray(slot_values(states, depth), np.float32)
        values = np.full(evaluation.priors.shape, np.nan, np.float32)
        open_nodes = np.flatnonzero(~evaluation.terminal)
        if len(open_nodes):
            values[open_nodes] = slot_values(states[open_nodes], depth)
        return values


def _add(
    tree: Tree,
    searches: np.ndarray,
    parents: np.ndarray,
    slots: np.ndarray,
    evaluation: Evaluation,
    slot_values: np.ndarray,
    solve: bool,
    leaves: np.ndarray | None = None,
    leaf_values: np.ndarray | None = None,
) -> np.ndarray:
    """Write the evaluated nodes; with ``leaves`` and ``leaf_values`` (a simulation step's),
    also back the step up from them (:func:`search.tree.add_and_backup`)."""
    proven = (
        evaluation.terminal if evaluation.exact is None else evaluation.terminal & evaluation.exact
    )
    arguments = (
        tree,
        np.asarray(searches, np.int64),
        np.asarray(parents, np.int32),
        np.asarray(slots, np.int32),
        np.ascontiguousarray(evaluation.priors, np.float32),
        np.ascontiguousarray(evaluation.valid, np.bool_),
        np.ascontiguousarray(evaluation.values, np.float32),
        np.ascontiguousarray(evaluation.terminal, np.bool_),
        np.ascontiguousarray(evaluation.discounts, np.float32),
        np.ascontiguousarray(slot_values, np.float32),
        np.ascontiguousarray(proven, np.bool_),
        solve,
    )
    if leaves is None or leaf_values is None:
        return add_nodes(*arguments)
    return add_and_backup(*arguments, leaves, leaf_values)


_SELECTORS: dict[tuple[Any, Any], Any] = {}


def _inlined(kernel: Any) -> Any:
    """The same compiled function, inlined into the walk that calls it (numba's IR inlining):
    a call passes the tree (14 arrays) by value once per node visited, which cost about as
    much as the scoring itself (see ``search.tree.borrowed`` for the other half)."""
    return numba.njit(inline="always")(kernel.py_func)


def compiled_selector(root_select: Any, interior_select: Any) -> Any:
    """``select_leaves`` bound to a rule's compiled functions (compiled once per pair).

    The rule's functions are closed over rather than passed in: numba re-types dispatcher
    arguments on every call, which costs more than a whole simulation step.
    """
    key = (root_select, interior_select)
    if key not in _SELECTORS:
        root_select = _inlined(root_select)
        interior_select = root_select if interior_select is key[0] else _inlined(interior_select)

        # nogil: searches in threads (bench/gpu.py's workers) walk their trees in parallel.
        @numba.njit(nogil=True)
        def select_leaves(tree, data, rng_state, leaves, slots, values):  # noqa: ANN001
            """Walk each search from its root with the rule; stop where the chosen child is
            missing, or at a terminal or solved node (never below a proven value). Writes
            ``leaves[b]`` (the node to expand from, or the terminal or solved node reached),
            ``slots[b]`` (the slot to expand, or -1 for a node whose value is backed up
            again) and ``values[b]`` (what a visit to ``leaves[b]`` backs up)."""
            tree = borrowed(tree)
            for b in range(leaves.shape[0]):
                node = 0
                slot = -1
                while not (tree.terminal[b, node] or tree.solved[b, node]):
                    if node == 0:
                        slot = root_select(tree, b, node, data, rng_state)
                    else:
                        slot = interior_select(tree, b, node, data, rng_state)
                    if slot < 0:  # no valid slot: a dead end scored by its own value
                        break
                    child = tree.children[b, node, slot]
                    if child == NO_NODE:
                        break
                    node = child
                    slot = -1
                leaves[b] = node
                slots[b] = slot
                values[b] = backed_value(tree, b, node, tree.raw_value[b, node])

        _SELECTORS[key] = select_leaves
    return _SELECTORS[key]


_SIMULATIONS: dict[tuple[Any, Any, Any, bool], Any] = {}


def compiled_simulations(
    select_leaves: Any, expand_leaves: Any, exact_slot_values: Any, use_rollout: bool
) -> Any:
    """:meth:`Search.run`'s simulation loop as one compiled function, for an expander whose
    leaves are scored in compiled code: ``expand_leaves`` and ``exact_slot_values`` with the
    signatures of :func:`search.expanders.compiled_expander` and ``compiled_slot_values``, and
    ``use_rollout`` the flag the expander passes the first (a
    two-player game: every child's discount is -1; every terminal value is exact). The same
    steps as the Python loop, in the same order, so the results are the same bit for bit
    (tested); what it saves is the microseconds of argument checks and array bookkeeping each
    step costs in Python, most of a step when few searches share a call."""
    key = (select_leaves, expand_leaves, exact_slot_values, use_rollout)
    if key not in _SIMULATIONS:

        @numba.njit(nogil=True)
        def simulate(  # noqa: ANN001
            tree, data, rng_state, states, num_simulations, depth, solve, evaluations,
        ):  # fmt: skip
            batch_size, num_slots = states.shape[0], tree.prior.shape[2]
            leaves = np.empty(batch_size, np.int32)
            slots = np.empty(batch_size, np.int32)
            values = np.empty(batch_size, np.float32)
            expanding = np.empty(batch_size, np.int64)
            parents = np.empty(batch_size, np.int32)
            parent_slots = np.empty(batch_size, np.int32)
            parent_states = np.empty((batch_size, states.shape[2]), states.dtype)
            child_states = np.empty_like(parent_states)
            priors = np.empty((batch_size, num_slots), np.float32)
            valid = np.empty((batch_size, num_slots), np.bool_)
            leaf_values = np.empty(batch_size, np.float32)
            terminal = np.empty(batch_size, np.bool_)
            discounts = np.full(batch_size, -1.0, np.float32)
            slot_values = np.empty((batch_size, num_slots), np.float32)
            open_nodes = np.empty(batch_size, np.int64)
            open_states = np.empty_like(parent_states)
            open_values = np.empty_like(slot_values)
            for _ in range(num_simulations):
                select_leaves(tree, data, rng_state, leaves, slots, values)
                count = 0
                for b in range(batch_size):
                    if slots[b] >= 0:
                        expanding[count], parents[count] = b, leaves[b]
                        parent_slots[count] = slots[b]
                        parent_states[count] = states[b, leaves[b]]
                        count += 1
                if count == 0:
                    backup(tree, leaves, values)
                    continue
                priors[:count] = 0.0
                valid[:count] = False
                leaf_values[:count] = 0.0
                terminal[:count] = False
                slot_values[:count] = np.nan
                expand_leaves(
                    parent_states[:count], parent_slots[:count], expanding[:count], rng_state,
                    use_rollout, child_states[:count], priors[:count], valid[:count],
                    leaf_values[:count], terminal[:count],
                )  # fmt: skip
                if depth > 0:  # the open children's exact slot values, in one call
                    open_count = 0
                    for i in range(count):
                        if not terminal[i]:
                            open_nodes[open_count] = i
                            open_states[open_count] = child_states[i]
                            open_count += 1
                    open_values[:open_count] = np.nan
                    exact_slot_values(open_states[:open_count], depth, open_values[:open_count])
                    for j in range(open_count):
                        slot_values[open_nodes[j]] = open_values[j]
                new_nodes = add_and_backup(
                    tree, expanding[:count], parents[:count], parent_slots[:count],
                    priors[:count], valid[:count], leaf_values[:count], terminal[:count],
                    discounts[:count], slot_values[:count], terminal[:count], solve, leaves, values,
                )  # fmt: skip
                for i in range(count):
                    states[expanding[i], new_nodes[i]] = child_states[i]
                    evaluations[expanding[i]] += not terminal[i]

        _SIMULATIONS[key] = simulate
    return _SIMULATIONS[key]
