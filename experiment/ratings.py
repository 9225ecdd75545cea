"""Bradley-Terry ratings on the Elo scale from game results, with bootstrap intervals.

P(a beats b) = 1 / (1 + 10^((R_b - R_a) / 400)), a draw counting half a win for each side
(REFERENCES.md, "Ratings"). The ratings are the maximum-likelihood fit with one player, the
anchor, held at a given Elo. There is no prior: no pseudo-game sets any player's distance from
the anchor. Where the games do not bound a rating, the fit says so instead of inventing one. The
maximum exists exactly when every group of players has taken points from the rest and given
points to it (Zermelo's condition: the graph "i scored against j" is strongly connected). A group
that never scored against the anchor's group is rated -inf; one the anchor's group never scored
against is rated +inf; a group with no path either way is unrated (NaN).

Intervals: the percentile bootstrap over games. Each pairing's games are resampled with
replacement (so the tournament's design, who played whom how often, is kept), the ratings are
refitted, and the 2.5% and 97.5% quantiles are reported. One module serves ``ponder elo``,
``ponder match`` and the arena; it knows nothing of games or reasoning.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from experiment import UserError

ELO_PER_NATURAL_UNIT = 400.0 / math.log(10.0)  # R = theta * 400 / ln 10 for P = sigmoid(dtheta)


@dataclass(frozen=True)
class Results:
    """Game outcomes aggregated per pairing: pairing m is ``players[pairs[m, 0]]`` (first) against
    ``players[pairs[m, 1]]``; ``wins``, ``draws``, ``losses`` (M,) are the first player's."""

    players: tuple[str, ...]
    pairs: np.ndarray  # (M, 2) int64, first index < second index
    wins: np.ndarray  # (M,) int64
    draws: np.ndarray  # (M,) int64
    losses: np.ndarray  # (M,) int64

    @property
    def games(self) -> np.ndarray:
        return self.wins + self.draws + self.losses


def results_from_games(games: Iterable[tuple[str, str, float]]) -> Results:
    """Aggregate ``(a, b, score of a)`` games, the score 1, 0.5 or 0."""
    return _aggregate((a, b, _outcome(score), 1) for a, b, score in games)


def _outcome(score: float) -> int:
    """0 win, 1 draw, 2 loss for the first player."""
    return {1.0: 0, 0.5: 1, 0.0: 2}[float(score)]


def _aggregate(rows: Iterable[tuple[str, str, int, int]]) -> Results:
    """``(a, b, outcome, count)`` rows (outcome as :func:`_outcome`) into :class:`Results`."""
    index: dict[str, int] = {}
    counts: dict[tuple[int, int], np.ndarray] = {}
    for a, b, outcome, count in rows:
        i, j = (index.setdefault(name, len(index)) for name in (a, b))
        if i == j:
            raise ValueError(f"player {a!r} cannot play itself")
        if i > j:  # store each pairing once, from the lower index's side
            i, j, outcome = j, i, 2 - outcome
        counts.setdefault((i, j), np.zeros(3, np.int64))[outcome] += count
    if not counts:
        empty = np.zeros(0, np.int64)
        return Results((), np.zeros((0, 2), np.int64), empty, empty, empty)
    pairs = np.array(sorted(counts), np.int64)
    table = np.stack([counts[tuple(pair)] for pair in pairs.tolist()])
    return Results(tuple(index), pairs, table[:, 0], table[:, 1], table[:, 2])


def read_results(paths: Sequence[str | Path]) -> Results:
    """Results from JSON-lines files: games ``{"a", "b", "score"}`` (as the arena writes them)
    or aggregates ``{"a", "b", "wins", "draws", "losses"}``; other fields are ignored. A
    malformed line raises :class:`UserError` naming the file, the line and the field."""
    rows: list[tuple[str, str, int, int]] = []
    for path in paths:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise UserError(f"{path}: cannot read the results: {error}") from None
        for number, line in enumerate(lines, 1):
            if line.strip():
                rows.extend(_parse(line, f"{path}:{number}"))
    return _aggregate(rows)


def _parse(line: str, where: str) -> list[tuple[str, str, int, int]]:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        raise UserError(f"{where}: not a JSON object: {error}") from None
    if not isinstance(data, dict):
        raise UserError(f"{where}: not a JSON object")
    for field in ("a", "b"):
        if not isinstance(data.get(field), str) or not data[field]:
            raise UserError(f"{where}: field {field!r} must be a player's name (a string)")
    if data["a"] == data["b"]:
        raise UserError(f"{where}: 'a' and 'b' are the same player {data['a']!r}")
    if "score" in data:
        if data["score"] not in (0, 0.5, 1) or isinstance(data["score"], bool):
            raise UserError(f"{where}: field 'score' must be 1, 0.5 or 0, got {data['score']!r}")
        return [(data["a"], data["b"], _outcome(data["score"]), 1)]
    counts = []
    for field in ("wins", "draws", "losses"):
        value = data.get(field)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise UserError(
                f"{where}: needs 'score', or 'wins', 'draws' and 'losses' as counts; "
                f"field {field!r} is {value!r}"
            )
        counts.append(value)
    return [(data["a"], data["b"], outcome, n) for outcome, n in enumerate(counts) if n]


def connected_parts(results: Results) -> list[list[str]]:
    """The players in groups that never met one another, directly or through others."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    size = len(results.players)
    graph = coo_matrix((np.ones(len(results.pairs)), results.pairs.T), shape=(size, size))
    count, labels = connected_components(graph, directed=False)
    return [[results.players[i] for i in np.flatnonzero(labels == part)] for part in range(count)]


@dataclass(frozen=True)
class Rating:
    """A player's Elo with its 95% bootstrap interval; ``score`` the mean score of its games."""

    name: str
    elo: float
    low: float
    high: float
    games: int
    score: float


def fit_elo(
    results: Results, anchor: int, anchor_elo: float, points: np.ndarray | None = None
) -> np.ndarray:
    """The maximum-likelihood Elo (P,) of every player, ``anchor`` held at ``anchor_elo``; +inf,
    -inf or NaN where the games do not bound it (module docstring). ``points`` (M, 2): the two
    sides' points per pairing (default: from the results; the bootstrap passes resampled ones)."""
    if points is None:
        points = np.stack([results.wins + results.draws / 2, results.losses + results.draws / 2], 1)
    size = len(results.players)
    pairs = results.pairs
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components, shortest_path

    # i -> j when i took points from j: strongly connected parts have finite relative ratings.
    scored = np.concatenate([pairs[points[:, 0] > 0], pairs[points[:, 1] > 0][:, ::-1]])
    graph = coo_matrix((np.ones(len(scored)), scored.T), shape=(size, size)).tocsr()
    _, part = connected_components(graph, directed=True, connection="strong")
    elo = np.full(size, np.nan)
    reach = np.isfinite(shortest_path(graph, indices=[anchor], unweighted=True))[0]
    reached_by = np.isfinite(shortest_path(graph.T, indices=[anchor], unweighted=True))[0]
    elo[reach & ~reached_by] = -np.inf  # the anchor's side scored against them, never the reverse
    elo[reached_by & ~reach] = np.inf
    members = np.flatnonzero(part == part[anchor])
    inside = np.isin(pairs[:, 0], members) & np.isin(pairs[:, 1], members)
    elo[members] = anchor_elo + ELO_PER_NATURAL_UNIT * _newton(
        members, anchor, pairs[inside], points[inside]
    )
    return elo


def _newton(members: np.ndarray, anchor: int, pairs: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bradley-Terry strengths (natural units, the anchor 0) of ``members``, a strongly connected
    group, from its games: Newton's method on the concave log-likelihood, with step halving."""
    position = {int(player): k for k, player in enumerate(members)}
    first = np.array([position[int(i)] for i in pairs[:, 0]], np.int64)
    second = np.array([position[int(j)] for j in pairs[:, 1]], np.int64)
    free = np.array([k for k, player in enumerate(members) if player != anchor], np.int64)
    theta = np.zeros(len(members))
    games = points.sum(axis=1)

    def log_likelihood(values: np.ndarray) -> float:
        gap = values[first] - values[second]
        return float(
            -(points[:, 0] * np.logaddexp(0, -gap) + points[:, 1] * np.logaddexp(0, gap)).sum()
        )

    current = log_likelihood(theta)
    for _ in range(100):
        gap = theta[first] - theta[second]
        expected = games / (1 + np.exp(-gap))  # the first side's expected points
        residual = points[:, 0] - expected
        gradient = np.zeros(len(members))
        np.add.at(gradient, first, residual)
        np.add.at(gradient, second, -residual)
        weight = expected * (1 - expected / np.maximum(games, 1e-300))
        hessian = np.zeros((len(members), len(members)))
        np.add.at(hessian, (first, first), weight)
        np.add.at(hessian, (second, second), weight)
        np.add.at(hessian, (first, second), -weight)
        np.add.at(hessian, (second, first), -weight)
        step = np.zeros(len(members))
        step[free] = np.linalg.solve(hessian[np.ix_(free, free)], gradient[free])
        size = 1.0
        while size > 1e-6:
            proposal = theta + size * step
            value = log_likelihood(proposal)
            if value >= current - 1e-12:
                break
            size /= 2
        theta, improvement, current = proposal, value - current, value
        if np.abs(size * step).max() < 1e-10 or 0 <= improvement < 1e-12:
            break
    return theta


def default_anchor(results: Results) -> str:
    """``random`` when it played, else the first player named."""
    return "random" if "random" in results.players else results.players[0]


def rate(
    results: Results,
    anchor: str | None = None,
    anchor_elo: float = 0.0,
    bootstrap: int = 1000,
    seed: int = 0,
) -> list[Rating]:
    """Every player's Elo with its 95% bootstrap interval (``bootstrap`` resamples of the games
    within each pairing, seeded), best first. The anchor defaults to ``random`` when it played,
    else the first player named. Raises :class:`UserError` when the players fall into groups
    that never met (no rating can compare them), naming the groups."""
    if not results.players:
        raise UserError("no games to rate")
    parts = connected_parts(results)
    if len(parts) > 1:
        shown = "; ".join(", ".join(part) for part in parts)
        raise UserError(f"the players fall into {len(parts)} groups that never met: {shown}")
    anchor = default_anchor(results) if anchor is None else anchor
    if anchor not in results.players:
        raise UserError(f"the anchor {anchor!r} played no game; players: {list(results.players)}")
    anchor_index = results.players.index(anchor)
    elo = fit_elo(results, anchor_index, anchor_elo)
    rng = np.random.default_rng(seed)
    games = results.games
    probabilities = np.stack([results.wins, results.draws, results.losses], 1) / games[:, None]
    counts = rng.multinomial(games, probabilities, size=(bootstrap, len(games)))  # (B, M, 3)
    points = np.stack(
        [counts[..., 0] + counts[..., 1] / 2, counts[..., 2] + counts[..., 1] / 2], -1
    )
    samples = np.array([fit_elo(results, anchor_index, anchor_elo, p) for p in points])
    if bootstrap:
        # A resample that leaves a player unrated (NaN) counts against both bounds: as -inf for
        # the low one and +inf for the high one.
        low = np.quantile(np.nan_to_num(samples, nan=-np.inf), 0.025, 0, method="inverted_cdf")
        high = np.quantile(np.nan_to_num(samples, nan=np.inf), 0.975, 0, method="inverted_cdf")
    else:
        low, high = np.full_like(elo, np.nan), np.full_like(elo, np.nan)
    played = np.zeros(len(results.players), np.int64)
    scored = np.zeros(len(results.players))
    np.add.at(played, results.pairs[:, 0], games)
    np.add.at(played, results.pairs[:, 1], games)
    np.add.at(scored, results.pairs[:, 0], results.wins + results.draws / 2)
    np.add.at(scored, results.pairs[:, 1], results.losses + results.draws / 2)
    ratings = [
        Rating(name, float(elo[i]), float(low[i]), float(high[i]), int(played[i]),
               float(scored[i] / played[i]))
        for i, name in enumerate(results.players)
    ]  # fmt: skip
    return sorted(ratings, key=lambda r: -np.nan_to_num(r.elo, nan=-np.inf, posinf=np.inf))
