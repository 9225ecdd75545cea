"""Property-based tests (hypothesis, derandomized so CI is repeatable) of the games' rules and the
search core: random positions, budgets, rules and seeds, checked against invariants every search
result must keep, and random games replayed against OpenSpiel's rules."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from games import make_game
from search.config import SearchConfig, build_search
from search.expanders import GameExpander

pyspiel = pytest.importorskip("pyspiel")

GAMES = {
    "tic_tac_toe": make_game("tic_tac_toe"),
    "connect_four": make_game("connect_four"),
    "hex3": make_game("hex", board_size=3),
    "hex5": make_game("hex", board_size=5),
}
OPENSPIEL = {
    "tic_tac_toe": ("tic_tac_toe", {}),
    "connect_four": ("connect_four", {}),
    "hex3": ("hex", {"board_size": 3}),
    "hex5": ("hex", {"board_size": 5}),
}
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None)


def random_position(game, seed: int, plies: int) -> tuple[np.ndarray, list[int]]:
    """The position after up to ``plies`` uniformly random moves that do not end the game."""
    rng = np.random.default_rng(seed)
    state, moves = game.initial_state(), []
    for _ in range(plies):
        move = int(rng.choice(game.legal_actions(state)))
        following = game.apply(state, move)
        if game.is_terminal(following):
            break
        state, moves = following, [*moves, move]
    return state, moves


@SETTINGS
@given(
    name=st.sampled_from(sorted(GAMES)),
    rule=st.sampled_from(["uct", "puct", "gumbel"]),
    simulations=st.integers(1, 64),
    plies=st.integers(0, 12),
    seed=st.integers(0, 2**32 - 1),
    solve=st.booleans(),
)
def test_search_results_keep_their_invariants(name, rule, simulations, plies, seed, solve):
    game = GAMES[name]
    roots = np.stack([random_position(game, seed + i, plies)[0] for i in range(3)])
    config = SearchConfig(rule=rule, simulations=simulations)
    config = dataclass_replace_rule(config, solve)
    search = build_search(GameExpander(game, "rollout"), config)
    seeds = np.arange(seed, seed + 3, dtype=np.uint64)
    result = search.run(roots, seeds)
    legal = game.legal_masks(roots)
    assert np.array_equal(result.valid, legal)
    # Every simulation visits one root move, until the root is solved: the search then stops
    # walking below it.
    visits = result.visit_counts.sum(1)
    assert ((visits == simulations) | (result.solved & (visits <= simulations))).all()
    assert (result.visit_counts[~legal] == 0).all()
    np.testing.assert_allclose(result.policy.sum(1), 1.0, atol=1e-6)
    assert (result.policy[~legal] == 0).all() and (result.policy >= 0).all()
    assert legal[np.arange(3), result.chosen].all()
    assert (np.abs(result.root_values) <= 1 + 1e-6).all()
    visited = result.visit_counts > 0
    assert (np.abs(result.q_values[visited]) <= 1 + 1e-6).all()
    # A search gives the same result alone as in the batch.
    for index in range(3):
        alone = search.run(roots[index : index + 1], seeds[index : index + 1])
        assert alone.chosen[0] == result.chosen[index]
        np.testing.assert_array_equal(alone.visit_counts[0], result.visit_counts[index])


def dataclass_replace_rule(config: SearchConfig, solve: bool) -> SearchConfig:
    import dataclasses

    rule = dataclasses.replace(config.selection_rule, solve=solve)
    return dataclasses.replace(config, **{config.rule: rule})


@SETTINGS
@given(name=st.sampled_from(sorted(GAMES)), seed=st.integers(0, 2**32 - 1))
def test_random_games_replay_as_openspiel_plays_them(name, seed):
    game = GAMES[name]
    reference_name, params = OPENSPIEL[name]
    theirs = pyspiel.load_game(reference_name, params).new_initial_state()
    ours = game.initial_state()
    rng = np.random.default_rng(seed)
    while not theirs.is_terminal():
        assert not game.is_terminal(ours)
        assert game.legal_actions(ours) == theirs.legal_actions()
        assert game.current_player(ours) == theirs.current_player()
        move = int(rng.choice(theirs.legal_actions()))
        ours = game.apply(ours, move)
        theirs.apply_action(move)
    assert game.is_terminal(ours)
    assert game.returns(ours).tolist() == theirs.returns()
