"""Arena: the current net against earlier snapshots and reference bots, with a running Elo.

A plain class (the trainer wraps it with ``ray.remote``). Every pairing plays both colours equally
often from a few seeded random opening moves; every game is kept as a match record (players,
colours, opening, moves, outcome) in ``arena/matches.jsonl`` so that a later rating fit can read
them all.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from experiment.checkpoint import checkpoint_stem, write_atomic
from experiment.config import NonNegativeInt, PositiveInt
from experiment.jsonl import read_json_lines
from experiment.ratings import fit_elo, results_from_games
from games.base import Game
from search.config import SearchConfig
from search.expanders import GameExpander, PolicyValueFn
from search.play import MatchRecord, RandomBot, SearchBot, mcts_bot, play_games, score_of


@dataclass(frozen=True)
class ArenaConfig:
    """Who the current net meets, how often and at what budget."""

    every_steps: NonNegativeInt = 200  # learner steps between arena rounds; 0 turns the arena off
    games: PositiveInt = 20  # per pairing, half with each colour
    simulations: PositiveInt = 50  # the net's PUCT simulations per move
    mcts_simulations: tuple[PositiveInt, ...] = (
        200,
    )  # classic MCTS reference bots (rollouts per move)
    random_opponent: bool = True
    previous_snapshots: NonNegativeInt = 1  # how many earlier arena snapshots to play
    opening_moves: NonNegativeInt = 2


def net_bot(
    game: Game,
    evaluator: PolicyValueFn,
    simulations: int,
    name: str,
    search: SearchConfig | None = None,
    flops_per_evaluation: int = 0,
) -> SearchBot:
    """The net behind PUCT without root noise: what 'strength at a fixed budget' means here.
    ``search`` changes the rule or its constants (its budget is ``simulations``);
    ``flops_per_evaluation`` (the net's forward FLOPs per position) prices its test compute."""
    config = (search or SearchConfig(rule="puct")).with_simulations(simulations)
    expander = GameExpander(game, evaluator=evaluator)
    return SearchBot(expander, config, name=name, flops_per_evaluation=flops_per_evaluation)


ROUNDS_FILE = "rounds.jsonl"  # in the arena folder: one line per round, read by ponder curve


def _lines(path: Path) -> list[dict]:
    """The JSON lines of an arena file (:func:`experiment.jsonl.read_json_lines`: a last line
    cut short by a killed run is left out)."""
    return [line.data for line in read_json_lines(path)] if path.exists() else []


def _rewrite(path: Path, rows: list[dict]) -> None:
    if path.exists():
        write_atomic(path, "".join(json.dumps(row) + "\n" for row in rows).encode())


def snapshot_name(step: int, simulations: int) -> str:
    """The arena's name of the net of learner ``step``: its checkpoint's file name and budget,
    ``step_000200@50``, the agent spec relative to the run's checkpoints folder."""
    return f"{checkpoint_stem('.', step).name}@{simulations}"


# snapshot_name's form, and ``net_step200`` of runs from before it
_SNAPSHOT = re.compile(r"^(?:step_0*(\d+)@\d+|net_step(\d+))$")


def snapshot_step(name: str) -> int | None:
    """The learner step of an arena snapshot's name; None for the references (random, mcts:N)."""
    match = _SNAPSHOT.match(name)
    return None if match is None else int(match.group(1) or match.group(2))


@dataclass
class Arena:
    """Plays rounds and keeps every match record of the run."""

    game: Game
    config: ArenaConfig
    make_evaluator: Callable[[dict], PolicyValueFn]  # weights (a state dict) -> evaluator
    directory: Path | None = None
    # The run's own search without exploration: what its snapshots' names mean everywhere
    # (``ponder match RUN/checkpoints/step_000200@50`` builds the same player).
    search: SearchConfig | None = None
    flops_per_evaluation: int = 0  # the net's forward FLOPs per position: test compute
    records: list[MatchRecord] = field(default_factory=list)
    snapshots: list[tuple[str, dict]] = field(default_factory=list)

    resume_step: int | None = None  # a resumed run's step: later rounds are another timeline

    def __post_init__(self) -> None:
        if self.directory is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        # Resume: earlier rounds still count in the rating fit. A run killed without a
        # checkpoint resumes from an older step and replays the rounds after it with other
        # nets under the same names: those lines go, as does a line cut short by the kill.
        kept = [
            line for line in _lines(self.directory / "matches.jsonl")
            if all((snapshot_step(name) or 0) <= self._last_step for name in (line["a"], line["b"]))
        ]  # fmt: skip
        rounds = [r for r in _lines(self.directory / ROUNDS_FILE) if r["step"] <= self._last_step]
        _rewrite(self.directory / "matches.jsonl", kept)
        _rewrite(self.directory / ROUNDS_FILE, rounds)
        self.records = [MatchRecord.from_json(line) for line in kept]

    @property
    def _last_step(self) -> float:
        return math.inf if self.resume_step is None else self.resume_step

    def round(self, step: int, weights: dict, seed: int) -> dict[str, float]:
        """Play the net at ``step`` against every opponent; return TensorBoard scalars
        (``arena/winrate_vs_<opponent>``, ``arena/elo``)."""
        name = snapshot_name(step, self.config.simulations)
        current = self._net(weights, name)
        opponents: list = [mcts_bot(self.game, n) for n in self.config.mcts_simulations]
        if self.config.random_opponent:
            opponents.insert(0, RandomBot(self.game))
        for old_name, old_weights in self.snapshots[-self.config.previous_snapshots :]:
            opponents.append(self._net(old_weights, old_name))
        scalars = {}
        for offset, opponent in enumerate(opponents):
            records = play_games(
                self.game, (current, opponent), self.config.games, seed=seed,
                first_game=offset * self.config.games,
                opening_moves=self.config.opening_moves,
            )  # fmt: skip
            self._keep(records)
            wins, draws, losses = score_of(records, name)
            label = "previous" if opponent.name.startswith("step_") else opponent.name
            label = label.replace(":", "")  # TensorBoard tags: arena/winrate_vs_mcts200
            scalars[f"arena/winrate_vs_{label}"] = (wins + 0.5 * draws) / len(records)
        if self.config.previous_snapshots > 0:
            self.snapshots.append((name, weights))
            self.snapshots = self.snapshots[-self.config.previous_snapshots :]
        # The first classic-MCTS reference is the anchor (0): the net both wins and loses
        # against it, so the fit bounds its rating; it beats random every time, which would
        # not (experiment.ratings: no prior game sets a distance). Written when bounded.
        references = [f"mcts:{n}" for n in self.config.mcts_simulations]
        anchor = references[0] if references else opponents[0].name
        results = results_from_games(
            (record.players[0], record.players[1], (record.returns[0] + 1) / 2)
            for record in self.records
        )
        elo = fit_elo(results, results.players.index(anchor), 0.0)[results.players.index(name)]
        if math.isfinite(elo):
            scalars["arena/elo"] = float(elo)
        return scalars

    def _net(self, weights: dict, name: str) -> SearchBot:
        evaluator = self.make_evaluator(weights)
        return net_bot(
            self.game, evaluator, self.config.simulations, name, self.search,
            self.flops_per_evaluation,
        )  # fmt: skip

    def _keep(self, records: list[MatchRecord]) -> None:
        self.records.extend(records)
        if self.directory is not None:
            with open(self.directory / "matches.jsonl", "a", encoding="utf-8") as file:
                for record in records:
                    file.write(json.dumps(record.to_json()) + "\n")
