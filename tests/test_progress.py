"""experiment.progress: plain periodic lines with an ETA in a log file, a tqdm bar on a terminal."""

from __future__ import annotations

import io
import re

from experiment.progress import Progress, progress


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_log_file_gets_periodic_lines_with_an_eta_and_no_carriage_returns():
    stream, clock = io.StringIO(), FakeClock()
    bar = Progress(
        range(100), 100, "train PRM", "step", every_seconds=30, stream=stream, clock=clock
    )
    for step in bar:
        clock.now += 1.0  # one step a second
        if step == 49:
            bar.set_postfix(loss="0.412")
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    # a line every 30 seconds (after steps 30, 60, 90), then the last one
    assert lines[0] == "train PRM: 30/100 steps (30%), 1 steps/s, 30 s elapsed, ETA 1 min 10 s"
    assert lines[1] == (
        "train PRM: 60/100 steps (60%), 1 steps/s, 1 min 00 s elapsed, ETA 40 s, loss=0.412"
    )
    assert len(lines) == 4 and lines[-1].startswith("train PRM: 100/100 steps (100%)")
    assert "ETA" not in lines[-1]


def test_counting_by_hand_and_unknown_totals():
    stream, clock = io.StringIO(), FakeClock()
    with Progress(None, 4, "labels", "chunk", every_seconds=0, stream=stream, clock=clock) as bar:
        for _ in range(4):
            clock.now += 7200.0
            bar.update()
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith("2 h 00 min elapsed, ETA 6 h 00 min")
    assert len(lines) == 5  # every update (every_seconds=0) and the close
    unknown = io.StringIO()
    for _ in progress(iter(range(3)), "rows", stream=unknown, every_seconds=1e9):
        pass
    assert re.fullmatch(r"rows: 3 items, \S+ items/s, 0 s elapsed\n", unknown.getvalue())


def test_disabled_prints_nothing_and_a_terminal_gets_a_bar():
    quiet = io.StringIO()
    assert list(progress(range(3), "x", enabled=False, stream=quiet)) == [0, 1, 2]
    assert quiet.getvalue() == ""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    assert list(progress(range(3), "sampling", "row", stream=terminal)) == [0, 1, 2]
    assert "\r" in terminal.getvalue() and "3/3" in terminal.getvalue()  # tqdm redraws
