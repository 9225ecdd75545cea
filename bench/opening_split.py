"""``python -m bench.opening_split MATCH.jsonl``: a Connect Four match from random 2-ply openings,
split by what the opening is worth with perfect play to the player under test (a net: the player
whose name starts with ``--player``, ``runs/`` by default). For each class (that side wins /
draws / loses with perfect play, or the opening is unsolved) it prints the games and the player's
score with its Wilson 95% interval; then the score perfect play would get against a perfect
opponent on the same openings and colours: the most any player can guarantee on this opening
set. Opening values come from ``--values`` (bench.connect_four_openings' file)."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from experiment.stats import wilson_interval

CLASSES = {1: "wins", 0: "draws", -1: "loses", None: "unsolved"}  # the player's side, perfectly
PERFECT_SCORE: dict[int, float] = {1: 1.0, 0: 0.5, -1: 0.0}


@dataclass(frozen=True)
class Game:
    """One game seen from the player under test: its value with perfect play (1 / 0 / -1, None
    when unsolved) from the opening, and the score it got (1 / 0.5 / 0)."""

    opening: str
    first: bool  # whether the player moved first
    perfect_value: int | None
    score: float


def load_values(path: str) -> tuple[dict[str, int | None], set[str]]:
    """Opening move text ("43") -> value for the first player (solved, else the value the known
    1-ply value implies, else None), and the openings whose value is implied, not solved."""
    with open(path) as file:
        openings = json.load(file)["openings"]
    implied = {opening for opening, result in openings.items() if result["value"] is None
               and result.get("implied") is not None}  # fmt: skip
    values = {opening: result["value"] for opening, result in openings.items()}
    return values | {opening: openings[opening]["implied"] for opening in implied}, implied


def games_of(records: Iterable[dict], values: dict[str, int | None], prefix: str) -> list[Game]:
    """The player's games, its side's opening value and its score, from match record lines."""
    games = []
    for record in records:
        if len(record["opening"]) != 2:
            raise ValueError(
                f"game {record.get('game')}: opening {record['opening']} is not 2 plies"
            )
        first = record["a"].startswith(prefix)
        if first == record["b"].startswith(prefix):
            raise ValueError(
                f"game {record.get('game')}: exactly one player must start with {prefix!r}"
            )
        opening = "".join(str(action + 1) for action in record["opening"])
        value = values[opening]
        perfect = None if value is None else (value if first else -value)
        score = record["score"] if first else 1 - record["score"]
        games.append(Game(opening, first, perfect, score))
    return games


def report(games: list[Game], title: str) -> str:
    """The split as text: one line per class, then the perfect-play bound."""
    lines = [title, "side's perfect-play result | games | wins-draws-losses | score (95% interval)"]
    for value, name in CLASSES.items():
        chosen = [game for game in games if game.perfect_value == value]
        if not chosen:
            continue
        points = sum(game.score for game in chosen)
        low, high = wilson_interval(points, len(chosen))
        results = "-".join(str(sum(g.score == s for g in chosen)) for s in (1.0, 0.5, 0.0))
        lines.append(
            f"{name:>8} | {len(chosen):5d} | {results:>11} | "
            f"{points / len(chosen):6.1%} ({low:.1%}-{high:.1%})"
        )
    points = sum(game.score for game in games)
    low, high = wilson_interval(points, len(games))
    lines.append(
        f"     all | {len(games):5d} | score {points / len(games):.1%} ({low:.1%}-{high:.1%})"
    )
    bound = sum(PERFECT_SCORE[g.perfect_value] for g in games if g.perfect_value is not None)
    # An unsolved opening played once with each colour scores 1 of 2 with perfect play all the
    # same: its value for one colour is minus its value for the other.
    colours = Counter((g.opening, g.first) for g in games if g.perfect_value is None)
    pairs = sum(
        min(count, colours[opening, not first]) for (opening, first), count in colours.items()
    )
    bound += pairs / 2  # each pair was counted from both of its colours
    unsolved = colours.total() - pairs
    lines.append(
        f"perfect play against a perfect opponent on these openings and colours: "
        f"{bound / len(games):.1%}"
        + (
            f" to {(bound + unsolved) / len(games):.1%} ({unsolved} games from unsolved openings)"
            if unsolved
            else ""
        )
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.opening_split", description=__doc__)
    parser.add_argument("match", help="a match record, one JSON line per game")
    parser.add_argument("--values", default="docs/results/connect4_2ply_values.json")
    parser.add_argument("--player", default="runs/", help="prefix of the player under test's name")
    args = parser.parse_args(argv)
    with open(args.match) as file:
        records = [json.loads(line) for line in file if line.strip()]
    names = sorted({record[side] for record in records for side in ("a", "b")})
    title = f"{args.match}: {len(records)} games, {' vs '.join(names)}"
    values, implied = load_values(args.values)
    print(report(games_of(records, values, args.player), title))
    from_implied = sum(
        "".join(str(a + 1) for a in record["opening"]) in implied for record in records
    )
    if from_implied:
        print(
            f"({from_implied} games are from openings unsolved here whose value follows from the "
            f"known 1-ply win after the centre column: {', '.join(sorted(implied))})"
        )


if __name__ == "__main__":
    main()
