"""SelfPlayWorker without Ray: game records, outcomes, playout cap randomisation, resignation."""

from __future__ import annotations

import numpy as np
import pytest

from games import make_game
from search.config import SearchConfig
from search.rules import Gumbel, Puct
from selfplay.worker import ResignCalibration, SelfPlayConfig, SelfPlayWorker

GAME = make_game("tic_tac_toe")


def uniform(observations: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    priors = masks / masks.sum(axis=1, keepdims=True)
    return priors.astype(np.float32), np.zeros(len(observations), np.float32)


def play_until(worker: SelfPlayWorker, games: int) -> list:
    records = []
    while len(records) < games:
        finished, _ = worker.play(1)
        records.extend(finished)
    return records


def test_records_replay_the_game_and_carry_its_outcome():
    search = SearchConfig(rule="puct", simulations=8, puct=Puct(dirichlet_fraction=0.25))
    worker = SelfPlayWorker(GAME, uniform, search, SelfPlayConfig(games_per_worker=8), seed=1)
    for record in play_until(worker, 12):
        assert record.length == len(record.moves)
        final = GAME.state_from_moves(record.moves)
        assert GAME.is_terminal(final)
        state = GAME.initial_state()
        for t, move in enumerate(record.moves):
            np.testing.assert_array_equal(record.observations[t], GAME.observation(state))
            # z is the final result for the player to move at that position.
            assert record.values[t] == GAME.returns(final)[GAME.current_player(state)]
            assert abs(record.policies[t].sum() - 1) < 1e-5
            state = GAME.apply(state, move)
        assert record.policy_mask.all()  # playout cap randomisation off: every move is a target


def test_playout_cap_randomisation_marks_only_full_searches():
    search = SearchConfig(rule="gumbel", simulations=16, gumbel=Gumbel(max_considered=4))
    config = SelfPlayConfig(games_per_worker=16, full_search_fraction=0.25, fast_simulations=2)
    worker = SelfPlayWorker(GAME, uniform, search, config, seed=2)
    records = play_until(worker, 40)
    mask = np.concatenate([record.policy_mask for record in records])
    assert 0.15 < mask.mean() < 0.35  # about a quarter of the moves got the full search
    # Self-play FLOPs are evaluations x FLOPs per evaluation, so the count must be what each
    # search's budget implies: one evaluation for the root and one per new non-terminal leaf.
    # From the empty Connect Four board no line reaches the 7 plies a win needs (Sequential
    # Halving gives a root child at most 6 of 16 simulations), so each simulation adds one.
    connect_four = make_game("connect_four")
    for fraction, simulations in ((1.0, 16), (0.0, 2)):  # all full searches, all fast ones
        config = SelfPlayConfig(games_per_worker=16, full_search_fraction=fraction,
                                fast_simulations=2)  # fmt: skip
        worker = SelfPlayWorker(connect_four, uniform, search, config, seed=2)
        worker.play(1)
        assert worker.stats.evaluations == 16 * (1 + simulations)


def test_fast_searches_can_be_left_out_of_the_records_as_katago_does():
    search = SearchConfig(rule="gumbel", simulations=16, gumbel=Gumbel(max_considered=4))
    kept = {}
    for values in (True, False):
        config = SelfPlayConfig(
            games_per_worker=16, full_search_fraction=0.25, fast_simulations=2,
            fast_search_values=values,
        )  # fmt: skip
        kept[values] = play_until(SelfPlayWorker(GAME, uniform, search, config, seed=2), 20)
    # The same seeds play the same games; a game of fast searches only is not recorded at all.
    with_full = [record for record in kept[True] if record.policy_mask.any()]
    assert len(with_full) < len(kept[True])
    for every, full_only in zip(with_full[:10], kept[False][:10], strict=True):
        assert every.moves == full_only.moves
        assert full_only.policy_mask.all() and full_only.length == every.policy_mask.sum()
        np.testing.assert_array_equal(full_only.values, every.values[every.policy_mask])


def test_resignation_ends_lost_games_when_enabled():
    def optimist(observations: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # Every mover thinks it is winning, so after one ply the search sees the opponent
        # winning everywhere: the searched root value is (0.9 - 4 * 0.9) / 5 = -0.54.
        priors, _ = uniform(observations, masks)
        return priors, np.full(len(observations), 0.9, np.float32)

    search = SearchConfig(rule="puct", simulations=4)
    config = SelfPlayConfig(games_per_worker=4, resign_threshold=-0.5, resign_check_fraction=0)
    worker = SelfPlayWorker(GAME, optimist, search, config, seed=3)
    finished, _ = worker.play(1)
    assert len(finished) == 4  # everyone resigned on the first move
    assert all(record.values[0] == -1 for record in finished)
    # Check games are played to the end, and count whether the resignation would have been wrong.
    config = SelfPlayConfig(games_per_worker=4, resign_threshold=-0.5, resign_check_fraction=1)
    worker = SelfPlayWorker(GAME, optimist, search, config, seed=3)
    records = play_until(worker, 4)
    assert all(GAME.is_terminal(GAME.state_from_moves(record.moves)) for record in records)
    assert worker.stats.resign_checks == len(records)
    would_resign = [0] * len(records)  # the first mover was the first below the threshold
    false_positives = sum(
        GAME.returns(GAME.state_from_moves(record.moves))[player] >= 0
        for record, player in zip(records, would_resign, strict=True)
    )
    assert worker.stats.resign_false_positives == false_positives


def _simulated_check_games(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Lowest searched values uniform on [-1, 1]; a player whose lowest value was v does not
    lose with probability ((1 + v) / 2) ** 2. Among players below t the share that did not lose
    is then (1 + t) ** 2 / 12, which is 5% at t = sqrt(0.6) - 1 = -0.2254."""
    lowest = rng.uniform(-1, 1, count)
    lost = rng.random(count) >= ((1 + lowest) / 2) ** 2
    return lowest, lost


def test_resign_calibration_keeps_the_false_positive_rate_under_its_target():
    true_threshold = np.sqrt(0.6) - 1  # where the rate is exactly 5%
    realised = []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        calibration = ResignCalibration(target=0.05, window=2000)
        for lowest, lost in zip(*_simulated_check_games(rng, 2000), strict=True):
            calibration.add(float(lowest), bool(lost))
        threshold = calibration.threshold()
        assert true_threshold - 0.3 < threshold < true_threshold + 0.05
        realised.append((1 + threshold) ** 2 / 12)  # the rate it gives on new games
    # Chosen where the 95% upper bound is under 5%: the true rate is under 5% in about 95% of
    # the calibrations (at most 4 of 40 above is what a 95% bound allows with room for chance:
    # P(more than 4 | p = 0.05) = 5%), and not far under it.
    assert sum(rate > 0.05 for rate in realised) <= 4
    assert 0.025 < np.mean(realised) < 0.05


def test_resign_calibration_never_resigns_without_evidence_nor_when_ahead():
    calibration = ResignCalibration(target=0.05, min_resigners=50)
    for _ in range(49):
        calibration.add(-0.9, lost=True)
    assert calibration.threshold() == -1.0  # too few would-be resigners yet
    for _ in range(20):
        calibration.add(-0.9, lost=True)
    assert calibration.threshold() == 0.0  # every one lost: any t up to 0, never above
    for _ in range(10):
        calibration.add(-0.95, lost=False)  # wrong resignations at the lowest values
    assert calibration.threshold() == -1.0
    window = ResignCalibration(target=0.05, window=100, min_resigners=50)
    for _ in range(300):
        window.add(-0.95, lost=False)
    for _ in range(100):
        window.add(-0.5, lost=True)
    assert window.threshold() == 0.0  # only the latest 100 check games count


def test_auto_resignation_learns_its_threshold_from_the_check_games():
    def optimist(observations: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        priors, _ = uniform(observations, masks)
        return priors, np.full(len(observations), 0.9, np.float32)

    search = SearchConfig(rule="puct", simulations=4)
    config = SelfPlayConfig(games_per_worker=8, resign_threshold="auto", resign_check_fraction=1)
    worker = SelfPlayWorker(GAME, optimist, search, config, seed=5)
    assert worker.stats.resign_threshold == -1.0  # never, until the check games say otherwise
    records = play_until(worker, 40)
    calibration = worker.calibration
    assert calibration is not None and len(calibration.lowest) == 2 * len(records)
    assert worker.stats.resign_threshold == calibration.threshold()
    # Each entry is a player's lowest searched value in a check game and whether it lost.
    entries = sorted(zip(calibration.lowest, calibration.lost, strict=True))
    expected = []
    for record in records:
        final = GAME.state_from_moves(record.moves)
        for player in (0, 1):
            # record.values[t] is z for the mover at t; the mover alternates from player 0.
            expected.append(GAME.returns(final)[player] < 0)
    assert sorted(lost for _, lost in entries) == sorted(expected)
    with pytest.raises(ValueError, match="resign_check_fraction"):
        SelfPlayConfig(resign_threshold="auto", resign_check_fraction=0)


def test_opening_moves_are_played_but_not_recorded():
    search = SearchConfig(rule="gumbel", simulations=8, gumbel=Gumbel(max_considered=4))
    config = SelfPlayConfig(games_per_worker=8, opening_moves=2)
    worker = SelfPlayWorker(GAME, uniform, search, config, seed=4)
    for record in play_until(worker, 8):
        assert len(record.moves) == record.length + 2
        after_opening = GAME.state_from_moves(record.moves[:2])
        np.testing.assert_array_equal(record.observations[0], GAME.observation(after_opening))


def test_value_target_mixes_the_outcome_with_the_searched_root_value():
    def hopeful(observations: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # The value depends on the position, so searched root values differ from z.
        priors, _ = uniform(observations, masks)
        return priors, np.tanh(observations.reshape(len(observations), -1).sum(1) - 1.5)

    search = SearchConfig(rule="puct", simulations=4)
    records = {}
    for mix in (0.0, 0.5, 1.0):  # the same seed plays the same games: only the targets differ
        config = SelfPlayConfig(games_per_worker=4, value_target_mix=mix)
        records[mix] = play_until(SelfPlayWorker(GAME, hopeful, search, config, seed=5), 4)[:4]
    for outcome, half, searched in zip(*records.values(), strict=True):
        assert outcome.moves == half.moves == searched.moves
        final = GAME.state_from_moves(outcome.moves)
        states = [GAME.state_from_moves(outcome.moves[:t]) for t in range(outcome.length)]
        z = [GAME.returns(final)[GAME.current_player(state)] for state in states]
        np.testing.assert_array_equal(outcome.values, z)
        assert not np.allclose(searched.values, z)
        np.testing.assert_allclose(half.values, (outcome.values + searched.values) / 2, atol=1e-6)


def test_value_target_mix_outside_the_unit_interval_is_rejected():
    with pytest.raises(ValueError, match="selfplay.value_target_mix must lie in"):
        SelfPlayConfig(value_target_mix=1.5)


def test_temperature_moves_count_searched_moves_not_the_opening():
    """With ``puct.temperature_moves: 1`` the first searched move of a game is sampled in
    proportion to visits even after a random opening of two moves."""
    config = SelfPlayConfig(games_per_worker=32, opening_moves=2)
    third_moves = {}
    for temperature_moves in (0, 1):
        search = SearchConfig(
            rule="puct", simulations=8, puct=Puct(temperature_moves=temperature_moves)
        )
        worker = SelfPlayWorker(GAME, uniform, search, config, seed=6)
        openings = [game.moves[:2] for game in worker.games]
        worker.play(1)
        assert [game.moves[:2] for game in worker.games] == openings
        assert [game.searched_moves for game in worker.games] == [1] * 32
        third_moves[temperature_moves] = [game.moves[2] for game in worker.games]
    # The same seeds give the same openings and searches: only the sampled choice differs.
    assert third_moves[0] != third_moves[1]
