"""The search tree: a struct of arrays over ``[batch, node]`` (and ``[batch, node, slot]``).

Many independent searches run in lockstep; search ``b`` owns row ``b`` of every array. A node's
children live in ``slots`` ``0..K-1``: for games a slot is the action id (fixed action space,
invalid slots masked), for reasoning a slot is the k-th sampled candidate step. The tree knows
nothing else about the domain; states live in a side table owned by the search loop.

Values follow mctx: ``value_sum[b, n]`` is from the view of the player to move at node ``n``, and
``discount[b, n]`` maps that value into the view of ``n``'s parent (-1 in alternating zero-sum
games, +1 when the same agent acts again, as in reasoning). :func:`backup` is the only place
where that sign is applied.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

NO_NODE = -1


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
    )


@numba.njit(cache=True)
def reset_tree(tree: Tree) -> None:
    """Clear the nodes used by a previous search so the arrays can be reused."""
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
        tree.num_nodes[b] = 0
        tree.root_noise[b, :] = 0.0


@numba.njit(cache=True)
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
) -> np.ndarray:
    """Write L evaluated nodes into the tree; return their node indices (L,) int32."""
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
        new_nodes[i] = n
    return new_nodes


@numba.njit(cache=True)
def backup(tree: Tree, leaves: np.ndarray, leaf_values: np.ndarray) -> None:
    """Add one visit of value ``leaf_values[b]`` along the path from ``leaves[b]`` to the root.

    ``leaf_values[b]`` is from the view of the player to move at the leaf. The zero-sum sign flip
    (a discount of -1) happens here and nowhere else.
    """
    for b in range(leaves.shape[0]):
        node = leaves[b]
        value = np.float64(leaf_values[b])
        while node != NO_NODE:
            tree.value_sum[b, node] += value
            tree.node_visits[b, node] += 1
            value *= tree.discount[b, node]
            node = tree.parent[b, node]


@numba.njit(cache=True)
def child_stats(tree: Tree, b: int, node: int, visits: np.ndarray, q_values: np.ndarray) -> None:
    """Fill per-slot visit counts (K,) and Q-values (K,) of ``node``, Q in the node's view.

    Q(s, a) = discount(child) * mean value of the child; 0 where the child has no visits.
    """
    for k in range(visits.shape[0]):
        child = tree.children[b, node, k]
        if child == NO_NODE or tree.node_visits[b, child] == 0:
            visits[k] = 0
            q_values[k] = 0.0
        else:
            visits[k] = tree.node_visits[b, child]
            q_values[k] = (
                tree.discount[b, child] * tree.value_sum[b, child] / tree.node_visits[b, child]
            )


@numba.njit(cache=True)
def root_statistics(tree: Tree) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Root visit counts (B, K) int32, Q-values (B, K) float64 and root values (B,) float64."""
    batch, slots = tree.children.shape[0], tree.children.shape[2]
    visits = np.zeros((batch, slots), np.int32)
    q_values = np.zeros((batch, slots), np.float64)
    root_values = np.zeros(batch, np.float64)
    for b in range(batch):
        child_stats(tree, b, 0, visits[b], q_values[b])
        if tree.node_visits[b, 0] > 0:
            root_values[b] = tree.value_sum[b, 0] / tree.node_visits[b, 0]
    return visits, q_values, root_values
