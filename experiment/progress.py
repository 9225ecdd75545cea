"""Progress of a long loop, readable both on a terminal and in a log file.

When the stream (stderr by default) is a terminal, a tqdm bar; anywhere else (a log file, a
pipe, CI) a plain line every ``every_seconds`` seconds and one when the loop ends, such as::

    train PRM: 300/1000 steps (30%), 41.2 steps/s, 7 s elapsed, ETA 17 s, loss=0.412

so that a log never fills with carriage-return redraws. Two ways to use it::

    for step in progress(range(steps), "train PRM", "step"):   # counts the items it yields
        ...
    with progress(len(chunks), "labels", "chunk") as bar:      # a total: count with update()
        for chunk in finished_chunks():
            bar.update()
            bar.set_postfix(loss=f"{loss:.3f}")                # shown after the counts

``enabled=False`` prints nothing (the loop still runs).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any, Generic, TextIO, TypeVar

T = TypeVar("T")


def _duration(seconds: float) -> str:
    """``7 s``, ``3 min 20 s``, ``2 h 05 min``."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed file
        return False


class Progress(Generic[T]):
    """See the module docstring; build it with :func:`progress`. ``clock`` (seconds) is
    replaceable for tests."""

    def __init__(
        self,
        items: Iterable[T] | None,
        total: int | None,
        description: str,
        unit: str,
        *,
        enabled: bool = True,
        every_seconds: float = 30.0,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.items, self.total, self.description, self.unit = items, total, description, unit
        self.every_seconds, self.clock = every_seconds, clock
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.done = 0
        self.postfix = ""
        self.start = self.last_line = clock()
        self._closed = False
        self._bar: Any = None
        if enabled and _is_terminal(self.stream):
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=description, unit=unit, file=self.stream)

    def __iter__(self) -> Iterator[T]:
        if self.items is None:
            raise TypeError(f"progress {self.description!r} was given a total, not items")
        try:
            for item in self.items:
                yield item
                self.update()
        finally:
            self.close()

    def update(self, count: int = 1) -> None:
        """``count`` more units done; a plain line when ``every_seconds`` have passed."""
        self.done += count
        if self._bar is not None:
            self._bar.update(count)
        elif self.enabled and self.clock() - self.last_line >= self.every_seconds:
            self._write_line()

    def set_postfix(self, **values: Any) -> None:
        """Values shown after the counts (``loss="0.412"``), kept until replaced."""
        self.postfix = ", ".join(f"{name}={value}" for name, value in values.items())
        if self._bar is not None:
            self._bar.set_postfix_str(self.postfix, refresh=False)

    def line(self) -> str:
        """The plain progress line as it reads now."""
        elapsed = self.clock() - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        counts = f"{self.done}/{self.total}" if self.total is not None else f"{self.done}"
        parts = [f"{self.description}: {counts} {self.unit}s"]
        if self.total:
            parts[0] += f" ({100 * self.done / self.total:.0f}%)"
        parts.append(f"{rate:.3g} {self.unit}s/s")
        parts.append(f"{_duration(elapsed)} elapsed")
        if self.total is not None and self.done < self.total and rate > 0:
            parts.append(f"ETA {_duration((self.total - self.done) / rate)}")
        if self.postfix:
            parts.append(self.postfix)
        return ", ".join(parts)

    def _write_line(self) -> None:
        self.stream.write(self.line() + "\n")
        self.stream.flush()
        self.last_line = self.clock()

    def close(self) -> None:
        """Finish the bar, or write the last plain line; once."""
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
        elif self.enabled:
            self._write_line()

    def __enter__(self) -> Progress[T]:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def progress(
    items: Iterable[T] | int,
    description: str,
    unit: str = "item",
    *,
    enabled: bool = True,
    every_seconds: float = 30.0,
    stream: TextIO | None = None,
) -> Progress[T]:
    """Progress over ``items`` (iterate the result) or over a total count (call ``update``).

    ``description`` starts every line, ``unit`` names what is counted (singular: "step"); on a
    stream that is not a terminal a line is written at most every ``every_seconds`` seconds and
    once at the end, with done/total, the rate and the time left. ``stream``: stderr by default.
    """
    if isinstance(items, int):
        return Progress(
            None, items, description, unit,
            enabled=enabled, every_seconds=every_seconds, stream=stream,
        )  # fmt: skip
    total = len(items) if hasattr(items, "__len__") else None  # type: ignore[arg-type]
    return Progress(
        items, total, description, unit,
        enabled=enabled, every_seconds=every_seconds, stream=stream,
    )  # fmt: skip
