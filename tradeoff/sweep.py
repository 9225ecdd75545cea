"""``ponder tradeoff``: the train x test compute sweep for games, in four resumable phases.

1. train the runs the recipe lists (net sizes x seeds, through ``selfplay.train``) into
   ``OUTPUT/runs/<size>-seed<seed>/``, or take existing run directories; a run killed mid-way
   is resumed from its checkpoints, a finished one is left alone;
2. choose each run's snapshots log-spaced in train FLOPs (step 0 included) among the ones
   training kept (step 0 and one at every doubling of train FLOPs), and name the agents
   ``RUN/checkpoints/step_N@SIMULATIONS`` for every test budget, plus the anchors; a run inside
   the output folder is named relative to it (``runs/base-seed0/checkpoints/...``), so that the
   folder, copied or moved, resumes and refits under the same names from any working directory;
   a run elsewhere (``train.existing``) by its absolute path;
3. play them in one tournament (``tradeoff.tournament``: adaptive by default), recorded in
   ``OUTPUT/games.jsonl``; a rerun plays only the games still missing;
4. rate every agent (``experiment.ratings``, anchored at the solver where the game has one,
   else at random), fit the chain (``tradeoff.fit``) on the ratings and their bootstrap
   samples, and write ``results.csv``, ``fit.json``, the plots, ``report.md`` and TensorBoard
   events; skipped when the outputs exist for exactly these games.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import hashlib
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from experiment import UserError
from experiment.checkpoint import list_checkpoints, read_info
from experiment.config import NonNegativeInt
from tradeoff.fit import FitConfig, Row, TradeoffFit, fit_tradeoff
from tradeoff.tournament import TournamentConfig

if TYPE_CHECKING:
    from games.base import Game

OUTPUTS = ("results.csv", "fit.json", "elo_vs_train.png", "elo_vs_test.png", "frontier.png",
           "report.md")  # fmt: skip
TRAINED_MARK = "sweep_trained.json"  # written into a run directory when its budget is spent


@dataclass(frozen=True)
class SizeConfig:
    """One net size of the sweep: its name (part of the run names) and training overrides."""

    name: str = "base"
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class SweepTrainConfig:
    """The runs: ``recipe`` (a ``ponder train`` recipe, a name or a path) with ``overrides``
    for every run, once per size x seed; ``existing`` run directories are taken as they are."""

    recipe: str = "tictactoe-smoke"
    overrides: tuple[str, ...] = ()
    sizes: tuple[SizeConfig, ...] = (SizeConfig(),)
    seeds: tuple[NonNegativeInt, ...] = (0,)
    existing: tuple[str, ...] = ()


@dataclass(frozen=True)
class TradeoffConfig:
    """A sweep recipe (configs/tradeoff-*.yaml)."""

    output: str = "runs/tradeoff"
    train: SweepTrainConfig = field(default_factory=SweepTrainConfig)
    snapshots: int = 8  # per run, step 0 included
    budgets: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)  # simulations per move
    anchors: tuple[str, ...] = ("random", "solver", "mcts:16", "mcts:256")  # solver: if any
    tournament: TournamentConfig = field(default_factory=lambda: TournamentConfig(pairs="adaptive"))
    bootstrap: int = 500  # resamples of the games, pushed through the whole fit
    fit: FitConfig = field(default_factory=FitConfig)  # fit.perfect is set by the anchor

    def __post_init__(self) -> None:
        if self.snapshots < 2:
            raise UserError(
                f"snapshots must be >= 2 (step 0 and one trained), got {self.snapshots}"
            )
        if not self.budgets or min(self.budgets) < 1:
            raise UserError(f"budgets must be simulation counts >= 1, got {list(self.budgets)}")
        if self.bootstrap < 0:
            raise UserError(f"bootstrap must be >= 0, got {self.bootstrap}")


@dataclass(frozen=True)
class Snapshot:
    """A checkpoint chosen for the sweep: its run, step and train FLOPs."""

    run: str  # the run's name
    path: str  # the checkpoint stem, as agents name it (:func:`agent_path`)
    step: int
    train_flops: float


def run_sweep(
    config: TradeoffConfig, recipe: Path, resolved: str, address: str | None = None
) -> Path:
    """Run (or resume) every phase of the sweep; return the output folder. ``recipe``: the
    training recipe's file; ``resolved``: the sweep's resolved config as YAML text (recorded)."""
    output = Path(config.output)
    output.mkdir(parents=True, exist_ok=True)
    (output / "config.yaml").write_text(resolved, encoding="utf-8")
    runs = train_runs(config, recipe, output, address)
    game = _game_of(runs)
    snapshots = [s for run in runs for s in choose_snapshots(run, config.snapshots, output)]
    agents, anchors = agent_specs(game, snapshots, config)
    print(f"phase 3: {len(agents)} agents ({len(snapshots)} snapshots x {len(config.budgets)} "
          f"budgets, anchors {', '.join(anchors)}) on {game.display_name}", flush=True)  # fmt: skip
    from ponder.commands._bots import make_player
    from tradeoff.tournament import run_tournament

    record = output / "games.jsonl"
    adopt_old_names(record, output, agents)
    # The tournament aims its intervals at the anchor the fit reports them against.
    tournament = dataclasses.replace(config.tournament, anchor=rating_anchor(anchors))
    # Agents' paths are relative to the output folder (phase 2), wherever this runs from.
    players = functools.partial(make_player, root=output.resolve())
    started, known = time.perf_counter(), _lines(record)
    records = run_tournament(
        game, agents, record, tournament, max(config.budgets), address=address,
        make_player=players,
    )  # fmt: skip
    if _lines(record) > known:  # a rerun that only checks the record adds no time
        _add_tournament_seconds(output, time.perf_counter() - started)
    write_outputs(config, output, snapshots, agents, anchors, records, record, resolved)
    return output


# --- phase 1: training ----------------------------------------------------------------------


def train_runs(
    config: TradeoffConfig, recipe: Path, output: Path, address: str | None
) -> list[Path]:
    """The run directories of the sweep, each trained to its budget (phase 1)."""
    from experiment.progress import Progress, progress

    runs = [Path(path) for path in config.train.existing]
    for path in runs:
        if not list_checkpoints(path / "checkpoints"):
            raise UserError(f"train.existing: '{path}' has no checkpoints (is it a run directory?)")
    planned = [(size, seed) for size in config.train.sizes for seed in config.train.seeds]
    from experiment.config import load_config
    from selfplay.config import TrainConfig

    for size, seed in planned:  # every run's config checked before hours go into the first
        load_config(TrainConfig, recipe, [*config.train.overrides, *size.overrides, f"seed={seed}"])
    bar: Progress[int] = progress(len(planned), "phase 1: training", "run")
    with bar:
        for size, seed in planned:
            runs.append(_train_one(config, recipe, output, size, seed, address))
            bar.update()
    if not runs:
        raise UserError("the sweep has no runs: list train.sizes and train.seeds or train.existing")
    return runs


def _train_one(
    config: TradeoffConfig, recipe: Path, output: Path, size: SizeConfig, seed: int,
    address: str | None,
) -> Path:  # fmt: skip
    """Train one run to its budget, resuming it if an earlier sweep was stopped mid-way."""
    from experiment.config import load_config
    from experiment.run import RunDirectory
    from selfplay.config import TrainConfig
    from selfplay.train import resume_config, start_run, train

    name = f"{size.name}-seed{seed}"
    path = output / "runs" / name
    if (path / TRAINED_MARK).is_file():
        return path
    extra = [f"seed={seed}", f"name={name}", f"runs_root={output / 'runs'}"]
    extra += [f"ray.address={address}"] if address else []
    train_config = load_config(
        TrainConfig, recipe, [*config.train.overrides, *size.overrides, *extra]
    )
    if (path / "config.yaml").is_file():
        run = RunDirectory.open(path)
        train_config = resume_config(run, [*extra[:1], *extra[3:]])
        print(f"phase 1: resuming {path}", flush=True)
        progress = train(train_config, run, resume=True)
    else:
        print(f"phase 1: training {path}", flush=True)
        run = start_run(train_config)
        progress = train(train_config, run)
    if progress.stopped_by:  # Ctrl-C or SIGTERM: the checkpoint is written; stop as it asks
        raise KeyboardInterrupt(progress.stopped_by)
    if not _budget_spent(train_config, path):
        raise UserError(f"training of {path} stopped before its budget; rerun the sweep to "
                        "resume it")  # fmt: skip
    mark = {"step": progress.step, "games": progress.games}
    (path / TRAINED_MARK).write_text(json.dumps(mark) + "\n", encoding="utf-8")
    return path


def _budget_spent(config: object, path: Path) -> bool:
    """Whether the latest checkpoint of ``path`` reached a limit of ``config.budget``."""
    info = read_info(path)
    budget = config.budget  # type: ignore[attr-defined]
    seconds = float(info.counters.get("seconds", 0.0))
    return bool(
        (budget.learner_steps and info.step >= budget.learner_steps)
        or (budget.games and info.games_played >= budget.games)
        or (budget.minutes and seconds >= budget.minutes * 60 - 1)
    )


def _game_of(runs: Sequence[Path]):  # type: ignore[no-untyped-def]
    from experiment.config import load_config
    from selfplay.config import TrainConfig

    games = {load_config(TrainConfig, run / "config.yaml").game for run in runs}
    if len(games) != 1:
        raise UserError(f"the sweep's runs play different games: {sorted(map(str, games))}")
    return games.pop().make()


# --- phase 2: snapshots and agents ------------------------------------------------------------


def choose_snapshots(run: Path, count: int, output: Path) -> list[Snapshot]:
    """Up to ``count`` checkpoints of ``run``: step 0 and, among the snapshots training kept
    (``keep``: every doubling of train FLOPs) and the latest, the ones nearest to ``count - 1``
    log-spaced train FLOPs from the smallest to the largest; named by :func:`agent_path` in the
    sweep's ``output`` folder."""
    stems = list_checkpoints(run / "checkpoints")
    infos = [(stem, read_info(stem)) for stem in stems]
    candidates = [(s, i) for k, (s, i) in enumerate(infos) if i.keep or k == len(infos) - 1]
    zero = [(s, i) for s, i in candidates if i.ledger.train_flops == 0][:1]
    trained = [(s, i) for s, i in candidates if i.ledger.train_flops > 0]
    chosen = list(zero)
    if trained:
        flops = np.log10([i.ledger.train_flops for _, i in trained])
        targets = np.linspace(flops[0], flops[-1], min(count - len(zero), len(trained)))
        picks = sorted({int(np.abs(flops - target).argmin()) for target in targets})
        chosen += [trained[k] for k in picks]
    return [
        Snapshot(run.name, agent_path(stem, output), info.step, float(info.ledger.train_flops))
        for stem, info in chosen
    ]


def agent_path(stem: Path, output: Path) -> str:
    """A checkpoint's path as the sweep's agents name it: relative to the ``output`` folder
    (forward slashes) when it is inside it, else absolute."""
    stem, output = stem.resolve(), output.resolve()
    return stem.relative_to(output).as_posix() if stem.is_relative_to(output) else str(stem)


def adopt_old_names(record: Path, output: Path, agents: Sequence[str]) -> None:
    """Rename, in a record written before agents were named relative to the output folder,
    the agents named by their path from the working directory (``OUTPUT/runs/...@N``, as the
    sweep then named them) to their names now, so that the games already played count."""
    if not record.exists():
        return
    from experiment.checkpoint import write_atomic
    from experiment.jsonl import read_json_lines

    old = {f"{output}/{name}": name for name in agents if not Path(name).is_absolute()}
    lines = [line.data for line in read_json_lines(record, repair=True)]
    renamed = sum(line.get(side) in old for line in lines for side in "ab")
    if not renamed:
        return
    for line in lines:
        for side in set("ab") & set(line):
            line[side] = old.get(line[side], line[side])
    write_atomic(record, "".join(json.dumps(line) + "\n" for line in lines).encode())
    print(f"phase 3: {record}: {renamed} agent names made relative to {output}", flush=True)


def agent_specs(
    game: Game, snapshots: Sequence[Snapshot], config: TradeoffConfig
) -> tuple[list[str], list[str]]:
    """(every agent, the anchors among them): ``random`` first, then the snapshots by train
    FLOPs, each at every budget, then the other anchors (``solver`` only where it plays in
    seconds), an order in which neighbours are close in strength (the adaptive tournament
    starts from it)."""
    from games.solver import plays_in_seconds

    anchors = [a for a in config.anchors if a != "solver" or plays_in_seconds(game)]
    nets = [f"{s.path}@{b}" for s in sorted(snapshots, key=lambda s: s.train_flops)
            for b in config.budgets]  # fmt: skip
    first = [a for a in anchors if a == "random"]
    return first + nets + [a for a in anchors if a != "random"], anchors


def rating_anchor(anchors: Sequence[str]) -> str:
    """Elo against perfect play when a solver played (as Jones), else against random."""
    return "solver" if "solver" in anchors else "random"


# --- phase 4: ratings, fit and outputs ---------------------------------------------------------


TOURNAMENT_TIME = "tournament_seconds.json"  # wall seconds of phase 3, summed over resumes


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.is_file() else 0


def _add_tournament_seconds(output: Path, seconds: float) -> None:
    path = output / TOURNAMENT_TIME
    spent = json.loads(path.read_text())["seconds"] if path.is_file() else 0.0
    path.write_text(json.dumps({"seconds": spent + seconds}) + "\n", encoding="utf-8")


def tournament_design(
    config: TradeoffConfig, output: Path, agents: Sequence[str], records: Sequence
) -> dict:
    """What the tournament spent, for the report and fit.json: games, wall seconds (phase 3,
    summed over resumes; None where not recorded) and, for adaptive pairs, the all-pairs
    design's games for the same precision (``tradeoff.tournament.all_pairs_estimate``)."""
    from tradeoff.tournament import adaptive_summary

    path = output / TOURNAMENT_TIME
    seconds = json.loads(path.read_text())["seconds"] if path.is_file() else None
    design = {"pairs": config.tournament.pairs, "games": len(records), "seconds": seconds}
    if config.tournament.pairs == "adaptive":
        design["all_pairs_games"] = adaptive_summary(agents, records).all_pairs_games
    return design


def write_outputs(
    config: TradeoffConfig, output: Path, snapshots: Sequence[Snapshot], agents: Sequence[str],
    anchors: Sequence[str], records: Sequence, record: Path, resolved: str,
) -> TradeoffFit | None:  # fmt: skip
    """Rate, fit and write every output (phase 4); nothing when they exist for these games."""
    from experiment.ratings import bootstrap_elo, results_from_games

    digest = hashlib.sha256(record.read_bytes()).hexdigest()
    # What else the outputs depend on: a change of any of these refits, even on the same games.
    inputs = json.dumps(
        [config.bootstrap, config.tournament.seed, dataclasses.asdict(config.fit), list(agents),
         list(anchors), [dataclasses.asdict(s) for s in snapshots]], sort_keys=True,
    )  # fmt: skip
    fit_inputs = hashlib.sha256(inputs.encode()).hexdigest()
    state = output / "fit.json"
    if all((output / name).is_file() for name in OUTPUTS) and state.is_file():
        done = json.loads(state.read_text())
        if done.get("games_sha256") == digest and done.get("fit_inputs_sha256") == fit_inputs:
            print(f"phase 4: outputs in {output} are up to date with {record}", flush=True)
            return None
    anchor = rating_anchor(anchors)
    results = results_from_games((r.players[0], r.players[1], r.score) for r in records)
    elo, samples = bootstrap_elo(results, anchor, 0.0, config.bootstrap, config.tournament.seed)
    index = {name: k for k, name in enumerate(results.players)}
    rows, table = _rows(snapshots, agents, config.budgets, records, results, elo, samples)
    perfect = 0.0 if anchor == "solver" else None
    fit_config = dataclasses.replace(config.fit, perfect=perfect)
    columns = [index[row.label] for row in rows]
    fit = fit_tradeoff(rows, elo[columns], samples[:, columns], fit_config)
    _write_csv(output / "results.csv", table)
    design = tournament_design(config, output, agents, records)
    data = {"games_sha256": digest, "fit_inputs_sha256": fit_inputs,
            "anchor": {"name": anchor, "elo": 0.0}, "tournament": design,
            "strength": "Elo", **fit.to_json()}  # fmt: skip
    from tradeoff import plots, report

    figures = plots.plot_all(rows, elo[columns], samples[:, columns], fit, output, "Elo")
    report.write_report(output, config, snapshots, table, fit, anchor, design, figures)
    _write_tensorboard(output, fit, figures, resolved)
    state.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")  # last: the commit
    print(f"phase 4: wrote {', '.join(OUTPUTS)} in {output}", flush=True)
    return fit


def _rows(snapshots, agents, budgets, records, results, elo, samples):  # type: ignore[no-untyped-def]
    """The fit's rows (net agents) and the results.csv table (every agent)."""
    from experiment.stats import percentile_interval

    low, high = percentile_interval(samples) if len(samples) else (elo * np.nan, elo * np.nan)
    flops, moves, games = {}, {}, {}
    for record in records:
        for side, name in enumerate(record.players):
            games[name] = games.get(name, 0) + 1
            if record.compute is not None:
                flops[name] = flops.get(name, 0) + record.compute[side].flops
                moves[name] = moves.get(name, 0) + record.compute[side].moves
    by_path = {s.path: s for s in snapshots}
    rows, table = [], []
    for name in agents:
        if name not in results.players:
            continue
        k = results.players.index(name)
        path, _, budget = name.rpartition("@")
        snapshot = by_path.get(path)
        per_move = flops.get(name, 0) / max(moves.get(name, 0), 1)
        table.append({
            "agent": name, "run": snapshot.run if snapshot else "",
            "step": snapshot.step if snapshot else "",
            "train_flops": snapshot.train_flops if snapshot else "",
            "simulations": int(budget) if snapshot else "",
            "test_flops_per_move": per_move, "elo": elo[k], "low": low[k], "high": high[k],
            "games": games.get(name, 0),
        })  # fmt: skip
        if snapshot is not None:
            rows.append(Row(name, snapshot.run, f"step_{snapshot.step}", snapshot.train_flops,
                            float(budget), per_move))  # fmt: skip
    return rows, table


def _write_csv(path: Path, table: Sequence[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)


def _write_tensorboard(
    output: Path, fit: TradeoffFit, figures: Sequence[Path], resolved: str
) -> None:
    from experiment.tensorboard import ScalarWriter

    scalars = {
        "tradeoff/train_elo_per_10x": fit.train_slope_per_10x.value,
        "tradeoff/train_elo_per_doubling": fit.train_slope_per_doubling.value,
        "tradeoff/test_elo_per_doubling": fit.test_slope_per_doubling.value,
        "tradeoff/test_elo_per_10x": fit.test_slope_per_10x.value,
        "tradeoff/exchange_slope": fit.frontier.exchange_slope.value,
    }
    for budget, value in fit.perfect_train_compute.items():
        scalars[f"tradeoff/perfect_play_train_flops_at_{budget}"] = value.value
    with ScalarWriter(output / "tensorboard") as writer:
        writer.scalars({k: v for k, v in scalars.items() if math.isfinite(v)}, 0)
        for figure in figures:
            writer.image(f"tradeoff/{figure.stem}", figure)
        writer.text("tradeoff/config", resolved)
