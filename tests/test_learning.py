"""Learning, deterministically: one generation of the tic-tac-toe recipe (self-play games of the
initial net, then a fixed number of learner updates on them, every stream seeded from the
recipe's seed) makes the net both play and judge positions better, against perfect play."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from experiment.config import load_config
from experiment.seeds import stream_seed
from selfplay.actors import initial_network
from selfplay.config import TrainConfig
from selfplay.inference import Evaluator
from selfplay.learner import Learner
from selfplay.replay import ReplayBuffer
from selfplay.worker import SelfPlayWorker

SMOKE = Path(__file__).parent.parent / "configs" / "tictactoe-smoke.yaml"
GAMES, UPDATES = 800, 800


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def perfect_play(game) -> tuple[np.ndarray, np.ndarray, list[set[int]]]:
    """Every non-terminal position reachable from the start (N states), its exact value for the
    player to move (N,), and the set of moves that keep that value, by negamax."""
    values: dict[bytes, float] = {}

    def value(state: np.ndarray) -> float:
        key = state.tobytes()
        if key not in values:
            if game.is_terminal(state):
                values[key] = float(game.returns(state)[game.current_player(state)])
            else:
                values[key] = max(
                    -value(game.apply(state, int(a))) for a in game.legal_actions(state)
                )
        return values[key]

    positions: dict[bytes, np.ndarray] = {}
    frontier = [game.initial_state()]
    while frontier:
        state = frontier.pop()
        if game.is_terminal(state) or state.tobytes() in positions:
            continue
        positions[state.tobytes()] = state
        frontier.extend(game.apply(state, int(a)) for a in game.legal_actions(state))
    states = np.stack(list(positions.values()))
    exact = np.array([value(state) for state in states])
    best = [
        {int(a) for a in game.legal_actions(s) if -value(game.apply(s, int(a))) == value(s)}
        for s in states
    ]
    return states, exact, best


def test_one_generation_of_selfplay_makes_the_net_play_and_judge_better():
    config = load_config(TrainConfig, SMOKE)
    game = config.game.make()
    initial = Evaluator(initial_network(config), "cpu")
    worker = SelfPlayWorker(
        game, initial.evaluate, config.search, config.selfplay,
        seed=stream_seed(config.seed, "worker", 0, 0),
    )  # fmt: skip
    records: list = []
    while len(records) < GAMES:
        records.extend(worker.play(1)[0])
    replay = ReplayBuffer(
        config.replay.capacity, game.observation_shape, game.num_actions, game.symmetries
    )
    replay.add_games(records[:GAMES])
    learner = Learner(initial_network(config), dataclasses.replace(config.learner, device="cpu"))
    rng = np.random.default_rng(stream_seed(config.seed, "replay", 0))
    for _ in range(UPDATES):
        learner.train_step(replay.sample(config.learner.batch_size, rng))
    trained = Evaluator(learner.network, "cpu")

    states, exact, best = perfect_play(game)
    # The value head learns the positions self-play meets; judge it there (every reachable
    # position would reward weak self-play, which meets more lost positions).
    played = {
        game.state_from_moves(record.moves[:t]).tobytes()
        for record in records[:GAMES]
        for t in range(len(record.moves))
    }
    seen = np.array([state.tobytes() in played for state in states])

    def quality(evaluator: Evaluator) -> tuple[float, float]:
        """(share of all positions whose top-prior move is a perfect-play move, value MSE over
        the positions self-play played)."""
        priors, values = evaluator.evaluate(game.observations(states), game.legal_masks(states))
        optimal = np.mean(
            [int(move) in moves for move, moves in zip(priors.argmax(1), best, strict=True)]
        )
        return float(optimal), float(np.mean((values[seen] - exact[seen]) ** 2))

    (optimal_before, error_before), (optimal_after, error_after) = (
        quality(initial),
        quality(trained),
    )
    # Everything is seeded, so the outcome is fixed; the margins are wide enough that a
    # platform's last-bit differences in float arithmetic cannot flip it. Measured on seed 0:
    # perfect-play moves 0.61 -> 0.90; value MSE on the 1,477 positions played 0.49 -> 0.30.
    assert optimal_after >= optimal_before + 0.15, (optimal_before, optimal_after)
    assert error_after <= 0.75 * error_before, (error_before, error_after)
