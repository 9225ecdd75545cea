"""gymnasium adapters for users who bring their own agents.

One environment plays both sides of a two-player game: every step is a move of the player to
move. The contract (DESIGN.md, "Interface contracts"): the observation is the game's planes from
the mover's view; ``info["action_mask"]`` is an int8 mask over all actions and
``info["player"]`` the player to move (0 or 1, OpenSpiel's numbering) after reset and every
step; the reward goes to the player who just moved (+1 win, -1 loss, 0 otherwise); an illegal
action raises :class:`games.base.IllegalMoveError` (a ValueError) naming the legal moves.

Registered on ``import games``; gymnasium 1.x no longer loads ``gymnasium.envs`` entry points,
so without an import use ``gymnasium.make("games:ponder/ConnectFour-v0")``, which imports this
package first.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from games.base import KernelGame
from games.connect_four import ConnectFour
from games.hex import Hex
from games.tic_tac_toe import TicTacToe


class BoardGameEnv(gymnasium.Env):
    """A two-player board game as a single-agent environment whose agent plays both sides.

    ``reset(options={"moves": "4453"})`` starts from the position after a move list.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(self, game: KernelGame, render_mode: str | None = None) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.game = game
        self.render_mode = render_mode
        self.observation_space = spaces.Box(0.0, 1.0, game.observation_shape, np.float32)
        self.action_space = spaces.Discrete(game.num_actions)
        self.state = game.initial_state()
        self._finished = False

    def _info(self) -> dict[str, Any]:
        return {
            "action_mask": self.game.legal_mask(self.state).astype(np.int8),
            "player": self.game.current_player(self.state),
        }

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        moves = (options or {}).get("moves")
        self.state = (
            self.game.initial_state() if moves is None else self.game.state_from_moves(moves)
        )
        self._finished = self.game.is_terminal(self.state)
        return self.game.observation(self.state), self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._finished:
            raise RuntimeError(
                f"{self.game.name}: the game is over; call reset() before step({action!r})"
            )
        self.state = self.game.apply(self.state, int(action))
        done, value = self.game.kernels.status(self.state)
        self._finished = bool(done)
        # status gives the value for the player now to move; the reward is the previous mover's.
        reward = -float(value) if done else 0.0
        return self.game.observation(self.state), reward, self._finished, False, self._info()

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return self.game.render(self.state) + "\n"
        return None


class TicTacToeEnv(BoardGameEnv):
    def __init__(self, render_mode: str | None = None) -> None:
        super().__init__(TicTacToe(), render_mode)


class ConnectFourEnv(BoardGameEnv):
    def __init__(self, render_mode: str | None = None) -> None:
        super().__init__(ConnectFour(), render_mode)


class HexEnv(BoardGameEnv):
    def __init__(self, board_size: int = 11, render_mode: str | None = None) -> None:
        super().__init__(Hex(board_size), render_mode)


ENVIRONMENTS = {
    "ponder/TicTacToe-v0": "games.gym_envs:TicTacToeEnv",
    "ponder/ConnectFour-v0": "games.gym_envs:ConnectFourEnv",
    "ponder/Hex-v0": "games.gym_envs:HexEnv",
}


def register_envs() -> None:
    """Register the environments with gymnasium (idempotent)."""
    for env_id, entry_point in ENVIRONMENTS.items():
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, entry_point=entry_point)
