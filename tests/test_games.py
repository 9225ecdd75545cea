"""Rules on hand-written positions, move text, symmetries, batched kernels and rollouts."""

from __future__ import annotations

import numpy as np
import pytest

from games import IllegalMoveError, apply_symmetry, make_game
from games.base import KernelGame
from games.random import next_u64, seed_states, uniform_float, uniform_int

ALL_GAMES = [
    ("tic_tac_toe", {}),
    ("connect_four", {}),
    ("hex", {"board_size": 3}),
    ("hex", {"board_size": 5}),
    ("hex", {"board_size": 11}),
]


def game_ids(value: object) -> str:
    return str(value)


def random_moves(game: KernelGame, rng: np.random.Generator, max_plies: int) -> list[int]:
    """A random legal move list of at most ``max_plies`` moves (shorter if the game ends)."""
    state, moves = game.initial_state(), []
    while len(moves) < max_plies and not game.is_terminal(state):
        action = int(rng.choice(game.legal_actions(state)))
        moves.append(action)
        state = game.apply(state, action)
    return moves


def outcome(game: KernelGame, moves: str) -> tuple[bool, list[float]]:
    state = game.state_from_moves(moves)
    return game.is_terminal(state), game.returns(state).tolist()


# ---- rules on hand-written positions ------------------------------------------------------


@pytest.mark.parametrize(
    ("moves", "returns"),
    [
        ("1212121", [1.0, -1.0]),  # x vertical in column 1
        ("1122334", [1.0, -1.0]),  # x horizontal on the bottom row
        ("12233434474", [1.0, -1.0]),  # x diagonal a1 b2 c3 d4
        ("76655454414", [1.0, -1.0]),  # x anti-diagonal g1 f2 e3 d4
        ("12121232", [-1.0, 1.0]),  # o vertical in column 2
        ("666165577462463234152541333211132724554777", [0.0, 0.0]),  # full board, no four
    ],
)
def test_connect_four_results(moves: str, returns: list[float]) -> None:
    game = make_game("connect_four")
    assert outcome(game, moves) == (True, returns)
    # One move earlier the game was still open.
    assert outcome(game, moves[:-1]) == (False, [0.0, 0.0])


def test_status_is_for_the_player_to_move() -> None:
    game = make_game("connect_four")
    parent = game.state_from_moves("121212")
    child = np.empty_like(parent)
    game.kernels.apply_into(parent, 0, child)  # x completes four in column 1
    assert game.kernels.status(parent) == (False, 0.0)
    assert game.kernels.status(child) == (True, -1.0)
    assert game.legal_actions(child) == []
    rng_state = seed_states([0])
    assert game.kernels.rollout(child, rng_state, 0) == -1.0


@pytest.mark.parametrize(
    ("moves", "terminal", "returns"),
    [
        ("513746289", True, [0.0, 0.0]),  # full board, no line: a draw
        ("1234567", True, [1.0, -1.0]),  # x on the anti-diagonal 3-5-7
        ("14253", True, [1.0, -1.0]),  # x on the top row
        ("123548", True, [-1.0, 1.0]),  # o down the middle column 2-5-8
        ("51297", False, [0.0, 0.0]),
    ],
)
def test_tic_tac_toe_results(moves: str, terminal: bool, returns: list[float]) -> None:
    game = make_game("tic_tac_toe")
    assert outcome(game, moves) == (terminal, returns)
    assert outcome(game, moves[:-1]) == (False, [0.0, 0.0])


@pytest.mark.parametrize(
    ("size", "moves", "terminal", "returns"),
    [
        # x (player 0) joins row 1 to row 3 along c1-b2-a3: (r, c) touches (r+1, c-1).
        (3, "c1 a1 b2 a2 a3", True, [1.0, -1.0]),
        # a1-b2-c3 is not a chain: (r, c) does not touch (r+1, c+1).
        (3, "a1 c1 b2 a2 c3", False, [0.0, 0.0]),
        # o (player 1) joins column a to column c along row 2.
        (3, "a1 a2 b1 b2 a3 c2", True, [-1.0, 1.0]),
        # x's top group (c1 c2) and bottom group (c4 c5) touch one edge each until c3 joins them.
        (5, "c1 a1 c2 a2 c4 a3 c5 a4 c3", True, [1.0, -1.0]),
        # o's stones on column a touch only its left edge.
        (5, "c1 a1 c2 a2 c4 a3 c5 a4", False, [0.0, 0.0]),
        # o joins left to right through a bent chain a3 b3 c2 d2 e1.
        (5, "a1 a3 b1 b3 d1 c2 e2 d2 a5 e1", True, [-1.0, 1.0]),
    ],
)
def test_hex_edges(size: int, moves: str, terminal: bool, returns: list[float]) -> None:
    game = make_game("hex", board_size=size)
    assert outcome(game, moves) == (terminal, returns)
    if terminal:
        assert outcome(game, moves.rsplit(" ", 1)[0]) == (False, [0.0, 0.0])


def test_hex_has_no_draw_on_a_full_board() -> None:
    # Whatever the fill, exactly one player connects (and the game ends before the board fills).
    game = make_game("hex", board_size=5)
    rng = np.random.default_rng(3)
    for _ in range(50):
        state = game.state_from_moves(random_moves(game, rng, 25))
        assert game.is_terminal(state) and sorted(game.returns(state)) == [-1.0, 1.0]


# ---- move text ------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "params"), ALL_GAMES, ids=game_ids)
def test_move_text_round_trips(name: str, params: dict) -> None:
    game = make_game(name, **params)
    for action in range(game.num_actions):
        assert game.parse_move(game.action_to_text(action)) == action
    moves = random_moves(game, np.random.default_rng(0), 8)
    texts = [game.action_to_text(action) for action in moves]
    assert game.parse_moves(" ".join(texts)) == moves
    assert game.parse_moves("".join(texts)) == moves
    assert game.parse_moves(", ".join(texts)) == moves
    assert np.array_equal(game.state_from_moves("".join(texts)), game.state_from_moves(moves))


def test_move_text_matches_openspiel_conventions() -> None:
    hex5 = make_game("hex", board_size=5)
    assert hex5.action_to_text(7) == "c2"
    assert hex5.parse_moves("c2 b3") == hex5.parse_moves("c2b3") == [7, 11]
    hex11 = make_game("hex", board_size=11)
    assert hex11.action_to_text(120) == "k11"
    assert hex11.parse_moves("a11b2") == [110, 12]
    assert make_game("connect_four").parse_moves("4453") == [3, 3, 4, 2]
    assert make_game("tic_tac_toe").parse_moves("159") == [0, 4, 8]


def test_hex_render_coordinates_parse_back() -> None:
    # Parsing accepts what rendering prints: the header letter of a cell and its row label.
    game = make_game("hex", board_size=11)
    moves = random_moves(game, np.random.default_rng(5), 30)
    state = game.state_from_moves(moves)
    lines = game.render(state).splitlines()
    letters = lines[0].split()
    symbol_of = {0: "x", 1: "o"}
    for ply, action in enumerate(moves):
        row_line = lines[1 + action // 11].split()
        label, cells = row_line[0], row_line[1:]
        column = action % 11
        assert cells[column] == symbol_of[ply % 2]
        assert game.parse_move(letters[column] + label) == action


@pytest.mark.parametrize(
    ("name", "params", "text"),
    [
        ("connect_four", {}, "8"),
        ("connect_four", {}, "x"),
        ("tic_tac_toe", {}, "0"),
        ("hex", {"board_size": 5}, "f1"),
        ("hex", {"board_size": 5}, "a6"),
        ("hex", {"board_size": 5}, "c"),
        ("hex", {"board_size": 5}, ""),
    ],
)
def test_unreadable_move_text_is_rejected(name: str, params: dict, text: str) -> None:
    game = make_game(name, **params)
    with pytest.raises(IllegalMoveError, match=name):
        game.parse_move(text)


def test_illegal_moves_name_the_move_and_the_legal_ones() -> None:
    game = make_game("connect_four")
    full_column = game.state_from_moves("111111")
    with pytest.raises(IllegalMoveError, match=r"move 1 \(action 0\) is illegal.*2 \(1\)"):
        game.apply(full_column, 0)
    with pytest.raises(IllegalMoveError, match="legal moves"):
        game.parse_move("1", full_column)
    with pytest.raises(IllegalMoveError, match="out of range"):
        game.apply(full_column, 9)
    with pytest.raises(IllegalMoveError, match="game is over"):
        game.apply(game.state_from_moves("1212121"), 3)
    hex5 = make_game("hex", board_size=5)
    with pytest.raises(IllegalMoveError, match="move 2 of the list: .*c2"):
        hex5.state_from_moves("c2 c2")


def test_apply_returns_a_new_state() -> None:
    game = make_game("hex", board_size=5)
    state = game.initial_state()
    child = game.apply(state, 7)
    assert not state.any() and child[7] != 0


def test_make_game_names_what_is_valid() -> None:
    with pytest.raises(ValueError, match="tic_tac_toe, connect_four, hex"):
        make_game("chess")
    with pytest.raises(ValueError, match=r"3\.\.11"):
        make_game("hex", board_size=12)
    with pytest.raises(ValueError, match="accepts: none"):
        make_game("connect_four", board_size=7)
    assert make_game("hex").params == {"board_size": 11}
    assert make_game("hex", board_size=7) == make_game("hex", board_size=7) != make_game("hex")
    assert repr(make_game("hex", board_size=7)) == "make_game('hex', board_size=7)"
    assert make_game("hex", board_size=7).num_actions == 49


# ---- observations, batched kernels, symmetries -------------------------------------------


def reference_observation(game: KernelGame, moves: list[int]) -> np.ndarray:
    """Observation planes built straight from a move list (independent of the state layout)."""
    planes, height, width = game.observation_shape
    owner = np.full((height, width), -1)
    column_heights = np.zeros(width, int)
    for ply, action in enumerate(moves):
        if game.name == "connect_four":
            row, column = height - 1 - column_heights[action], action
            column_heights[action] += 1
        else:
            row, column = divmod(action, width)
        owner[row, column] = ply % 2
    mover = len(moves) % 2
    expected = np.zeros((planes, height, width), np.float32)
    expected[0] = owner == mover
    expected[1] = owner == 1 - mover
    if game.name == "hex":
        expected[2] = float(mover == 0)  # the mover connects top-bottom
    return expected


@pytest.mark.parametrize(("name", "params"), ALL_GAMES, ids=game_ids)
def test_batched_kernels_equal_per_state_methods(name: str, params: dict) -> None:
    game = make_game(name, **params)
    rng = np.random.default_rng(1)
    move_lists = [random_moves(game, rng, int(rng.integers(0, game.max_game_length + 1)))
                  for _ in range(40)]  # fmt: skip
    states = np.stack([game.state_from_moves(moves) for moves in move_lists])
    observations = game.observations(states)
    masks = game.legal_masks(states)
    assert observations.dtype == np.float32 and observations.shape[1:] == game.observation_shape
    for moves, state, observation, mask in zip(
        move_lists, states, observations, masks, strict=True
    ):
        assert np.array_equal(observation, reference_observation(game, moves))
        assert np.array_equal(game.observation(state), observation)
        assert np.array_equal(game.legal_mask(state), mask)
        expected_mask = np.zeros(game.num_actions, bool)
        if not game.is_terminal(state):
            expected_mask[game.legal_actions(state)] = True
        assert np.array_equal(mask, expected_mask)
        assert game.kernels.legal_into(state, np.zeros(game.num_actions, bool)) == mask.sum()


@pytest.mark.parametrize(("name", "params"), ALL_GAMES, ids=game_ids)
def test_symmetries_map_positions_and_policies(name: str, params: dict) -> None:
    game = make_game(name, **params)
    expected_count = {"tic_tac_toe": 8, "connect_four": 2, "hex": 2}[name]
    assert len(game.symmetries) == expected_count
    identity = game.symmetries[0]
    assert np.array_equal(identity.actions, np.arange(game.num_actions))
    rng = np.random.default_rng(2)
    for _ in range(20):
        moves = random_moves(game, rng, int(rng.integers(0, game.max_game_length)))
        state = game.state_from_moves(moves)
        policy = rng.random(game.num_actions) * game.legal_mask(state)
        for symmetry in game.symmetries:
            # The position played with transformed moves is the transformed position.
            image = game.state_from_moves([symmetry.map_action(action) for action in moves])
            observations, policies = apply_symmetry(
                game.observation(state)[None], policy[None], symmetry
            )
            assert np.array_equal(observations[0], game.observation(image))
            assert game.is_terminal(image) == game.is_terminal(state)
            assert np.array_equal(game.returns(image), game.returns(state))
            assert np.array_equal(policies[0] > 0, policy[symmetry.actions] > 0)
            for action in np.flatnonzero(policy):
                assert policies[0][symmetry.map_action(action)] == policy[action]
            assert np.array_equal(policies[0] != 0, game.legal_mask(image) & (policies[0] != 0))


# ---- random numbers and rollouts ------------------------------------------------------------


def test_random_streams_are_independent_and_reproducible() -> None:
    first, second = seed_states([1, 2]), seed_states([2])
    assert first[1] == second[0]  # a stream depends only on its own seed
    draws = [int(next_u64(first, 1)) for _ in range(3)]
    assert draws == [int(next_u64(second, 0)) for _ in range(3)]
    assert len(set(draws)) == 3
    assert first[0] == seed_states([1])[0]  # drawing from stream 1 leaves stream 0 alone
    integers = [uniform_int(first, 0, 7) for _ in range(7000)]
    assert set(integers) == set(range(7)) and abs(np.mean(integers) - 3) < 0.1
    floats = [uniform_float(first, 0) for _ in range(5000)]
    assert 0.0 <= min(floats) and max(floats) < 1.0 and abs(np.mean(floats) - 0.5) < 0.02


@pytest.mark.parametrize(("name", "params"), ALL_GAMES, ids=game_ids)
def test_rollout_is_deterministic_given_the_stream(name: str, params: dict) -> None:
    game = make_game(name, **params)
    state = game.state_from_moves(random_moves(game, np.random.default_rng(4), 2))
    before = state.copy()
    streams = seed_states([10, 11, 12])
    copy = streams.copy()
    values = [game.kernels.rollout(state, streams, 1) for _ in range(300)]
    assert values == [game.kernels.rollout(state, copy, 1) for _ in range(300)]
    assert set(values) <= {-1.0, 0.0, 1.0} and len(set(values)) > 1
    assert np.array_equal(state, before)  # the rollout plays on its own copy
    assert streams[0] == seed_states([10])[0] and streams[1] != seed_states([11])[0]
