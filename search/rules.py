"""Selection rules, injected into the search loop: UCT, PUCT and Gumbel AlphaZero.

A rule is one algorithm, as a policy function of mctx's ``policies.py`` is: a small frozen
dataclass holding all of the algorithm's constants (each default lives here and only here). It
hands the search loop two compiled functions with the signature
``(tree, b, node, data, rng_state) -> slot`` (one at the root, one below it) and their ``data``
(a NamedTuple of constants), prepares the root (noise), and turns the finished tree into the move
to play (temperature sampling or the Gumbel sample included) and the policy training target.
Nothing outside a rule knows which rule runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, NamedTuple, Protocol

import numba
import numpy as np

from games.random import uniform_float, uniform_int
from search.tree import (
    NO_NODE,
    PROVEN_WIN,
    Tree,
    child_q,
    child_stats,
    proven_slot_value,
    root_proven_values,
    root_statistics,
)


@numba.njit(cache=True, inline="always")
def selectable(tree: Tree, b: int, node: int, slot: int) -> bool:
    """A valid slot that is not a proven loss for the node's mover: the walk never spends a
    simulation on a move already known to lose (Winands et al. 2008). An unsolved node always
    has one, since all slots known would have solved it."""
    return tree.valid[b, node, slot] and not (proven_slot_value(tree, b, node, slot) <= -PROVEN_WIN)


# --------------------------------------------------------------------------------------------
# UCT (classic MCTS, as OpenSpiel's MCTSBot): Q + c * sqrt(ln N(s) / N(s, a)); an unvisited
# child is chosen first (uniformly among the unvisited ones).


class UctData(NamedTuple):
    exploration: float


@numba.njit(cache=True)
def uct_select(tree: Tree, b: int, node: int, data: UctData, rng_state: np.ndarray) -> int:
    num_slots = tree.children.shape[2]
    exploration = data.exploration * math.sqrt(math.log(max(tree.node_visits[b, node], 1)))
    unvisited = 0
    best, best_score = -1, -np.inf
    for k in range(num_slots):  # one pass: score the visited, count the unvisited
        if not selectable(tree, b, node, k):
            continue
        child = tree.children[b, node, k]
        if child == NO_NODE or tree.node_visits[b, child] == 0:
            unvisited += 1
        elif unvisited == 0:
            visits = tree.node_visits[b, child]
            score = child_q(tree, b, child) + exploration / math.sqrt(visits)
            if score > best_score:
                best, best_score = k, score
    if unvisited == 0:
        return best
    pick = uniform_int(rng_state, b, unvisited)
    for k in range(num_slots):
        if selectable(tree, b, node, k):
            child = tree.children[b, node, k]
            if child == NO_NODE or tree.node_visits[b, child] == 0:
                if pick == 0:
                    return k
                pick -= 1
    return -1


# --------------------------------------------------------------------------------------------
# PUCT (AlphaZero, Silver et al. 2018):
#   a = argmax Q(s,a) + c(s) P(s,a) sqrt(N(s)) / (1 + N(s,a)),
#   c(s) = log((1 + N(s) + c_base) / c_base) + c_init.
# Unvisited children get a first-play value (FPU): 0, the parent's value, or the parent's value
# minus a reduction (Leela / KataGo).

FPU_MODES = {"zero": 0, "parent": 1, "reduction": 2}


class PuctData(NamedTuple):
    c_init: float
    c_base: float
    fpu_mode: int
    fpu_reduction: float


@numba.njit(cache=True)
def puct_select(tree: Tree, b: int, node: int, data: PuctData, rng_state: np.ndarray) -> int:
    parent_visits = tree.node_visits[b, node]
    c = math.log((1.0 + parent_visits + data.c_base) / data.c_base) + data.c_init
    exploration = c * math.sqrt(parent_visits)
    if data.fpu_mode == 0:
        first_play = 0.0
    else:
        first_play = tree.value_sum[b, node] / max(parent_visits, 1)
        if data.fpu_mode == 2:
            first_play -= data.fpu_reduction
    best, best_score = -1, -np.inf
    for k in range(tree.children.shape[2]):
        if not selectable(tree, b, node, k):
            continue
        child = tree.children[b, node, k]
        visits = 0
        q = first_play
        if child != NO_NODE and tree.node_visits[b, child] > 0:
            visits = tree.node_visits[b, child]
            q = child_q(tree, b, child)
        else:
            known = tree.slot_value[b, node, k]  # a move known to end the game: its exact value
            if not np.isnan(known):
                q = known
        # The tiny noise breaks ties between equal scores at random, as in mctx.
        score = q + exploration * tree.prior[b, node, k] / (1 + visits)
        score += 1e-7 * uniform_float(rng_state, b)
        if score > best_score:
            best, best_score = k, score
    return best


# --------------------------------------------------------------------------------------------
# Gumbel AlphaZero (Danihelka et al. 2022), following mctx: Gumbel top-m + Sequential Halving at
# the root, deterministic selection argmax pi'(a) - N(a) / (1 + sum_b N(b)) below it.


class GumbelData(NamedTuple):
    max_considered: int
    c_visit: float
    c_scale: float
    considered_visits: np.ndarray  # (m + 1, n) int32, see considered_visit_table


@numba.njit(cache=True)
def completed_q_scores(
    tree: Tree, b: int, node: int, data: GumbelData, visits: np.ndarray, logits: np.ndarray
) -> np.ndarray:
    """sigma(completed Q) per slot (K,), and fill ``visits`` (K,) and ``logits`` (K,).

    completed Q = q(a) where visited (exact where proven), the exact value of a slot known to end
    the game, else v_mix, with
    v_mix = (v_hat + sum_b N(b) / sum_{b: N(b)>0} pi(b) * sum_{b: N(b)>0} pi(b) q(b))
            / (1 + sum_b N(b));
    rescaled to [0, 1] by its min and max over the valid slots (mctx ``_rescale_qvalues``), then
    sigma(q) = (c_visit + max_b N(b)) * c_scale * q.
    """
    num_slots = tree.children.shape[2]
    q_values = np.zeros(num_slots, np.float64)
    child_stats(tree, b, node, visits, q_values)
    total_visits, max_visits = 0, 0
    visited_prior, weighted_q = 0.0, 0.0
    for k in range(num_slots):
        logits[k] = (
            math.log(max(tree.prior[b, node, k], 1e-30)) if tree.valid[b, node, k] else -np.inf
        )
        if visits[k] > 0:
            total_visits += visits[k]
            max_visits = max(max_visits, visits[k])
            visited_prior += max(tree.prior[b, node, k], 1e-30)
            weighted_q += max(tree.prior[b, node, k], 1e-30) * q_values[k]
    mixed_value = np.float64(tree.raw_value[b, node])
    if visited_prior > 0.0:
        mixed_value = (mixed_value + total_visits * weighted_q / visited_prior) / (1 + total_visits)
    low, high = np.inf, -np.inf
    for k in range(num_slots):
        if visits[k] == 0:
            known = tree.slot_value[b, node, k]  # a proven slot's completed Q is its exact value
            q_values[k] = mixed_value if np.isnan(known) else known
        if tree.valid[b, node, k]:
            low = min(low, q_values[k])
            high = max(high, q_values[k])
    scale = (data.c_visit + max_visits) * data.c_scale / max(high - low, 1e-8)
    scores = np.zeros(num_slots, np.float64)
    for k in range(num_slots):
        if tree.valid[b, node, k]:
            scores[k] = (q_values[k] - low) * scale
    return scores


@numba.njit(cache=True)
def gumbel_root_select(
    tree: Tree, b: int, node: int, data: GumbelData, rng_state: np.ndarray
) -> int:
    num_slots = tree.children.shape[2]
    visits = np.zeros(num_slots, np.int32)
    logits = np.zeros(num_slots, np.float64)
    sigma = completed_q_scores(tree, b, node, data, visits, logits)
    num_valid = 0
    for k in range(num_slots):
        num_valid += tree.valid[b, node, k]
    considered = min(data.max_considered, num_valid)
    table = data.considered_visits
    considered_visit = table[considered, min(visits.sum(), table.shape[1] - 1)]
    best = best_considered(tree, b, visits, logits, sigma, considered_visit)
    if best < 0:  # more simulations than the schedule planned: keep the best survivor busy
        best = best_considered(tree, b, visits, logits, sigma, visits.max())
    if best < 0:  # the survivors are proven losses: any other move
        best = best_considered(tree, b, visits, logits, sigma, -1)
    return best


@numba.njit(cache=True)
def best_considered(
    tree: Tree,
    b: int,
    visits: np.ndarray,
    logits: np.ndarray,
    sigma: np.ndarray,
    target_visits: int,
) -> int:
    """Among the root's selectable actions with ``target_visits`` visits (-1: any count), the
    one with the highest g(a) + logits(a) + sigma(q(a)) (mctx ``score_considered``); -1 if there
    is none."""
    best, best_score = -1, -np.inf
    for k in range(visits.shape[0]):
        if selectable(tree, b, 0, k) and (target_visits == -1 or visits[k] == target_visits):
            score = tree.root_noise[b, k] + logits[k] + sigma[k]
            if score > best_score:
                best, best_score = k, score
    return best


@numba.njit(cache=True)
def gumbel_interior_select(
    tree: Tree, b: int, node: int, data: GumbelData, rng_state: np.ndarray
) -> int:
    num_slots = tree.children.shape[2]
    visits = np.zeros(num_slots, np.int32)
    logits = np.zeros(num_slots, np.float64)
    sigma = completed_q_scores(tree, b, node, data, visits, logits)
    policy = improved_policy(logits + sigma)
    total_visits = visits.sum()
    best, best_score = -1, -np.inf
    for k in range(num_slots):
        if selectable(tree, b, node, k):
            score = policy[k] - visits[k] / (1.0 + total_visits)
            if score > best_score:
                best, best_score = k, score
    return best


@numba.njit(cache=True)
def improved_policy(scores: np.ndarray) -> np.ndarray:
    """pi' = softmax(logits + sigma(completed Q)) over the finite entries of ``scores`` (K,)."""
    top = scores.max()
    policy = np.exp(scores - top)
    return policy / policy.sum()


@numba.njit(cache=True)
def gumbel_targets(tree: Tree, data: GumbelData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Chosen root slots (B,), improved policies pi' (B, K) and the root's ranking
    g + logits + sigma (B, K) (-inf on invalid slots) for a finished batch."""
    batch, num_slots = tree.children.shape[0], tree.children.shape[2]
    chosen = np.zeros(batch, np.int64)
    policies = np.zeros((batch, num_slots), np.float64)
    ranking = np.full((batch, num_slots), -np.inf)
    visits = np.zeros(num_slots, np.int32)
    logits = np.zeros(num_slots, np.float64)
    for b in range(batch):
        sigma = completed_q_scores(tree, b, 0, data, visits, logits)
        policies[b] = improved_policy(logits + sigma)
        for k in range(num_slots):
            if tree.valid[b, 0, k]:
                ranking[b, k] = tree.root_noise[b, k] + logits[k] + sigma[k]
        # The move played: the most visited survivor of Sequential Halving, never a proven
        # loss while another move exists (then the most visited of the others).
        chosen[b] = most_visited(tree, b, visits, ranking[b], True)
        if chosen[b] < 0:  # every move is a proven loss: the most visited, as without proofs
            chosen[b] = most_visited(tree, b, visits, ranking[b], False)
    return chosen, policies, ranking


@numba.njit(cache=True)
def most_visited(
    tree: Tree, b: int, visits: np.ndarray, ranking: np.ndarray, selectable_only: bool
) -> int:
    """The root slot with the most visits (ties: the higher ``ranking``) among the valid ones,
    or with ``selectable_only`` among those not proven lost; -1 if there is none."""
    best, best_visits, best_score = -1, -1, -np.inf
    for k in range(visits.shape[0]):
        allowed = selectable(tree, b, 0, k) if selectable_only else tree.valid[b, 0, k]
        if allowed and (
            visits[k] > best_visits or (visits[k] == best_visits and ranking[k] > best_score)
        ):
            best, best_visits, best_score = k, visits[k], ranking[k]
    return best


def considered_visit_table(max_considered: int, num_simulations: int) -> np.ndarray:
    """Sequential Halving schedule as in mctx ``get_table_of_considered_visits``.

    Row m (m considered actions) lists, for each simulation index, the visit count an action must
    have to be chosen next: the budget n is spread over ceil(log2 m) phases, each remaining action
    gets an equal share per phase, then the number of actions is halved. Shape (m + 1, n).
    """
    table = np.zeros((max_considered + 1, max(num_simulations, 1)), np.int32)
    for considered in range(max_considered + 1):
        if considered <= 1:
            sequence = list(range(num_simulations))
        else:
            log2max = math.ceil(math.log2(considered))
            sequence, visits, remaining = [], [0] * considered, considered
            while len(sequence) < num_simulations:
                extra = max(1, int(num_simulations / (log2max * remaining)))
                for _ in range(extra):
                    sequence.extend(visits[:remaining])
                    for i in range(remaining):
                        visits[i] += 1
                remaining = max(2, remaining // 2)
        table[considered, :num_simulations] = sequence[:num_simulations]
    return table


# --------------------------------------------------------------------------------------------
# The rule objects the search loop is given.


def _visit_policy(
    tree: Tree,
    generators: Sequence[np.random.Generator],
    move_numbers: np.ndarray | None,
    temperature_moves: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The move to play (B,) and the visit fractions (B, K), the policy target.

    For the first ``temperature_moves`` moves of a game (``move_numbers`` (B,) counts the searched
    moves already played; None means none of the moves are early, as in evaluation) the move is
    drawn from the policy target (AlphaZero's temperature 1), from the search's own generator;
    afterwards it is the most visited one (ties: higher Q, as OpenSpiel). Proven values have the
    last word (:func:`respect_proven_values`).
    """
    visits, q_values, _ = root_statistics(tree)
    score = visits + 1e-3 * np.tanh(q_values)  # Q only breaks ties between equal counts
    score = np.where(tree.valid[:, 0], score, -np.inf)
    policy = visits / np.maximum(visits.sum(axis=1, keepdims=True), 1)
    chosen = score.argmax(axis=1)
    proven = root_proven_values(tree)
    policy = proven_policy(tree, proven, policy)
    if move_numbers is not None and temperature_moves > 0:
        for b in np.flatnonzero(np.asarray(move_numbers) < temperature_moves).tolist():
            chosen[b] = generators[b].choice(policy.shape[1], p=policy[b])
    return respect_proven_values(tree, proven, chosen, score), policy


def optimal_slots(tree: Tree, proven: np.ndarray, b: int) -> np.ndarray:
    """The slots (K,) bool of a solved root ``b`` whose exact value is the root's."""
    return tree.valid[b, 0] & np.isclose(proven[b], tree.solved_value[b, 0])


def proven_policy(tree: Tree, proven: np.ndarray, policy: np.ndarray) -> np.ndarray:
    """The policy target (B, K) with proven values respected: a solved root's target is uniform
    over its optimal slots (the search stops walking below a solved root, so its visits say
    little); elsewhere proven losses get no mass while another move has some."""
    policy = policy.copy()
    losses = tree.valid[:, 0] & (proven <= -PROVEN_WIN)
    for b in range(len(policy)):
        if tree.solved[b, 0]:
            optimal = optimal_slots(tree, proven, b)
            policy[b] = optimal / optimal.sum()
        elif losses[b].any() and policy[b][~losses[b]].sum() > 0:
            policy[b] = np.where(losses[b], 0.0, policy[b])
            policy[b] /= policy[b].sum()
    return policy


def respect_proven_values(
    tree: Tree, proven: np.ndarray, chosen: np.ndarray, preference: np.ndarray
) -> np.ndarray:
    """The moves (B,) with proven values respected: at a solved root an optimal move (a proven
    win when there is one); elsewhere never a proven loss when another move exists (as
    OpenSpiel's MCTSBot with ``solve=True``). ``proven`` (B, K) holds the root's exact slot
    values (NaN unknown); where the rule's choice must change, the replacement is the allowed
    slot the rule ranks highest (``preference`` (B, K))."""
    chosen = chosen.copy()
    valid = tree.valid[:, 0]
    losses = valid & (proven <= -PROVEN_WIN)
    for b in range(len(chosen)):
        if tree.solved[b, 0]:
            allowed = optimal_slots(tree, proven, b)
        elif losses[b].all(where=valid[b]):
            continue  # every move loses: the rule's choice stands
        else:
            allowed = valid[b] & ~losses[b]
        if not allowed[chosen[b]]:
            chosen[b] = int(np.argmax(np.where(allowed, preference[b], -np.inf)))
    return chosen


@dataclass(frozen=True)
class ProvenValues:
    """What every tree rule shares: MCTS-Solver's proven values (:mod:`search.tree`) on, the
    default, as OpenSpiel's MCTSBot has it; ``solve: false`` keeps the search of plain averages
    for comparison."""

    solve: bool = field(default=True, kw_only=True)
    # Plies of the rules' own lookahead for exact slot values, at the root and at new nodes: 2 at
    # the root finds every win in one and every only move against a loss in one at any budget;
    # 0 and 0 is OpenSpiel's MCTSBot(solve=True), which learns proofs only from terminal nodes.
    root_lookahead: int = field(default=2, kw_only=True)
    node_lookahead: int = field(default=1, kw_only=True)

    def __post_init__(self) -> None:
        for name in ("root_lookahead", "node_lookahead"):
            if not 0 <= getattr(self, name) <= 2:
                raise ValueError(f"{name} must be 0, 1 or 2, got {getattr(self, name)}")


@dataclass(frozen=True)
class VisitCountRule(ProvenValues):
    """UCT and PUCT: the move and the policy target come from the root's visit counts, with
    visit-proportional moves for the first ``temperature_moves`` searched moves of a game."""

    # Visit-proportional moves (temperature 1) for the first searched moves of a self-play
    # game; evaluation passes no move numbers, so its moves are always the most visited.
    temperature_moves: int = field(default=8, kw_only=True)
    name: ClassVar[str]

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.temperature_moves < 0:
            raise ValueError(
                f"{self.name}.temperature_moves must be >= 0, got {self.temperature_moves}"
            )

    def prepare_root(self, tree: Tree, generators: Sequence[np.random.Generator]) -> None:
        pass

    def finalize(
        self,
        tree: Tree,
        num_simulations: int,
        generators: Sequence[np.random.Generator],
        move_numbers: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        return _visit_policy(tree, generators, move_numbers, self.temperature_moves)


@dataclass(frozen=True)
class Uct(VisitCountRule):
    """Classic MCTS selection with UCT; c = 2 and no lookahead, as OpenSpiel's MCTSBot is
    configured (DESIGN.md: classic MCTS for comparisons is that bot; its Elo per doubling of
    simulations matches it only so, docs/results/ladder_2026-12-01.txt). The stronger variant
    is ``uct.root_lookahead=2, uct.node_lookahead=1``."""

    exploration: float = 2.0
    root_lookahead: int = field(default=0, kw_only=True)
    node_lookahead: int = field(default=0, kw_only=True)
    name: ClassVar[str] = "uct"

    def kernels(self, num_simulations: int) -> tuple[Any, Any, UctData]:
        return uct_select, uct_select, UctData(float(self.exploration))


@dataclass(frozen=True)
class Puct(VisitCountRule):
    """AlphaZero PUCT with root Dirichlet noise P = (1 - eps) p + eps Dir(alpha)."""

    c_init: float = 1.25
    c_base: float = 19652.0
    fpu: Literal["zero", "parent", "reduction"] = "reduction"
    fpu_reduction: float = 0.25
    # None: alpha = 10 / (legal moves), the scaling behind AlphaZero's 0.3 for chess, 0.15 for
    # shogi and 0.03 for Go (about 1.4 for Connect Four, whose 7 moves 0.3 would starve).
    dirichlet_alpha: float | None = None
    dirichlet_fraction: float = 0.0  # 0.25 in self-play; 0 for play and analysis
    name: ClassVar[str] = "puct"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.dirichlet_fraction <= 1:
            raise ValueError(
                f"puct.dirichlet_fraction must lie in [0, 1], got {self.dirichlet_fraction}"
            )
        if self.dirichlet_alpha is not None and self.dirichlet_alpha <= 0:
            raise ValueError(f"puct.dirichlet_alpha must be > 0, got {self.dirichlet_alpha}")
        if self.fpu not in FPU_MODES:
            raise ValueError(f"puct.fpu must be one of {sorted(FPU_MODES)}, got {self.fpu!r}")

    def kernels(self, num_simulations: int) -> tuple[Any, Any, PuctData]:
        data = PuctData(
            float(self.c_init), float(self.c_base), FPU_MODES[self.fpu], float(self.fpu_reduction)
        )
        return puct_select, puct_select, data

    def prepare_root(self, tree: Tree, generators: Sequence[np.random.Generator]) -> None:
        if self.dirichlet_fraction <= 0.0:
            return
        for b, generator in enumerate(generators):
            valid = tree.valid[b, 0]
            if valid.sum() < 2:
                continue
            legal = int(valid.sum())
            alpha = 10.0 / legal if self.dirichlet_alpha is None else self.dirichlet_alpha
            noise = generator.dirichlet(np.full(legal, alpha))
            prior = tree.prior[b, 0]
            prior[valid] = (1 - self.dirichlet_fraction) * prior[valid] + (
                self.dirichlet_fraction * noise
            )


@dataclass(frozen=True)
class Gumbel(ProvenValues):
    """Gumbel AlphaZero: m considered actions, sigma(q) = (c_visit + max N) * c_scale * q.

    The move played is the survivor of Sequential Halving, a sample through the root's Gumbel
    draw (no temperature needed); the policy target is the completed-Q improved policy pi'.
    c_visit = 50 (paper). c_scale = 0.1, mctx's default ``value_scale``, because q is rescaled to
    [0, 1] per node as in mctx; the paper's 1.0 then makes sigma span 0 to 50 + N, so that the
    improved policy pi' is nearly one-hot on a noisy argmax (measured on Connect Four:
    docs/results/connect4.md, "Gumbel c_scale").
    """

    max_considered: int = 16
    c_visit: float = 50.0
    c_scale: float = 0.1
    gumbel_scale: float = 1.0  # 0 turns the root draw off (deterministic, for evaluation)
    name: ClassVar[str] = "gumbel"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_considered < 1:
            raise ValueError(f"gumbel.max_considered must be >= 1, got {self.max_considered}")

    def kernels(self, num_simulations: int) -> tuple[Any, Any, GumbelData]:
        table = considered_visit_table(self.max_considered, num_simulations)
        data = GumbelData(int(self.max_considered), float(self.c_visit), float(self.c_scale), table)
        return gumbel_root_select, gumbel_interior_select, data

    def prepare_root(self, tree: Tree, generators: Sequence[np.random.Generator]) -> None:
        num_slots = tree.root_noise.shape[1]
        for b, generator in enumerate(generators):
            tree.root_noise[b] = self.gumbel_scale * generator.gumbel(size=num_slots)

    def finalize(
        self,
        tree: Tree,
        num_simulations: int,
        generators: Sequence[np.random.Generator],
        move_numbers: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        _, _, data = self.kernels(num_simulations)
        chosen, policy, ranking = gumbel_targets(tree, data)
        proven = root_proven_values(tree)
        return respect_proven_values(tree, proven, chosen, ranking), proven_policy(
            tree, proven, policy
        )


class SelectionRule(Protocol):
    """What ``Search`` needs of a rule: numba kernels for root and interior selection with their
    data, a root preparation (noise) and, from the finished tree, the move to play with the
    policy target. ``move_numbers`` (B,) counts the searched moves already played in each game
    (None in evaluation), for rules that explore early in a game."""

    @property
    def name(self) -> str: ...

    @property
    def solve(self) -> bool: ...

    @property
    def root_lookahead(self) -> int: ...

    @property
    def node_lookahead(self) -> int: ...

    def kernels(self, num_simulations: int) -> tuple[Any, Any, Any]: ...

    def prepare_root(self, tree: Tree, generators: Sequence[np.random.Generator]) -> None: ...

    def finalize(
        self,
        tree: Tree,
        num_simulations: int,
        generators: Sequence[np.random.Generator],
        move_numbers: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]: ...
