"""Beam search as a selection rule of the one search loop (``search.core.Search``).

Level-synchronous beam search (Snell et al. 2024, REFERENCES.md "Reasoning search"): the root's
slots are expanded first; of the nodes one level down, the best ``num_beams`` by their own value
are kept and every slot of each kept node is expanded; then the best ``num_beams`` one level
further down are kept, and so on. Terminal nodes are never expanded; they are the finished
candidates. How many slots a node has (the root's N samples, a kept beam's M expansions) is the
expander's business, so that beam search, best-of-N (one slot per node below the root, nothing
pruned) and MCTS differ only in the expander's width schedule and this rule.

The rule keeps no state of its own: at every step of the walk it recomputes, from the tree, the
(node, slot) the schedule expands next and steers the walk toward it. A simulation therefore
adds exactly one node per search, as with every other rule; once the schedule has nothing left
to expand, the walk stops at the root and the loop only re-backs up the root's value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numba
import numpy as np

from search.tree import NO_NODE, Tree, root_statistics


class BeamData(NamedTuple):
    num_beams: int


@numba.njit(cache=True)
def beam_target(tree: Tree, b: int, num_beams: int) -> tuple[int, int]:
    """The (node, slot) the beam schedule expands next in search ``b``; (-1, -1) when done.

    Levels are finished in order: a level's kept nodes are the ``num_beams`` non-terminal nodes
    of highest ``raw_value`` at that depth (ties: the earlier node), chosen once every slot of
    the level above was expanded. Nodes are created only below kept nodes, so every node one
    level down is a child of a kept node.
    """
    count = tree.num_nodes[b]
    depth = np.zeros(count, np.int64)
    for node in range(1, count):
        depth[node] = depth[tree.parent[b, node]] + 1
    frontier = np.zeros(1, np.int64)  # the root
    level = 0
    while True:
        for index in range(frontier.shape[0]):
            node = frontier[index]
            for slot in range(tree.children.shape[2]):
                if tree.valid[b, node, slot] and tree.children[b, node, slot] == NO_NODE:
                    return node, slot
        size = 0
        for node in range(count):
            if depth[node] == level + 1 and not tree.terminal[b, node]:
                size += 1
        if size == 0:
            return -1, -1
        nodes = np.empty(size, np.int64)
        negative_values = np.empty(size, np.float64)
        size = 0
        for node in range(count):
            if depth[node] == level + 1 and not tree.terminal[b, node]:
                nodes[size] = node
                negative_values[size] = -tree.raw_value[b, node]
                size += 1
        order = np.argsort(negative_values, kind="mergesort")  # stable: ties keep node order
        frontier = nodes[order[: min(num_beams, size)]]
        level += 1


@numba.njit(cache=True)
def beam_select(tree: Tree, b: int, node: int, data: BeamData, rng_state: np.ndarray) -> int:
    """The slot of ``node`` on the way to the schedule's next expansion; -1 when done."""
    target, slot = beam_target(tree, b, data.num_beams)
    if target < 0:
        return -1
    if target == node:
        return slot
    child = target  # climb from the target to the child of ``node`` above it
    while child != NO_NODE and tree.parent[b, child] != node:
        child = tree.parent[b, child]
    if child == NO_NODE:
        return -1
    for k in range(tree.children.shape[2]):
        if tree.children[b, node, k] == child:
            return k
    return -1


@dataclass(frozen=True)
class Beam:
    """Keep the best ``num_beams`` nodes per level by value and expand all their slots.

    With one slot per node below the root and ``num_beams`` >= the root's width nothing is ever
    pruned: that is best-of-N (N independent chains from the root's N first steps).
    ``Search`` needs at least (root width) + (levels - 1) * num_beams * (slots per beam)
    simulations to finish; extra simulations cost nothing (no expansions).
    """

    num_beams: int = 4
    name: ClassVar[str] = "beam"
    solve: ClassVar[bool] = False  # beams are chosen by value; nothing to prove
    root_lookahead: ClassVar[int] = 0
    node_lookahead: ClassVar[int] = 0

    def __post_init__(self) -> None:
        if self.num_beams < 1:
            raise ValueError(f"Beam needs num_beams >= 1, got {self.num_beams}")

    def kernels(self, num_simulations: int) -> tuple[Any, Any, BeamData]:
        return beam_select, beam_select, BeamData(int(self.num_beams))

    def prepare_root(self, tree: Tree, generators: Sequence[np.random.Generator]) -> None:
        pass

    def finalize(
        self,
        tree: Tree,
        num_simulations: int,
        generators: Sequence[np.random.Generator],
        move_numbers: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Chosen root slot: the one above the best terminal node by value (the best node when
        none is terminal); policy: root visit fractions (B, K)."""
        visits, _, _ = root_statistics(tree)
        policy = visits / np.maximum(visits.sum(axis=1, keepdims=True), 1)
        batch = tree.num_nodes.shape[0]
        chosen = np.zeros(batch, np.int64)
        for b in range(batch):
            count = int(tree.num_nodes[b])
            if count < 2:
                continue
            values = tree.raw_value[b, 1:count].astype(np.float64)
            terminal = tree.terminal[b, 1:count]
            best = 1 + int(
                np.argmax(np.where(terminal, values, -np.inf) if terminal.any() else values)
            )
            while tree.parent[b, best] != 0:
                best = int(tree.parent[b, best])
            chosen[b] = int(np.flatnonzero(tree.children[b, 0] == best)[0])
        return chosen, policy
