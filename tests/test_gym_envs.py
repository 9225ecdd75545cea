"""The gymnasium adapters: gymnasium's own checker, and the contract in DESIGN.md."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import games  # noqa: F401  (registers the environments)
from games import IllegalMoveError

ENVIRONMENTS = [
    ("ponder/TicTacToe-v0", {}),
    ("ponder/ConnectFour-v0", {}),
    ("ponder/Hex-v0", {"board_size": 5}),
    ("ponder/Hex-v0", {}),
]


@pytest.mark.parametrize(("env_id", "kwargs"), ENVIRONMENTS, ids=str)
def test_gymnasium_env_checker_passes(env_id: str, kwargs: dict) -> None:
    env = gymnasium.make(env_id, render_mode="ansi", **kwargs)
    check_env(env.unwrapped, skip_render_check=False)
    env.close()


@pytest.mark.parametrize(("env_id", "kwargs"), ENVIRONMENTS, ids=str)
def test_random_episodes_follow_the_contract(env_id: str, kwargs: dict) -> None:
    env = gymnasium.make(env_id, **kwargs)
    game = env.unwrapped.game
    rng = np.random.default_rng(0)
    for episode in range(20):
        observation, info = env.reset(seed=episode)
        assert info["player"] == 0
        assert info["action_mask"].dtype == np.int8 and info["action_mask"].all()
        mover, moves, terminated = 0, [], False
        while not terminated:
            action = int(rng.choice(np.flatnonzero(info["action_mask"])))
            moves.append(action)
            observation, reward, terminated, truncated, info = env.step(action)
            state = game.state_from_moves(moves)
            assert observation in env.observation_space
            assert np.array_equal(observation, game.observation(state))
            assert np.array_equal(info["action_mask"], game.legal_mask(state).astype(np.int8))
            assert info["player"] == game.current_player(state) == 1 - mover
            assert not truncated
            # The reward goes to the player who just moved.
            assert reward == (game.returns(state)[mover] if terminated else 0.0)
            mover = 1 - mover
        assert not info["action_mask"].any()
    env.close()


def test_connect_four_rewards_and_errors() -> None:
    env = gymnasium.make("ponder/ConnectFour-v0", render_mode="ansi")
    env.reset(options={"moves": "121212"})
    with pytest.raises(IllegalMoveError, match=r"action 9 is out of range"):
        env.step(9)
    observation, reward, terminated, _, info = env.step(0)  # x completes column 1
    assert (reward, terminated, info["player"]) == (1.0, True, 1)
    assert "x (player 0) wins" in env.render()
    with pytest.raises(RuntimeError, match="reset"):
        env.step(1)
    env.reset(options={"moves": "111111"})
    with pytest.raises(ValueError, match=r"move 1 \(action 0\) is illegal.*legal moves"):
        env.step(0)


def test_hex_env_takes_the_board_size() -> None:
    env = gymnasium.make("ponder/Hex-v0", board_size=7)
    observation, info = env.reset()
    assert observation.shape == (3, 7, 7) and info["action_mask"].shape == (49,)
    assert env.action_space.n == 49
    # A loss for the mover: o's winning move gives o +1 (x's reward would be -1).
    env.reset(options={"moves": "a1 a2 b1 b2 c1 c2 d1 d2 e1 e2 f1 f2 a3"})
    action = env.unwrapped.game.parse_move("g2")
    _, reward, terminated, _, info = env.step(action)
    assert (action, reward, terminated, info["player"]) == (13, 1.0, True, 0)


def test_registered_through_the_module_prefix() -> None:
    # gymnasium 1.x loads no entry-point plugins; "module:id" imports the module first.
    env = gymnasium.make("games:ponder/ConnectFour-v0")
    assert env.unwrapped.game.name == "connect_four"
