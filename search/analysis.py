"""A JSON-lines analysis engine, like KataGo's: one request per line in, one answer per line out.

Request: ``{"id": "q1", "game": "connect_four", "moves": "4453", "bot": "mcts", "sims": 800}``
(Hex adds ``"board_size"``; optional ``"seed"``; ``"checkpoint"`` implies ``"bot": "net"``).
Answer: ``id``, ``best_move`` (move text), ``policy`` (root visit fractions keyed by move text;
for a position the search proved, uniform over its optimal moves), ``visits`` (total visits of
the root's moves), ``value`` (searched root value for the player to move, [-1, 1]; exact when
proven).
A bad request gets ``{"id": ..., "error": "..."}`` and the engine keeps serving.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import IO, Any

import numpy as np

from games import make_game
from games.base import Game
from search.play import SearchBot, mcts_bot

MAX_SIMULATIONS = 1_000_000
KNOWN_FIELDS = {"id", "game", "moves", "board_size", "bot", "sims", "seed", "checkpoint"}

# Makes a bot for (game, simulations, checkpoint or None). The command line passes one that also
# knows networks; this module alone knows classic MCTS.
BotFactory = Callable[[Game, int, str | None], SearchBot]


class RequestError(ValueError):
    """A request that cannot be answered; the message goes back to the client."""


def mcts_only(game: Game, simulations: int, checkpoint: str | None) -> SearchBot:
    if checkpoint is not None:
        raise RequestError("bot 'net' (a checkpoint) is not available in this engine")
    return mcts_bot(game, simulations)


def _game_of(request: dict[str, Any]) -> Game:
    name = request.get("game")
    if not isinstance(name, str):
        raise RequestError("field 'game' is required: 'tic_tac_toe', 'connect_four' or 'hex'")
    params = {}
    if "board_size" in request:
        if name != "hex":
            raise RequestError(f"field 'board_size' applies to hex only, not {name!r}")
        params["board_size"] = request["board_size"]
    try:
        return make_game(name, **params)
    except ValueError as error:
        raise RequestError(str(error)) from error


def _position(game: Game, moves: Any) -> np.ndarray:
    if isinstance(moves, list):
        moves = " ".join(str(move) for move in moves)
    if not isinstance(moves, str):
        raise RequestError("field 'moves' must be a move string (e.g. '4453') or a list of moves")
    try:
        state = game.state_from_moves(moves)
    except ValueError as error:
        raise RequestError(f"bad 'moves' {moves!r}: {error}") from error
    if game.is_terminal(state):
        raise RequestError(f"the game is already over after moves {moves!r}")
    return state


def analyze(request: dict[str, Any], bot_factory: BotFactory = mcts_only) -> dict[str, Any]:
    """Answer one request (raises RequestError for a bad one)."""
    unknown = set(request) - KNOWN_FIELDS
    if unknown:
        raise RequestError(f"unknown field(s) {sorted(unknown)}; known: {sorted(KNOWN_FIELDS)}")
    game = _game_of(request)
    state = _position(game, request.get("moves", ""))
    checkpoint = request.get("checkpoint")
    bot_kind = request.get("bot", "net" if checkpoint else "mcts")
    if bot_kind not in ("mcts", "net"):
        raise RequestError(f"field 'bot' must be 'mcts' or 'net', got {bot_kind!r}")
    if bot_kind == "net" and not checkpoint:
        raise RequestError("bot 'net' needs a 'checkpoint' (a run directory or checkpoint file)")
    simulations = request.get("sims", 800)
    if not isinstance(simulations, int) or not 1 <= simulations <= MAX_SIMULATIONS:
        raise RequestError(
            f"field 'sims' must be an integer in 1..{MAX_SIMULATIONS}, got {simulations!r}"
        )
    seed = request.get("seed", 0)
    if not isinstance(seed, int):
        raise RequestError(f"field 'seed' must be an integer, got {seed!r}")
    bot = bot_factory(game, simulations, checkpoint if bot_kind == "net" else None)
    result = bot.search.run(state[None], np.array([seed]))
    policy = result.policy[0]  # visit fractions; a proven position's optimal moves
    legal = np.flatnonzero(result.valid[0])
    return {
        "id": request.get("id"),
        "best_move": game.action_to_text(int(result.chosen[0])),
        "policy": {game.action_to_text(int(a)): round(float(policy[a]), 4) for a in legal},
        "visits": int(result.visit_counts[0].sum()),
        "value": round(float(result.root_values[0]), 4),
    }


def serve(lines: IO[str], out: IO[str], bot_factory: BotFactory = mcts_only) -> int:
    """Answer every line of ``lines`` on ``out``; return the number of error answers."""
    errors = 0
    for line in lines:
        if not line.strip():
            continue
        request_id = None
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise RequestError("a request must be a JSON object")
            request_id = request.get("id")
            answer = analyze(request, bot_factory)
        except json.JSONDecodeError as error:
            answer, errors = {"id": None, "error": f"invalid JSON: {error}"}, errors + 1
        except RequestError as error:
            answer, errors = {"id": request_id, "error": str(error)}, errors + 1
        except Exception as error:  # e.g. an unreadable checkpoint: answer it, keep serving
            message = f"{type(error).__name__}: {error}"
            answer, errors = {"id": request_id, "error": message}, errors + 1
        out.write(json.dumps(answer) + "\n")
        out.flush()
    return errors
