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

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from experiment import UserError
from experiment.jsonl import read_json_lines
from experiment.stats import percentile_interval

ELO_PER_NATURAL_UNIT = 400.0 / math.log(10.0)  # R = theta * 400 / ln 10 for P = sigmoid(dtheta)
# Perfect play is reached within this many Elo of a perfect player (Jones 2021, boardlaw's
# analysis: "within 50 Elo of the top", checked against MoHex).
PERFECT_PLAY_ELO = 50.0


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
    """Results from JSON-lines files (read by :func:`experiment.jsonl.read_json_lines`, so a
    last line cut by a kill is left out): games ``{"a", "b", "score"}`` (as the arena writes
    them) or aggregates ``{"a", "b", "wins", "draws", "losses"}``; other fields are ignored
    except ``checkpoint`` (:class:`CheckpointsOfAgents`). A malformed line, or one name for two
    checkpoints, raises :class:`UserError` naming the file, the line and the field."""
    rows: list[tuple[str, str, int, int]] = []
    checkpoints = CheckpointsOfAgents()
    for path in paths:
        for line in read_json_lines(path):
            rows.extend(_parse(line.data, line.where))
            checkpoints.add_line(line.data, line.where)
    return _aggregate(rows)


def _parse(data: dict, where: str) -> list[tuple[str, str, int, int]]:
    for key in ("a", "b"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise UserError(f"{where}: field {key!r} must be a player's name (a string)")
    if data["a"] == data["b"]:
        raise UserError(f"{where}: 'a' and 'b' are the same player {data['a']!r}")
    if "score" in data:
        if data["score"] not in (0, 0.5, 1) or isinstance(data["score"], bool):
            raise UserError(f"{where}: field 'score' must be 1, 0.5 or 0, got {data['score']!r}")
        return [(data["a"], data["b"], _outcome(data["score"]), 1)]
    counts = []
    for key in ("wins", "draws", "losses"):
        value = data.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise UserError(
                f"{where}: needs 'score', or 'wins', 'draws' and 'losses' as counts; "
                f"field {key!r} is {value!r}"
            )
        counts.append(value)
    return [(data["a"], data["b"], outcome, n) for outcome, n in enumerate(counts) if n]


@dataclass
class CheckpointsOfAgents:
    """Which checkpoint each net agent played its games with, to refuse a name that stands for
    two nets. ``RUN@N`` means the run's latest checkpoint, so games recorded while the run still
    trains, or resumed after it trained on, can hold one name for two checkpoints; a rating or a
    resumed tournament would then mix two players. Records keep each net side's checkpoint (its
    file name) in ``"checkpoint": {"a": ..., "b": ...}``; lines without it (older records, or
    agents without a net) are not checked."""

    seen: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (checkpoint, where)

    def add(self, name: str, checkpoint: str, where: str) -> None:
        """Note that ``name`` played with ``checkpoint`` ("" for none) at ``where`` (a
        ``file:line``, or what else it was); raise :class:`UserError` (one line) when it played
        with another one before."""
        if not checkpoint:
            return
        first, first_where = self.seen.setdefault(name, (checkpoint, where))
        if first != checkpoint:
            raise UserError(
                f"agent {name!r} names two checkpoints: {first} ({first_where}) and {checkpoint} "
                f"({where}); RUN@N is the run's latest checkpoint: give each net a name of its "
                "own, RUN/checkpoints/FILE@N, or use another record"
            )

    def add_line(self, data: dict, where: str) -> None:
        """:meth:`add` both sides of a record line; a malformed ``checkpoint`` field is refused."""
        sides = data.get("checkpoint", {})
        if not isinstance(sides, dict) or not all(
            side in "ab" and isinstance(value, str) for side, value in sides.items()
        ):
            raise UserError(
                f"{where}: field 'checkpoint' must map 'a' and/or 'b' to a checkpoint's name, "
                f"got {sides!r}"
            )
        for side, checkpoint in sides.items():
            self.add(data[side], checkpoint, where)


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
    results: Results,
    anchor: int,
    anchor_elo: float,
    points: np.ndarray | None = None,
    start: np.ndarray | None = None,
) -> np.ndarray:
    """The maximum-likelihood Elo (P,) of every player, ``anchor`` held at ``anchor_elo``; +inf,
    -inf or NaN where the games do not bound it (module docstring). ``points`` (M, 2): the two
    sides' points per pairing (default: from the results; the bootstrap passes resampled ones).
    ``start`` (P,): Elo to start the fit from (a warm start; non-finite entries start at the
    anchor's rating)."""
    if points is None:
        points = observed_points(results)
    size = len(results.players)
    pairs = results.pairs
    from scipy.sparse.csgraph import connected_components, shortest_path

    # Strongly connected parts of the "scored against" graph have finite relative ratings.
    graph = _scored_graph(pairs, points, size)
    _, part = connected_components(graph, directed=True, connection="strong")
    elo = np.full(size, np.nan)
    reach = np.isfinite(shortest_path(graph, indices=[anchor], unweighted=True))[0]
    reached_by = np.isfinite(shortest_path(graph.T, indices=[anchor], unweighted=True))[0]
    elo[reach & ~reached_by] = -np.inf  # the anchor's side scored against them, never the reverse
    elo[reached_by & ~reach] = np.inf
    members = np.flatnonzero(part == part[anchor])
    inside = np.isin(pairs[:, 0], members) & np.isin(pairs[:, 1], members)
    position = np.zeros(size, np.int64)
    position[members] = np.arange(len(members))
    theta = np.zeros((1, len(members)))
    if start is not None:
        begin = (np.asarray(start, np.float64)[members] - anchor_elo) / ELO_PER_NATURAL_UNIT
        theta[0] = np.where(np.isfinite(begin), begin, 0.0)
    free = np.flatnonzero(members != anchor)
    theta = _newton(theta, free, position[pairs[inside]], points[None, inside])
    elo[members] = anchor_elo + ELO_PER_NATURAL_UNIT * theta[0]
    return elo


def _scored_graph(pairs: np.ndarray, points: np.ndarray, size: int) -> Any:
    """The directed graph (sparse, ``size`` players) with an edge i -> j where i took points
    from j in these pairings (M, 2) with these points (M, 2)."""
    from scipy.sparse import coo_matrix

    scored = np.concatenate([pairs[points[:, 0] > 0], pairs[points[:, 1] > 0][:, ::-1]])
    return coo_matrix((np.ones(len(scored)), scored.T), shape=(size, size)).tocsr()


def _strongly_connected(pairs: np.ndarray, points: np.ndarray, size: int) -> bool:
    """Whether every rating is finite (Zermelo's condition: the scored graph is strongly
    connected)."""
    from scipy.sparse.csgraph import connected_components

    graph = _scored_graph(pairs, points, size)
    return bool(connected_components(graph, directed=True, connection="strong")[0] == 1)


def observed_points(results: Results) -> np.ndarray:
    """(M, 2) points of the first and of the second player of every pairing, a draw half each."""
    return np.stack([results.wins + results.draws / 2, results.losses + results.draws / 2], 1)


def _newton(
    theta: np.ndarray, free: np.ndarray, pairs: np.ndarray, points: np.ndarray
) -> np.ndarray:
    """Bradley-Terry strengths (B, K), natural units, of B independent fits of one design: K
    players, ``pairs`` (M, 2) indices into them, ``points`` (B, M, 2) per fit, each fit's
    "scored against" graph strongly connected. Newton's method on the concave log-likelihood from
    ``theta`` (B, K), the players not in ``free`` held where they start, step halving per fit.
    Batched, so that a bootstrap's B resamples cost a few batched solves, not B loops; in chunks
    of at most ``_HESSIAN_CELLS`` Hessian entries, so that memory stays bounded."""
    from scipy.sparse import coo_matrix

    theta = theta.copy()
    size = theta.shape[1]
    # Sparse (M, K): +1 for the first player, -1 for the second; products with it cost O(M).
    incidence = coo_matrix(
        (np.repeat([1.0, -1.0], len(pairs)), (np.tile(np.arange(len(pairs)), 2), pairs.T.ravel())),
        shape=(len(pairs), size),
    ).tocsr()
    reduced = incidence[:, free].T.tocsr()  # (F, M)
    laplacian = _laplacian_scatter(pairs, free, size)
    count = len(free)
    chunk = max(1, _HESSIAN_CELLS // max(1, count * count))
    for begin in range(0, len(theta), chunk):
        part = slice(begin, begin + chunk)
        theta[part] = _newton_chunk(theta[part], free, incidence, reduced, laplacian, points[part])
    return theta


def _laplacian_scatter(pairs: np.ndarray, free: np.ndarray, size: int) -> Any:
    """Sparse (F * F, M): ``weights (R, M)`` times its transpose is the Hessians (R, F, F) of the
    Bradley-Terry log-likelihood over the ``free`` of ``size`` players, the graph Laplacians of
    the pairings weighted by ``weights``. Each pairing enters four cells, so the product costs
    O(M) per fit where a dense one costs O(M F^2)."""
    from scipy.sparse import coo_matrix

    count = len(free)
    column = np.full(size, -1)  # a player's row in the Hessian, -1 for a held one
    column[free] = np.arange(count)
    ends = [(column[pairs[:, 0]], 1.0), (column[pairs[:, 1]], -1.0)]
    cells, pairings, signs = [], [], []
    for row, row_sign in ends:
        for col, col_sign in ends:
            kept = np.flatnonzero((row >= 0) & (col >= 0))
            cells.append(row[kept] * count + col[kept])
            pairings.append(kept)
            signs.append(np.full(len(kept), row_sign * col_sign))
    entries = (np.concatenate(signs), (np.concatenate(cells), np.concatenate(pairings)))
    return coo_matrix(entries, shape=(count * count, len(pairs))).tocsr()


def _times(matrix: Any, rows: np.ndarray) -> np.ndarray:
    """``rows @ matrix.T`` for a sparse ``matrix`` (N, D) and dense ``rows`` (R, D): (R, N)."""
    return np.asarray(matrix @ rows.T).T


_HESSIAN_CELLS = 1 << 22  # 32 MB of float64 Hessians per chunk of fits


def _newton_chunk(
    theta: np.ndarray,
    free: np.ndarray,
    incidence: Any,
    reduced: Any,
    laplacian: Any,
    points: np.ndarray,
) -> np.ndarray:
    count = len(free)
    games = points.sum(axis=2)  # (B, M)

    def log_likelihood(values: np.ndarray, rows: np.ndarray) -> np.ndarray:  # (R,)
        gap = _times(incidence, values)  # (R, M)
        wins, losses = points[rows, :, 0], points[rows, :, 1]
        return -(wins * np.logaddexp(0, -gap) + losses * np.logaddexp(0, gap)).sum(axis=1)

    current = log_likelihood(theta, np.arange(len(theta)))
    active = np.arange(len(theta)) if count else np.zeros(0, np.int64)
    for _ in range(100):
        if not len(active):
            break
        gap = _times(incidence, theta[active])  # (A, M)
        expected = games[active] / (1 + np.exp(-gap))  # the first side's expected points
        gradient = _times(reduced, points[active, :, 0] - expected)  # (A, F)
        weight = expected * (1 - expected / np.maximum(games[active], 1e-300))  # (A, M)
        hessian = _times(laplacian, weight).reshape(len(active), count, count)
        step = np.zeros((len(active), theta.shape[1]))
        step[:, free] = np.linalg.solve(hessian, gradient[..., None])[..., 0]
        size = np.ones(len(active))
        proposal = theta[active] + step
        value = log_likelihood(proposal, active)
        worse = value < current[active] - 1e-12
        while worse.any() and size[worse].min() > 1e-6:
            size[worse] /= 2
            proposal[worse] = theta[active[worse]] + size[worse, None] * step[worse]
            value[worse] = log_likelihood(proposal[worse], active[worse])
            worse = value < current[active] - 1e-12
        improvement = value - current[active]
        theta[active], current[active] = proposal, value
        moved = np.abs(size[:, None] * step).max(axis=1)
        done = (moved < 1e-10) | ((improvement >= 0) & (improvement < 1e-12))
        active = active[~done]
    return theta


def default_anchor(results: Results) -> str:
    """``random`` when it played, else the first player named."""
    return "random" if "random" in results.players else results.players[0]


def bootstrap_elo(
    results: Results,
    anchor: str | None = None,
    anchor_elo: float = 0.0,
    bootstrap: int = 1000,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(elo (P,), samples (B, P)): every player's maximum-likelihood Elo, in ``results.players``
    order, and its refit on each of ``bootstrap`` resamples of the games within each pairing
    (seeded), the anchor held at ``anchor_elo`` in all of them. Entries are +inf, -inf or NaN
    where those games do not bound a rating (module docstring). The anchor defaults to
    :func:`default_anchor`. Raises :class:`UserError` when there are no games, when the players
    fall into groups that never met (no rating can compare them, the groups named), or when the
    anchor did not play."""
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
    )  # (B, M, 2)
    size = len(results.players)
    samples = np.empty((bootstrap, size))
    # Resamples that rate every player finitely (their "scored against" graph strongly
    # connected) are fitted in one batch, started from the fit of all the games; others alone.
    batched = np.array([_strongly_connected(results.pairs, p, size) for p in points], bool)
    if batched.any():
        start = (elo - anchor_elo) / ELO_PER_NATURAL_UNIT
        free = np.flatnonzero(np.arange(len(elo)) != anchor_index)
        theta = np.repeat(start[None], int(batched.sum()), axis=0)
        samples[batched] = anchor_elo + ELO_PER_NATURAL_UNIT * _newton(
            theta, free, results.pairs, points[batched]
        )
    for row in np.flatnonzero(~batched):
        samples[row] = fit_elo(results, anchor_index, anchor_elo, points[row], start=elo)
    return elo, samples


def rate(
    results: Results,
    anchor: str | None = None,
    anchor_elo: float = 0.0,
    bootstrap: int = 1000,
    seed: int = 0,
) -> list[Rating]:
    """Every player's Elo with its 95% bootstrap interval (:func:`bootstrap_elo`: ``bootstrap``
    resamples of the games within each pairing, seeded), best first; the errors are
    :func:`bootstrap_elo`'s."""
    elo, samples = bootstrap_elo(results, anchor, anchor_elo, bootstrap, seed)
    if bootstrap:
        low, high = percentile_interval(samples)
    else:
        low, high = np.full_like(elo, np.nan), np.full_like(elo, np.nan)
    games = results.games
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


def perfect_players(ratings: Sequence[Rating], perfect: str = "solver") -> list[Rating]:
    """The players rated within :data:`PERFECT_PLAY_ELO` of ``perfect`` (its point estimate;
    each with its interval), from ratings that include it; best first."""
    solver = next((r for r in ratings if r.name == perfect), None)
    if solver is None:
        return []
    return [r for r in ratings if r.name != perfect and r.elo >= solver.elo - PERFECT_PLAY_ELO]
