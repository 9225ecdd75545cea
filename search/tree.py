"""The search tree: a struct of arrays over ``[batch, node]`` (and ``[batch, node, slot]``).

Many independent searches run in lockstep; search ``b`` owns row ``b`` of every array. A node's
children live in ``slots`` ``0..K-1``: for games a slot is the action id (fixed action space,
invalid slots masked), for reasoning a slot is the k-th sampled candidate step. The tree knows
nothing else about the domain; states live in a side table owned by the search loop.

Values follow mctx: ``value_sum[b, n]`` is from the view of the player to move at node ``n``, and
``discount[b, n]`` maps that value into the view of ``n``'s parent (-1 in alternating zero-sum
games, +1 when the same agent acts again, as in reasoning). :func:`parent_view` is the only place
where that sign is applied; :func:`backup` uses it for values and proven values alike.

Proven values (MCTS-Solver, Winands et al. 2008; OpenSpiel's ``MCTSBot(solve=True)``): a node is
*solved* when its exact value is known: a terminal node whose value is exact (a game's result;
not a learned verifier's score); a node with a slot whose exact value for
its mover is a win (``PROVEN_WIN``, the top of the value range); a node all of whose valid slots
have exact values (its value is then their maximum). A slot's exact value comes from its solved
child, or from the expander before the child exists (``slot_value``: a move that ends the game,
or, at the root, a move after which the opponent wins at once). The search loop never walks
below a solved node: reaching one backs up its exact value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, cast

import numba
import numpy as np
from numba.core import cgutils, types
from numba.extending import intrinsic

NO_NODE = -1
PROVEN_WIN = 1.0  # values lie in [-1, 1]: a proven 1 cannot be bettered


class Tree(NamedTuple):
    """Preallocated arrays of a batch of searches. Shapes: B searches, N nodes, K slots."""

    node_visits: np.ndarray  # (B, N) int32, includes the node's own first evaluation
    value_sum: np.ndarray  # (B, N) float64, view of the player to move at the node
    raw_value: np.ndarray  # (B, N) float32, the expander's value estimate of the node
    discount: np.ndarray  # (B, N) float32, maps the node's value into its parent's view
    terminal: np.ndarray  # (B, N) bool
    parent: np.ndarray  # (B, N) int32, NO_NODE at the root
    children: np.ndarray  # (B, N, K) int32, NO_NODE where the child was not created yet
    prior: np.ndarray  # (B, N, K) float32, 0 on invalid slots
    valid: np.ndarray  # (B, N, K) bool, which slots are actions at this node
    num_nodes: np.ndarray  # (B,) int32
    root_noise: np.ndarray  # (B, K) float32, e.g. the Gumbel draw of Gumbel AlphaZero
    solved: np.ndarray  # (B, N) bool, the node's exact value is known
    solved_value: np.ndarray  # (B, N) float32, that value, view of the player to move at the node
    slot_value: (
        np.ndarray
    )  # (B, N, K) float32, exact value of a slot in the node's view; NaN unknown


def allocate_tree(batch_size: int, num_nodes: int, num_slots: int) -> Tree:
    """Empty tree for ``batch_size`` searches of at most ``num_nodes`` nodes each."""
    shape, slot_shape = (batch_size, num_nodes), (batch_size, num_nodes, num_slots)
    return Tree(
        node_visits=np.zeros(shape, np.int32),
        value_sum=np.zeros(shape, np.float64),
        raw_value=np.zeros(shape, np.float32),
        discount=np.ones(shape, np.float32),
        terminal=np.zeros(shape, np.bool_),
        parent=np.full(shape, NO_NODE, np.int32),
        children=np.full(slot_shape, NO_NODE, np.int32),
        prior=np.zeros(slot_shape, np.float32),
        valid=np.zeros(slot_shape, np.bool_),
        num_nodes=np.zeros(batch_size, np.int32),
        root_noise=np.zeros((batch_size, num_slots), np.float32),
        solved=np.zeros(shape, np.bool_),
        solved_value=np.zeros(shape, np.float32),
        slot_value=np.full(slot_shape, np.nan, np.float32),
    )


@intrinsic
def _borrowed(typing_context, arrays):  # noqa: ANN001, ANN201
    """The same tuple of arrays (a :class:`Tree`), as views that own no reference: inside compiled
    code only, and only while the caller holds the arrays.

    Numba counts references to an array each time a function reads it out of a tuple, with an
    atomic instruction; in the selection walk (a rule function per node, called with the tree)
    these counts were about 95% of the time (py-spy --native on Hex 9x9: ``NRT_incref`` and
    ``NRT_decref``). A view without a reference owner (its ``meminfo`` null) turns each count
    into one test and branch. The values read are the same, so are the search results.
    """
    if not isinstance(arrays, types.BaseTuple) or not all(
        isinstance(member, types.Array) for member in arrays
    ):
        return None

    def codegen(context, builder, signature, args):  # noqa: ANN001, ANN202
        (source,) = args
        result = cgutils.get_null_value(source.type)
        for i, array_type in enumerate(arrays):
            array_class = context.make_array(array_type)
            array = array_class(context, builder, value=builder.extract_value(source, i))
            view = array_class(context, builder)
            for name in ("nitems", "itemsize", "data", "shape", "strides"):
                setattr(view, name, getattr(array, name))
            view.meminfo = cgutils.get_null_value(view.meminfo.type)
            view.parent = cgutils.get_null_value(view.parent.type)
            result = builder.insert_value(result, view._getvalue(), i)
        return result

    return arrays(arrays), codegen


# The same object, typed for callers (mypy reads an intrinsic's typing arguments as its own).
borrowed = cast("Callable[[Tree], Tree]", _borrowed)


@numba.njit(cache=True, nogil=True)
def reset_tree(tree: Tree) -> None:
    """Clear the nodes used by a previous search so the arrays can be reused."""
    tree = borrowed(tree)
    for b in range(tree.num_nodes.shape[0]):
        for n in range(tree.num_nodes[b]):
            tree.node_visits[b, n] = 0
            tree.value_sum[b, n] = 0.0
            tree.raw_value[b, n] = 0.0
            tree.discount[b, n] = 1.0
            tree.terminal[b, n] = False
            tree.parent[b, n] = NO_NODE
            tree.children[b, n, :] = NO_NODE
            tree.prior[b, n, :] = 0.0
            tree.valid[b, n, :] = False
            tree.solved[b, n] = False
            tree.solved_value[b, n] = 0.0
            tree.slot_value[b, n, :] = np.nan
        tree.num_nodes[b] = 0
        tree.root_noise[b, :] = 0.0


@numba.njit(cache=True, nogil=True)
def add_nodes(
    tree: Tree,
    searches: np.ndarray,  # (L,) int64, which search each new node belongs to
    parents: np.ndarray,  # (L,) int32, NO_NODE for a root
    slots: np.ndarray,  # (L,) int32, the parent's slot leading to the node
    priors: np.ndarray,  # (L, K) float32
    valid: np.ndarray,  # (L, K) bool
    values: np.ndarray,  # (L,) float32, view of the player to move at the node
    terminal: np.ndarray,  # (L,) bool
    discounts: np.ndarray,  # (L,) float32
    slot_values: np.ndarray,  # (L, K) float32, exact slot values in the node's view, NaN unknown
    proven: np.ndarray,  # (L,) bool, the node's value is exact (a terminal with an exact value)
    solve: bool,
) -> np.ndarray:
    """Write L evaluated nodes into the tree; return their node indices (L,) int32. With
    ``solve`` a node whose value is exact is solved at it, and a node is solved from its slots'
    exact values where they decide it."""
    tree = borrowed(tree)
    new_nodes = np.empty(searches.shape[0], np.int32)
    for i in range(searches.shape[0]):
        b = searches[i]
        n = tree.num_nodes[b]
        tree.num_nodes[b] = n + 1
        tree.raw_value[b, n] = values[i]
        tree.terminal[b, n] = terminal[i]
        tree.discount[b, n] = discounts[i]
        tree.parent[b, n] = parents[i]
        tree.prior[b, n, :] = priors[i]
        tree.valid[b, n, :] = valid[i]
        if parents[i] != NO_NODE:
            tree.children[b, parents[i], slots[i]] = n
        if solve:
            tree.slot_value[b, n, :] = slot_values[i]
            if proven[i]:
                tree.solved[b, n] = True
                tree.solved_value[b, n] = values[i]
            elif not terminal[i]:
                try_solve(tree, b, n)
        new_nodes[i] = n
    return new_nodes


@numba.njit(cache=True, inline="always")
def backed_value(tree: Tree, b: int, node: int, estimate: float) -> float:
    """What a visit to ``node`` backs up: its exact value when solved, else ``estimate`` (both
    in the view of the node's mover)."""
    return tree.solved_value[b, node] if tree.solved[b, node] else estimate


@numba.njit(cache=True, nogil=True)
def backed_values(
    tree: Tree, searches: np.ndarray, nodes: np.ndarray, estimates: np.ndarray
) -> np.ndarray:
    """:func:`backed_value` of ``nodes[i]`` of search ``searches[i]`` (L,), in the dtype of
    ``estimates``."""
    tree = borrowed(tree)
    values = np.empty_like(estimates)
    for i in range(searches.shape[0]):
        values[i] = backed_value(tree, searches[i], nodes[i], estimates[i])
    return values


@numba.njit(cache=True, nogil=True)
def add_and_backup(
    tree: Tree,
    searches: np.ndarray,  # (L,) int64
    parents: np.ndarray,  # (L,) int32
    slots: np.ndarray,  # (L,) int32
    priors: np.ndarray,  # (L, K) float32
    valid: np.ndarray,  # (L, K) bool
    values: np.ndarray,  # (L,) float32
    terminal: np.ndarray,  # (L,) bool
    discounts: np.ndarray,  # (L,) float32
    slot_values: np.ndarray,  # (L, K) float32
    proven: np.ndarray,  # (L,) bool
    solve: bool,
    leaves: np.ndarray,  # (B,) int32, the walk's leaves; new nodes replace their parents
    leaf_values: np.ndarray,  # (B,) float32, what each search backs up
) -> np.ndarray:
    """One simulation step's end in one call (each call with the tree costs microseconds of
    argument checks): :func:`add_nodes`, then every search backs up ``leaf_values`` from its
    leaf, a new node's being its :func:`backed_value`. Returns the new nodes (L,) int32."""
    new_nodes = add_nodes(
        tree, searches, parents, slots, priors, valid, values, terminal, discounts,
        slot_values, proven, solve,
    )  # fmt: skip
    view = borrowed(tree)
    for i in range(searches.shape[0]):
        b = searches[i]
        leaves[b] = new_nodes[i]
        leaf_values[b] = backed_value(view, b, new_nodes[i], values[i])
    backup(tree, leaves, leaf_values)
    return new_nodes


@numba.njit(cache=True, inline="always")
def parent_view(tree: Tree, b: int, node: int, value: float) -> float:
    """A value in the view of ``node``'s mover, turned into the view of its parent's mover: the
    one place where the zero-sum sign (the discount) is applied."""
    return tree.discount[b, node] * value


@numba.njit(cache=True, inline="always")
def proven_slot_value(tree: Tree, b: int, node: int, slot: int) -> float:
    """The exact value of ``slot`` at ``node`` in the node's view, NaN where it is unknown."""
    child = tree.children[b, node, slot]
    if child != NO_NODE and tree.solved[b, child]:
        return parent_view(tree, b, child, tree.solved_value[b, child])
    return tree.slot_value[b, node, slot]


@numba.njit(cache=True)
def try_solve(tree: Tree, b: int, node: int) -> bool:
    """Solve ``node`` if its slots decide it: one proven win for its mover, or exact values on
    every valid slot (the node's value is their maximum). Returns whether it is solved."""
    if tree.solved[b, node]:
        return True
    best, every_slot_known, any_slot = -np.inf, True, False
    for k in range(tree.children.shape[2]):
        if not tree.valid[b, node, k]:
            continue
        any_slot = True
        value = proven_slot_value(tree, b, node, k)
        if np.isnan(value):
            every_slot_known = False
        elif value > best:
            best = value
    if best >= PROVEN_WIN or (every_slot_known and any_slot):
        tree.solved[b, node] = True
        tree.solved_value[b, node] = best
        return True
    return False


@numba.njit(cache=True, nogil=True)
def backup(tree: Tree, leaves: np.ndarray, leaf_values: np.ndarray) -> None:
    """Add one visit of value ``leaf_values[b]`` along the path from ``leaves[b]`` to the root.

    ``leaf_values[b]`` is from the view of the player to move at the leaf; each step up turns it
    into the parent's view (:func:`parent_view`). Proven values travel the same path: while the
    node below was solved, its parent is solved too where its slots now decide it.
    """
    tree = borrowed(tree)
    for b in range(leaves.shape[0]):
        node = leaves[b]
        value = float(leaf_values[b])
        solving = tree.solved[b, node]
        while node != NO_NODE:
            tree.value_sum[b, node] += value
            tree.node_visits[b, node] += 1
            if solving and not tree.solved[b, node]:
                solving = try_solve(tree, b, node)
            value = parent_view(tree, b, node, value)
            node = tree.parent[b, node]


@numba.njit(cache=True)
def child_stats(tree: Tree, b: int, node: int, visits: np.ndarray, q_values: np.ndarray) -> None:
    """Fill per-slot visit counts (K,) and Q-values (K,) of ``node``, Q in the node's view.

    Q(s, a) = the child's mean value in the node's view (:func:`child_q`); 0 where the child has
    no visits.
    """
    for k in range(visits.shape[0]):
        child = tree.children[b, node, k]
        if child == NO_NODE or tree.node_visits[b, child] == 0:
            visits[k] = 0
            q_values[k] = 0.0
        else:
            visits[k] = tree.node_visits[b, child]
            q_values[k] = child_q(tree, b, child)


@numba.njit(cache=True, inline="always")
def child_q(tree: Tree, b: int, child: int) -> float:
    """Q of a visited child in its parent's view: its exact value when solved, else its mean."""
    if tree.solved[b, child]:
        return parent_view(tree, b, child, tree.solved_value[b, child])
    return parent_view(tree, b, child, tree.value_sum[b, child] / tree.node_visits[b, child])


@numba.njit(cache=True)
def root_statistics(tree: Tree) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Root visit counts (B, K) int32, Q-values (B, K) float64 and root values (B,) float64
    (a solved root's exact value)."""
    batch, slots = tree.children.shape[0], tree.children.shape[2]
    visits = np.zeros((batch, slots), np.int32)
    q_values = np.zeros((batch, slots), np.float64)
    root_values = np.zeros(batch, np.float64)
    for b in range(batch):
        child_stats(tree, b, 0, visits[b], q_values[b])
        if tree.solved[b, 0]:
            root_values[b] = tree.solved_value[b, 0]
        elif tree.node_visits[b, 0] > 0:
            root_values[b] = tree.value_sum[b, 0] / tree.node_visits[b, 0]
    return visits, q_values, root_values


@numba.njit(cache=True)
def root_proven_values(tree: Tree) -> np.ndarray:
    """Exact values of the root's slots (B, K) float64 in the root's view; NaN where unknown."""
    batch, slots = tree.children.shape[0], tree.children.shape[2]
    values = np.full((batch, slots), np.nan)
    for b in range(batch):
        for k in range(slots):
            if tree.valid[b, 0, k]:
                values[b, k] = proven_slot_value(tree, b, 0, k)
    return values
