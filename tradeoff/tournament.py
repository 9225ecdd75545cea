"""Tournaments between agents (spec strings), resumable from their record file.

Every selected pair plays both colours equally often from seeded random openings; games are
batched in lockstep on the search core (one pair per chunk of ``batch`` games) and spread over
Ray actors, one per core, or played in this process. Each finished chunk is appended to the
record at once, one JSON line per game (:meth:`search.play.MatchRecord.to_json`). A game is
identified by its unordered pair, the tournament seed and its index within the pair, and it is
the same game whoever plays it and whichever games share its batch (``search.play.play_games``),
so a rerun with the same record plays only the missing games and ends with the same record.

Pairs: ``all``; ``adjacent`` (each agent against its neighbours in the given order); or
``adaptive`` (:func:`plan_round`): starting from the adjacent pairs, rounds of games go to the
pairs that shrink the widest rating intervals most, until every agent's 95% bootstrap interval
is within +-``target_interval`` Elo. The plan of each round is a function of the games of the
rounds before it only, so an interrupted adaptive tournament replays the same plan on rerun.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from experiment import UserError
from experiment.config import PositiveInt
from experiment.jsonl import read_json_lines
from experiment.ratings import (
    ELO_PER_NATURAL_UNIT,
    CheckpointsOfAgents,
    Results,
    default_anchor,
    fit_elo,
    rate,
    results_from_games,
)
from experiment.stats import Z_95
from games.base import Game
from search.play import Bot, MatchRecord, play_games

# (game, spec, default simulations, search overrides) -> a bot named by its spec
PlayerFactory = Callable[[Game, str, int, Sequence[str]], Bot]
Pair = tuple[str, str]  # in the agents' given order: the first plays first in even games
Key = tuple[Pair, int, int]  # (pair, seed, game index)


@dataclass(frozen=True)
class TournamentConfig:
    """How a tournament is played.

    ``games``: per pair (even, so both colours play equally often); adaptive: per chosen pair
    per round. ``openings``: random opening plies (0: the empty board). ``target_interval``:
    adaptive's goal, the 95% half-width in Elo of every agent. ``batch``: games in lockstep per
    chunk. ``workers``: Ray actors (None: one per core; 0 or 1: this process). Adaptive stops at
    ``max_games`` in all, and gives up on an agent whose rating stays unbounded (nobody scores
    against it, or it scores against nobody) after ``unbounded_games`` games against each of
    its two neighbours in the given order. ``bootstrap``: resamples of its stopping check.
    """

    games: int = 20
    openings: int = 2
    pairs: Literal["all", "adjacent", "adaptive"] = "all"
    target_interval: float = 30.0
    seed: int = 0
    batch: int = 32
    workers: int | None = None
    max_games: PositiveInt = 20_000
    unbounded_games: PositiveInt = 100
    bootstrap: PositiveInt = 200
    # The agent held at 0 Elo while pairs are chosen and the target is checked: the intervals
    # the target bounds are relative to it (default: random when it plays, else the first).
    anchor: str | None = None

    def __post_init__(self) -> None:
        if self.games < 2 or self.games % 2:
            raise UserError(f"--games must be even and at least 2 (both colours), got {self.games}")
        if self.openings < 0:
            raise UserError(f"--openings must be >= 0, got {self.openings}")
        if self.pairs not in ("all", "adjacent", "adaptive"):
            raise UserError(f"--pairs must be all, adjacent or adaptive, got {self.pairs!r}")
        if not self.target_interval > 0:
            raise UserError(f"--target-interval must be > 0 Elo, got {self.target_interval}")
        if self.batch < 1 or (self.workers is not None and self.workers < 0):
            raise UserError(
                f"--batch must be >= 1 and --workers >= 0, got {self.batch}, {self.workers}"
            )
        if self.seed < 0:
            raise UserError(f"--seed must be >= 0, got {self.seed}")


def key_of(record: MatchRecord, order: dict[str, int]) -> Key:
    """A game's identity: its pair in the agents' order (names not in ``order`` sort last, by
    name), the seed and its index."""
    a, b = sorted(record.players, key=lambda name: (order.get(name, len(order)), name))
    assert record.seed is not None and record.game is not None
    return (a, b), record.seed, record.game


# ---------------------------------------------------------------------------------------------
# The record file


def read_record(
    path: Path,
    config: TournamentConfig,
    order: dict[str, int],
    rules: str = "",
    checkpoints: CheckpointsOfAgents | None = None,
) -> dict[Key, MatchRecord]:
    """The games of the record at ``path`` by key (empty when there is no file), read by
    :func:`experiment.jsonl.read_json_lines`: a last line cut by a kill is dropped from the file.
    Refused (UserError, one line): a line that is not a game of a tournament, one played with
    another seed or number of opening moves, two lines for one game with different games, or
    an agent's name for two checkpoints (noted in ``checkpoints``, which then goes on checking
    the games played next)."""
    if not path.exists():
        return {}
    checkpoints = CheckpointsOfAgents() if checkpoints is None else checkpoints
    games: dict[Key, MatchRecord] = {}
    lines: dict[Key, int] = {}
    for line in read_json_lines(path, repair=True):
        where = line.where
        try:
            record = MatchRecord.from_json(line.data)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise UserError(f"{where}: not a game record ({error!r})") from None
        if record.seed is None or record.game is None:
            raise UserError(f"{where}: a game without 'seed' and 'game' is not a tournament's")
        if rules and record.rules and record.rules != rules:
            raise UserError(
                f"{where}: this record's games are {record.rules}, not {rules}: use another "
                "--record or the same game"
            )
        if record.seed != config.seed:
            raise UserError(
                f"{where}: this record is of a tournament with --seed {record.seed}, not "
                f"{config.seed}: use another --record or the same seed"
            )
        if len(record.opening) != config.openings and len(record.moves) > len(record.opening):
            raise UserError(
                f"{where}: this record's games open with {len(record.opening)} random moves, not "
                f"--openings {config.openings}: use another --record or the same openings"
            )
        key = key_of(record, order)
        if key in games and games[key] != record:
            raise UserError(
                f"{where}: game {key[2]} of {key[0][0]} vs {key[0][1]} is already recorded at "
                f"line {lines[key]} with another result: the record mixes two tournaments"
            )
        note_checkpoints(checkpoints, record, where)
        games.setdefault(key, record)
        lines.setdefault(key, line.number)
    return games


def note_checkpoints(checkpoints: CheckpointsOfAgents, record: MatchRecord, where: str) -> None:
    """Note each side's checkpoint of ``record`` (UserError: a name for two checkpoints)."""
    for name, checkpoint in zip(record.players, record.checkpoints, strict=True):
        checkpoints.add(name, checkpoint, where)


def append_records(path: Path, records: Sequence[MatchRecord]) -> None:
    """One JSON line per game, written and flushed at once."""
    with open(path, "a", encoding="utf-8") as file:
        file.write("".join(json.dumps(record.to_json()) + "\n" for record in records))
        file.flush()


# ---------------------------------------------------------------------------------------------
# Playing chunks of games, here or on Ray actors


@dataclass(frozen=True)
class Chunk:
    """Games ``first .. first + count - 1`` of one pair."""

    pair: Pair
    first: int
    count: int


def chunks_of(missing: dict[Pair, list[int]], batch: int) -> list[Chunk]:
    """The missing games in chunks of consecutive indices of one pair, at most ``batch`` long."""
    chunks = []
    for pair, indices in missing.items():
        start = 0
        for position in range(1, len(indices) + 1):
            run_ends = position == len(indices) or indices[position] != indices[position - 1] + 1
            if run_ends or position - start == batch:
                chunks.append(Chunk(pair, indices[start], position - start))
                start = position
    return chunks


class ChunkPlayer:
    """Plays chunks with bots built once per spec. A plain class: Ray actors wrap it."""

    def __init__(
        self,
        game: Game,
        default_simulations: int,
        overrides: Sequence[str],
        make_player: PlayerFactory,
        seed: int,
        openings: int,
    ):
        self.game, self.default_simulations, self.overrides = game, default_simulations, overrides
        self.make_player, self.seed, self.openings = make_player, seed, openings
        self.bots: dict[str, Bot] = {}

    def bot(self, spec: str) -> Bot:
        if spec not in self.bots:
            self.bots[spec] = self.make_player(
                self.game, spec, self.default_simulations, self.overrides
            )
        return self.bots[spec]

    def play(self, chunk: Chunk) -> list[MatchRecord]:
        bots = (self.bot(chunk.pair[0]), self.bot(chunk.pair[1]))
        return play_games(
            self.game, bots, chunk.count, self.seed, self.openings, first_game=chunk.first
        )


class RayPlayers:
    """ChunkPlayers on Ray actors; chunks go to whichever actor is free, results come back in
    the order they finish."""

    def __init__(self, workers: int | None, address: str | None, arguments: tuple) -> None:
        # Ray starts with the first chunk: a rerun with every game recorded never waits for it.
        self.workers, self.address, self.arguments = workers, address, arguments
        self.actors: list[Any] = []
        self.owns_ray = False

    def _start(self) -> None:
        from experiment.cluster import start_ray

        self.owns_ray = start_ray(self.workers or 1, 200 * 2**20, address=self.address)
        import ray

        workers = self.workers
        if not workers:  # a cluster's: one actor per CPU
            workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        actor: Any = ray.remote(num_cpus=1)(ChunkPlayer)  # Ray's stubs lack .remote
        self.actors = [actor.remote(*self.arguments) for _ in range(workers)]

    def play(self, chunks: Sequence[Chunk]) -> Iterator[list[MatchRecord]]:
        import ray

        if chunks and not self.actors:
            self._start()
        waiting = list(chunks)
        running: dict = {}
        free = list(self.actors)
        while waiting or running:
            while waiting and free:
                actor = free.pop()
                running[actor.play.remote(waiting.pop(0))] = actor
            done, _ = ray.wait(list(running), num_returns=1)
            free.append(running.pop(done[0]))
            yield ray.get(done[0])

    def close(self) -> None:
        if not self.actors:
            return
        import ray

        for actor in self.actors:
            ray.kill(actor)
        if self.owns_ray:
            ray.shutdown()


class LocalPlayers:
    """One ChunkPlayer in this process (tests, one core, a machine without Ray)."""

    def __init__(self, player: ChunkPlayer):
        self.player = player

    def play(self, chunks: Sequence[Chunk]) -> Iterator[list[MatchRecord]]:
        for chunk in chunks:
            yield self.player.play(chunk)

    def close(self) -> None:
        pass


# ---------------------------------------------------------------------------------------------
# Which pairs play


def fixed_pairs(agents: Sequence[str], kind: str) -> list[Pair]:
    """``all`` pairs or the ``adjacent`` ones, in the agents' order."""
    if kind == "adjacent":
        return [(agents[i], agents[i + 1]) for i in range(len(agents) - 1)]
    return [(agents[i], agents[j]) for i in range(len(agents)) for j in range(i + 1, len(agents))]


def results_of(records: Sequence[MatchRecord]) -> Results:
    return results_from_games((r.players[0], r.players[1], r.score) for r in records)


def fisher_covariance(results: Results, elo: np.ndarray, anchor: int) -> np.ndarray:
    """The asymptotic covariance (P, P) of the fitted strengths in natural units (Elo / 400 *
    ln 10) from the Bradley-Terry Fisher information at ``elo`` (:func:`information_of`), the
    anchor held fixed (its row and column 0); NaN rows for players with unbounded ratings. The
    cheap interval estimate the adaptive design chooses with (the bootstrap decides the end)."""
    size = len(results.players)
    draws = results.draws / np.maximum(results.games, 1)
    information = information_of(results.pairs, results.games, draws, elo, size)
    covariance = np.full((size, size), np.nan)
    covariance[anchor, :] = covariance[:, anchor] = 0.0
    free = [i for i in range(size) if np.isfinite(elo[i]) and i != anchor]
    if free:
        covariance[np.ix_(free, free)] = np.linalg.pinv(information[np.ix_(free, free)])
    return covariance


def information_of(
    pairs: np.ndarray, games: np.ndarray, draws: np.ndarray, elo: np.ndarray, size: int
) -> np.ndarray:
    """Bradley-Terry information (size, size) of ``games`` (M,) on ``pairs`` (M, 2) with draw
    rates ``draws`` (M,) at ratings ``elo``: the sum over pairings of n w (e_i - e_j)(e_i -
    e_j)^T, w of :func:`game_information`; pairings with an unbounded rating add nothing."""
    information = np.zeros((size, size))
    for (i, j), count, draw in zip(pairs.tolist(), games.tolist(), draws.tolist(), strict=True):
        if np.isfinite(elo[i]) and np.isfinite(elo[j]):
            weight = count * game_information(elo[i] - elo[j], draw)
            information[[i, j], [i, j]] += weight
            information[[i, j], [j, i]] -= weight
    return information


def game_information(elo_gap: float, draw_rate: float) -> float:
    """The information about the strength gap (natural units) of one game at a gap in Elo,
    with draws counted half: (dp/dtheta)^2 / Var(score) = (p (1 - p))^2 / (p (1 - p) - d / 4),
    d the draw rate (p (1 - p) without draws; draws make a score less noisy, so a draw-rich
    pairing tells more per game than Fisher's p (1 - p) assumes)."""
    p = 1.0 / (1.0 + math.exp(min(max(-elo_gap / ELO_PER_NATURAL_UNIT, -700.0), 700.0)))
    slope = p * (1.0 - p)
    if slope <= 0.0:  # a gap so wide that one side always wins: a game tells nothing
        return 0.0
    return slope**2 / max(slope - draw_rate / 4, 0.05 * slope)


def natural_half_width(target_elo: float) -> float:
    """The standard error (natural units) whose 95% normal interval is +-``target_elo``."""
    return target_elo / Z_95 / ELO_PER_NATURAL_UNIT


@dataclass(frozen=True)
class RoundPlan:
    """The next adaptive round: pairs (each plays ``games`` more), the agents given up as
    unbounded, and whether the Fisher estimate puts every rated agent on target."""

    pairs: list[Pair]
    given_up: list[str]
    on_target: bool


def plan_round(
    agents: Sequence[str],
    records: Sequence[MatchRecord],
    config: TournamentConfig,
    targets: dict[str, float],
) -> RoundPlan:
    """Plan the next adaptive round from the games so far; ``targets``: each agent's goal, a
    95% half-width in Elo (the target, narrowed where the bootstrap found the estimate too
    optimistic).

    An agent whose rating is unbounded gets games against a neighbour in the given order (of
    the one on each side, the one it met least) until it met both ``config.unbounded_games``
    times; then it is given up: reported, and no longer waited for. Then, greedily,
    ``len(agents) - 1`` times: the pair whose ``config.games`` games shrink the sum of the rated
    agents' standard errors above their targets most (a rank-one update of the Fisher
    covariance); close pairs carry the most information per game, p (1 - p)."""
    results = results_of(records)
    index = {name: i for i, name in enumerate(results.players)}
    anchor = index[anchor_of(results, config)]
    elo = fit_elo(results, anchor, 0.0)
    met = {(a, b): 0 for a in agents for b in agents}
    for record in records:
        met[record.players] += 1
        met[record.players[::-1]] += 1
    pairs: list[Pair] = []
    given_up = []
    for k, name in enumerate(agents):
        if np.isfinite(elo[index[name]]):
            continue
        neighbours = [agents[j] for j in (k - 1, k + 1) if 0 <= j < len(agents)]
        open_neighbours = [n for n in neighbours if met[name, n] < config.unbounded_games]
        if not open_neighbours:
            given_up.append(name)
            continue
        partner = min(open_neighbours, key=lambda n: met[name, n])
        pairs.append((name, partner) if agents.index(partner) > k else (partner, name))
    rated = np.array([index[a] for a in agents if np.isfinite(elo[index[a]])], np.int64)
    limits = np.array([natural_half_width(targets[results.players[i]]) for i in rated])

    def excess(matrix: np.ndarray) -> float:
        errors = np.sqrt(np.maximum(np.diag(matrix)[rated], 0.0))
        return float(np.maximum(errors - limits, 0.0).sum())

    covariance = fisher_covariance(results, elo, anchor)
    on_target = excess(covariance) <= 1e-12
    draw_rates = pairing_draw_rates(results)
    candidates = [
        (a, b) for a, b in fixed_pairs(agents, "all")
        if np.isfinite(elo[index[a]]) and np.isfinite(elo[index[b]])
    ]  # fmt: skip
    first = np.array([index[a] for a, _ in candidates], np.int64)
    second = np.array([index[b] for _, b in candidates], np.int64)
    weights = np.array(
        [config.games * game_information(elo[i] - elo[j], draw_rates(i, j))
         for i, j in zip(first.tolist(), second.tolist(), strict=True)]
    )  # fmt: skip
    # direction d = e_a - e_b with the anchor's entry zero: its rating is fixed
    keep_first = (first != anchor).astype(float)
    keep_second = (second != anchor).astype(float)
    columns = np.arange(len(candidates))
    for _ in range(0 if on_target or not candidates else len(agents) - 1):
        # Sherman-Morrison for every candidate at once: C - w s s^T / (1 + w d.s), s = C d;
        # only the diagonal (the rated agents' variances) decides the choice.
        known = np.nan_to_num(covariance)
        spreads = known[:, first] * keep_first - known[:, second] * keep_second  # (P agents, C)
        along = spreads[first, columns] * keep_first - spreads[second, columns] * keep_second
        shrink = weights / (1.0 + weights * along)
        variances = np.diag(covariance)[rated][:, None] - shrink * spreads[rated] ** 2
        errors = np.sqrt(np.maximum(variances, 0.0))
        values = np.maximum(errors - limits[:, None], 0.0).sum(0)
        best = int(values.argmin())
        pairs.append(candidates[best])
        spread = spreads[:, best]
        covariance = covariance - shrink[best] * np.outer(spread, spread)
    return RoundPlan(pairs, given_up, on_target)


def pairing_draw_rates(results: Results) -> Callable[[int, int], float]:
    """The observed draw rate of a pairing (players' indices), or all games' for one not played."""
    overall = float(results.draws.sum() / max(results.games.sum(), 1))
    rates = {
        (int(i), int(j)): float(d / n)
        for (i, j), d, n in zip(results.pairs, results.draws, results.games, strict=True)
        if n
    }
    return lambda i, j: rates.get((min(i, j), max(i, j)), overall)


def all_pairs_estimate(agents: Sequence[str], records: Sequence[MatchRecord]) -> int:
    """Games an all-pairs design (the same even number per pair) needs to rate ``agents`` as
    precisely as ``records`` do: its widest 95% interval as narrow as theirs, both from
    :func:`fisher_covariance` at the ratings fitted on ``records`` (the same estimate for both
    designs, so that its own error mostly cancels in the comparison)."""
    results = results_of(records)
    anchor = results.players.index(default_anchor(results))
    elo = fit_elo(results, anchor, 0.0)
    rated = [i for i in range(len(elo)) if np.isfinite(elo[i]) and i != anchor]
    if not rated:
        return 0
    widest = float(np.sqrt(np.diag(fisher_covariance(results, elo, anchor))[rated].max()))
    index = {name: i for i, name in enumerate(results.players)}
    pairs = np.array([[index[a], index[b]] for a, b in fixed_pairs(agents, "all")], np.int64)
    draw_rate = pairing_draw_rates(results)
    draws = np.array([draw_rate(i, j) for i, j in pairs.tolist()])
    one_game_each = information_of(pairs, np.ones(len(pairs)), draws, elo, len(elo))
    covariance = np.linalg.pinv(one_game_each[np.ix_(rated, rated)])
    # n games per pair: the covariance of one game per pair divided by n.
    per_pair = math.ceil(float(np.diag(covariance).max()) / widest**2)
    return (per_pair + per_pair % 2) * len(pairs)


@dataclass(frozen=True)
class AdaptiveSummary:
    """What an adaptive tournament spent against the all-pairs design for the same target."""

    games: int  # games among the agents in the record
    all_pairs_games: int  # :func:`all_pairs_estimate`: all pairs as precise as these games
    unbounded: tuple[str, ...]  # agents whose rating the games do not bound


def adaptive_summary(agents: Sequence[str], records: Sequence[MatchRecord]) -> AdaptiveSummary:
    """The summary of the games among ``agents`` in ``records``."""
    ours = [r for r in records if set(r.players) <= set(agents)]
    results = results_of(ours)
    elo = fit_elo(results, results.players.index(default_anchor(results)), 0.0)
    unbounded = tuple(
        name for name, value in zip(results.players, elo, strict=True) if not np.isfinite(value)
    )
    return AdaptiveSummary(len(ours), all_pairs_estimate(agents, ours), unbounded)


def bootstrap_widths(records: Sequence[MatchRecord], config: TournamentConfig) -> dict[str, float]:
    """Every agent's 95% bootstrap half-width in Elo (the wider side; the anchor's is 0)."""
    results = results_of(records)
    ratings = rate(
        results, anchor_of(results, config), bootstrap=config.bootstrap, seed=config.seed
    )
    return {r.name: max(r.elo - r.low, r.high - r.elo) for r in ratings}


def anchor_of(results: Results, config: TournamentConfig) -> str:
    """The tournament's anchor among the players so far (``config.anchor`` once it played)."""
    if config.anchor is not None and config.anchor in results.players:
        return config.anchor
    return default_anchor(results)


# ---------------------------------------------------------------------------------------------
# The tournament


@dataclass
class Session:
    """One run of a tournament: its agents, config, record and the games known so far."""

    agents: Sequence[str]
    config: TournamentConfig
    record: Path
    known: dict[Key, MatchRecord]
    players: LocalPlayers | RayPlayers
    show_progress: bool
    checkpoints: CheckpointsOfAgents = field(default_factory=CheckpointsOfAgents)

    def play(self, planned: dict[Pair, list[int]], description: str) -> list[MatchRecord]:
        """Play the planned games (pair -> indices) that are not known yet, appending every
        finished chunk to the record; return all planned games."""
        from experiment.progress import Progress, progress

        seed = self.config.seed
        missing = {
            pair: missing for pair, indices in planned.items()
            if (missing := [g for g in indices if (pair, seed, g) not in self.known])
        }  # fmt: skip
        chunks = chunks_of(missing, self.config.batch)
        if chunks:
            total = sum(chunk.count for chunk in chunks)
            order = {name: k for k, name in enumerate(self.agents)}
            bar: Progress = progress(total, description, "game", enabled=self.show_progress)
            with bar:
                for records in self.players.play(chunks):
                    for record in records:  # refused before a game joins the record
                        where = f"{self.record}: a game just played"
                        note_checkpoints(self.checkpoints, record, where)
                    append_records(self.record, records)
                    self.known.update((key_of(r, order), r) for r in records)
                    bar.update(len(records))
        return [self.known[pair, seed, g] for pair, indices in planned.items() for g in indices]

    def adaptive(self) -> None:
        """Rounds of :func:`plan_round` until the bootstrap confirms every agent not given up
        is on target, every agent left is given up, or ``max_games`` games are planned. Each
        plan comes from the planned games before it (not from the whole record), so a rerun
        replays the same plans; every plan is also logged (:class:`PlanLog`), so a rerun starts
        from the last one instead of planning every round again (a minute a round for a few
        hundred agents)."""
        agents, config = self.agents, self.config
        log = PlanLog(self.record, agents, config)
        state = log.last()
        if state is None:
            counts = {pair: config.games for pair in fixed_pairs(agents, "adjacent")}
            targets = {name: config.target_interval for name in agents}
            state = PlanState(1, counts, targets, finished=False)
        planned: dict[Pair, list[int]] = {pair: [] for pair in fixed_pairs(agents, "all")}
        planned.update((pair, list(range(count))) for pair, count in state.counts.items())
        targets, round_number = dict(state.targets), state.round
        while True:
            games = self.play(planned, f"arena round {round_number}")
            if state.finished:
                return
            finished = self._plan_next(games, planned, targets)
            round_number += 1
            counts = {pair: len(indices) for pair, indices in planned.items() if indices}
            state = PlanState(round_number, counts, dict(targets), finished)
            log.append(state)

    def _plan_next(
        self, games: list[MatchRecord], planned: dict[Pair, list[int]], targets: dict[str, float]
    ) -> bool:
        """Add the next round to ``planned`` (or aim ``targets`` lower); True when the
        tournament is over."""
        agents, config = self.agents, self.config
        if len(games) >= config.max_games:
            return True
        plan = plan_round(agents, games, config, targets)
        if plan.on_target and not plan.pairs:
            widths = bootstrap_widths(games, config)
            wide = [
                name for name in agents
                if name not in plan.given_up and widths[name] > config.target_interval
            ]  # fmt: skip
            for name in wide:  # the Fisher estimate was too narrow here: aim lower
                ratio = config.target_interval / widths[name]
                targets[name] *= ratio if math.isfinite(ratio) and ratio > 0 else 0.5
            return not wide
        if not plan.pairs:
            return True  # every agent left is given up
        for pair in plan.pairs:
            start = len(planned[pair])
            planned[pair] += list(range(start, start + config.games))
        return False


@dataclass(frozen=True)
class PlanState:
    """Where an adaptive tournament stands after a plan: the next round's number, the games
    planned per pair (indices 0 .. count - 1), the agents' targets, and whether it is over."""

    round: int
    counts: dict[Pair, int]
    targets: dict[str, float]
    finished: bool


class PlanLog:
    """The plans of an adaptive tournament, one JSON line per round beside its record
    (``RECORD.plans.jsonl``). A plan is a function of the games before it, and the games of
    their seeds, so a logged plan is the one a rerun would make: only the lines made for these
    agents and these settings count (another tournament's are ignored), and a rerun plays
    whatever of the logged plan the record lacks."""

    def __init__(self, record: Path, agents: Sequence[str], config: TournamentConfig):
        self.path = record.with_name(record.name + ".plans.jsonl")
        settings = dataclasses.asdict(config)
        for name in ("workers", "batch"):  # where and how the games run, not which
            settings.pop(name)
        text = json.dumps([list(agents), settings], sort_keys=True, default=str)
        self.inputs = hashlib.sha256(text.encode()).hexdigest()
        self.agents = list(agents)

    def last(self) -> PlanState | None:
        if not self.path.exists():
            return None
        for line in reversed(read_json_lines(self.path, repair=True)):
            data = line.data
            if data.get("inputs") != self.inputs:
                continue
            try:
                counts = {
                    (self.agents[a], self.agents[b]): int(count) for a, b, count in data["counts"]
                }
                targets = {self.agents[k]: float(t) for k, t in enumerate(data["targets"])}
                return PlanState(int(data["round"]), counts, targets, bool(data["finished"]))
            except (KeyError, TypeError, ValueError, IndexError) as error:
                raise UserError(
                    f"{line.where}: not a plan of this tournament ({error!r})"
                ) from None
        return None

    def append(self, state: PlanState) -> None:
        index = {name: k for k, name in enumerate(self.agents)}
        counts = [[index[a], index[b], count] for (a, b), count in state.counts.items()]
        targets = [state.targets[name] for name in self.agents]
        line = {"inputs": self.inputs, "round": state.round, "finished": state.finished,
                "counts": counts, "targets": targets}  # fmt: skip
        with open(self.path, "a", encoding="utf-8") as file:
            file.write(json.dumps(line) + "\n")


def run_tournament(
    game: Game,
    agents: Sequence[str],
    record: Path,
    config: TournamentConfig,
    default_simulations: int,
    overrides: Sequence[str] = (),
    address: str | None = None,
    make_player: PlayerFactory | None = None,
    show_progress: bool = True,
) -> list[MatchRecord]:
    """Play the tournament ``config`` describes between ``agents`` (specs, built by
    ``make_player``: ``ponder.commands._bots.make_player`` unless given), appending every game
    to ``record``; return the whole record after the run. Games already in the record are not
    played again. Bad input (a bad spec, duplicate agents, a record of another tournament)
    raises UserError before any game is played."""
    if make_player is None:
        # The spec grammar lives with the command line; imported only when none is given.
        from ponder.commands._bots import make_player as default_factory

        make_player = default_factory
    if len(agents) < 2 or len(set(agents)) != len(agents):
        raise UserError(f"a tournament needs at least two different agents, got {list(agents)}")
    record = Path(record)
    order = {n: k for k, n in enumerate(agents)}
    checkpoints = CheckpointsOfAgents()
    known = read_record(record, config, order, game.display_name, checkpoints)
    arguments = (
        game, default_simulations, tuple(overrides), make_player, config.seed, config.openings
    )  # fmt: skip
    local = ChunkPlayer(*arguments)
    for spec in agents:  # every spec is checked (and built) before a game is played
        checkpoints.add(spec, str(getattr(local.bot(spec), "checkpoint", "")), "as built now")
    players: LocalPlayers | RayPlayers
    if address is not None:  # a cluster: one actor per CPU of it unless --workers says
        players = RayPlayers(config.workers, address, arguments)
    else:
        workers = (os.cpu_count() or 1) if config.workers is None else config.workers
        players = LocalPlayers(local) if workers <= 1 else RayPlayers(workers, None, arguments)
    session = Session(agents, config, record, known, players, show_progress, checkpoints)
    try:
        if config.pairs == "adaptive":
            session.adaptive()
        else:
            pairs = fixed_pairs(agents, config.pairs)
            session.play({pair: list(range(config.games)) for pair in pairs}, "arena")
    finally:
        players.close()
    return list(known.values())
