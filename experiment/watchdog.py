"""Ends a local Ray runtime whose driver died: ``python -m experiment.watchdog PID PROCESS...``.

``ray.init`` starts Ray's node processes (GCS server, raylet, agents) as children of the driver.
A driver that exits shuts them down; one killed with SIGKILL cannot, and they would live on for
minutes, holding memory. :func:`experiment.cluster.start_ray` therefore starts this watchdog in
its own session beside every local runtime it starts. It polls the driver twice a second; when
the driver is gone it kills each recorded process and every descendant it has seen them have
(leaves first), then exits. It exits at once, killing nothing, when the recorded processes are
all gone (the driver shut Ray down itself). Processes are named by (pid, start time), so a pid
the system has since given to another process is never touched.
"""

from __future__ import annotations

import sys
import time

import psutil

POLL_SECONDS = 0.5


def _alive(pid: int, started: float) -> psutil.Process | None:
    try:
        process = psutil.Process(pid)
        return process if abs(process.create_time() - started) < 1e-3 else None
    except psutil.Error:
        return None


def kill_all(processes: list[psutil.Process]) -> None:
    """Kill every process in ``processes`` and all their descendants, leaves first."""
    doomed: list[psutil.Process] = []
    for process in processes:
        try:
            doomed.extend(reversed(process.children(recursive=True)))
        except psutil.Error:
            pass
        doomed.append(process)
    for process in doomed:
        try:
            process.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(doomed, timeout=5)


def watch(driver: tuple[int, float], recorded: list[tuple[int, float]]) -> None:
    """Poll; every poll also learns the recorded processes' current descendants (Ray's agents
    and workers are the raylet's children, and a raylet that dies first would orphan them)."""
    known = dict(recorded)
    while True:
        roots = [p for p in (_alive(pid, started) for pid, started in recorded) if p]
        if not roots:
            return
        for root in roots:
            try:
                known.update((c.pid, c.create_time()) for c in root.children(recursive=True))
            except psutil.Error:
                pass
        if _alive(*driver) is None:
            kill_all([p for p in (_alive(pid, started) for pid, started in known.items()) if p])
            return
        time.sleep(POLL_SECONDS)


def main(arguments: list[str]) -> None:
    """Arguments: the driver's ``PID:START`` and each Ray process's ``PID:START``."""
    pairs = [(int(pid), float(start)) for pid, start in (a.split(":") for a in arguments)]
    watch(pairs[0], pairs[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
