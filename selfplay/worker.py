"""SelfPlayWorker: B games in lockstep, searched by the one search core with a policy-value net.

A plain class: the trainer wraps it with ``ray.remote``; GPU measurements use it directly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from experiment.stats import ONE_SIDED_Z_95, wilson_interval
from games.base import Game
from search.config import SearchConfig, build_search
from search.expanders import GameExpander, PolicyValueFn
from selfplay.replay import GameRecord


@dataclass(frozen=True)
class SelfPlayConfig:
    """How workers play. Playout cap randomisation (KataGo, Wu 2019): a random
    ``full_search_fraction`` of moves get ``search.simulations`` and become policy targets; the
    others get ``fast_simulations`` and are not recorded as policy targets. 1.0 turns it off."""

    games_per_worker: int = 64
    full_search_fraction: float = 1.0
    fast_simulations: int = 16
    # True: a fast-search position still trains the value head (its outcome z is as good as a
    # full search's); False: it is not recorded at all, as KataGo records only full searches.
    fast_search_values: bool = True
    # Resign when the searched value falls below; -1 = never. "auto": the threshold the recent
    # check games allow (ResignCalibration), never resigning until they are enough.
    resign_threshold: float | Literal["auto"] = -1.0
    # Games played to the end even below the threshold, to measure how often resigning would
    # have been wrong (AlphaZero kept 10% and set the threshold for a false-positive rate
    # under 5%): reported as selfplay/resign_false_positive_rate.
    resign_check_fraction: float = 0.1
    resign_false_positive_target: float = 0.05  # what "auto" keeps the rate under
    # Uniformly random moves before the search takes over; they are played, not recorded. Gumbel
    # self-play picks moves by a Gumbel draw from softmax(logits + sigma(q)), which gets as sharp as
    # the net: without random openings Connect Four self-play collapses to a few openings and
    # drawn games (measured: docs/results/connect4.md, "Random opening moves in self-play").
    opening_moves: int = 0
    # The value target is (1 - mix) * z + mix * (the root's searched value for the player to
    # move). 0 is AlphaZero's z; 0.5, the average of z and q, is what Oracle's Connect Four
    # series ("Lessons from AlphaZero", part 4) recommends. Not measured here yet: what ponder
    # has measured is in docs/results/connect4.md.
    value_target_mix: float = 0.0

    def __post_init__(self) -> None:
        shares = (
            "full_search_fraction",
            "value_target_mix",
            "resign_check_fraction",
            "resign_false_positive_target",
        )
        for name in shares:
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"selfplay.{name} must lie in [0, 1], got {getattr(self, name)}")
        if self.resign_threshold == "auto" and self.resign_check_fraction == 0:
            raise ValueError(
                "selfplay.resign_threshold=auto needs check games: resign_check_fraction > 0"
            )


class ResignCalibration:
    """The resignation threshold that keeps wrong resignations rare, from the check games
    (AlphaGo Zero, Silver et al. 2017: "v_resign is selected automatically to keep the fraction
    of false positives below 5%", measured on the 10% of games played to the end).

    Each check game gives, per player, the lowest searched value that player saw and whether
    the player lost. At threshold t the players who would have resigned are those whose lowest
    value fell below t; a false positive is one of them who did not lose (a draw counts, as in
    WorkerStats). The threshold is the highest t, at most 0 (resign only when the search says
    the mover is losing), at which the false-positive share of the latest ``window`` entries is
    below ``target`` with 95% confidence (the one-sided Wilson upper bound), among at least
    ``min_resigners`` would-be resigners; -1 (never) until then. The bound, not the observed
    share: chosen as the highest t on the observed share, the threshold sits where the sample
    happened to be lucky, and the net keeps changing after the check games were played (a
    30-minute Connect Four run that way had 9-11% false positives for a 5% target:
    docs/results/connect4.md). A restarted worker starts again from never."""

    def __init__(self, target: float, window: int = 1000, min_resigners: int = 50):
        self.target, self.window, self.min_resigners = target, window, min_resigners
        self.lowest: list[float] = []
        self.lost: list[bool] = []

    def add(self, lowest: float, lost: bool) -> None:
        self.lowest.append(lowest)
        self.lost.append(lost)
        if len(self.lowest) > 2 * self.window:  # trim in chunks: add stays O(1) amortised
            del self.lowest[: -self.window], self.lost[: -self.window]

    def threshold(self) -> float:
        lowest = np.array(self.lowest[-self.window :], np.float64)
        lost = np.array(self.lost[-self.window :], np.bool_)
        order = np.argsort(lowest, kind="stable")
        lowest = lowest[order]
        wrong = np.concatenate([[0], np.cumsum(~lost[order])])  # [k]: among the k lowest
        # Candidate t: each distinct value (those strictly below it resign) and 0.
        candidates = np.unique(np.append(lowest[lowest < 0], 0.0))
        resigners = np.searchsorted(lowest, candidates, side="left")
        for t, count in zip(candidates[::-1].tolist(), resigners[::-1].tolist(), strict=True):
            if count < max(self.min_resigners, 1):
                break  # fewer still below every lower candidate
            if wilson_interval(wrong[count], count, z=ONE_SIDED_Z_95)[1] < self.target:
                return float(t)
        return -1.0


@dataclass
class WorkerStats:
    """Counters a worker reports with each batch of finished games."""

    moves: int = 0
    searches: int = 0
    evaluations: int = 0
    seconds: float = 0.0
    forward_seconds: float = 0.0
    resign_checks: int = 0  # finished check games in which a player would have resigned
    resign_false_positives: int = 0  # of those, games the would-be resigner did not lose
    resign_threshold: float = -1.0  # the threshold in use (calibrated when "auto")


@dataclass
class _Game:
    state: np.ndarray
    observations: list[np.ndarray] = field(default_factory=list)
    policies: list[np.ndarray] = field(default_factory=list)
    players: list[int] = field(default_factory=list)
    searched_values: list[float] = field(default_factory=list)
    full_search: list[bool] = field(default_factory=list)
    moves: list[int] = field(default_factory=list)  # the random opening's moves included
    opening_moves: int = 0
    resign_check: bool = False  # played to the end whatever the searched value
    would_resign: int | None = None  # in a check game, the first player below the threshold

    @property
    def searched_moves(self) -> int:
        return len(self.moves) - self.opening_moves


class SelfPlayWorker:
    """Plays ``games_per_worker`` games at once; finished games come back as GameRecords."""

    def __init__(
        self,
        game: Game,
        evaluator: PolicyValueFn,
        search: SearchConfig,
        selfplay: SelfPlayConfig,
        seed: int,
        worker_id: int = 0,
    ):
        self.game, self.config, self.worker_id = game, selfplay, worker_id
        self.evaluator = _CountingEvaluator(evaluator)
        expander = GameExpander(game, evaluator=self.evaluator)
        self.full = build_search(expander, search)
        # Fast searches play for strength (KataGo, Wu 2019): their moves are not recorded as
        # policy targets, so they need no exploration.
        fast = search.without_exploration().with_simulations(selfplay.fast_simulations)
        self.fast = build_search(expander, fast)
        self.rng = np.random.default_rng([seed, worker_id])
        self.games = [self._new_game() for _ in range(selfplay.games_per_worker)]
        self.calibration: ResignCalibration | None = None
        self.calibration_changed = False
        if selfplay.resign_threshold == "auto":
            self.calibration = ResignCalibration(selfplay.resign_false_positive_target)
            self.stats = WorkerStats()
        else:
            self.stats = WorkerStats(resign_threshold=float(selfplay.resign_threshold))

    def _new_game(self) -> _Game:
        state = self.game.initial_state()
        opening = []
        for _ in range(self.config.opening_moves):
            action = int(self.rng.choice(self.game.legal_actions(state)))
            state = self.game.apply(state, action)
            opening.append(action)
            if self.game.is_terminal(state):  # too long an opening for this game: start again
                return self._new_game()
        check = bool(self.rng.random() < self.config.resign_check_fraction)
        return _Game(state=state, moves=opening, opening_moves=len(opening), resign_check=check)

    def play(self, num_moves: int) -> tuple[list[GameRecord], WorkerStats]:
        """Advance every game by ``num_moves`` moves; return the games that finished."""
        start = time.perf_counter()
        finished: list[GameRecord] = []
        for _ in range(num_moves):
            finished.extend(self._step())
        if self.calibration is not None and self.calibration_changed:  # new check games only
            self.stats.resign_threshold = self.calibration.threshold()
            self.calibration_changed = False
        self.stats.seconds += time.perf_counter() - start
        self.stats.evaluations = self.evaluator.count
        self.stats.forward_seconds = self.evaluator.seconds
        return finished, self.stats

    def _step(self) -> list[GameRecord]:
        count = len(self.games)
        states = np.stack([g.state for g in self.games])
        full = self.rng.random(count) < self.config.full_search_fraction
        seeds = self.rng.integers(0, 2**63, size=count)
        moves = np.zeros(count, np.int64)
        policies = np.zeros((count, self.game.num_actions), np.float64)
        values = np.zeros(count, np.float64)
        move_numbers = np.array([g.searched_moves for g in self.games])
        for mask, search in ((full, self.full), (~full, self.fast)):
            index = np.flatnonzero(mask)
            if not len(index):
                continue
            result = search.run(states[index], seeds[index], move_numbers[index])
            policies[index] = result.policy
            values[index] = result.root_values
            moves[index] = result.chosen
            self.stats.searches += len(index)
        observations = self.game.observations(states)
        finished = []
        for i, game in enumerate(self.games):
            game.observations.append(observations[i])
            game.policies.append(policies[i].astype(np.float32))
            game.players.append(self.game.current_player(game.state))
            game.searched_values.append(float(values[i]))
            game.full_search.append(bool(full[i]))
            if values[i] < self.stats.resign_threshold:
                if not game.resign_check:
                    finished.extend(self._finish(i, resigned=True))
                    continue
                if game.would_resign is None:
                    game.would_resign = game.players[-1]
            game.state = self.game.apply(game.state, int(moves[i]))
            game.moves.append(int(moves[i]))
            self.stats.moves += 1
            if self.game.is_terminal(game.state):
                finished.extend(self._finish(i, resigned=False))
        return finished

    def _finish(self, i: int, resigned: bool) -> list[GameRecord]:
        """The finished game ``i`` as a record (none when none of its positions is recorded); a
        new game takes its place."""
        game = self.games[i]
        if resigned:
            loser = game.players[-1]
            returns = np.array([1.0, 1.0])
            returns[loser] = -1.0
        else:
            returns = self.game.returns(game.state)
        if game.would_resign is not None:
            self.stats.resign_checks += 1
            self.stats.resign_false_positives += bool(returns[game.would_resign] >= 0)
        if self.calibration is not None and game.resign_check:
            values, players = np.array(game.searched_values), np.array(game.players)
            for player in np.unique(players).tolist():
                self.calibration.add(values[players == player].min(), bool(returns[player] < 0))
            self.calibration_changed = True
        kept = np.array(game.full_search, np.bool_)
        if self.config.fast_search_values:
            kept[:] = True
        self.games[i] = self._new_game()
        if not kept.any():  # only fast searches, none recorded
            return []
        record = GameRecord(
            observations=np.stack(game.observations)[kept],
            policies=np.stack(game.policies)[kept],
            values=self._value_targets(game, returns)[kept],
            policy_mask=np.array(game.full_search, np.bool_)[kept],
            moves=tuple(game.moves),
            worker_id=self.worker_id,
        )
        return [record]

    def _value_targets(self, game: _Game, returns: np.ndarray) -> np.ndarray:
        outcome = np.array([returns[p] for p in game.players], np.float64)
        mix = self.config.value_target_mix
        targets = (1 - mix) * outcome + mix * np.array(game.searched_values)
        return np.clip(targets, -1.0, 1.0).astype(np.float32)


class _CountingEvaluator:
    """Counts net evaluations and the seconds spent in them."""

    def __init__(self, evaluator: PolicyValueFn):
        self.evaluator, self.count, self.seconds = evaluator, 0, 0.0

    def __call__(
        self, observations: np.ndarray, masks: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        start = time.perf_counter()
        priors, values = self.evaluator(observations, masks)
        self.seconds += time.perf_counter() - start
        self.count += len(observations)
        return priors, values
