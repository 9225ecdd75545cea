"""Bradley-Terry ratings: known ratings recovered from simulated tournaments, 95% bootstrap
intervals that cover the truth 90-99% of the time, unbounded ratings reported as such, and
malformed input refused naming the file, line and field."""

from __future__ import annotations

import json

import numpy as np
import pytest

from experiment import UserError
from experiment.ratings import bootstrap_elo, fit_elo, rate, read_results, results_from_games

TRUE = np.array([0.0, 150.0, 300.0, 450.0, 700.0])  # Elo, player 0 the anchor
NAMES = ["random", "a", "b", "c", "d"]


def tournament(rng: np.random.Generator, games_per_pair: int, draw_share: float = 0.2) -> list:
    """A round robin between the TRUE players; a draw takes ``draw_share`` of each game's
    probability mass evenly from both sides' chances, so expected scores stay Bradley-Terry."""
    games = []
    for i in range(len(TRUE)):
        for j in range(i + 1, len(TRUE)):
            expected = 1 / (1 + 10 ** ((TRUE[j] - TRUE[i]) / 400))
            draw = draw_share * 2 * min(expected, 1 - expected)
            win = expected - draw / 2
            for u in rng.random(games_per_pair):
                score = 1.0 if u < win else 0.5 if u < win + draw else 0.0
                a, b = (NAMES[i], NAMES[j]) if u < 0.5 else (NAMES[j], NAMES[i])
                games.append((a, b, score) if a == NAMES[i] else (a, b, 1.0 - score))
    return games


def test_known_ratings_are_recovered():
    ratings = rate(results_from_games(tournament(np.random.default_rng(0), 3000)), bootstrap=0)
    elo = {r.name: r.elo for r in ratings}
    assert elo["random"] == 0.0
    np.testing.assert_allclose([elo[name] for name in NAMES], TRUE, atol=25)
    assert [r.name for r in ratings] == NAMES[::-1]  # best first


def test_intervals_cover_the_truth_about_95_percent_of_the_time():
    rng = np.random.default_rng(1)
    covered = []
    for repetition in range(200):
        results = results_from_games(tournament(rng, 30))
        ratings = {r.name: r for r in rate(results, bootstrap=200, seed=repetition)}
        for name, truth in zip(NAMES[1:], TRUE[1:], strict=True):
            covered.append(ratings[name].low <= truth <= ratings[name].high)
    assert 0.90 <= np.mean(covered) <= 0.99, np.mean(covered)


def test_ratings_the_games_do_not_bound_are_infinite_or_unrated():
    games = [("random", "a", 0.0)] * 5  # a won every game against the anchor: above it
    games += [
        ("c", "random", 0.5),
        ("c", "random", 1.0),
    ]  # c and random took points from each other
    games += [("random", "e", 1.0)] * 2  # e never scored against the anchor: below it
    games += [("a", "w", 1.0)]  # w lost to a, who is above random: w's place is unknown
    ratings = {r.name: r for r in rate(results_from_games(games), bootstrap=50)}
    assert ratings["random"].elo == 0 and ratings["c"].elo > 0 and np.isfinite(ratings["c"].elo)
    assert ratings["a"].elo == np.inf and ratings["e"].elo == -np.inf
    assert np.isnan(ratings["w"].elo)
    assert [r.name for r in rate(results_from_games(games), bootstrap=0)][0] == "a"


def test_players_that_never_met_are_refused_naming_the_groups():
    games = [("random", "a", 1.0), ("a", "random", 0.5), ("b", "c", 1.0), ("c", "b", 0.0)]
    with pytest.raises(UserError, match="2 groups that never met: random, a; b, c"):
        rate(results_from_games(games))


def test_match_files_and_aggregates_are_read_and_checked(tmp_path):
    games = tmp_path / "games.jsonl"
    games.write_text(
        json.dumps({"a": "x", "b": "y", "score": 1, "moves": "44"}) + "\n\n"
        + json.dumps({"a": "y", "b": "x", "wins": 2, "draws": 1, "losses": 0}) + "\n"
    )  # fmt: skip
    results = read_results([games])
    assert results.players == ("x", "y")
    assert (results.wins[0], results.draws[0], results.losses[0]) == (1, 1, 2)
    bad = tmp_path / "bad.jsonl"
    for line, message in [
        ("{nope", "bad.jsonl:1: not a JSON object"),
        (json.dumps({"a": "x", "score": 1}), "bad.jsonl:1: field 'b'"),
        (json.dumps({"a": "x", "b": "y", "score": 2}), "field 'score' must be 1, 0.5 or 0"),
        (json.dumps({"a": "x", "b": "y", "wins": -1, "draws": 0, "losses": 0}), "'wins'"),
    ]:
        bad.write_text(line + "\n")
        with pytest.raises(UserError, match=message):
            read_results([bad])


def test_many_games_are_aggregated_per_pairing():
    """100k games cost no more to fit than their pairings (the time goal, 100k games and 1000
    resamples in under 10 s, is a benchmark, not a test)."""
    results = results_from_games(tournament(np.random.default_rng(2), 10_000))
    assert results.games.sum() == 100_000 and len(results.pairs) == 10
    elo = {r.name: r.elo for r in rate(results, bootstrap=20)}
    np.testing.assert_allclose([elo[name] for name in NAMES], TRUE, atol=15)


def test_bootstrap_samples_are_refits_of_resampled_games():
    """The samples the tradeoff fit pushes through its chain: each one is the fit of one resample
    of every pairing's games (the batched fit equals fitting each resample alone), the anchor
    held in all of them, and the intervals of ``rate`` are their 2.5% and 97.5% quantiles."""
    games = tournament(np.random.default_rng(3), 12)
    games += [("d", "random", 1.0)] * 3  # a thin pairing: some resamples lose an edge
    results = results_from_games(games)
    elo, samples = bootstrap_elo(results, "random", 100.0, bootstrap=64, seed=5)
    assert samples.shape == (64, len(results.players))
    anchor = results.players.index("random")
    assert (samples[:, anchor] == 100.0).all() and elo[anchor] == 100.0
    rng = np.random.default_rng(5)  # the resamples as bootstrap_elo draws them
    shares = np.stack([results.wins, results.draws, results.losses], 1) / results.games[:, None]
    counts = rng.multinomial(results.games, shares, size=(64, len(results.games)))
    for sample, count in zip(samples, counts, strict=True):
        points = np.stack([count[:, 0] + count[:, 1] / 2, count[:, 2] + count[:, 1] / 2], 1)
        np.testing.assert_allclose(sample, fit_elo(results, anchor, 100.0, points), atol=1e-6)
    ratings = {r.name: r for r in rate(results, "random", 100.0, bootstrap=64, seed=5)}
    for index, name in enumerate(results.players):
        assert ratings[name].low == np.quantile(samples[:, index], 0.025, method="inverted_cdf")
        assert ratings[name].high == np.quantile(samples[:, index], 0.975, method="inverted_cdf")


def test_perfect_play_is_within_50_elo_of_the_solver(tmp_path, capsys):
    import json

    from experiment.ratings import perfect_players, rate, results_from_games
    from ponder.cli import main

    # "near" draws the solver 45 times in 50 (about -35 Elo); "far" scores 5 in 50 (-382)
    games = [("solver", "near", 0.5)] * 45 + [("solver", "near", 1.0)] * 5
    games += [("solver", "far", 1.0)] * 45 + [("solver", "far", 0.0)] * 5
    ratings = rate(results_from_games(games), "solver", bootstrap=50)
    assert [r.name for r in perfect_players(ratings)] == ["near"]
    record = tmp_path / "games.jsonl"
    record.write_text("".join(json.dumps({"a": a, "b": b, "score": s}) + "\n" for a, b, s in games))
    assert main(["elo", str(record), "--anchor", "solver=0", "--bootstrap", "50"]) == 0
    assert "perfect play (within 50 Elo of solver at +0): near (" in capsys.readouterr().out
    assert main(["elo", str(record), "--anchor", "solver=0", "--json", "--bootstrap", "50"]) == 0
    assert json.loads(capsys.readouterr().out)["perfect_play"] == ["near"]
