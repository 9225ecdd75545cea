"""``ponder elo FILE ...``: Bradley-Terry Elo ratings with 95% bootstrap intervals, for any
match file.

Lines are games as the arena and ``ponder match --record`` write them (``{"a", "b", "score"}``,
other fields ignored) or aggregates ``{"a", "b", "wins", "draws", "losses"}`` for tournaments
played elsewhere. The fit is maximum likelihood with no prior; a rating the games do not bound
shows as +inf or -inf (or nan when unrelated to the anchor), and players in groups that never
met are refused naming the groups.
"""

from __future__ import annotations

import argparse

from ponder.commands import Command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="JSON-lines match files")
    parser.add_argument(
        "--anchor", metavar="SPEC=ELO",
        help="the player held at a rating (default: random=0 when it played, else the first)",
    )  # fmt: skip
    parser.add_argument("--bootstrap", type=int, default=1000, help="resamples (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="of the resamples")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _anchor(text: str | None) -> tuple[str | None, float]:
    from experiment import UserError

    if text is None:
        return None, 0.0
    name, separator, value = text.rpartition("=")
    try:
        return (name, float(value)) if separator and name else (text, 0.0)
    except ValueError:
        raise UserError(f"--anchor {text!r}: write SPEC=ELO, e.g. --anchor random=0") from None


def rating_table(ratings: list, intervals: bool = True) -> list[str]:
    """The lines of a rating table (``experiment.ratings.Rating``s, best first): name, Elo, 95%
    interval, games, score; shared by ``ponder elo`` and ``ponder arena``."""

    def elo(value: float) -> str:  # an unbounded rating shows as inf / -inf
        return f"{value:7.0f}"

    width = max(len(r.name) for r in ratings)
    lines = [f"{'player':<{width}}  {'Elo':>7}  {'95% interval':>17}  {'games':>7}  {'score':>6}"]
    for r in ratings:
        interval = f"{elo(r.low)} .. {elo(r.high)}" if intervals else ""
        row = f"{r.name:<{width}}  {elo(r.elo)}  {interval:>17}  {r.games:7d}  {r.score:6.1%}"
        lines.append(row)
    return lines


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    from experiment import UserError
    from experiment.ratings import (
        PERFECT_PLAY_ELO,
        default_anchor,
        perfect_players,
        rate,
        read_results,
    )
    from tradeoff.fit import json_number

    if args.bootstrap < 0:
        raise UserError(f"--bootstrap must be >= 0, got {args.bootstrap}")
    anchor, anchor_elo = _anchor(args.anchor)
    results = read_results(args.files)
    ratings = rate(results, anchor, anchor_elo, bootstrap=args.bootstrap, seed=args.seed)
    anchor = anchor or default_anchor(results)
    if args.json:  # standard JSON: an unbounded rating is the string "inf" / "-inf", nan null
        rows = [
            {
                key: json_number(value) if isinstance(value, float) else value
                for key, value in dataclasses.asdict(r).items()
            }
            for r in ratings
        ]
        answer: dict = {"ratings": rows, "anchor": {"name": anchor, "elo": anchor_elo}}
        if "solver" in results.players:
            answer["perfect_play"] = [r.name for r in perfect_players(ratings)]
        print(json.dumps(answer))
        return 0
    print("\n".join(rating_table(ratings, intervals=args.bootstrap > 0)))
    print(f"anchor: {anchor} = {anchor_elo:g} Elo; {int(results.games.sum())} games")
    if "solver" in results.players:
        near = perfect_players(ratings)
        shown = ", ".join(f"{r.name} ({r.elo:+.0f}, {r.low:+.0f} to {r.high:+.0f})" for r in near)
        solver = next(r for r in ratings if r.name == "solver")
        print(
            f"perfect play (within {PERFECT_PLAY_ELO:g} Elo of solver at {solver.elo:+.0f}): "
            f"{shown or 'nobody'}"
        )
    return 0


COMMAND = Command(
    name="elo",
    help="Bradley-Terry Elo with 95%% bootstrap intervals from match files",
    description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    add_arguments=add_arguments,
    run=run,
    order=57,
)
