"""The one reader of JSON-lines record files (match records, arena rounds): one JSON object per
line, appended as each game or round ends.

A writer killed mid-write leaves its last line cut short and without its newline. Such a line
was never finished, so every reader treats it the same way: it is left out, and a caller that
goes on appending (``repair=True``) cuts it from the file first, so that the next line starts
on a line of its own. Any other line that is not a JSON object is refused, naming the file and
the line. What a line must contain is each caller's own check; :class:`Line` carries the
``file:line`` place for its messages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experiment import UserError


@dataclass(frozen=True)
class Line:
    """One JSON object of a record file and where it is (``file:line``, for messages)."""

    where: str
    number: int  # 1-based line number
    data: dict[str, Any]


def read_json_lines(path: str | Path, repair: bool = False) -> list[Line]:
    """The JSON objects of ``path``, one per non-blank line, in file order. A last line with no
    newline after it that does not parse is a write cut short: it is left out, and with
    ``repair`` it is cut from the file (and a complete last line gets its newline), so that
    appends continue cleanly. Raises :class:`UserError` naming ``file:line`` for any other line
    that is not a JSON object, and for a file that cannot be read."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: cannot read the records: {error}") from None
    lines = text.splitlines()
    unfinished = bool(text) and not text.endswith(("\n", "\r"))
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            if unfinished and number == len(lines):  # killed mid-write: never finished
                if repair:
                    _truncate(path, len(text[: len(text) - len(line)].encode("utf-8")))
                break
            raise UserError(f"{path}:{number}: not a JSON object: {error}") from None
        if not isinstance(data, dict):
            raise UserError(f"{path}:{number}: not a JSON object but {type(data).__name__}")
        rows.append(Line(f"{path}:{number}", number, data))
    else:
        if unfinished and repair:  # a complete last line: give it its newline before appends
            with open(path, "a", encoding="utf-8") as file:
                file.write("\n")
    return rows


def _truncate(path: Path, size: int) -> None:
    with open(path, "r+b") as file:
        file.truncate(size)
