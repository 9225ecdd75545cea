"""A JSON-lines analysis engine, like KataGo's: one request per line in, one answer per line out.

Request: ``{"id": "q1", "game": "connect_four", "moves": "4453", "bot": "mcts", "sims": 800}``
(Hex adds ``"board_size"``; optional ``"seed"``; ``"checkpoint"`` implies ``"bot": "net"``;
``"bot": "solver"`` is perfect play for tic-tac-toe, Connect Four and the Hex sizes of
games.solver).
Answer: ``id``, ``best_move`` (move text), ``policy`` (root visit fractions keyed by move text;
for a position the search proved, uniform over its optimal moves), ``visits`` (total visits of
the root's moves), ``value`` (searched root value for the player to move, [-1, 1]; exact when
proven). The solver answers an optimal move (drawn by ``seed``), the exact value 1 / 0 / -1,
the policy uniform over the optimal moves and 0 visits.
A bad request gets ``{"id": ..., "error": "..."}`` and the engine keeps serving.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import IO, Any

import numpy as np

from games import make_game
from games.base import Game
from games.solver import has_solver, no_solver_message, solver_for
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
            raise RequestError(f"field 'board_size' applies to hex only, not {_shown(name)}")
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
        raise RequestError(f"bad 'moves' {_shown(moves)}: {_cut(str(error))}") from error
    if game.is_terminal(state):
        raise RequestError(f"the game is already over after moves {_shown(moves)}")
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
    if bot_kind not in ("mcts", "net", "solver"):
        raise RequestError(f"field 'bot' must be 'mcts', 'net' or 'solver', got {_shown(bot_kind)}")
    if bot_kind == "net" and not checkpoint:
        raise RequestError("bot 'net' needs a 'checkpoint' (a run directory or checkpoint file)")
    simulations = request.get("sims", 800)
    if not _is_integer(simulations) or not 1 <= simulations <= MAX_SIMULATIONS:
        raise RequestError(
            f"field 'sims' must be an integer in 1..{MAX_SIMULATIONS}, got {_shown(simulations)}"
        )
    seed = request.get("seed", 0)
    if not _is_integer(seed):
        raise RequestError(f"field 'seed' must be an integer, got {_shown(seed)}")
    if bot_kind == "solver":
        return _solver_answer(request.get("id"), game, state, seed)
    bot = bot_factory(game, simulations, checkpoint if bot_kind == "net" else None)
    result = bot.search.run(state[None], np.array([seed]))
    # Root visit fractions (the contract, whatever the rule: Gumbel's own policy target is its
    # improved policy); a proven position's answer is uniform over its optimal moves.
    visits = result.visit_counts[0]
    policy = result.policy[0] if result.solved[0] or not visits.sum() else visits / visits.sum()
    legal = np.flatnonzero(result.valid[0])
    return {
        "id": request.get("id"),
        "best_move": game.action_to_text(int(result.chosen[0])),
        "policy": {game.action_to_text(int(a)): round(float(policy[a]), 4) for a in legal},
        "visits": int(result.visit_counts[0].sum()),
        "value": round(float(result.root_values[0]), 4),
    }


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # JSON true is no count


def _shown(value: Any, limit: int = 80) -> str:
    """A client's value in an error line, cut short: a 1 MB field is not echoed back."""
    return _cut(repr(value), limit)


def _cut(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _solver_answer(request_id: Any, game: Game, state: np.ndarray, seed: int) -> dict[str, Any]:
    """Perfect play's answer: an optimal move drawn by ``seed`` as SolverBot draws it."""
    if not has_solver(game):
        raise RequestError(no_solver_message(game))
    solver = solver_for(game)
    optimal = solver.optimal_moves(state)
    share = 1.0 / len(optimal)
    return {
        "id": request_id,
        "best_move": game.action_to_text(solver.draw_optimal_move(state, seed)),
        "policy": {
            game.action_to_text(action): round(share, 4) if action in optimal else 0.0
            for action in game.legal_actions(state)
        },
        "visits": 0,
        "value": solver.value(state),
    }


def serve(lines: Iterable[bytes | str], out: IO[str], bot_factory: BotFactory = mcts_only) -> int:
    """Answer every line of ``lines`` (text, or bytes decoded as UTF-8 line by line, so that a
    bad byte costs its line an error answer and nothing else) on ``out``; return the number of
    error answers."""
    errors = 0
    for number, raw in enumerate(lines, 1):
        request_id = None
        try:
            try:
                line = raw.decode() if isinstance(raw, bytes) else raw
            except UnicodeDecodeError as error:
                raise RequestError(f"line {number} is not UTF-8 text: {error}") from None
            if not line.strip():
                continue
            request = json.loads(line)
            if not isinstance(request, dict):
                raise RequestError("a request must be a JSON object")
            request_id = request.get("id")
            answer = analyze(request, bot_factory)
        except json.JSONDecodeError as error:
            answer, errors = {"id": None, "error": f"invalid JSON: {error}"}, errors + 1
        except RequestError as error:
            answer, errors = {"id": _plain_id(request_id), "error": str(error)}, errors + 1
        except Exception as error:  # e.g. an unreadable checkpoint: answer it, keep serving
            message = _cut(f"{type(error).__name__}: {error}")
            answer, errors = {"id": _plain_id(request_id), "error": message}, errors + 1
        out.write(json.dumps(answer) + "\n")
        out.flush()
    return errors


def _plain_id(request_id: Any) -> Any:
    """The request's id as given, unless it is too long to echo (then cut, as text)."""
    text = json.dumps(request_id)
    return request_id if len(text) <= 200 else _shown(request_id)
