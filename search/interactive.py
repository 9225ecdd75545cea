"""A person against a bot in the terminal: the board after every move, bad input refused."""

from __future__ import annotations

from typing import IO

import numpy as np

from games.base import Game
from search.play import Bot, move_seeds


def play_against(
    game: Game,
    bot: Bot,
    human_player: int,
    lines: IO[str],
    out: IO[str],
    seed: int = 0,
) -> np.ndarray | None:
    """Alternate a person's moves (read from ``lines``) with the bot's until the game ends.

    An unparsable or illegal move is refused with a message and asked for again. Returns the
    final returns per player (2,), or None when the input ends first.
    """
    state = game.initial_state()
    ply = 0
    out.write(f"{game.render(state)}\n")
    while not game.is_terminal(state):
        if game.current_player(state) == human_player:
            out.write("your move ('quit' to stop): ")
            out.flush()
            line = lines.readline()
            if not line or line.strip().lower() in ("quit", "exit", "q"):
                out.write("\nbye\n")
                return None
            try:
                action = game.parse_move(line.strip(), state)
            except ValueError as error:
                legal = " ".join(game.action_to_text(a) for a in game.legal_actions(state))
                out.write(f"refused: {error}. Legal moves: {legal}\n")
                continue
        else:
            action = int(bot.choose(state[None], move_seeds(seed, [0], [ply]))[0])
            out.write(f"bot plays {game.action_to_text(action)}\n")
        state = game.apply(state, action)
        ply += 1
        out.write(f"{game.render(state)}\n")
    returns = game.returns(state)
    if returns[human_player] > 0:
        out.write("you win\n")
    elif returns[human_player] < 0:
        out.write("the bot wins\n")
    else:
        out.write("draw\n")
    return returns
