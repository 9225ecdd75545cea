"""Proven values (MCTS-Solver) in the one search core: a hand-built tree with known answers,
and generated one-move tactics answered at every budget, for every rule, with a net and with
rollouts."""

from __future__ import annotations

import numpy as np
import pytest

from games import make_game
from games.tactics import generate_tactics
from search.core import Search
from search.expanders import GameExpander
from search.rules import Gumbel, Puct, Uct
from search.tree import NO_NODE, add_nodes, allocate_tree, backup, root_proven_values

CONNECT_FOUR = make_game("connect_four")
TACTICS = generate_tactics(CONNECT_FOUR, 60, seed=1)


def test_tactics_have_exact_answers():
    for tactic in TACTICS:
        state = CONNECT_FOUR.state_from_moves(tactic.moves)
        mover = CONNECT_FOUR.current_player(state)
        for action in CONNECT_FOUR.legal_actions(state):
            child = CONNECT_FOUR.apply(state, action)
            wins = CONNECT_FOUR.is_terminal(child) and CONNECT_FOUR.returns(child)[mover] > 0
            if tactic.kind == "win":
                assert wins == (action in tactic.answers)
            else:  # every other move lets the opponent win at once
                replies = CONNECT_FOUR.legal_actions(child)
                loses = any(
                    CONNECT_FOUR.returns(CONNECT_FOUR.apply(child, reply))[mover] < 0
                    for reply in replies
                )
                assert loses == (action not in tactic.answers)
    assert {t.kind for t in TACTICS} == {"win", "block"}


class _Tree:
    """A two-player tree built by hand: ``add(parent, slot, value, terminal)``."""

    def __init__(self, num_slots: int = 3, valid: int = 3):
        self.tree = allocate_tree(batch_size=1, num_nodes=8, num_slots=num_slots)
        self.valid = np.zeros((1, num_slots), bool)
        self.valid[0, :valid] = True

    def add(self, parent: int, slot: int, value: float, terminal: bool = False) -> int:
        node = add_nodes(
            self.tree, np.array([0]), np.array([parent], np.int32), np.array([slot], np.int32),
            self.valid / self.valid.sum(), self.valid, np.array([value], np.float32),
            np.array([terminal]), np.array([-1.0], np.float32),
            np.full(self.valid.shape, np.nan, np.float32), np.array([terminal]), True,
        )[0]  # fmt: skip
        backup(self.tree, np.array([node], np.int32), np.array([value]))
        return int(node)


def test_a_child_that_wins_proves_its_parent():
    t = _Tree()
    root = t.add(NO_NODE, 0, 0.1)
    t.add(root, 0, 0.3)  # an ordinary child
    assert not t.tree.solved[0, root]
    won = t.add(root, 2, -1.0, terminal=True)  # the opponent has lost: a win for the root
    assert t.tree.solved[0, won] and t.tree.solved_value[0, won] == -1
    assert t.tree.solved[0, root] and t.tree.solved_value[0, root] == 1
    np.testing.assert_array_equal(root_proven_values(t.tree)[0], [np.nan, np.nan, 1.0])


def test_all_children_proven_gives_the_best_of_them():
    t = _Tree(valid=2)
    root = t.add(NO_NODE, 0, 0.0)
    middle = t.add(root, 0, 0.2)  # B to move
    t.add(middle, 0, 0.0, terminal=True)  # a draw
    assert not t.tree.solved[0, middle]
    t.add(middle, 1, -1.0, terminal=True)  # A lost: B's win
    assert t.tree.solved[0, middle] and t.tree.solved_value[0, middle] == 1
    other = t.add(root, 1, 0.4)
    t.add(other, 0, 0.0, terminal=True)
    t.add(other, 1, 1.0, terminal=True)  # B lost there: A's win... for B the best is the draw
    assert t.tree.solved_value[0, other] == 0
    # The root: one child is B's proven win (a loss for A), the other a proven draw.
    assert t.tree.solved[0, root] and t.tree.solved_value[0, root] == 0
    np.testing.assert_array_equal(root_proven_values(t.tree)[0, :2], [-1.0, 0.0])


class MisleadingNet:
    """A policy-value 'net' that puts almost no prior on the answers and values everything at
    +0.5 for the mover: only proven values can find the right move."""

    def __init__(self, answers_by_position: dict[bytes, frozenset[int]]):
        self.answers = answers_by_position

    def __call__(self, observations: np.ndarray, masks: np.ndarray):
        priors = masks.astype(np.float32)
        for i, observation in enumerate(observations):
            for action in self.answers.get(observation.tobytes(), ()):
                priors[i, action] = 1e-4
        priors /= priors.sum(axis=1, keepdims=True)
        return priors, np.full(len(observations), 0.5, np.float32)


def tactic_states_and_net() -> tuple[np.ndarray, MisleadingNet]:
    states = np.stack([CONNECT_FOUR.state_from_moves(t.moves) for t in TACTICS])
    observations = CONNECT_FOUR.observations(states)
    answers = {o.tobytes(): t.answers for o, t in zip(observations, TACTICS, strict=True)}
    return states, MisleadingNet(answers)


# UCT with the rules' lookahead (mcts:N has none by default, as OpenSpiel's MCTSBot)
RULES = [Puct(), Gumbel(max_considered=4), Uct(root_lookahead=2, node_lookahead=1)]


@pytest.mark.parametrize("leaf", ["net", "rollout"])
@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_tactics_are_answered_at_every_budget(rule, leaf):
    states = np.stack([CONNECT_FOUR.state_from_moves(t.moves) for t in TACTICS])
    observations = CONNECT_FOUR.observations(states)
    net = MisleadingNet(
        {o.tobytes(): t.answers for o, t in zip(observations, TACTICS, strict=True)}
    )
    expander = GameExpander(CONNECT_FOUR, evaluator=net if leaf == "net" else None)
    for budget in (2, 3, 8, 32):
        result = Search(expander, rule, budget).run(states, np.arange(len(TACTICS)))
        for tactic, move, value in zip(TACTICS, result.chosen, result.root_values, strict=True):
            assert int(move) in tactic.answers, (budget, tactic)
            if tactic.kind == "win":
                assert value == 1.0  # the search proved the win


def test_without_proven_values_the_misleading_net_misses_wins():
    """The switch keeps the old search for comparison: it misses what the prior hides."""
    states = np.stack([CONNECT_FOUR.state_from_moves(t.moves) for t in TACTICS])
    observations = CONNECT_FOUR.observations(states)
    net = MisleadingNet(
        {o.tobytes(): t.answers for o, t in zip(observations, TACTICS, strict=True)}
    )
    result = Search(GameExpander(CONNECT_FOUR, evaluator=net), Puct(solve=False), 8).run(
        states, np.arange(len(TACTICS))
    )
    right = [int(m) in t.answers for t, m in zip(TACTICS, result.chosen, strict=True)]
    assert np.mean(right) < 0.5


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_a_batch_with_proven_values_equals_each_search_alone(rule):
    states = np.stack([CONNECT_FOUR.state_from_moves(t.moves[:-3]) for t in TACTICS])
    seeds = np.arange(len(TACTICS)) * 11
    batched = Search(GameExpander(CONNECT_FOUR), rule, 64).run(states, seeds)
    visits, values = batched.visit_counts.copy(), batched.root_values.copy()
    for index in (0, 7, 33, 59):
        alone = Search(GameExpander(CONNECT_FOUR), rule, 64).run(
            states[index : index + 1], seeds[index : index + 1]
        )
        np.testing.assert_array_equal(alone.visit_counts[0], visits[index])
        assert alone.root_values[0] == values[index]


def _negamax(game, state) -> float:
    """The exact value of ``state`` for its mover (plain minimax; tic-tac-toe is small)."""
    if game.is_terminal(state):
        return float(game.returns(state)[game.current_player(state)])
    return max(-_negamax(game, game.apply(state, a)) for a in game.legal_actions(state))


@pytest.mark.parametrize("rule", [Puct(), Gumbel(), RULES[2]], ids=lambda rule: rule.name)
def test_small_positions_are_proven_exactly(rule):
    """Tic-tac-toe after three or more random moves: a value the search proves equals minimax,
    and then the move played keeps the game-theoretic value. UCT, which tries every move, proves
    every root within the budget; PUCT and Gumbel (considering every move here: m = 16) spend
    their simulations on the likely moves and prove only some."""
    game = make_game("tic_tac_toe")
    rng = np.random.default_rng(3)
    states = []
    while len(states) < 40:
        state = game.initial_state()
        for _ in range(rng.integers(3, 7)):
            if not game.is_terminal(state):
                state = game.apply(state, int(rng.choice(game.legal_actions(state))))
        if not game.is_terminal(state):
            states.append(state)
    search = Search(GameExpander(game), rule, 3000)
    result = search.run(np.stack(states), np.arange(40))
    solved = search._tree.solved[:, 0].copy()
    for state, move, value, proven in zip(
        states, result.chosen, result.root_values, solved, strict=True
    ):
        if proven:  # a proven value is exact, and the move played keeps it
            exact = _negamax(game, state)
            assert value == exact
            assert -_negamax(game, game.apply(state, int(move))) == exact
    assert solved.all() if rule.name == "uct" else solved.mean() > 0.5


@pytest.mark.parametrize("rule", [Puct(), Gumbel(max_considered=2), Uct()], ids=lambda r: r.name)
def test_a_proven_loss_is_neither_played_nor_a_target_while_another_move_is_open(rule):
    """Root A: slot 0's child (B to move) has a winning move for B, found after many visits;
    slot 1 is open. The move and the target avoid slot 0 although it has the most visits."""
    t = _Tree(num_slots=3, valid=2)
    root = t.add(NO_NODE, 0, 0.0)
    lost = t.add(root, 0, 0.1)
    for _ in range(3):
        backup(t.tree, np.array([lost], np.int32), np.array([0.1]))
    t.add(lost, 0, -1.0, terminal=True)  # A has lost after B's move: B's proven win
    t.add(root, 1, -0.3)
    assert t.tree.solved[0, lost] and not t.tree.solved[0, root]
    assert t.tree.node_visits[0, lost] > t.tree.node_visits[0, t.tree.children[0, root, 1]]
    generators = [np.random.default_rng(0)]
    chosen, policy = rule.finalize(t.tree, 8, generators)
    assert chosen[0] == 1 and policy[0, 0] == 0 and policy[0, 1] == pytest.approx(1.0)


def _fork_positions(game, count: int) -> list:
    """Tic-tac-toe positions the mover wins by force but not in one move (a fork to make)."""
    rng, found = np.random.default_rng(5), {}
    while len(found) < count:
        state, moves = game.initial_state(), []
        for _ in range(rng.integers(2, 5)):
            if game.is_terminal(state):
                break
            action = int(rng.choice(game.legal_actions(state)))
            state, moves = game.apply(state, action), [*moves, action]
        if game.is_terminal(state) or _negamax(game, state) != 1:
            continue
        if any(game.is_terminal(game.apply(state, a)) for a in game.legal_actions(state)):
            continue  # a win in one: the root lookahead's business
        found[tuple(moves)] = state
    return list(found.values())


@pytest.mark.parametrize("rule", [Puct(), Gumbel(), Uct()], ids=lambda rule: rule.name)
def test_a_win_proven_deep_in_the_tree_is_played(rule):
    """Forced wins beyond the root lookahead: the proof comes from the tree, and the move played
    is one that keeps the win."""
    game = make_game("tic_tac_toe")
    states = np.stack(_fork_positions(game, 12))
    result = Search(GameExpander(game), rule, 2000).run(states, np.arange(len(states)))
    assert result.solved.all() and (result.root_values == 1).all()
    for state, move in zip(states, result.chosen, strict=True):
        assert -_negamax(game, game.apply(state, int(move))) == 1


def test_lookahead_zero_is_openspiels_solver_that_learns_only_from_terminal_nodes():
    states, _ = tactic_states_and_net()
    plain = Uct(root_lookahead=0, node_lookahead=0)  # MCTSBot(solve=True)
    result = Search(GameExpander(CONNECT_FOUR), plain, 2).run(states, np.arange(len(states)))
    right = [int(m) in t.answers for t, m in zip(TACTICS, result.chosen, strict=True)]
    assert np.mean(right) < 0.8  # two simulations cannot find what the lookahead sees at once
    with pytest.raises(ValueError, match="root_lookahead must be 0, 1 or 2"):
        Puct(root_lookahead=3)
